"""Tenant-isolation sweep: call every API endpoint with another tenant's key and expect nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

API_PREFIX = "api/v1/"


@dataclass(frozen=True)
class Route:
    name: str
    template: str  # e.g. "api/v1/api-keys/<str:prefix>/revoke"
    kwargs: tuple[str, ...]
    methods: tuple[str, ...]


def _walk(patterns: list[Any], prefix: str = "") -> list[tuple[str, URLPattern]]:
    found: list[tuple[str, URLPattern]] = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            found.extend(_walk(entry.url_patterns, prefix + str(entry.pattern)))
        elif isinstance(entry, URLPattern):
            found.append((prefix + str(entry.pattern), entry))
    return found


def api_routes() -> list[Route]:
    """Every route under /api/v1/ with its URL kwargs and the HTTP methods its view serves."""
    routes = []
    for template, pattern in _walk(get_resolver().url_patterns):
        if not template.startswith(API_PREFIX):
            continue
        view_class = getattr(pattern.callback, "view_class", None) or getattr(
            pattern.callback, "cls", None
        )
        methods = tuple(
            m.upper()
            for m in ("get", "post", "put", "patch", "delete")
            if view_class is not None and hasattr(view_class, m)
        )
        routes.append(
            Route(
                name=pattern.name or template,
                template=template,
                kwargs=tuple(pattern.pattern.regex.groupindex),
                methods=methods,
            )
        )
    return routes


def _fill(template: str, values: dict[str, Any]) -> str:
    path = template
    for name, value in values.items():
        for converter in ("int", "str", "uuid", "slug", "path"):
            path = path.replace(f"<{converter}:{name}>", str(value))
        path = path.replace(f"<{name}>", str(value))
    return "/" + path


def isolation_sweep(
    *,
    intruder: APIClient,
    owner_kwargs: dict[str, dict[str, Any]],
    owner_markers: list[str],
    read_posts: dict[str, dict[str, Any]] | None = None,
) -> list[str]:
    """Return a list of leaks (empty when isolation holds).

    owner_kwargs maps a route name to URL kwargs naming one of the owner's objects; every route
    that takes kwargs must be listed, so a new endpoint cannot escape the sweep. owner_markers are
    strings that only the owner's data contains; no response to the intruder may contain them.
    read_posts gives the body to POST to a route (a valid one, so the object lookup is what
    answers); kwarg-less routes are POSTed only when listed there (reads such as search).
    """
    read_posts = read_posts or {}
    problems: list[str] = []
    for route in api_routes():
        if route.kwargs and route.name not in owner_kwargs:
            problems.append(f"{route.template}: not covered by the sweep (add its kwargs)")
            continue
        path = _fill(route.template, owner_kwargs.get(route.name, {}))
        for method in route.methods:
            body_to_send: dict[str, Any] = (
                read_posts.get(route.name, {}) if method == "POST" else {}
            )
            if not route.kwargs and method != "GET":
                if not (method == "POST" and route.name in read_posts):
                    continue  # creating in one's own tenant is not a leak
                body_to_send = read_posts[route.name]
            response = getattr(intruder, method.lower())(path, data=body_to_send, format="json")
            body = response.content.decode(errors="replace")
            if route.kwargs and response.status_code != 404:
                problems.append(f"{method} {path}: expected 404, got {response.status_code}")
            for marker in owner_markers:
                if marker in body:
                    problems.append(f"{method} {path}: response contains {marker!r}")
            if response.status_code >= 400 and response.get("Content-Type", "").startswith(
                "application/json"
            ):
                error = json.loads(body).get("error", {})
                if not {"code", "message", "details"} <= set(error):
                    problems.append(f"{method} {path}: error not in the house format: {body}")
    return problems
