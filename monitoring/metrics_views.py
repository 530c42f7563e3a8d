"""The /metrics page: Prometheus exposition for METRICS_TOKEN bearers and allowed addresses."""

from __future__ import annotations

import functools
import hmac
import ipaddress
import logging
from collections.abc import Iterable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from monitoring.metrics import render_latest

logger = logging.getLogger(__name__)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _error(*, status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "details": {}}}, status=status)


def _presented_token(request: HttpRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def _token_matches(request: HttpRequest) -> bool:
    expected = settings.METRICS_TOKEN or ""
    presented = _presented_token(request)
    # An unset token must never match an empty or missing header.
    if not expected or presented is None:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


@functools.lru_cache(maxsize=8)
def _allowed_networks(entries: tuple[str, ...]) -> tuple[IpNetwork, ...]:
    networks: list[IpNetwork] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            logger.warning("METRICS_ALLOWED_IPS entry %r is not an IP or CIDR; ignored", entry)
    return tuple(networks)


def _address_allowed(request: HttpRequest) -> bool:
    # REMOTE_ADDR only: X-Forwarded-For is written by the client and would open the page to anyone.
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    entries: Iterable[str] = settings.METRICS_ALLOWED_IPS
    return any(
        address.version == network.version and address in network
        for network in _allowed_networks(tuple(entries))
    )


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Serve every metric of the service to Prometheus; 403 for anyone else."""
    if request.method not in ("GET", "HEAD"):
        response = _error(
            status=405, code="method_not_allowed", message="Only GET and HEAD are allowed."
        )
        response["Allow"] = "GET, HEAD"
        return response
    if not (_token_matches(request) or _address_allowed(request)):
        return _error(
            status=403,
            code="permission_denied",
            message="Metrics need the metrics bearer token or an allowed client address.",
        )
    body, content_type = render_latest()
    return HttpResponse(body, content_type=content_type)
