"""Operator-facing guarantees: production settings, reversible migrations."""

import os
import subprocess
import sys
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
PROJECT_APPS = ["conversations_app", "admin_app", "models_app", "auth_app"]


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def _production_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "JWT_SIGNING_KEY", "ALLOWED_HOSTS"}}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="prod-" + uuid4().hex * 2,
        JWT_SIGNING_KEY="jwt-" + uuid4().hex * 2,
        ALLOWED_HOSTS="chat.example.com",
    )
    env.update(overrides)
    return {k: v for k, v in env.items() if v}


def test_production_settings_pass_check_deploy_cleanly():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "JWT_SIGNING_KEY"])
def test_production_refuses_to_start_without_its_secrets(missing):
    result = _manage("check", env=_production_env(**{missing: ""}))
    assert result.returncode != 0
    assert f"{missing} must be set in production" in result.stderr


def test_production_refuses_a_jwt_key_equal_to_the_secret_key():
    result = _manage("check", env=_production_env(SECRET_KEY="same-" * 10, JWT_SIGNING_KEY="same-" * 10))
    assert result.returncode != 0
    assert "JWT_SIGNING_KEY must differ from SECRET_KEY" in result.stderr


def _without_settings_env(**overrides: str) -> dict[str, str]:
    names = {"DJANGO_SETTINGS_MODULE", "SECRET_KEY", "JWT_SIGNING_KEY", "ALLOWED_HOSTS", "DJANGO_DEBUG"}
    return {**{k: v for k, v in os.environ.items() if k not in names}, **overrides}


@pytest.mark.skipif((ROOT / ".env").exists(), reason="a .env file may set the secrets")
@pytest.mark.parametrize(
    "entry_point",
    [
        "manage.py check",
        "import config.asgi",
        "import config.wsgi",
        "from config.celery import app; app.conf.broker_url",
    ],
)
def test_entry_points_default_to_production_settings(entry_point):
    # given: a deploy that forgot DJANGO_SETTINGS_MODULE and its secrets
    if entry_point.startswith("manage.py"):
        command = [sys.executable, *entry_point.split()]
    else:
        command = [sys.executable, "-c", entry_point]

    # when
    result = subprocess.run(
        command, cwd=ROOT, env=_without_settings_env(), capture_output=True, text=True, timeout=120
    )

    # then: it refuses to start rather than run with debug on and known keys
    assert result.returncode != 0
    assert "SECRET_KEY must be set in production" in result.stderr


@pytest.mark.parametrize(
    ("module", "debug"), [("config.settings.local", True), ("config.settings.base", False)]
)
def test_only_the_development_settings_turn_debug_on(module, debug):
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.DEBUG)"],
        cwd=ROOT,
        env=_without_settings_env(DJANGO_SETTINGS_MODULE=module),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(debug)


@pytest.fixture
def scratch_database_url():
    db = settings.DATABASES["default"]
    name = f"scratch_migrations_{uuid4().hex[:8]}"
    params = {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "password": db["PASSWORD"]}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{name}"
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


# In one process (Django starts once): migrate; unapply every project migration, dependents first (each
# app to zero, the last app first: reversing an app also reverses what depends on it); migrate again;
# then the plan must be empty. Every migration runs backwards once and forwards twice.
MIGRATION_ROUND_TRIP = """
from django.core.management import call_command
from django.db.migrations.recorder import MigrationRecorder
from django.db import connection
call_command("migrate", interactive=False, verbosity=0)
for app in reversed({apps!r}):
    call_command("migrate", app, "zero", interactive=False, verbosity=0)
left = MigrationRecorder(connection).migration_qs.filter(app__in={apps!r}).count()
print(f"applied after zero: {{left}}")
call_command("migrate", interactive=False, verbosity=0)
call_command("migrate", plan=True)
"""


def test_every_app_migrates_to_zero_and_back(scratch_database_url):
    env = {
        **os.environ,
        "DATABASE_URL": scratch_database_url,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
    }
    result = _manage("shell", "-c", MIGRATION_ROUND_TRIP.format(apps=list(PROJECT_APPS)), env=env)
    assert result.returncode == 0, f"{result.stdout}{result.stderr}"
    assert "applied after zero: 0" in result.stdout
    assert "No planned migration operations." in result.stdout
