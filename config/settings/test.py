"""Test settings: real PostgreSQL and Redis, fast password hashing, isolated cache keys."""

from copy import deepcopy
from urllib.parse import urlsplit, urlunsplit

from config.env import env
from config.settings.base import *  # noqa: F403
from config.settings.base import (
    CACHES,
    DATABASE_REPLICA_ALIAS,
    DATABASES,
    REDIS_URL,
    REST_FRAMEWORK,
    STORAGES,
)


def _redis_database(url: str, number: int) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{number}"))


# Tests flush their Redis database (cache, throttle counters, queue): never the one `make run` uses.
TEST_REDIS_URL = env("TEST_REDIS_URL", default=_redis_database(REDIS_URL, 15))

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES["default"]["KEY_PREFIX"] = "test"
CACHES["default"]["LOCATION"] = TEST_REDIS_URL
CELERY_BROKER_URL = TEST_REDIS_URL
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# collectstatic does not run for tests: static files are found in the apps as they are asked for, and
# their names carry no hash. (tests/core/test_static_files.py serves the real configuration.)
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}}
# Parallel runs on one machine (e.g. several checkouts) each use their own test database.
DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", default="test_ollamanet")}
# The read replica's tests read a real streaming replica of the test cluster: DATABASE_REPLICA_URL, else
# the one `make replica` / `make test` runs beside the local cluster. Its alias reads the test database
# the runner creates on the primary, which replication copies there (core.postgresql.creation); the
# tests skip when no replica answers, unless CI is set. Every other test reads the primary only.
DATABASES[DATABASE_REPLICA_ALIAS] = {
    **DATABASES["default"],
    "HOST": "127.0.0.1",
    "PORT": env.int("OLLAMANET_REPLICA_PORT", default=54330),
    **(env.db("DATABASE_REPLICA_URL") if env("DATABASE_REPLICA_URL", default="") else {}),
    "ENGINE": "core.postgresql",
    "OPTIONS": deepcopy(DATABASES["default"]["OPTIONS"]),
    "TEST": {"NAME": DATABASES["default"]["TEST"]["NAME"]},
    "REPLICA_OF": "default",
}
DATABASE_REPLICA_READS = False
# Audit events are append-only (a trigger refuses UPDATE), so `serialized_rollback` must not try to
# re-save them after a transactional test; the rows it restores write new events anyway.
TEST_NON_SERIALIZED_APPS = ["admin_app"]
