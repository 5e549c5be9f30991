// The release-file tests' TypeScript program on the npm package @pulumi-imburse/imburse, run as an inline
// program of the Node Automation API (compiled with tsc first):
//
//   node index.js <up|preview|destroy> STACK WORK_DIR
//
// A tenant and two keys; the ci key's roles come from stack config ciRoles (comma-separated). Prints the change
// counts as JSON on its last line.
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as auto from "@pulumi/pulumi/automation";
import * as imburse from "@pulumi-imburse/imburse";

async function program(): Promise<Record<string, pulumi.Output<string>>> {
    const roles = new pulumi.Config().require("ciRoles").split(",") as imburse.TenantRole[];
    const acme = new imburse.Tenant("acme", { name: "Acme Payments Ltd (dist, TypeScript)", address: { country: "GB" } });
    const ci = new imburse.TenantKey("ci", { tenantId: acme.tenantId, roles });
    const ops = new imburse.TenantKey("ops", { tenantId: acme.tenantId, roles: [imburse.TenantRole.TenantAppRead] });
    return { tenantId: acme.tenantId, ciPublicKey: ci.publicKey, opsPublicKey: ops.publicKey };
}

async function main(): Promise<void> {
    const [op, stackName, workDir] = process.argv.slice(2);
    const projectName = /^name:\s*(\S+)/m.exec(fs.readFileSync(path.join(workDir, "Pulumi.yaml"), "utf8"))![1];
    const stack = await auto.LocalWorkspace.selectStack({ stackName, projectName, program }, { workDir });
    let changes: Record<string, number> | undefined;
    if (op === "up") {
        changes = (await stack.up({ onOutput: (s) => process.stderr.write(s) })).summary.resourceChanges;
    } else if (op === "preview") {
        changes = (await stack.preview({ onOutput: (s) => process.stderr.write(s) })).changeSummary;
    } else {
        changes = (await stack.destroy({ onOutput: (s) => process.stderr.write(s) })).summary.resourceChanges;
    }
    console.log(JSON.stringify({ changes: changes ?? {} }));
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
