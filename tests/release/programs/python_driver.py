"""The release-file tests' Python program, run as an Automation API inline program by the venv made from dist/:

    python python_driver.py <dynamic|sdk> <up|preview|destroy> STACK WORK_DIR

``dynamic``: the dynamic resources of ``pulumi_imburse`` (the wheel); ``sdk``: the native resources of
``pulumi_imburse_sdk`` (the Python SDK's wheel), served by the plugin the engine downloads. A tenant and two
keys; the ``ci`` key's roles come from stack config ``ciRoles`` (comma-separated). Prints the change counts as
JSON on its last line.
"""

import json
import sys

import pulumi
import yaml
from pulumi import automation as auto


def program_dynamic() -> None:
    from pulumi_imburse import Tenant, TenantKey

    acme = Tenant("acme", name="Acme Payments Ltd (dist, Python)", address={"country": "GB"})
    ci = TenantKey("ci", tenant_id=acme.tenant_id, roles=pulumi.Config().require("ciRoles").split(","))
    ops = TenantKey("ops", tenant_id=acme.tenant_id, roles=["tenant-app-read"])
    export(acme.tenant_id, ci, ops)


def program_sdk() -> None:
    import pulumi_imburse_sdk as imburse

    acme = imburse.Tenant("acme", name="Acme Payments Ltd (dist, Python SDK)",
                          address=imburse.TenantAddressArgs(country="GB"))
    ci = imburse.TenantKey("ci", tenant_id=acme.tenant_id, roles=pulumi.Config().require("ciRoles").split(","))
    ops = imburse.TenantKey("ops", tenant_id=acme.tenant_id, roles=[imburse.TenantRole.TENANT_APP_READ])
    export(acme.tenant_id, ci, ops)


def export(tenant_id, ci, ops) -> None:
    pulumi.export("tenantId", tenant_id)
    pulumi.export("ciPublicKey", ci.public_key)
    pulumi.export("opsPublicKey", ops.public_key)


def main() -> None:
    kind, op, stack_name, work_dir = sys.argv[1:5]
    program = program_dynamic if kind == "dynamic" else program_sdk
    with open(f"{work_dir}/Pulumi.yaml") as f:
        project_name = yaml.safe_load(f)["name"]
    stack = auto.select_stack(stack_name=stack_name, project_name=project_name, program=program,
                              opts=auto.LocalWorkspaceOptions(work_dir=work_dir))
    if op == "up":
        changes = stack.up(on_output=print).summary.resource_changes
    elif op == "preview":
        changes = stack.preview(on_output=print).change_summary
    else:
        changes = stack.destroy(on_output=print).summary.resource_changes
    print(json.dumps({"changes": dict(changes or {})}))


if __name__ == "__main__":
    main()
