"""One JSON error format for everything under /api/: outages, oversized bodies, and every error
response Django or the server would otherwise render as HTML (404, 405, 413, 500, 503)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import IO, Any

import redis
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.handlers.asgi import ASGIHandler, ASGIRequest
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.http.multipartparser import MultiPartParserError

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
#: exceptions that mean a backing service is down, not that the request was wrong
OUTAGES: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
# What a status means when the response carries no house error of its own.
STATUS_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request could not be read."),
    401: ("not_authenticated", "Authentication credentials were not provided or are not valid."),
    403: ("permission_denied", "You do not have permission to perform this action."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("request_too_large", "The request body is too large."),
    500: ("server_error", "Something went wrong on our side. It has been logged."),
    503: ("service_unavailable", "The service is briefly unavailable. Try again shortly."),
}


def error_response(
    status: int, code: str | None = None, message: str | None = None
) -> JsonResponse:
    """The house error body for `status`, with Retry-After on a 503."""
    default_code, default_message = STATUS_ERRORS.get(status, ("error", "The request failed."))
    body = {
        "error": {
            "code": code or default_code,
            "message": message or default_message,
            "details": {},
        }
    }
    response = JsonResponse(body, status=status)
    if status == 503:
        response["Retry-After"] = str(settings.API_RETRY_AFTER_SECONDS)
    return response


def outage_response(exc: BaseException) -> JsonResponse:
    """503 with Retry-After for a database or Redis outage; the cause goes to the log only."""
    logger.error("dependency unavailable: %s", type(exc).__name__, exc_info=exc)
    return error_response(503)


def _is_house_error(response: HttpResponse) -> bool:
    if "application/json" not in response.get("Content-Type", ""):
        return False
    if getattr(response, "streaming", False):
        return True
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("error"), dict)


class ApiErrorMiddleware:
    """Under /api/: outages answer 503 JSON with Retry-After, an oversized body 413 JSON, a
    malformed body 400 JSON, and any other error response in HTML or plain text becomes the
    house JSON error with the same status (its Allow or Retry-After headers kept). Sync and
    async capable, so an async chain stays on the event loop."""

    # Both flavours: under ASGI the chain stays on the event loop (no thread hop per request).
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]):
        self.get_response = get_response
        self._is_async = iscoroutinefunction(get_response)
        if self._is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self._is_async:
            return self.__acall__(request)
        return self._house_error(request, self.get_response(request))

    async def __acall__(self, request: HttpRequest) -> Any:
        return self._house_error(request, await self.get_response(request))

    def _house_error(self, request: HttpRequest, response: Any) -> Any:
        if not request.path.startswith(API_PREFIX) or response.status_code < 400:
            return response
        if _is_house_error(response):
            return response
        replacement = error_response(response.status_code)
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                replacement[header] = response[header]
        return replacement

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not request.path.startswith(API_PREFIX):
            return None
        if isinstance(exc, OUTAGES):
            return outage_response(exc)
        if isinstance(exc, RequestDataTooBig):
            return error_response(413)
        if isinstance(exc, MultiPartParserError | SuspiciousOperation):
            return error_response(400, "malformed_request", "The request body could not be read.")
        return None


class ApiAsgiHandler(ASGIHandler):
    """Django's ASGI handler, except that the errors it answers before any middleware runs (a
    request it cannot decode: 400 with no body; an oversized one: 413 in plain text) are house
    JSON errors under /api/ too."""

    def create_request(
        self, scope: Mapping[str, Any], body_file: IO[bytes]
    ) -> tuple[ASGIRequest, None] | tuple[None, HttpResponseBase]:
        created = super().create_request(scope, body_file)
        error = created[1]
        if error is None or not str(scope.get("path", "")).startswith(API_PREFIX):
            return created
        code = "malformed_request" if error.status_code == 400 else None
        return None, error_response(error.status_code, code)
