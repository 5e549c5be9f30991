"""The pack guards the plugin's ``imburse:index:TenantKey``, ``imburse:index:RotatingTenantKey`` and
``imburse:index:Tenant`` as it guards the dynamic types.

One stack declares every key case of ``test_policies.CROWDED_KEYS`` (and of ``ROTATING_KEYS``) twice, as a dynamic
``TenantKey`` (``RotatingTenantKey``) (``dyn-<case>``, on a dynamic ``Tenant``) and as a native
``imburse:index:TenantKey`` (``imburse:index:RotatingTenantKey``) served by the ``pulumi-resource-imburse`` plugin
(``nat-<case>``, on a native Tenant); one preview with the pack
(``pulumi preview --policy-pack policy/analyzer``) must report the same verdicts and messages for each twin.
"""

from __future__ import annotations

import pulumi

from pulumi_imburse import RotatingTenantKey, Tenant, TenantKey
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.plugin import schema
from pulumi_imburse.rotating_key import TYPE_TOKEN as ROTATING_KEY_TYPE
from pulumi_imburse.testing import emulated_stack
from tests.plugin import native
from tests.policy.support import KEY_TYPE, PACK_ENV, TENANT_TYPE, preview
from tests.policy.test_policies import ADDRESS, CROWDED_KEYS, ROTATING_KEYS


def twins() -> None:
    for kind in ("dyn", "nat"):
        if kind == "dyn":
            crowded = Tenant(f"{kind}-crowded", name="Crowded Ltd", address=ADDRESS,
                             opts=pulumi.ResourceOptions(protect=True))
            tidy = Tenant(f"{kind}-tidy", name="Tidy Ltd", address=ADDRESS)  # unprotected
            crowded_id, tidy_id = crowded.tenant_id, tidy.tenant_id
        else:
            crowded = native.tenant(f"{kind}-crowded", pulumi.ResourceOptions(protect=True), name="Crowded Ltd",
                                    address=ADDRESS)
            tidy = native.tenant(f"{kind}-tidy", name="Tidy Ltd", address=ADDRESS)
            crowded_id, tidy_id = crowded.id, tidy.id
        for name, (roles, days, extra) in CROWDED_KEYS.items():
            inputs = {"roles": roles, "rotation_days": days, "name": extra.get("name"),
                      "keepers": extra.get("keepers")}
            if kind == "dyn":
                TenantKey(f"{kind}-{name}", tenant_id=crowded_id, **inputs)
            else:
                native.tenant_key(f"{kind}-{name}", tenantId=crowded_id,
                                  **{"rotationDays" if k == "rotation_days" else k: v for k, v in inputs.items()
                                     if v is not None})
        for name, (roles, grace) in ROTATING_KEYS.items():
            if kind == "dyn":
                RotatingTenantKey(f"{kind}-{name}", tenant_id=tidy_id, roles=roles, rotation_days=30,
                                  grace_days=grace)
            else:
                native.rotating_tenant_key(f"{kind}-{name}", tenantId=tidy_id, roles=roles, rotationDays=30,
                                           graceDays=grace)


def test_native_resources_get_the_verdicts_and_messages_of_the_dynamic_ones(emulator: EmulatorProcess) -> None:
    with emulated_stack(twins, project_name="guarded", stack_name="twins", emulator=emulator, env=PACK_ENV,
                        destroy_on_exit=False) as s:  # only ever previewed
        run = preview(s)
    by_kind: dict[str, dict[str, dict[str, tuple[str, str]]]] = {"dyn": {}, "nat": {}}
    for v in run.violations:
        kind, _, case = v.resource.partition("-")
        assert kind in by_kind, v
        text = v.message.replace(f"{kind}-", "<kind>-")
        for token in (KEY_TYPE, TENANT_TYPE, ROTATING_KEY_TYPE, schema.TENANT_KEY_TOKEN, schema.TENANT_TOKEN,
                      schema.ROTATING_KEY_TOKEN):  # in the URNs shown
            text = text.replace(f"::{token}::", "::<type>::")
        by_kind[kind].setdefault(case, {})[v.policy] = (v.level, text)
    assert by_kind["dyn"] == by_kind["nat"]
    reported = {policy for case in by_kind["nat"].values() for policy in case}
    # Every key policy, the per-tenant key count and the tenant protection policy reported on the native types.
    assert {"tenant-key-no-tenant-admin", "tenant-key-max-roles", "tenant-key-rotation", "max-keys-per-tenant",
            "tenants-protected", "tenant-key-grace-period", "tenant-key-destination"} <= reported, reported
    # The grace-period rule tells rotating keys (their graceDays) from TenantKeys (no grace at all).
    assert "keeps its previous key 0 days after a rotation" in by_kind["nat"]["no-grace"]["tenant-key-grace-period"][1]
    assert "tenant-key-grace-period" not in by_kind["nat"].get("graceful", {})
