"""Answers /health, /ready and /metrics before any other middleware, whatever the Host header.

Kubernetes probes, load balancers and a Prometheus scraping each pod call these with the pod's
IP as Host, which ALLOWED_HOSTS (the public name) rejects with 400 as soon as anything reads
request.get_host(); and plain HTTP would be redirected to HTTPS by SecurityMiddleware. Listed
first in MIDDLEWARE, this hands the three paths straight to their views, which read no Host,
cookie or session (/metrics checks its own bearer token or client address), so neither check
applies to them while every other path keeps both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware

from monitoring import health
from monitoring.metrics_views import metrics_view

_PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/health": health.health_view,
    "/ready": health.ready_view,
    "/metrics": metrics_view,
}


@sync_and_async_middleware
def health_check_middleware(get_response: Callable[[HttpRequest], Any]) -> Callable[..., Any]:
    # Both flavours, so the ASGI server's async request path gains no thread hop from us.
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            view = _PROBES.get(request.path_info)
            if view is not None:
                # /ready queries the database: off the event loop, like any sync view.
                return await sync_to_async(view)(request)
            response: Awaitable[HttpResponse] = get_response(request)
            return await response

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        view = _PROBES.get(request.path_info)
        if view is not None:
            return view(request)
        result: HttpResponse = get_response(request)
        return result

    return middleware
