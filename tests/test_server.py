"""The production server's settings: uvicorn workers under gunicorn, drain time, async chain."""

from __future__ import annotations

import importlib

import pytest
from django.conf import settings
from django.test import AsyncClient
from django.utils.module_loading import import_string

from config import server


def test_gunicorn_runs_draining_uvicorn_workers_killed_five_seconds_after_the_drain_time():
    gunicorn_conf = importlib.import_module("config.gunicorn")
    assert gunicorn_conf.worker_class == "config.server.DrainingUvicornWorker"
    assert gunicorn_conf.SHUTDOWN_DRAIN_SECONDS == settings.SHUTDOWN_DRAIN_SECONDS
    assert gunicorn_conf.graceful_timeout == int(settings.SHUTDOWN_DRAIN_SECONDS) + 5
    assert server.DrainingUvicornWorker.CONFIG_KWARGS["timeout_graceful_shutdown"] < 5


def test_every_middleware_is_async_capable_so_django_adapts_none_of_them_to_a_thread():
    """Django puts a sync-only middleware, and everything inside it, on an executor thread."""
    sync_only = [
        path
        for path in settings.MIDDLEWARE
        if not getattr(import_string(path), "async_capable", False)
    ]
    assert sync_only == []


@pytest.mark.asyncio
async def test_static_files_are_served_through_the_async_chain():
    response = await AsyncClient().get("/static/vendor/htmx/htmx.min.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert int(response["Content-Length"]) > 1000
