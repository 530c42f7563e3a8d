"""A database write that must outlive a short outage: retried until the database answers again.

The Postgres drill of make drills restarts the database under load: a turn whose stream was
answered while it was down could not save its answer (its question stayed without one), and its
budget hold waited for the expiry job, because the final save failed once and gave up. The save
is one transaction, so a failed attempt left nothing behind and can be run again; through_outage
runs it again on a fresh connection (0.25 s doubling to 2 s apart) until it succeeds or
TURN_SAVE_OUTAGE_SECONDS have passed, then raises as before. Only connection-level errors
(OperationalError, InterfaceError) are retried, and never inside a caller's transaction.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

FIRST_DELAY_SECONDS = 0.25
MAX_DELAY_SECONDS = 2.0


def through_outage(
    function: Callable[P, R],
    *,
    seconds: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Callable[P, R]:
    """`function` (one atomic database write), retried through a database outage."""

    @functools.wraps(function)
    def retried(*args: P.args, **kwargs: P.kwargs) -> R:
        limit = float(settings.TURN_SAVE_OUTAGE_SECONDS if seconds is None else seconds)
        deadline = time.monotonic() + limit
        delay = FIRST_DELAY_SECONDS
        attempt = 1
        while True:
            try:
                return function(*args, **kwargs)
            except (OperationalError, InterfaceError) as exc:
                if connection.in_atomic_block or time.monotonic() + delay > deadline:
                    raise
                logger.warning(
                    "%s: database unavailable (%s), attempt %d; retrying in %.2f s",
                    getattr(function, "__name__", "write"),
                    type(exc).__name__,
                    attempt,
                    delay,
                )
            with contextlib.suppress(Exception):
                connection.close()  # the broken connection; the next attempt opens a new one
            sleep(delay)
            delay = min(delay * 2, MAX_DELAY_SECONDS)
            attempt += 1

    return retried
