"""Logs are JSON lines (one per record, extras as fields) on stdout and in a rotated file, and
each answered question leaves one record with its ids, usage, cost, latency and status."""

from __future__ import annotations

import copy
import json
import logging
import logging.handlers
import sys
from datetime import UTC, datetime
from decimal import Decimal
from logging.config import DictConfigurator

from django.conf import settings

from monitoring.logging import QUERY_LOGGER, JsonFormatter, QueryLogRecord, query_log_emit


def record(message: str = "hello %s", *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("finrag.test", logging.INFO, __file__, 10, message, args, None)
    for key, value in extra.items():
        setattr(made, key, value)
    return made


def test_a_record_becomes_one_json_line_with_its_extras_at_the_top_level():
    line = JsonFormatter().format(
        record("asked %s", "twice", query_id="q-1", cost_usd=Decimal("0.0123"), n=3)
    )
    data = json.loads(line)
    assert data["message"] == "asked twice"
    assert data["level"] == "INFO"
    assert data["logger"] == "finrag.test"
    assert data["query_id"] == "q-1"
    assert data["cost_usd"] == "0.0123"
    assert data["n"] == 3
    assert datetime.fromisoformat(data["ts"]).tzinfo is not None
    assert "args" not in data
    assert "msg" not in data


def test_an_exception_stays_inside_its_one_line():
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        failed = record("failed")
        failed.exc_info = sys.exc_info()
    line = JsonFormatter().format(failed)
    assert "\n" not in line
    data = json.loads(line)
    assert "ValueError: boom" in data["exc_info"]
    assert "Traceback" in data["exc_info"]


def test_values_json_cannot_encode_are_written_as_text():
    when = datetime(2024, 1, 15, 9, 30, tzinfo=UTC)
    data = json.loads(JsonFormatter().format(record("x", when=when, obj=object())))
    assert data["when"] == "2024-01-15T09:30:00+00:00"
    assert data["obj"].startswith("<object object")


def sample(**overrides: object) -> QueryLogRecord:
    values: dict[str, object] = {
        "query_id": "4f0c",
        "tenant": "acme",
        "tenant_id": 1,
        "user_id": 2,
        "conversation_id": 3,
        "tier": "pro",
        "provider": "openai",
        "model": "gpt-5.4-mini",
        "input_tokens": 800,
        "output_tokens": 120,
        "cost_usd": Decimal("0.00412"),
        "latency_ms": 2140,
        "cache_hit": False,
        "status": "ok",
        "question": "What was <EMAIL_1>'s balance?",
    }
    values.update(overrides)
    return QueryLogRecord(**values)  # type: ignore[arg-type]


def test_the_query_record_carries_every_field_operations_asks_for(caplog):
    caplog.set_level(logging.INFO, logger=QUERY_LOGGER)
    query_log_emit(record=sample())
    [logged] = caplog.records
    data = json.loads(JsonFormatter().format(logged))
    for field in (
        "query_id",
        "tenant",
        "user_id",
        "provider",
        "model",
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "cost_usd",
        "latency_ms",
        "cache_hit",
        "status",
    ):
        assert field in data, field
    assert data["total_tokens"] == 920
    assert data["cost_usd"] == "0.00412"
    assert data["message"] == "query ok"
    assert logged.levelno == logging.INFO


def test_a_failed_query_is_a_warning(caplog):
    caplog.set_level(logging.INFO, logger=QUERY_LOGGER)
    query_log_emit(record=sample(status="error", error_code="provider_unavailable"))
    [logged] = caplog.records
    assert logged.levelno == logging.WARNING
    assert logged.error_code == "provider_unavailable"  # type: ignore[attr-defined]


def test_settings_log_json_to_stderr_and_to_a_size_rotated_file(tmp_path):
    assert settings.LOGGING["root"]["handlers"] == ["console", "file"]
    console = settings.LOGGING["handlers"]["console"]
    assert console["stream"] == "ext://sys.stderr"
    assert console["formatter"] == "json"
    file_config = copy.deepcopy(settings.LOGGING["handlers"]["file"])
    assert file_config["class"] == "logging.handlers.RotatingFileHandler"
    assert file_config["filename"] == settings.LOG_FILE
    assert file_config["backupCount"] >= 1

    configurator = DictConfigurator({})
    formatter = configurator.configure_formatter(settings.LOGGING["formatters"]["json"])
    configurator.config["formatters"] = {"json": formatter}
    path = tmp_path / "app.log"
    file_config.update(filename=str(path), maxBytes=400)
    handler = configurator.configure_handler(file_config)
    assert isinstance(handler, logging.handlers.RotatingFileHandler)
    logger = logging.getLogger("finrag.test.rotation")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        for n in range(10):
            logger.warning("line %d", n, extra={"query_id": f"q{n}"})
    finally:
        logger.removeHandler(handler)
        handler.close()
    rotated = tmp_path / "app.log.1"
    assert rotated.exists()
    lines = path.read_text().splitlines() + rotated.read_text().splitlines()
    assert all(json.loads(line)["logger"] == "finrag.test.rotation" for line in lines)
