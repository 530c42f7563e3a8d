"""Structured logs: a JSON-lines formatter and the one log record written per answered question."""

from __future__ import annotations

import json
import logging
import traceback
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

QUERY_LOGGER = "finrag.query"

# Attributes every LogRecord has; anything else on a record came from `extra=` and is data.
_RESERVED = frozenset(logging.LogRecord("", logging.INFO, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, then any extras.

    Extras are the fields passed with `logger.info(..., extra={...})`, kept at the top level so
    a log shipper can index them (`query_id`, `tenant`, `latency_ms`...). Exceptions come as a
    single `exc_info` string, so a traceback never splits a record across lines.
    """

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc_info"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.exc_text:
            payload["exc_info"] = record.exc_text
        if record.stack_info:
            payload["stack_info"] = record.stack_info
        return json.dumps(payload, default=_jsonable, ensure_ascii=False)


@dataclass(frozen=True)
class QueryLogRecord:
    """What one answered question left behind, as the per-query log line carries it.

    `question` must already be PII-masked: this record goes to stdout and files that are kept
    longer and read by more people than the conversation itself.
    """

    query_id: str
    tenant: str
    tenant_id: int
    user_id: int
    conversation_id: int
    tier: str
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    latency_ms: int
    cache_hit: bool
    status: str
    error_code: str = ""
    attempts: int = 0
    failovers: int = 0
    query_complexity: str = ""
    question: str = ""

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def query_log_emit(*, record: QueryLogRecord, logger: logging.Logger | None = None) -> None:
    """Write the record as one INFO line on the `finrag.query` logger (WARNING when it failed)."""
    target = logger or logging.getLogger(QUERY_LOGGER)
    fields = asdict(record)
    fields["total_tokens"] = record.total_tokens
    level = logging.WARNING if record.status == "error" else logging.INFO
    target.log(level, "query %s", record.status, extra=fields)
