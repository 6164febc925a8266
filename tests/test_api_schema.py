"""The whole API against its own OpenAPI schema, with generated input (schemathesis).

Every operation of `/api/schema/` is called with input generated from its schema (valid and invalid:
wrong types, missing or unknown fields, out-of-range values, odd characters), once as a plain user
and once as an Admin. No answer may be a server error, every status must be documented, and every
body must match its documented schema.

Ids in paths and bodies are either generated (an unknown id) or, half of the time, the id of a row
of the caller's seeded data, so that each operation also runs against real rows. Ollama is the fake
server on loopback, with the seeded model installed.

Requests go in process through the WSGI application, inside the test's transaction. The operations
that may stream (sending a chat message, regenerating an answer, following a model pull) go through
the ASGI application, as in production: the stream runs on the event loop and its database steps in
worker threads with connections of their own, so those tests commit their rows (and the database is
flushed after each).
"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from django.contrib.auth.models import Group
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.throttling import SimpleRateThrottle
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance
from schemathesis.transport.requests import REQUESTS_TRANSPORT

from config.asgi import application as asgi_application
from conversations_app.services import conversation_soft_delete, folder_soft_delete
from core.permissions import ADMIN_ROLE
from models_app.models import InstallStatus
from tests.admin_app.factories import AuditEventFactory, ModelPullFactory, SystemMessageFactory
from tests.auth_app.factories import UserFactory
from tests.conversations_app.factories import (
    AttachmentFactory,
    ConversationFactory,
    ExchangeFactory,
    FeedbackFactory,
    FolderFactory,
    NoteFactory,
)
from tests.fakes.ollama import DEFAULT_MODEL
from tests.models_app.factories import AIModelFactory, TagFactory

# Bounded so that both callers together take a couple of minutes on 2 cores; fixed seed: the same
# cases on every run.
MAX_EXAMPLES = 10
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20240601,
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
            # The caller's token is sent with every call; generated credentials would only be refused.
            "with-security-parameters": False,
        },
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": False},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
    }
)
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]

application = get_wsgi_application()
BASE_URL = "http://localhost"
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, config=CONFIG)


def streams(context) -> bool:
    """Whether the operation may answer with an event stream (chat answers, model pull progress).

    Streams are served on the event loop, their database steps run in worker threads with connections
    of their own, as in production: the rows they read must be committed, so these operations go
    through the ASGI application in a committing test."""
    responses = context.operation.definition.raw["responses"].values()
    return any("text/event-stream" in response.get("content", {}) for response in responses)


streaming_schema = schema.include(streams)
rest_schema = schema.exclude(streams)

# The rows of the running test that path parameters may name (filled by the `caller` fixture).
SEEDED: dict[str, str] = {}
# `{id}` names what the path segment before it names.
ID_AFTER_SEGMENT = {
    "audit-events": "audit_event",
    "pulls": "pull",
    "models": "model",
    "roles": "role",
    "system-messages": "system_message",
    "tags": "tag",
    "users": "user",
    "conversations": "conversation",
    "attachments": "attachment",
    "folders": "folder",
    "notes": "note",
}
NAMED_PARAMETERS = {
    "conversation_id": "conversation",
    "exchange_id": "exchange",
    "response_id": "response",
    "pull_id": "pull",
    "ref": "model_name",
    "name": "model_name",
    "slug": "tag_slug",
}


def seeded_path_parameters(path: str) -> dict[str, str]:
    """The seeded row for each path parameter of `path` (e.g. `{id}` after `folders/` → a folder)."""
    values = {}
    for segment, name in re.findall(r"(?:([^/{}]+)/)?\{(\w+)\}", path):
        if name == "id":
            key = ID_AFTER_SEGMENT.get(segment, "")
            if "/trash/" in path:
                key = f"deleted_{key}"
        else:
            key = NAMED_PARAMETERS.get(name, "")
        if key in SEEDED:
            values[name] = SEEDED[key]
    return values


def flatmap_path_parameters(context, path_parameters: dict[str, Any]):
    seeded = seeded_path_parameters(context.operation.path)
    if not seeded:
        return st.just(path_parameters)
    return st.sampled_from([path_parameters, {**path_parameters, **seeded}])


# Request body fields that name rows, and the seeded row they may name.
BODY_REFERENCES = {
    "model": "model",
    "system_message": "system_message",
    "folder": "folder",
    "parent": "folder",
    "tag_ids": "tag",
}


def flatmap_body(context, body: Any):
    if not isinstance(body, dict):
        return st.just(body)
    seeded = {
        name: [SEEDED[key]] if name.endswith("_ids") else SEEDED[key]
        for name, key in BODY_REFERENCES.items()
        if name in body and key in SEEDED
    }
    if not seeded:
        return st.just(body)
    return st.sampled_from([body, {**body, **seeded}])


for filtered in (streaming_schema, rest_schema):
    filtered.hook(flatmap_path_parameters)
    filtered.hook(flatmap_body)


def seed(owner, other) -> dict[str, str]:
    """A little of everything, owned by `owner` where rows have an owner."""
    tag = TagFactory()
    model = AIModelFactory(name=DEFAULT_MODEL, install_status=InstallStatus.INSTALLED, tags=[tag])
    folder = FolderFactory(owner=owner)
    conversation = ConversationFactory(owner=owner, model=model, folder=folder)
    exchange = ExchangeFactory(conversation=conversation)
    FeedbackFactory(response=exchange.response, user=owner, reason="")
    note = NoteFactory(response=exchange.response, owner=owner)
    attachment = AttachmentFactory(conversation=conversation)
    deleted_conversation = ConversationFactory(owner=owner, model=model)
    deleted_folder = FolderFactory(owner=owner)
    conversation_soft_delete(conversation=deleted_conversation)
    folder_soft_delete(folder=deleted_folder)
    return {
        "tag": str(tag.pk),
        "tag_slug": tag.slug,
        "model": str(model.pk),
        "model_name": model.name,
        "folder": str(folder.pk),
        "conversation": str(conversation.pk),
        "exchange": str(exchange.pk),
        "response": str(exchange.response_id),
        "note": str(note.pk),
        "attachment": str(attachment.pk),
        "deleted_conversation": str(deleted_conversation.pk),
        "deleted_folder": str(deleted_folder.pk),
        "system_message": str(SystemMessageFactory().pk),
        "audit_event": str(AuditEventFactory().pk),
        "pull": str(ModelPullFactory(model_name=model.name).pk),
        "role": str(Group.objects.create(name="Reviewer").pk),
        "user": str(other.pk),
    }


@pytest.fixture(autouse=True)
def _in_process_requests(monkeypatch, settings, fake_ollama):
    """Requests go through Django's WSGI handler inside the test's transaction, so the handler must
    not close the connection after each one (Django's test client does the same); throttles are
    raised out of reach; Ollama is the fake server, which has the seeded model installed."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    rates = dict.fromkeys(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "1000000/min")
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(params=["user", "admin"])
def caller(request):
    user = UserFactory()
    other = UserFactory()
    if request.param == "admin":
        user.is_staff = True
        user.save(update_fields=["is_staff"])
        user.groups.add(Group.objects.get(name=ADMIN_ROLE))
    SEEDED.clear()
    SEEDED.update(seed(user, other))
    yield user
    SEEDED.clear()


def authorization(caller) -> dict[str, str]:
    # A fresh token for each call: an earlier case may have logged the caller out everywhere.
    return {"Authorization": f"Bearer {RefreshToken.for_user(caller).access_token}"}


def call_asgi(case, headers: dict[str, str]) -> httpx.Response:
    """Send `case` to the ASGI application the way a server does: on an event loop in a thread of
    its own (the views' database steps then run in worker threads with connections of their own)."""
    request = requests.Request(
        **REQUESTS_TRANSPORT.serialize_case(case, headers=headers, base_url=BASE_URL)
    ).prepare()

    method, url = request.method, request.url
    assert method is not None  # a prepared request has both
    assert url is not None

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=asgi_application)
        async with httpx.AsyncClient(transport=transport) as client:
            return await client.request(
                method,
                url,
                headers=dict(request.headers),  # type: ignore[arg-type]  # httpx takes str or bytes values
                content=request.body,  # type: ignore[arg-type]  # bytes or str, never a stream here
            )

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, send()).result(timeout=60)


@rest_schema.parametrize()
@pytest.mark.django_db
# The caller and their rows are set up once per operation, not per generated case, on purpose.
@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_operation_answers_as_documented(case, caller):
    # werkzeug's client, unlike an HTTP client, hands over a gzipped body undecoded: ask for none.
    response = case.call(headers={**authorization(caller), "Accept-Encoding": "identity"})
    case.validate_response(response, checks=CHECKS)


@streaming_schema.parametrize()
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_streaming_operation_answers_as_documented(case, caller):
    response = call_asgi(case, authorization(caller))
    case.validate_response(response, checks=CHECKS)
