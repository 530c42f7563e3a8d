"""The one error vocabulary: errors with a code, a message, details and an HTTP status."""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """Base of every error a user or integrator may see; rendered as {"error": {...}}."""

    code: str = "application_error"
    status_code: int = 400
    default_message: str = "The request could not be completed."

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None):
        self.message = message or self.default_message
        self.details: dict[str, Any] = details or {}
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ValidationFailed(ApplicationError):
    code = "invalid_input"
    status_code = 400
    default_message = "The input is not valid."


class NotAuthenticated(ApplicationError):
    code = "not_authenticated"
    status_code = 401
    default_message = "Authentication credentials were not provided or are not valid."


class PermissionDenied(ApplicationError):
    code = "permission_denied"
    status_code = 403
    default_message = "You do not have permission to perform this action."


class TenantSuspended(ApplicationError):
    code = "tenant_suspended"
    status_code = 403
    default_message = "This workspace is suspended. Contact your administrator."


class NotFound(ApplicationError):
    code = "not_found"
    status_code = 404
    default_message = "Not found."


class Conflict(ApplicationError):
    code = "conflict"
    status_code = 409
    default_message = "The request conflicts with the current state."


class BudgetExhausted(ApplicationError):
    code = "budget_exhausted"
    status_code = 402
    default_message = "The monthly budget is exhausted."


class RateLimited(ApplicationError):
    code = "rate_limited"
    status_code = 429
    default_message = "Too many requests. Try again shortly."

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: int = 1,
        details: dict[str, Any] | None = None,
    ):
        self.retry_after = max(1, int(retry_after))
        merged = {"retry_after": self.retry_after, **(details or {})}
        super().__init__(message, details=merged)


class DocumentRejected(ApplicationError):
    code = "document_rejected"
    status_code = 422
    default_message = "The document could not be accepted."


class RequestTooLarge(ApplicationError):
    code = "request_too_large"
    status_code = 413
    default_message = "The request body is too large."


class ProviderUnavailable(ApplicationError):
    code = "provider_unavailable"
    status_code = 503
    default_message = "No language model provider is available right now. Try again shortly."


class PiiBlocked(ApplicationError):
    code = "pii_blocked"
    status_code = 422
    default_message = "The text contains personal data and this workspace's policy blocks it."


class ServiceRestarting(ApplicationError):
    """This web process is draining before it stops; another one answers a retry."""

    code = "service_restarting"
    status_code = 503
    default_message = "This server is restarting. Ask again in a moment."

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None):
        super().__init__(message, details={"retry_after": 1, **(details or {})})
        self.headers: dict[str, str] = {"Retry-After": "1"}
