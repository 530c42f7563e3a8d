"""OpenAPI descriptions of our authentication schemes for drf-spectacular."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key issued per tenant and user: `Authorization: Bearer <key>`.",
        }


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.SessionAuthentication"
    name = "SessionAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The house error format of every 4xx and 5xx answer.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "Machine-readable, e.g. not_found."},
                "message": {"type": "string"},
                "details": {"type": "object", "additionalProperties": True},
            },
            "required": ["code", "message", "details"],
        }
    },
    "required": ["error"],
}

# Every operation may answer these; the statuses below are added where they apply.
COMMON_ERRORS = {
    "400": "The input is not valid (details name the fields).",
    "401": "No credentials, or a key that is malformed, unknown, revoked or expired.",
    "403": "The role may not do this, or the workspace is suspended.",
    "404": "No such object in this workspace (another tenant's looks the same).",
    "405": "The method is not allowed on this path.",
    "406": "The Accept header asks for a format this operation does not produce.",
    "429": "A rate limit: Retry-After says when to try again.",
    "503": "The database, Redis or every model provider is unavailable: see Retry-After.",
}
BODY_ERRORS = {
    "413": "The request body is larger than allowed.",
    "415": "The request body's content type is not accepted here.",
}
# Statuses particular to some operations: (path suffix, method) -> {status: description}.
OPERATION_ERRORS = {
    ("/messages", "post"): {
        "402": "The monthly budget is exhausted.",
        "422": "The question contains personal data and the workspace's policy blocks it.",
    },
    ("/documents", "post"): {"422": "The document could not be accepted."},
    ("/search", "post"): {"402": "The monthly budget is exhausted."},
}


def error_responses_postprocess(
    result: dict[str, Any], generator: Any, request: Any, public: Any
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the Error component, and the error answers every
    operation documents (so clients and schemathesis know every status they may get)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            errors = dict(COMMON_ERRORS)
            if method in ("post", "put", "patch"):
                errors.update(BODY_ERRORS)
            for (suffix, verb), extra in OPERATION_ERRORS.items():
                if path.endswith(suffix) and method == verb:
                    errors.update(extra)
            responses = operation.setdefault("responses", {})
            for status, description in errors.items():
                responses.setdefault(status, {"description": description, "content": content})
    return result


def int_query_parameter(
    name: str, *, low: int, high: int, default: int, description: str = ""
) -> OpenApiParameter:
    """A whole-number query parameter with its real range, so clients and fuzzers know it."""
    return OpenApiParameter(
        name,
        {"type": "integer", "minimum": low, "maximum": high, "default": default},
        description=description,
    )
