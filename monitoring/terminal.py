"""Progress for management commands: shown on stderr when it is a terminal, silent when piped.

`ask`, `search` and `ingest` use it so that `manage.py ingest ... 2>log` or `... | jq` get their
output and nothing else, while a person at a terminal sees what the command is waiting for.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Any, TypeVar

from rich.console import Console
from tqdm import tqdm

T = TypeVar("T")


def _raw(stream: Any) -> IO[str]:
    """The file under Django's OutputWrapper (or the stream itself)."""
    return getattr(stream, "_out", stream)


def is_terminal(stream: Any) -> bool:
    raw = _raw(stream)
    return bool(getattr(raw, "isatty", None)) and raw.isatty()


@contextmanager
def progress_status(stream: Any, message: str) -> Iterator[Any]:
    """A spinner with `message` while the block runs (on a terminal); yields an object whose
    `update(message)` changes the text and `stop()` ends it early, no-ops when piped."""
    if not is_terminal(stream):
        yield _Quiet()
        return
    console = Console(file=_raw(stream), stderr=True)
    with console.status(message) as status:
        yield status


def progress_bar(items: Iterable[T], stream: Any, *, description: str, unit: str) -> Iterable[T]:
    """`items`, counted with a bar on a terminal and passed through silently when piped."""
    if not is_terminal(stream):
        return items
    return tqdm(items, desc=description, unit=unit, file=_raw(stream))


class _Quiet:
    """The status of a piped command: nothing to show when nobody watches."""

    def update(self, *args: Any, **kwargs: Any) -> None:
        return None

    def stop(self) -> None:
        return None
