"""A ``TenantKey`` and a ``RotatingTenantKey`` of each face (the dynamic resources, the plugin's ``imburse:index:*``)
in the tenant ``kills:tenantId``, each delivered to its own destination of ``kills:destinations`` (by resource name).

Run by the Python language host (not inline), so a ``kill -9`` of the CLI leaves nothing running in the test's process.
"""

import pulumi

from pulumi_imburse import RotatingTenantKey, TenantKey, rotating_key
from pulumi_imburse.plugin import schema

ROLES = ["tenant-app-read"]
KEY_OUTPUTS = ("name", "namePrefix", "keepers", "rotationDays", "accountId", "publicKey", "privateKey", "createdAt")

cfg = pulumi.Config("kills")
tenant_id = cfg.require("tenantId")
destinations = cfg.require_object("destinations")

TenantKey("dynamic-key", tenant_id=tenant_id, roles=ROLES, destination=destinations["dynamic-key"])
RotatingTenantKey("dynamic-rotating", tenant_id=tenant_id, roles=ROLES, grace_days=1,
                  destination=destinations["dynamic-rotating"])
pulumi.CustomResource(schema.TENANT_KEY_TOKEN, "plugin-key", {
    **dict.fromkeys(KEY_OUTPUTS), "tenantId": tenant_id, "roles": ROLES, "destination": destinations["plugin-key"]})
pulumi.CustomResource(schema.ROTATING_KEY_TOKEN, "plugin-rotating", {
    **dict.fromkeys(k for k in rotating_key.OUTPUTS if k != "namePrefix"), "tenantId": tenant_id, "roles": ROLES,
    "graceDays": 1, "destination": destinations["plugin-rotating"]})
