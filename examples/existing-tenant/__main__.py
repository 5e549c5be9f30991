"""Keys for a tenant that Pulumi does not manage, and an existing key adopted with ``import_``.

Config:
- ``tenantId`` (required): the existing tenant.
- ``importKey`` (optional): ``<tenantId>/<publicKey>`` of an existing key to adopt. Its roles and
  name must match the declaration below, or the import fails without changing anything. An imported
  key's private key cannot be recovered from Imburse, so its ``private_key`` output stays empty.
"""

import pulumi

from pulumi_imburse import TenantKey

config = pulumi.Config()
tenant_id = config.require("tenantId")

ops = TenantKey("ops", tenant_id=tenant_id, roles=config.get_object("opsRoles") or ["tenant-app-read"])
pulumi.export("opsPublicKey", ops.public_key)
pulumi.export("opsPrivateKey", ops.private_key)

import_id = config.get("importKey")
if import_id:
    legacy = TenantKey(
        "legacy",
        tenant_id=tenant_id,
        roles=config.get_object("legacyRoles") or ["tenant-transaction-read"],
        name=config.get("legacyName") or "legacy",
        opts=pulumi.ResourceOptions(import_=import_id),
    )
    pulumi.export("legacyPublicKey", legacy.public_key)
