// The release-file tests' TypeScript program on the npm package @pulumi-imburse/imburse, run by `pulumi up`
// through the Node.js language host: a tenant and two keys; the ci key's roles come from stack config ciRoles
// (comma-separated).
import * as pulumi from "@pulumi/pulumi";
import * as imburse from "@pulumi-imburse/imburse";

const roles = new pulumi.Config().require("ciRoles").split(",") as imburse.TenantRole[];
const acme = new imburse.Tenant("acme", { name: "Acme Payments Ltd (dist, TypeScript)", address: { country: "GB" } });
const ci = new imburse.TenantKey("ci", { tenantId: acme.tenantId, roles });
const ops = new imburse.TenantKey("ops", { tenantId: acme.tenantId, roles: [imburse.TenantRole.TenantAppRead] });

export const tenantId = acme.tenantId;
export const ciPublicKey = ci.publicKey;
export const opsPublicKey = ops.publicKey;
