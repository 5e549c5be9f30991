"""One TenantKey per entry of the structured config ``keys`` (``{name: {roles, rotationDays}}``), so a test picks
the policy verdicts by config alone; an entry with ``graceDays`` is a RotatingTenantKey.

``tenantId`` puts the keys on an existing tenant; without it the stack creates the Tenant ``tenant`` (named by
``tenantName``) and the keys take its id. Each key's public key is exported, and its private key as the secret
it is, unless ``exportPlainPrivateKeys`` is true: then as plain text (``Output.unsecret``), which the policy
``no-plaintext-private-key-output`` exists to stop.

An entry with ``destination`` passes it to the key (issue 18: the private key goes to a secret store; without one the
key takes the provider's ``imburse:destination``, if set). With ``exportReferences`` true, each key's reference
outputs are exported too, as the plain values they are: ``<name>SecretReference``, ``<name>SecretVersion`` and
``<name>PrivateKeyFingerprint``.
"""

import pulumi

from pulumi_imburse import RotatingTenantKey, Tenant, TenantAddressArgs, TenantArgs, TenantKey, TenantKeyArgs

config = pulumi.Config()

tenant_id: pulumi.Input[str]
if config.get("tenantId"):
    tenant_id = config.require("tenantId")
else:
    tenant = Tenant("tenant", TenantArgs(name=config.require("tenantName"),
                                         address=TenantAddressArgs(locality="Leeds", country="GB")))
    tenant_id = tenant.tenant_id
    pulumi.export("tenantId", tenant.tenant_id)

for name, spec in (config.get_object("keys") or {}).items():
    key: TenantKey | RotatingTenantKey
    extra = {"destination": spec["destination"]} if "destination" in spec else {}
    if "graceDays" in spec:
        key = RotatingTenantKey(name, tenant_id=tenant_id, roles=spec["roles"], rotation_days=spec.get("rotationDays"),
                                grace_days=spec["graceDays"], **extra)
    else:
        key = TenantKey(name, TenantKeyArgs(tenant_id=tenant_id, roles=spec["roles"],
                                            rotation_days=spec.get("rotationDays"), **extra))
    pulumi.export(f"{name}PublicKey", key.public_key)
    if config.get_bool("exportPlainPrivateKeys"):
        pulumi.export(f"{name}PrivateKey", pulumi.Output.unsecret(key.private_key))
    else:
        pulumi.export(f"{name}PrivateKey", key.private_key)
    if config.get_bool("exportReferences"):
        pulumi.export(f"{name}SecretReference", key.secret_reference)
        pulumi.export(f"{name}SecretVersion", key.secret_version)
        pulumi.export(f"{name}PrivateKeyFingerprint", key.private_key_fingerprint)
