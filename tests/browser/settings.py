"""Settings of the servers the browser tests start: test settings with a queue of their own."""

from config.env import env
from config.settings.test import *  # noqa: F403

CELERY_TASK_DEFAULT_QUEUE = env("BROWSER_TEST_QUEUE", default="browser-tests")
