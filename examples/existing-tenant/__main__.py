"""Keys for a tenant that Pulumi does not manage, and an existing key taken over with ``adopt_public_key``.

Config:
- ``tenantId`` (required): the existing tenant.
- ``opsRoles`` (optional): the roles of the ``ops`` key this stack creates (default ``[tenant-app-read]``).
- ``adoptKey`` (optional): the public key of an existing key of that tenant, to take over as ``legacy``
  instead of creating one. It is declared as it is: ``legacyRoles`` (default ``[tenant-transaction-read]``)
  must equal its roles, and ``legacyName``, if set, its name (without it the key keeps its name, unmanaged).
  Otherwise ``pulumi up`` fails and changes nothing. Imburse never returns a private key after creation, so
  ``legacyPrivateKey`` is empty until the key is rotated.
- ``legacyEpoch`` (optional, default ``"1"``): the ``legacy`` key's keepers; changing it rotates the key (a
  new key whose private key Pulumi knows, then the adopted key is revoked).
"""

import pulumi

from pulumi_imburse import TenantKey

config = pulumi.Config()
tenant_id = config.require("tenantId")

ops = TenantKey("ops", tenant_id=tenant_id, roles=config.get_object("opsRoles") or ["tenant-app-read"])
pulumi.export("opsPublicKey", ops.public_key)
pulumi.export("opsPrivateKey", ops.private_key)

adopt_key = config.get("adoptKey")
if adopt_key:
    legacy = TenantKey(
        "legacy",
        tenant_id=tenant_id,
        roles=config.get_object("legacyRoles") or ["tenant-transaction-read"],
        name=config.get("legacyName"),
        keepers={"epoch": config.get("legacyEpoch") or "1"},
        adopt_public_key=adopt_key,
    )
    pulumi.export("legacyPublicKey", legacy.public_key)
    pulumi.export("legacyName", legacy.name)
    pulumi.export("legacyPrivateKey", legacy.private_key)
