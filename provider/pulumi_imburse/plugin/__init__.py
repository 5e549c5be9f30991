"""The ``imburse`` resource provider plugin (``pulumi-resource-imburse``) and its package schema.

:mod:`.server` serves the core's resource rules (the same objects behind the Python dynamic resources) to the
Pulumi engine over the provider protocol, for programs in any language; :mod:`.schema` generates ``schema.json``
from the core's facts.
"""
