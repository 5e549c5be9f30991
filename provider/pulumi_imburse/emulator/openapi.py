"""The OpenAPI 3.0 document of the API, generated from the route table (never hand-written paths).

Paths, methods, summaries and auth come from :mod:`pulumi_imburse.routes`; role enums from
:mod:`pulumi_imburse.roles`; address fields from :mod:`pulumi_imburse.models`; name limits from
:mod:`pulumi_imburse.validation`; success statuses and body schemas from the emulator's operation
table (:data:`pulumi_imburse.emulator.urls.API_OPERATIONS`). The test-only ``/_emulator/*`` controls
are deliberately left out, so a fuzzer pointed at this document only exercises the API.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from ..models import ADDRESS_FIELDS
from ..roles import TENANT_ROLES
from ..routes import Route, RouteTable
from ..validation import NAME_MAX_LENGTH
from ..version import __version__
from .bodies import MAX_BODY_BYTES
from .faults import STATUS_CODES
from .models import HMAC_WINDOW_SECONDS
from .responses import Operation

OPENAPI_VERSION: Final = "3.0.3"
_PARAM = re.compile(r"{(\w+)}")
_WRITES: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_DESCRIPTIONS: Final[dict[int, str]] = {
    400: "The request is malformed; `field` names the offending property",
    401: "The Hmac signature or bearer token was not accepted",
    403: "The credentials' roles or context do not allow this call",
    404: "No such tenant or key in the caller's account",
    413: f"The request body is larger than {MAX_BODY_BYTES} bytes (refused before authentication)",
    429: "Rate limited; retry after `Retry-After` seconds",
    503: "Unavailable; retry after `Retry-After` seconds (nothing was done)",
    504: "Gateway timeout: the request may or may not have been carried out",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _name_schema() -> dict[str, Any]:
    # Mirrors validation.check_name: a string with a non-space character, at most NAME_MAX_LENGTH long.
    return {"type": "string", "minLength": 1, "maxLength": NAME_MAX_LENGTH, "pattern": r"\S"}


def schemas() -> dict[str, Any]:
    """The component schemas (request and response bodies, and the error body)."""
    address = {f: {"type": "string"} for f in ADDRESS_FIELDS}
    key_props: dict[str, Any] = {
        "accountId": {"type": "string", "format": "uuid"},
        "tenantId": {"type": "string", "format": "uuid"},
        "name": {"type": "string"},
        "publicKey": {"type": "string", "format": "uuid"},
        "roles": {"type": "array", "items": _ref("TenantRole")},
        "createdAt": {"type": "string", "format": "date-time"},
    }
    return {
        "Error": {
            "type": "object",
            "required": ["error", "message"],
            "properties": {
                "error": {"type": "string", "description": "Error code, e.g. ValidationError, TokenExpired"},
                "message": {"type": "string", "description": "Human-readable text naming the field"},
                "field": {"type": "string", "description": "The offending property, when there is one"},
            },
        },
        "AccessToken": {
            "type": "object",
            "required": ["accessToken", "expires"],
            "properties": {
                "accessToken": {"type": "string", "description": "A JWT to send as `Authorization: Bearer`"},
                "expires": {"type": "string", "pattern": r"^[0-9]+$",
                            "description": "Expiry, in milliseconds since the Unix epoch, as a string"},
            },
        },
        "TenantRole": {"type": "string", "enum": list(TENANT_ROLES)},
        "Address": {"type": "object", "required": list(ADDRESS_FIELDS), "properties": address},
        "Tenant": {
            "type": "object",
            "required": ["tenantId", "accountId", "name", "address"],
            "properties": {
                "tenantId": {"type": "string", "format": "uuid"},
                "accountId": {"type": "string", "format": "uuid"},
                "name": {"type": "string"},
                "address": _ref("Address"),
            },
        },
        "TenantList": {"type": "array", "items": _ref("Tenant")},
        "TenantInput": {
            "type": "object",
            "description": "A tenant's name and address, flat. On update, omitted address fields become empty.",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {"name": _name_schema(),
                           **{f: {"type": "string", "nullable": True} for f in ADDRESS_FIELDS}},
        },
        "ApiKey": {
            "type": "object",
            "required": ["accountId", "tenantId", "name", "publicKey", "roles"],
            "properties": key_props,
        },
        "ApiKeyCreated": {
            "type": "object",
            "description": "The create response: the only time `privateKey` is ever returned.",
            "required": ["accountId", "tenantId", "name", "publicKey", "roles", "privateKey"],
            "properties": {**key_props,
                           "privateKey": {"type": "string", "format": "byte",
                                          "description": "Base64 of 32 random bytes"}},
        },
        "ApiKeyList": {"type": "array", "items": _ref("ApiKey")},
        "ApiKeyInput": {
            "type": "object",
            "description": "Roles are stored sorted and de-duplicated. Without `name`, create picks "
                           "`API Key` and update keeps the current name.",
            "required": ["roles"],
            "additionalProperties": False,
            "properties": {
                "name": _name_schema(),
                "roles": {"type": "array", "minItems": 1, "items": _ref("TenantRole")},
            },
        },
    }


def _error_statuses(route: Route, op: Operation, params: list[str]) -> list[int]:
    statuses = [401, 403, 413, 429, 503]
    if params or op.request_schema:
        statuses.append(400)
    if params:
        statuses.append(404)
    if route.method in _WRITES:
        statuses.append(504)
    return sorted(statuses)


def _operation(route: Route, op: Operation) -> dict[str, Any]:
    params = _PARAM.findall(route.path)
    parameters: list[dict[str, Any]] = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
        for p in params
    ]
    parameters.append({"name": "x-account-id", "in": "header", "required": False,
                       "description": "The caller's account; 403 when it differs from the credentials'",
                       "schema": {"type": "string", "format": "uuid"}})
    if "tenantId" in params:
        parameters.append({"name": "x-tenant-id", "in": "header", "required": False,
                           "description": "The tenant in the path; 403 when it differs",
                           "schema": {"type": "string", "format": "uuid"}})
    success: dict[str, Any] = {"description": route.summary or "Success"}
    if op.response_schema:
        success["content"] = {"application/json": {"schema": _ref(op.response_schema)}}
    responses: dict[str, Any] = {str(op.status): success}
    for status in _error_statuses(route, op, params):
        error: dict[str, Any] = {"description": _DESCRIPTIONS.get(status, STATUS_CODES.get(status, "")),
                                 "content": {"application/json": {"schema": _ref("Error")}}}
        if status in (429, 503):
            error["headers"] = {"Retry-After": {"schema": {"type": "integer", "minimum": 0}}}
        responses[str(status)] = error
    doc: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary,
        "security": [{"Hmac": []}] if route.auth == "hmac" else [{"Bearer": []}],
        "parameters": parameters,
        "responses": responses,
    }
    if op.request_schema:
        doc["requestBody"] = {"required": True,
                              "content": {"application/json": {"schema": _ref(op.request_schema)}}}
    return doc


def build_openapi(routes: RouteTable, operations: Mapping[str, Operation]) -> dict[str, Any]:
    """The OpenAPI document of every route in ``routes``, served as ``GET /openapi.json``."""
    paths: dict[str, dict[str, Any]] = {}
    for name, route in routes.items():
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, operations[name])
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Imburse key-management API (pulumi-imburse emulator)",
            "version": __version__,
            "description": "Accounts hold tenants; tenants hold API keys. Sign the access-token call with "
                           "Hmac, then send `Authorization: Bearer <accessToken>` until it expires.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "Hmac": {
                    "type": "apiKey", "in": "header", "name": "Authorization",
                    "description": "`Hmac {publicKey}:{nonce}:{timestamp}:{signature}` where signature = "
                                   "base64(HMAC-SHA256(base64decode(privateKey), "
                                   "publicKey:nonce:timestamp:bodySignature)) and bodySignature = \"\" for "
                                   "an empty body, else base64(SHA-256(body)). The timestamp (UTC epoch "
                                   f"seconds) must be within {HMAC_WINDOW_SECONDS} s of the server's clock; "
                                   "a nonce is accepted once.",
                },
                "Bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
    }
