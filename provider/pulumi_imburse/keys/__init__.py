"""The key core: the pure rules of tenant API keys (:mod:`.rules`) and the protocol that creates them
(:mod:`.create`). Every key resource (``TenantKey``, ``RotatingTenantKey``) stands on it; it imports no Pulumi
and no resource module."""
