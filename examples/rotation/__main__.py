"""Three ways to rotate a key; each creates the new key before the old one stops working.

- ``keepers``: change any value (here the ``rotationEpoch`` config) and the next ``pulumi up``
  replaces the key.
- ``rotation_days``: once the key is older than that, the next preview/up plans a replacement.
- ``RotatingTenantKey``: a rotation (``rotation_days``, or here the same ``rotationEpoch`` keepers) keeps the
  previous key working for ``grace_days`` more, so applications can move over; a later up revokes it.
"""

import pulumi

from pulumi_imburse import RotatingTenantKey, Tenant, TenantKey

config = pulumi.Config()
tenant = Tenant("rotating", name="Rotation Demo Ltd", address={"country": "GB"})
epoch = config.get("rotationEpoch") or "1"

on_demand = TenantKey(
    "on-demand",
    tenant_id=tenant.tenant_id,
    roles=["tenant-transaction-read"],
    keepers={"epoch": epoch},
)
scheduled = TenantKey(
    "scheduled",
    tenant_id=tenant.tenant_id,
    roles=["tenant-app-read"],
    rotation_days=config.get_int("rotationDays") or 30,
)
graceful = RotatingTenantKey(
    "graceful",
    tenant_id=tenant.tenant_id,
    roles=["tenant-app-read"],
    rotation_days=90,
    grace_days=7,
    keepers={"epoch": epoch},
)
pulumi.export("onDemandPublicKey", on_demand.public_key)
pulumi.export("onDemandPrivateKey", on_demand.private_key)
pulumi.export("scheduledPublicKey", scheduled.public_key)
pulumi.export("scheduledCreatedAt", scheduled.created_at)
# An application reads both and accepts either key until gracefulPreviousExpiresAt (or reloads at once).
pulumi.export("gracefulPublicKey", graceful.public_key)
pulumi.export("gracefulPrivateKey", graceful.private_key)
pulumi.export("gracefulPreviousPublicKey", graceful.previous_public_key)
pulumi.export("gracefulPreviousPrivateKey", graceful.previous_private_key)
pulumi.export("gracefulPreviousExpiresAt", graceful.previous_expires_at)
