"""manage.py dbserver start|stop|status: the embedded PostgreSQL (and Redis) under .data/."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from config import embedded


class Command(BaseCommand):
    help = "Start, stop or report the embedded PostgreSQL + pgvector and Redis servers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=("start", "stop", "status"))

    def handle(self, *args: Any, **options: Any) -> None:
        pg_dir = settings.DATA_DIR / "postgres"
        redis_dir = settings.DATA_DIR / "redis"
        action = options["action"]
        if action == "start":
            pg = embedded.postgres_start(pg_dir)
            self.stdout.write(f"PostgreSQL running: socket {pg.socket_dir}, data {pg.data_dir}")
            self.stdout.write(f"Redis: {embedded.redis_choose(redis_dir).description}")
        elif action == "stop":
            stopped = embedded.postgres_stop(pg_dir)
            self.stdout.write("PostgreSQL stopped." if stopped else "PostgreSQL was not running.")
            if embedded.redis_stop(redis_dir):
                self.stdout.write("Embedded Redis stopped.")
        else:
            status = embedded.postgres_status(pg_dir)
            state = "running" if status["running"] else "stopped"
            self.stdout.write(f"PostgreSQL ({pg_dir}): {state} {status}")
            self.stdout.write(f"Database in use: {settings.DATABASE_SOURCE}")
            self.stdout.write(f"Redis in use: {settings.REDIS_SOURCE}")
