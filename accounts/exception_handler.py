"""Render every API error in the house format: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found, server_error
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_default_handler

from accounts.errors import ApplicationError, RateLimited
from accounts.middleware import OUTAGES, outage_response

logger = logging.getLogger(__name__)

_DRF_CODES: dict[type[drf.APIException], str] = {
    drf.ValidationError: "invalid_input",
    drf.ParseError: "malformed_request",
    drf.NotAuthenticated: "not_authenticated",
    drf.AuthenticationFailed: "not_authenticated",
    drf.PermissionDenied: "permission_denied",
    drf.NotFound: "not_found",
    drf.MethodNotAllowed: "method_not_allowed",
    drf.NotAcceptable: "not_acceptable",
    drf.UnsupportedMediaType: "unsupported_media_type",
    drf.Throttled: "rate_limited",
}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def house_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        response = Response(exc.as_dict(), status=exc.status_code)
        if isinstance(exc, RateLimited):
            response["Retry-After"] = str(exc.retry_after)
        for header, value in getattr(exc, "headers", {}).items():
            response[header] = value
        if exc.status_code == 401:
            response["WWW-Authenticate"] = "Bearer"
        if exc.status_code == 503 and "Retry-After" not in response:
            response["Retry-After"] = str(settings.API_RETRY_AFTER_SECONDS)
        return response
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    default = drf_default_handler(exc, context)
    if default is None:
        return None
    response = default
    if isinstance(exc, drf.APIException):
        code = next((c for k, c in _DRF_CODES.items() if isinstance(exc, k)), "error")
        if isinstance(exc, drf.ValidationError):
            message = "The input is not valid."
            details = (
                exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            )
        else:
            message = str(exc.detail)
            details = {}
        response.data = error_body(code, message, details)
    return response


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get(
        "Accept", ""
    )


def json_or_html_404(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return page_not_found(request, exception)


def json_or_html_500(request: HttpRequest) -> HttpResponse:
    # Django calls this while handling the exception: an outage is a 503, not our bug.
    exc = sys.exc_info()[1]
    if exc is not None and isinstance(exc, OUTAGES) and _wants_json(request):
        return outage_response(exc)
    if _wants_json(request):
        return JsonResponse(
            error_body("server_error", "Something went wrong on our side. It has been logged."),
            status=500,
        )
    return server_error(request)
