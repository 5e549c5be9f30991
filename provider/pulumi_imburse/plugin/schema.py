"""The Pulumi package schema of the ``imburse`` provider plugin, generated from the core's facts.

Every name, type, description, role and default in ``schema.json`` comes from the core: each resource's
declared shape (:mod:`pulumi_imburse.shapes`: wire names, types, what each input and output means, required,
secret), the replacement rules of :mod:`pulumi_imburse.tenant_key`, :mod:`pulumi_imburse.rotating_key` and
:mod:`pulumi_imburse.tenant`, the role vocabulary of :mod:`pulumi_imburse.roles` and the settings table of
:mod:`pulumi_imburse.config`. ``schema.json`` is kept in
the repository (and shipped as package data, which ``GetSchema`` serves); regenerate it with::

    python -m pulumi_imburse.plugin.schema            # writes provider/pulumi_imburse/plugin/schema.json
    python -m pulumi_imburse.plugin.schema --check    # exit status 1 if the committed file is stale
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from .. import config as settings
from .. import rotating_key, tenant, tenant_key
from ..models import ADDRESS_FIELDS
from ..roles import TENANT_ROLES
from ..shapes import Shape
from ..stores import destination as destinations
from ..version import __version__

PACKAGE: Final = "imburse"
"""The package name: resource tokens are ``imburse:index:<Type>``, the plugin ``pulumi-resource-imburse``."""
TENANT_KEY_TOKEN: Final = f"{PACKAGE}:index:TenantKey"
TENANT_TOKEN: Final = f"{PACKAGE}:index:Tenant"
ROTATING_KEY_TOKEN: Final = f"{PACKAGE}:index:RotatingTenantKey"
ROLE_TOKEN: Final = f"{PACKAGE}:index:TenantRole"
ADDRESS_TOKEN: Final = f"{PACKAGE}:index:TenantAddress"
DESTINATION_TOKEN: Final = f"{PACKAGE}:index:Destination"

NODEJS_PACKAGE: Final = "@pulumi-imburse/imburse"
PYTHON_PACKAGE: Final = "pulumi_imburse_sdk"
"""The generated Python SDK's package (``pulumi_imburse`` is this package: the core and the dynamic resources)."""
GO_IMPORT_BASE: Final = "github.com/pulumi-imburse/pulumi-imburse/sdk/go/imburse"
CSHARP_NAMESPACE: Final = "PulumiImburse"

PLUGIN_DOWNLOAD_URL: Final = "github://api.github.com/pulumi-imburse"
"""Where the engine downloads a missing plugin: the GitHub releases of ``pulumi-imburse/pulumi-imburse`` (a
``github://<host>/<org>`` source names the repository ``pulumi-<package>``), asset
``pulumi-resource-imburse-v<version>-<os>-<arch>.tar.gz`` of release ``v<version>``. Every generated SDK carries it."""

SDK_PULUMI_FLOOR: Final = "3.269.0"
"""The oldest Pulumi SDK (``@pulumi/pulumi``, ``pulumi`` on PyPI) the generated SDKs work with: the first with
``runtime.existsResource`` / ``runtime.exists_resource``, which they call. tests/release installs the npm tarball
with exactly this version."""

SCHEMA_PATH: Final = Path(__file__).with_name("schema.json")

def version() -> str:
    """The package version (the plugin's version, and the schema's): :mod:`pulumi_imburse.version`, which a frozen
    plugin carries too (it has no installed distribution's metadata to read)."""
    return __version__


def _text(doc: str, py_names: Mapping[str, str]) -> str:
    """A docstring fragment in the schema's language-neutral form: wire names, Markdown code spans, one line."""
    wire = {py: w for w, py in py_names.items()}
    doc = re.sub(r":(?:class|func|mod|data|meth):`~?([\w.]+)`", lambda m: f"`{m.group(1).rsplit('.', 1)[-1]}`", doc)
    doc = re.sub(r"``([^`]+)``", lambda m: f"`{wire.get(m.group(1), m.group(1))}`", doc)
    return " ".join(doc.split())


def _input_docs(shape: Shape) -> dict[str, str]:
    """``{wire name: description}`` of the inputs the user declares (without what only Python accepts)."""
    py = shape.py_names()
    return {p.wire: _text(p.doc, py) for p in shape.declared()}


def _output_docs(shape: Shape) -> dict[str, str]:
    """``{wire name: description}`` of every property as an output."""
    py = shape.py_names()
    return {p.wire: _text(p.output_doc, py) for p in shape.rows}


def _key_replacement(prop: str) -> str:
    """What an output's change means for a TenantKey, from the replacement rules of :mod:`pulumi_imburse.tenant_key`."""
    causes = ", ".join(f"`{p}`" for p in tenant_key.REPLACE_ON)
    if prop in tenant_key.REPLACE_ON:
        return "A change forces a replacement (a new key, then the old one revoked)."
    if prop == "rotationDays":
        return ("Once the key is this old, the next update forces a replacement; a change of the number alone "
                "changes nothing in Imburse.")
    if prop in tenant_key.INPUTS:
        return "A change updates the key in place (no replacement)."
    return (f"Output: a new value only when the key is replaced (a change of {causes}, or `rotationDays` "
            "running out).")


def _rotating_replacement(prop: str) -> str:
    """What an output's change means for a RotatingTenantKey, from the rules of :mod:`pulumi_imburse.rotating_key`."""
    if prop in rotating_key.REPLACE_ON:
        return "A change forces a replacement (new keys, then both old keys revoked)."
    if prop in rotating_key.ROTATE_ON:
        return "A change rotates the key in place (no replacement)."
    if prop in rotating_key.INPUTS:
        return "A change updates the resource in place (no replacement)."
    if prop == "accountId":
        return ("Output: the tenant's account; a new value only when a change of "
                f"{', '.join(f'`{p}`' for p in rotating_key.REPLACE_ON)} replaces the resource.")
    if prop in rotating_key.PREVIOUS:
        return "Output: set by a rotation (in place, no replacement) and removed when the previous key is revoked."
    return ("Output: a new value when the key rotates in place (no replacement), or when a change of "
            f"{', '.join(f'`{p}`' for p in rotating_key.REPLACE_ON)} replaces the resource.")


def _tenant_replacement(prop: str) -> str:
    """What an output's change means for a Tenant (nothing replaces a tenant, see :mod:`pulumi_imburse.tenant`)."""
    if prop in tenant.INPUTS:
        return "A change updates the tenant in place; nothing forces a replacement."
    return "Output, fixed for the tenant's life: nothing forces a replacement."


def _describe(doc: str, replacement: str) -> str:
    doc = doc.strip()
    if doc and doc[0].islower():
        doc = doc[0].upper() + doc[1:]
    return f"{doc} {replacement}".strip()


def _enum_name(value: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^0-9A-Za-z]+", value) if part)


_TYPES: Final[Mapping[str, dict[str, Any]]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "roles": {"type": "array", "items": {"$ref": f"#/types/{ROLE_TOKEN}"}},
    "string-map": {"type": "object", "additionalProperties": {"type": "string"}},
    "address": {"$ref": f"#/types/{ADDRESS_TOKEN}"},
    "destination": {"$ref": f"#/types/{DESTINATION_TOKEN}"},
}
"""The schema form of each type a shape names."""


def _types(shape: Shape) -> dict[str, dict[str, Any]]:
    """The schema type of each property of ``shape``; the secret ones marked."""
    return {p.wire: {**_TYPES[p.type], "secret": True} if p.secret else dict(_TYPES[p.type]) for p in shape.rows}


def _tenant_key() -> dict[str, Any]:
    shape = tenant_key.SHAPE
    py = shape.py_names()
    params, attrs, types = _input_docs(shape), _output_docs(shape), _types(shape)
    inputs = [p for p in tenant_key.INPUTS if p != "namePrefix"]  # namePrefix: the resource name, never given
    outputs = [p for p in tenant_key.OUTPUTS if p not in tenant_key.CREATE_ONLY]

    def prop(p: str, doc: str, *, says_replacement: bool = False) -> dict[str, Any]:
        return {**types[p], "description": _describe(doc, "" if says_replacement else _key_replacement(p))}

    return {
        "description": _text(inspect.cleandoc(tenant_key.__doc__ or "").split("\n\n")[0], py)
        + " The resource id is `<tenantId>/<publicKey>`; import an existing key with "
          f"`pulumi import {TENANT_KEY_TOKEN} <name> <tenantId>/<publicKey>` (its private key stays unknown: "
          "`privateKey` is empty until a rotation).",
        # An input's docstring says what its change does (tests/plugin/test_schema.py checks it does).
        "inputProperties": {p: prop(p, params[p], says_replacement=True) for p in inputs},
        "requiredInputs": list(shape.required_inputs()),
        "properties": {p: prop(p, attrs[p]) for p in outputs},
        "required": list(shape.always_set()),
    }


def _rotating_key() -> dict[str, Any]:
    shape = rotating_key.SHAPE
    py = shape.py_names()
    params, attrs, types = _input_docs(shape), _output_docs(shape), _types(shape)
    inputs = [p for p in rotating_key.INPUTS if p != "namePrefix"]  # namePrefix: the resource name, never given

    def prop(p: str, doc: str, *, says_replacement: bool = False) -> dict[str, Any]:
        return {**types[p], "description": _describe(doc, "" if says_replacement else _rotating_replacement(p))}

    return {
        "description": _text(inspect.cleandoc(rotating_key.__doc__ or "").split("\n\n")[0], py)
        + " After a rotation (`rotationDays` by the service's `createdAt`, or a `keepers` change: an in-place update)"
          " the previous key keeps working for `graceDays`; the first update after that revokes it. Run "
          "`pulumi up --refresh` on a schedule: only a run rotates, and only a refresh reads the key's age. The "
          "resource id is `<tenantId>/<series id>`, fixed for the resource's life; it cannot be imported.",
        "inputProperties": {p: prop(p, params[p], says_replacement=True) for p in inputs},
        "requiredInputs": list(shape.required_inputs()),
        "properties": {p: prop(p, attrs[p]) for p in rotating_key.OUTPUTS},
        "required": list(shape.always_set()),
    }


def _tenant() -> dict[str, Any]:
    shape = tenant.SHAPE
    py = shape.py_names()
    params, attrs, types = _input_docs(shape), _output_docs(shape), _types(shape)
    inputs = [*tenant.INPUTS, *tenant.CREATE_ONLY]
    outputs = [p for p in tenant.OUTPUTS if p not in tenant.CREATE_ONLY]

    def prop(p: str, doc: str, *, says_replacement: bool = False) -> dict[str, Any]:
        return {**types[p], "description": _describe(doc, "" if says_replacement else _tenant_replacement(p))}

    return {
        "description": _text(inspect.cleandoc(tenant.__doc__ or "").split("\n\n")[0], py)
        + f" The resource id is the tenant id; import an existing tenant with `pulumi import {TENANT_TOKEN} <name> "
          "<tenantId>`. Deleting the resource deletes the tenant and every key in it: protect tenants.",
        "inputProperties": {p: prop(p, params[p], says_replacement=True) for p in inputs},
        "requiredInputs": list(shape.required_inputs()),
        "properties": {p: prop(p, attrs[p]) for p in outputs},
        "required": list(shape.always_set()),
    }


def _setting(s: settings.Setting) -> dict[str, Any]:
    fallback = f"Default: environment variable `{s.env}`" + (f", else `{s.default}`." if s.default else ".")
    entry: dict[str, Any] = {"type": "string", "description": f"{_text(s.description, {})} {fallback} "
                             "A change of it never replaces a resource."}
    if s.secret:
        entry["secret"] = True
    return entry


_FIELD_TYPES: Final[Mapping[str, dict[str, Any]]] = {
    "string": {"type": "string"}, "integer": {"type": "integer"}, "boolean": {"type": "boolean"},
    "string-map": {"type": "object", "additionalProperties": {"type": "string"}},
}


def _destination() -> dict[str, Any]:
    """The ``Destination`` object type, from :data:`pulumi_imburse.stores.destination.FIELDS`."""
    props = {}
    for f in destinations.FIELDS:
        kinds = "" if f.kinds == destinations.TYPES else f" ({' and '.join(f.kinds)} only)"
        allowed = f" One of: {', '.join(f'`{v}`' for v in f.enum)}." if f.enum and f.wire != "type" else ""
        change = ("A change moves the key to another secret: a `TenantKey` is replaced, a `RotatingTenantKey` "
                  "replaced (new keys there, the old ones revoked)." if f.location else
                  "A change updates the key in place (nothing in the store changes until it is next written).")
        doc = _describe(_text(f.doc, destinations.PY_NAMES), "")
        props[f.wire] = {**_FIELD_TYPES[f.type], "description": f"{doc}{allowed}{kinds} {change}".strip()}
    return {
        "type": "object",
        "description": "Where a key's private key goes instead of Pulumi state: a secret store the application reads "
                       "(AWS Secrets Manager, HashiCorp Vault KV v2). The key resources' outputs then hold the "
                       "secret's reference, version and the private key's fingerprint, and `privateKey` is empty.",
        "properties": props,
        "required": ["type"],
    }


def generate() -> dict[str, Any]:
    """The package schema as a JSON-ready dict."""
    config = {s.name: _setting(s) for s in settings.SETTINGS}
    config[destinations.PROPERTY] = {
        "$ref": f"#/types/{DESTINATION_TOKEN}",
        "description": "The default `destination` of every key of this provider (a key's own fields override it; "
                       "`secretId` and `path` may hold `{tenantId}` and `{resourceName}`). A change moves keys whose "
                       "secret it moves (new keys there); it never replaces the provider."}
    address = {
        f: {"type": "string", "description": f"`{f}`: free text; empty when not given. A change updates the tenant "
                                             "in place."}
        for f in ADDRESS_FIELDS
    }
    return {
        "name": PACKAGE,
        "displayName": "Imburse",
        "version": version(),
        "description": "Imburse tenants and tenant API keys as code: a native provider for every Pulumi language.",
        "keywords": ["pulumi", "imburse", "category/utility", "kind/native"],
        "license": "Apache-2.0",
        "publisher": "pulumi-imburse",
        "repository": "https://github.com/pulumi-imburse/pulumi-imburse",
        "pluginDownloadURL": PLUGIN_DOWNLOAD_URL,
        "meta": {"moduleFormat": "(.*)"},
        "language": {
            "csharp": {"rootNamespace": CSHARP_NAMESPACE, "packageReferences": {"Pulumi": "3.*"},
                       "respectSchemaVersion": True},
            "go": {"importBasePath": GO_IMPORT_BASE, "generateResourceContainerTypes": True,
                   "respectSchemaVersion": True},
            "nodejs": {"packageName": NODEJS_PACKAGE, "dependencies": {"@pulumi/pulumi": f"^{SDK_PULUMI_FLOOR}"},
                       "respectSchemaVersion": True},
            "python": {"packageName": PYTHON_PACKAGE, "requires": {"pulumi": f">={SDK_PULUMI_FLOOR},<4.0.0"},
                       "pyproject": {"enabled": True}, "respectSchemaVersion": True},
        },
        "config": {"variables": config},
        "provider": {
            "description": "The Imburse provider: the credentials of one Imburse account. Declare several (explicit "
                           "providers) to manage several accounts in one stack; the default provider reads stack "
                           f"config `{settings.NAMESPACE}:*` and the `IMBURSE_*` environment variables.",
            "inputProperties": config,
            "properties": {k: v for k, v in config.items() if k != settings.PRIVATE_KEY.name},
        },
        "types": {
            ROLE_TOKEN: {
                "type": "string",
                "description": "A tenant API key's role.",
                "enum": [{"name": _enum_name(r), "value": r} for r in TENANT_ROLES],
            },
            DESTINATION_TOKEN: _destination(),
            ADDRESS_TOKEN: {
                "type": "object",
                "description": "A tenant's postal address. Every field is optional free text.",
                "properties": address,
            },
        },
        "resources": {TENANT_TOKEN: _tenant(), TENANT_KEY_TOKEN: _tenant_key(), ROTATING_KEY_TOKEN: _rotating_key()},
    }


def render() -> str:
    """The schema as ``schema.json`` holds it."""
    return json.dumps(generate(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write ``schema.json`` (or, with ``--check``, tell whether it is up to date)."""
    parser = argparse.ArgumentParser(prog="python -m pulumi_imburse.plugin.schema", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if schema.json differs from the generated schema")
    parser.add_argument("--out", type=Path, default=SCHEMA_PATH, help="where to write (default: %(default)s)")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not args.out.exists() or args.out.read_text() != text:
            print(f"{args.out} is stale: run python -m pulumi_imburse.plugin.schema", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
