"""The production web server: uvicorn worker processes under gunicorn that drain before exiting.

gunicorn (config/gunicorn.py) forks WEB_CONCURRENCY workers sharing one listening socket and
replaces any that dies; each worker is uvicorn serving config.asgi (HTTP, SSE and websockets,
with Channels' Redis layer between processes). On SIGTERM a worker stops accepting connections,
marks itself draining (/ready answers 503, new questions get 503 `service_restarting`), lets the
turns in flight finish until SHUTDOWN_DRAIN_SECONDS, ends the ones still running as interrupted
with a final `error` and `end` frame, closes websockets with 1012, then exits.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from typing import Any

from gunicorn.arbiter import Arbiter
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker

from monitoring import draining

logger = logging.getLogger("config.server")

# Time uvicorn gives the last responses to be written after every turn has ended.
CLOSE_CONNECTIONS_SECONDS = 2.5
# A worker still alive this long after the drain time ends itself: gunicorn's graceful_timeout
# only covers a stop the master started, not a SIGTERM sent to the worker alone.
EXIT_DEADLINE_MARGIN_SECONDS = 4.5


def _exit_now() -> None:
    logger.error("draining: the worker did not exit in time; exiting now")
    logging.shutdown()
    os._exit(1)


def drain_seconds() -> float:
    from django.conf import settings

    return float(settings.SHUTDOWN_DRAIN_SECONDS)


class DrainingServer(Server):
    """uvicorn's Server with a drain step between "stop accepting" and "close connections"."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        seconds = drain_seconds()
        watchdog = threading.Timer(seconds + EXIT_DEADLINE_MARGIN_SECONDS, _exit_now)
        watchdog.daemon = True
        watchdog.start()
        draining.drain_begin(seconds=seconds)
        await draining.drain_wait()
        # Now uvicorn closes idle HTTP connections, waits for the last responses and sends
        # websockets still open a 1012 (service restart) close frame.
        await super().shutdown(sockets=sockets)


class DrainingUvicornWorker(UvicornWorker):
    """uvicorn-worker's UvicornWorker serving through DrainingServer."""

    CONFIG_KWARGS: dict[str, Any] = {
        "loop": "auto",
        "http": "auto",
        # Django answers no ASGI lifespan events; "off" spares a warning per worker.
        "lifespan": "off",
        "timeout_graceful_shutdown": CLOSE_CONNECTIONS_SECONDS,
    }

    async def _serve(self) -> None:
        self.config.app = self.wsgi
        server = DrainingServer(config=self.config)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
