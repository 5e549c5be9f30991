"""Declares one toy Thing per entry of the structured config `toy:things`, so tests change the program by
changing config. Entry keys: name, value, size, keeper, secret (wrap value in a secret), valueFrom (take
another thing's value: a dependency through an input), dependsOn, parent, protect, dbr, retain,
secretOutputs, ignoreChanges, import."""

import pulumi
from toy_provider import Thing

cfg = pulumi.Config("toy")
things: dict[str, Thing] = {}
for spec in cfg.get_object("things") or []:
    name = spec["name"]
    value = spec.get("value", "v")
    if "valueFrom" in spec:
        value = things[spec["valueFrom"]].value.apply(lambda v: f"{v}+")
    if spec.get("secret"):
        value = pulumi.Output.secret(value)
    token = cfg.get_secret("token") if spec.get("useToken") else None
    opts = pulumi.ResourceOptions(
        protect=spec.get("protect"),
        delete_before_replace=spec.get("dbr"),
        retain_on_delete=spec.get("retain"),
        depends_on=[things[d] for d in spec.get("dependsOn", [])],
        parent=things.get(spec.get("parent", "")),
        additional_secret_outputs=spec.get("secretOutputs"),
        ignore_changes=spec.get("ignoreChanges"),
        import_=spec.get("import"),
    )
    thing = Thing(name, value=value, size=spec.get("size", 1), keeper=spec.get("keeper", "k1"), token=token,
                  opts=opts)
    things[name] = thing
    pulumi.export(f"{name}_value", thing.value)
    pulumi.export(f"{name}_id", thing.id)
    if spec.get("secretOutputs"):
        pulumi.export(f"{name}_secretToken", thing.secretToken)

if cfg.get("structured") is not None:
    pulumi.export("structured", cfg.get_object("structured"))
if cfg.get("token") is not None:
    pulumi.export("token", cfg.require_secret("token"))
if cfg.get_bool("explode"):
    raise RuntimeError("the program exploded on purpose")
