"""One tenant, two keys: a reporting key that only reads transactions, and a checkout key."""

import pulumi

from pulumi_imburse import Tenant, TenantAddressArgs, TenantArgs, TenantKey, TenantKeyArgs

config = pulumi.Config()

tenant = Tenant(
    "acme",
    TenantArgs(
        name=config.get("tenantName") or "Acme Payments Ltd",
        address=TenantAddressArgs(street_address="1 Market Street", locality="Leeds", country="GB"),
    ),
    # Deleting a tenant deletes every key in it: protect real tenants.
    opts=pulumi.ResourceOptions(protect=config.get_bool("protectTenant") or False),
)

checkout = TenantKey(
    "checkout",
    TenantKeyArgs(
        tenant_id=tenant.tenant_id,
        roles=config.get_object("checkoutRoles") or ["tenant-collect-scheme-read", "tenant-transaction-write"],
    ),
)
pulumi.export("tenantId", tenant.tenant_id)
pulumi.export("checkoutPublicKey", checkout.public_key)
pulumi.export("checkoutPrivateKey", checkout.private_key)  # a secret: shown with --show-secrets

if config.get_bool("reporting") is not False:
    reporting = TenantKey("reporting", tenant_id=tenant.tenant_id, roles=["tenant-transaction-read"])
    pulumi.export("reportingPublicKey", reporting.public_key)
    pulumi.export("reportingPrivateKey", reporting.private_key)
