"""A component with two children, and a thing outside it that depends on the component."""

import pulumi
from toy_provider import Group, Thing

group = Group("group")
after = Thing("after", value=group.second.value.apply(lambda v: f"{v}+after"),
              opts=pulumi.ResourceOptions(depends_on=[group]))
pulumi.export("after", after.value)
