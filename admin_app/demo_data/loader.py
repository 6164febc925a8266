"""The entry point: everything that is missing, in one transaction."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from django.db import connection, transaction

from admin_app.demo_data.accounts import account_ensure, roles_ensure
from admin_app.demo_data.catalogue import models_seed, system_messages_seed, tags_seed
from admin_app.demo_data.history import history_seed
from admin_app.demo_data.results import DemoDataResult
from core.permissions import ADMIN_ROLE, USER_ROLE

DATA_FILE = Path(__file__).with_name("data.json")
ADMIN_USERNAME = "admin"
ADMIN_EMAIL = "admin@ollamanet.local"
DEMO_USERNAME = "demo"
DEMO_EMAIL = "demo@ollamanet.local"
DEFAULT_DEMO_PASSWORD = "demo-password-123"


@cache
def demo_data() -> dict[str, Any]:
    """The parsed contents of `data.json` beside this module."""
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


def demo_data_load(*, admin_password: str = "", demo_password: str = "") -> DemoDataResult:
    """Create whatever demo data is missing, in one transaction.

    `admin_password` / `demo_password` are used only when the account is created; an empty admin
    password means a random one (reported once in the result), an empty demo password the default.
    """
    data = demo_data()
    result = DemoDataResult()
    with transaction.atomic():
        _wait_for_concurrent_runs()
        roles_ensure(result=result)
        result.admin, _ = account_ensure(
            username=ADMIN_USERNAME,
            email=ADMIN_EMAIL,
            display_name="Administrator",
            password=admin_password,
            password_env="DEMO_ADMIN_PASSWORD",
            role=ADMIN_ROLE,
            superuser=True,
            result=result,
        )
        tags, new_tag_ids = tags_seed(specs=data["tags"], result=result)
        catalogue = models_seed(
            families=data["families"],
            specs=data["models"],
            tags=tags,
            new_tag_ids=new_tag_ids,
            result=result,
        )
        system_messages = system_messages_seed(specs=data["system_messages"], result=result)
        result.demo_user, demo_user = account_ensure(
            username=DEMO_USERNAME,
            email=DEMO_EMAIL,
            display_name=data["demo_user"]["display_name"],
            password=demo_password,
            password_env="DEMO_USER_PASSWORD",
            default_password=DEFAULT_DEMO_PASSWORD,
            role=USER_ROLE,
            superuser=False,
            result=result,
        )
        # The demo user's history comes with the account: once it exists, what happens to its
        # folders and conversations is the user's business, and nothing is put back.
        if demo_user is not None:
            history_seed(
                user=demo_user,
                spec=data["demo_user"],
                catalogue=catalogue,
                system_messages=system_messages,
                result=result,
            )
    return result


def _wait_for_concurrent_runs() -> None:
    """Two processes starting at once wait for each other instead of racing on the unique keys."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ["ollamanet.load_demo_data"])
