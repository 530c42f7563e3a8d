"""Test settings: the real services of local, fast hashing, eager Celery unless a test says."""

from config.env import env
from config.settings.base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CACHES["default"]["KEY_PREFIX"] = "finrag-test"  # noqa: F405
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = "finrag-test:asgi"  # noqa: F405
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# The ledger refuses TRUNCATE unless the session allows it (billing migration 0006); Django
# flushes the test database with TRUNCATE between transactional tests.
_db_options = DATABASES["default"].setdefault("OPTIONS", {})  # noqa: F405
_db_options["options"] = (
    _db_options.get("options", "") + " -c finrag.ledger_truncate=allow"
).strip()
# Tests sign in with Client.login(), which calls authenticate() without a request; the sign-in
# throttle's own test switches django-axes on.
AXES_ENABLED = False
