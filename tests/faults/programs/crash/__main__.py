"""`crash:count` keys in the tenant `crash:tenantId`, a quarter of each kind: named and auto-named, through the
dynamic resources (pulumi_imburse) and through the plugin (imburse:index:*); the first of each face a
RotatingTenantKey (grace period: 1 day).
"""

import pulumi

from pulumi_imburse import RotatingTenantKey, TenantKey, rotating_key
from pulumi_imburse.plugin import schema

ROLES = ["tenant-app-read"]
KEY_OUTPUTS = ("name", "namePrefix", "keepers", "rotationDays", "accountId", "publicKey", "privateKey", "createdAt")

cfg = pulumi.Config("crash")
tenant_id = cfg.require("tenantId")
for i in range(cfg.get_int("count") or 8):
    plugin, named = i % 4 >= 2, i % 2 == 0
    name = f"crash-{i}" if named else None
    if plugin and i < 4:
        outputs = {k: None for k in rotating_key.OUTPUTS if k != "namePrefix"}
        pulumi.CustomResource(schema.ROTATING_KEY_TOKEN, f"key-{i}", {
            **outputs, "tenantId": tenant_id, "roles": ROLES, "graceDays": 1, "name": name})
    elif plugin:
        pulumi.CustomResource(schema.TENANT_KEY_TOKEN, f"key-{i}", {
            **dict.fromkeys(KEY_OUTPUTS), "tenantId": tenant_id, "roles": ROLES, "name": name})
    elif i < 4:
        RotatingTenantKey(f"key-{i}", tenant_id=tenant_id, roles=ROLES, grace_days=1, name=name)
    else:
        TenantKey(f"key-{i}", tenant_id=tenant_id, roles=ROLES, name=name)
