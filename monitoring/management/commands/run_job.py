"""manage.py run_job NAME [NAME ...]: run scheduled jobs now, in this process, under their locks."""

from __future__ import annotations

import json
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Run scheduled jobs (names as in SCHEDULED_JOBS: database-backup, conversation-archive, "
        "trace-prune, ledger-rollups, budget-holds-expire, stream-slots-expire) in this process, "
        "one after the other. A job already running elsewhere is skipped, not waited for."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("names", nargs="+", help="job names")

    def handle(self, *args: Any, **options: Any) -> None:
        jobs: dict[str, dict[str, Any]] = settings.SCHEDULED_JOBS
        unknown = [name for name in options["names"] if name not in jobs]
        if unknown:
            raise CommandError(f"Unknown job(s): {', '.join(unknown)}; known: {', '.join(jobs)}.")
        current_app.loader.import_default_modules()
        for name in options["names"]:
            task = current_app.tasks[jobs[name]["task"]]
            # Run the task's body here (not queued): a CronJob or an operator sees it finish.
            outcome = task.run()
            self.stdout.write(json.dumps(outcome))
