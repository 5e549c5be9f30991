"""`keys:count` TenantKeys in the tenant `keys:tenantId`, with `keys:roles`; every key's keys exported.

`keys:badRole` adds a key with a role that does not exist (Check fails); `keys:strayTenant` adds a key in
a tenant that does not exist (Create fails with 404).
"""

import pulumi

from pulumi_imburse import TenantKey

cfg = pulumi.Config("keys")
tenant_id = cfg.require("tenantId")
roles = cfg.get_object("roles") or ["tenant-app-read"]
for i in range(cfg.get_int("count") or 4):
    key = TenantKey(f"key-{i}", tenant_id=tenant_id, roles=roles)
    pulumi.export(f"key{i}PublicKey", key.public_key)
    pulumi.export(f"key{i}PrivateKey", key.private_key)
if cfg.get_bool("badRole"):
    TenantKey("bad-role", tenant_id=tenant_id, roles=["tenant-superuser"])
if cfg.get("strayTenant"):
    TenantKey("stray", tenant_id=cfg.require("strayTenant"), roles=roles)
