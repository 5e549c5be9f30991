"""One Tenant and one TenantKey per entry of the structured config ``keys`` (``{name: {roles, rotationDays}}``),
so a test picks the policy verdicts by config alone. ``tenantName`` names the tenant; ``protectTenant`` protects
it; ``exportPlainPrivateKeys`` exports each key's private key as plain text (``Output.unsecret``), which the
policy ``no-plaintext-private-key-output`` exists to stop."""

import pulumi

from pulumi_imburse import Tenant, TenantAddressArgs, TenantArgs, TenantKey, TenantKeyArgs

config = pulumi.Config()

tenant = Tenant(
    "tenant",
    TenantArgs(name=config.require("tenantName"), address=TenantAddressArgs(locality="Leeds", country="GB")),
    opts=pulumi.ResourceOptions(protect=config.get_bool("protectTenant") or False),
)
pulumi.export("tenantId", tenant.tenant_id)

for name, spec in (config.get_object("keys") or {}).items():
    key = TenantKey(name, TenantKeyArgs(tenant_id=tenant.tenant_id, roles=spec["roles"],
                                        rotation_days=spec.get("rotationDays")))
    pulumi.export(f"{name}PublicKey", key.public_key)
    if config.get_bool("exportPlainPrivateKeys"):
        pulumi.export(f"{name}PrivateKey", pulumi.Output.unsecret(key.private_key))
