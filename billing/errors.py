"""Billing's errors: rate limits with their X-RateLimit-* headers, and an unreachable limiter."""

from __future__ import annotations

import math
from typing import Any

from accounts.errors import ApplicationError, RateLimited


class RateLimitExceeded(RateLimited):
    """429 with Retry-After and X-RateLimit-Limit/Remaining/Reset; the house exception handler
    copies `headers` onto the response, and the websocket error frame carries the details."""

    def __init__(
        self,
        message: str,
        *,
        scope: str,
        limit: int,
        remaining: int,
        reset_epoch: float,
        retry_after: float,
    ):
        retry = max(1, math.ceil(retry_after))
        super().__init__(
            message,
            retry_after=retry,
            details={"scope": scope, "limit": limit, "remaining": remaining},
        )
        self.headers: dict[str, str] = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, remaining)),
            "X-RateLimit-Reset": str(math.ceil(reset_epoch)),
            "X-RateLimit-Scope": scope,
        }


class RateLimiterUnavailable(ApplicationError):
    """Redis is unreachable and RATE_LIMIT_FAIL_OPEN is off: refuse rather than run unlimited."""

    code = "rate_limiter_unavailable"
    status_code = 503
    default_message = "Request limits cannot be checked right now. Try again shortly."

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None):
        super().__init__(message, details=details)
        self.headers: dict[str, str] = {"Retry-After": "5"}
