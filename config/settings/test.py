"""Test settings: real PostgreSQL and Redis, fast password hashing, isolated cache keys."""

from config.env import env
from config.settings.base import *  # noqa: F403
from config.settings.base import CACHES, REST_FRAMEWORK

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES["default"]["KEY_PREFIX"] = "test"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# The pool keeps connections across tests' transactions; the test runner wants plain connections.
DATABASES["default"]["OPTIONS"].pop("pool", None)  # noqa: F405
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}}
# Parallel runs on one machine (e.g. several checkouts) each use their own test database.
DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", default="test_ollamanet")}  # noqa: F405
# Audit events are append-only (a trigger refuses UPDATE), so `serialized_rollback` must not try to
# re-save them after a transactional test; the rows it restores write new events anyway.
TEST_NON_SERIALIZED_APPS = ["admin_app"]
