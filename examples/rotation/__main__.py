"""Two ways to rotate a key; both create the new key before revoking the old one.

- ``keepers``: change any value (here the ``rotationEpoch`` config) and the next ``pulumi up``
  replaces the key.
- ``rotation_days``: once the key is older than that, the next preview/up plans a replacement.
"""

import pulumi

from pulumi_imburse import Tenant, TenantKey

config = pulumi.Config()
tenant = Tenant("rotating", name="Rotation Demo Ltd", address={"country": "GB"})

on_demand = TenantKey(
    "on-demand",
    tenant_id=tenant.tenant_id,
    roles=["tenant-transaction-read"],
    keepers={"epoch": config.get("rotationEpoch") or "1"},
)
scheduled = TenantKey(
    "scheduled",
    tenant_id=tenant.tenant_id,
    roles=["tenant-app-read"],
    rotation_days=config.get_int("rotationDays") or 30,
)
pulumi.export("onDemandPublicKey", on_demand.public_key)
pulumi.export("onDemandPrivateKey", on_demand.private_key)
pulumi.export("scheduledPublicKey", scheduled.public_key)
pulumi.export("scheduledCreatedAt", scheduled.created_at)
