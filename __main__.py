"""The root stack: every tenant and key comes from the structured stack config ``<project>:tenants``.

See ``Pulumi.dev.yaml`` for the shape, and ``pulumi_imburse.declarative`` for the rules.
"""

from pulumi_imburse.declarative import declare_from_config, export

export(declare_from_config("tenants"))
