"""The release-file tests' Python program on the dynamic resources of ``pulumi_imburse`` (the wheel), copied into
the project as ``__main__.py`` and run by ``pulumi up``: a tenant and two keys, the ``ci`` key's roles from stack
config ``ciRoles`` (comma-separated)."""

import pulumi

from pulumi_imburse import Tenant, TenantKey

acme = Tenant("acme", name="Acme Payments Ltd (dist, Python)", address={"country": "GB"})
ci = TenantKey("ci", tenant_id=acme.tenant_id, roles=pulumi.Config().require("ciRoles").split(","))
ops = TenantKey("ops", tenant_id=acme.tenant_id, roles=["tenant-app-read"])
pulumi.export("tenantId", acme.tenant_id)
pulumi.export("ciPublicKey", ci.public_key)
pulumi.export("opsPublicKey", ops.public_key)
