"""The release-file tests' Python program on the native resources of ``pulumi_imburse_sdk`` (the Python SDK's
wheel), served by the plugin the engine downloads; copied into the project as ``__main__.py`` and run by
``pulumi up``: a tenant and two keys, the ``ci`` key's roles from stack config ``ciRoles`` (comma-separated)."""

import pulumi
import pulumi_imburse_sdk as imburse

acme = imburse.Tenant("acme", name="Acme Payments Ltd (dist, Python SDK)",
                      address=imburse.TenantAddressArgs(country="GB"))
ci = imburse.TenantKey("ci", tenant_id=acme.tenant_id, roles=pulumi.Config().require("ciRoles").split(","))
ops = imburse.TenantKey("ops", tenant_id=acme.tenant_id, roles=[imburse.TenantRole.TENANT_APP_READ])
pulumi.export("tenantId", acme.tenant_id)
pulumi.export("ciPublicKey", ci.public_key)
pulumi.export("opsPublicKey", ops.public_key)
