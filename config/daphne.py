"""Daphne as we run it: request bodies reach Django untouched.

Daphne's request class keeps Twisted's default of parsing every multipart/form-data POST body
itself, in memory, before the application sees it (an upload's whole body, plus the copies the
email parser makes), and of answering a body it cannot parse with a bare 400 that no middleware
sees. Daphne never reads what Twisted parsed: Django parses the body again, streaming, with its
own limits. So Twisted's parsing is switched off.
"""

from __future__ import annotations

from typing import Any


def daphne_raw_bodies() -> None:
    """Make Daphne's requests skip Twisted's form parsing (idempotent; no-op without Daphne)."""
    try:
        from daphne.http_protocol import WebRequest
    except ImportError:  # pragma: no cover - another ASGI server
        return
    original = WebRequest.__init__
    if getattr(original, "finrag_raw_bodies", False):
        return

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["parsePOSTFormSubmission"] = False
        original(self, *args, **kwargs)

    __init__.finrag_raw_bodies = True  # type: ignore[attr-defined]
    WebRequest.__init__ = __init__
