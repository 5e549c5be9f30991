// The example's Pulumi program, run by `pulumi up` with the Node.js language host (Pulumi.yaml: main:
// bin/index.js, which `npm run build` compiles from this file): the stack's outputs are this module's exports.
import * as pulumi from "@pulumi/pulumi";
import * as imburse from "@pulumi-imburse/imburse";

// Roles are the SDK's TenantRole enum: `TenantRole.TenantTransactionRead` is "tenant-transaction-read".
const { TenantRole } = imburse.types.enums;
type TenantRole = imburse.types.enums.TenantRole;

/** A key made outside this stack, brought under management with the `import` resource option. */
interface ImportedKey {
    /** The key's tenant. */
    tenantId: string;
    /** Its public key: the import id is `<tenantId>/<publicKey>`. */
    publicKey: string;
    /** Its roles and name exactly as they are: an import whose inputs differ from the key fails. */
    roles: TenantRole[];
    name: string;
}

/** A second Imburse account, managed through an explicit provider. */
interface SecondAccount {
    baseUrl?: string;
    publicKey: string;
}

/**
 * Declares the example's tenants and keys from stack config (project namespace `imburse-typescript`):
 *
 * - `ciRoles` (list of roles; default `[tenant-transaction-read]`): a change updates the CI key in place;
 * - `ciKeyEpoch` (string; default `2026-11`): a change replaces (rotates) the CI key;
 * - `importedKeys` (object, optional): resource name -> an existing key, imported into the stack with the
 *   `import` resource option (or declared after `pulumi import` put it there: the option is then a no-op);
 * - `secondAccount` (object, optional) and `secondAccountPrivateKey` (secret): a second account, through an
 *   explicit `imburse.Provider`, with a tenant and a key of its own.
 *
 * The default provider takes the account from `imburse:*` config or the `IMBURSE_*` variables.
 */
function imburseStack(): Record<string, pulumi.Output<unknown>> {
    const config = new pulumi.Config();
    const ciRoles = config.getObject<TenantRole[]>("ciRoles") ?? [TenantRole.TenantTransactionRead];
    const ciKeyEpoch = config.get("ciKeyEpoch") ?? "2026-11";

    const acme = new imburse.Tenant("acme", {
        name: "Acme Payments Ltd",
        address: { streetAddress: "1 Market Street", locality: "Leeds", postCode: "LS1 1AA", country: "GB" },
    });
    const ci = new imburse.TenantKey("acme-ci", {
        tenantId: acme.tenantId,
        roles: ciRoles,
        keepers: { epoch: ciKeyEpoch },
    });
    const checkout = new imburse.TenantKey("acme-checkout", {
        tenantId: acme.tenantId,
        roles: [TenantRole.TenantCollectSchemeRead, TenantRole.TenantTransactionWrite],
        rotationDays: 90,
    });
    const outputs: Record<string, pulumi.Output<unknown>> = {
        tenantId: acme.tenantId,
        ciPublicKey: ci.publicKey,
        ciPrivateKey: ci.privateKey, // a secret
        checkoutPublicKey: checkout.publicKey,
    };

    const imported = config.getObject<Record<string, ImportedKey>>("importedKeys") ?? {};
    for (const [name, key] of Object.entries(imported)) {
        const resource = new imburse.TenantKey(name, {
            tenantId: key.tenantId,
            roles: key.roles,
            name: key.name,
        }, { import: `${key.tenantId}/${key.publicKey}` });
        outputs[`${name}PublicKey`] = resource.publicKey;
    }

    const second = config.getObject<SecondAccount>("secondAccount");
    if (second) {
        const account = new imburse.Provider("second-account", {
            baseUrl: second.baseUrl,
            publicKey: second.publicKey,
            privateKey: config.requireSecret("secondAccountPrivateKey"),
        });
        const globex = new imburse.Tenant("globex", { name: "Globex Payouts" }, { provider: account });
        const payouts = new imburse.TenantKey("globex-payouts", {
            tenantId: globex.tenantId,
            roles: [TenantRole.TenantPayoutSchemeWrite],
        }, { provider: account });
        outputs.secondTenantId = globex.tenantId;
        outputs.secondPublicKey = payouts.publicKey;
    }
    return outputs;
}

export = imburseStack();
