"""GitOps: every tenant and key of an environment comes from its stack file, ``Pulumi.<stack>.yaml``.

A pull request that edits ``imburse-gitops:tenants`` is previewed with the policy pack; merging it
deploys. See README.md.
"""

from pulumi_imburse.declarative import declare_from_config, export

export(declare_from_config("tenants"))
