"""Async-native versions of middleware whose libraries only offer a sync or thread-hopping one.

Under ASGI, Django runs a sync-only middleware (WhiteNoise's) and everything inside it on an
executor thread, and runs a MiddlewareMixin's process_request/process_response through
sync_to_async: a thread hop per request, per middleware. Static files and the Prometheus
counters only read in-memory state, so here they run on the event loop. Django's own middleware
stays as Django ships it (async-capable; `check --deploy` looks for it by name).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django_prometheus.middleware import (
    PrometheusAfterMiddleware,
    PrometheusBeforeMiddleware,
)
from whitenoise.middleware import WhiteNoiseMiddleware

AsyncGetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


class AsyncWhiteNoiseMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise that answers static files on the event loop when the chain is async."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any = None, settings: Any = None) -> None:
        if settings is None:
            super().__init__(get_response)
        else:
            super().__init__(get_response, settings=settings)
        self._is_async = iscoroutinefunction(get_response)
        if self._is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self._is_async:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        if self.autorefresh:
            static_file = self.find_file(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return self.serve(static_file, request)
        get_response: AsyncGetResponse = self.get_response
        return await get_response(request)


class _InlineHooks:
    """For a MiddlewareMixin whose process_request/process_response never block: call them on
    the event loop instead of through sync_to_async."""

    get_response: Any

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = None
        process_request = getattr(self, "process_request", None)
        if process_request is not None:
            response = process_request(request)
        response = response or await self.get_response(request)
        process_response = getattr(self, "process_response", None)
        if process_response is not None:
            response = process_response(request, response)
        return response


class AsyncPrometheusBeforeMiddleware(_InlineHooks, PrometheusBeforeMiddleware):
    """django-prometheus's first middleware, on the event loop (counter increments only)."""


class AsyncPrometheusAfterMiddleware(_InlineHooks, PrometheusAfterMiddleware):
    """django-prometheus's last middleware, on the event loop (counter increments only)."""
