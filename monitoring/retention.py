"""Retention: parse ages such as "30d", and prune stored trace spans past their retention."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.utils import timezone

from monitoring.models import TraceSpan

_AGE_RE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_AGE_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def age_parse(text: str) -> timedelta:
    """'90m', '12h', '30d' or '4w' as a timedelta; raises ValueError for anything else or zero."""
    match = _AGE_RE.match(text or "")
    if match is None:
        raise ValueError(f"{text!r} is not an age such as 30d, 12h, 90m or 4w.")
    amount = int(match.group(1))
    if amount <= 0:
        raise ValueError("The age must be greater than zero.")
    return timedelta(**{_AGE_UNITS[match.group(2).lower()]: amount})


def trace_spans_prune(*, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete stored spans that started before now - older_than; returns how many went."""
    cutoff = (now or timezone.now()) - older_than
    deleted, _ = TraceSpan.objects.filter(start_time__lt=cutoff).delete()
    return deleted
