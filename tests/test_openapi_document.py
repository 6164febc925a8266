"""What the OpenAPI document tells a reader and a client generator: operations described by
themselves (never by a view class's or a base class's docstring), every tag described, operation
ids and query parameters named one way, and examples where people start (sign-in, chat and its
events, errors, pages)."""

from __future__ import annotations

import inspect
import json
import re
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator

ACTION_BY_METHOD = {
    "get": {"list", "retrieve"},
    "post": {"create"},
    "put": {"update"},
    "patch": {"partial_update"},
    "delete": {"destroy"},
}
OPERATION_ID = re.compile(r"^[a-z]+(_[a-z]+)*$")
MESSAGES = "/api/v1/conversations/{conversation_id}/messages/"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(json.dumps(generated, default=str))


def operations(schema: dict[str, Any]):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def view_classes() -> set[type]:
    found: set[type] = set()
    pending: list[Any] = list(get_resolver().url_patterns)
    while pending:
        pattern = pending.pop()
        if isinstance(pattern, URLResolver):
            pending.extend(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            view = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
            if view is not None:
                found.add(view)
    return found


def class_docstrings() -> set[str]:
    """The docstrings of the API's view classes and of everything they inherit: their bases, and the
    methods of their bases."""
    docs: set[str] = set()
    for view in view_classes():
        for position, klass in enumerate(view.__mro__):
            if klass.__doc__:
                docs.add(inspect.cleandoc(klass.__doc__))
            if position == 0:
                continue
            for member in vars(klass).values():
                doc = getattr(member, "__doc__", None)
                if callable(member) and doc:
                    docs.add(inspect.cleandoc(doc))
    return docs


def test_no_operation_is_described_by_a_class_or_an_inherited_docstring(schema):
    known = class_docstrings()
    assert len(known) > 20  # the API's views, their bases, DRF's and Django's

    leaked = {
        f"{method.upper()} {path}": operation["description"]
        for path, method, operation in operations(schema)
        if operation.get("description", "").strip() in known
        or operation.get("description", "").startswith("Base of")
    }

    assert leaked == {}


def test_every_operation_has_a_summary(schema):
    assert [f"{m.upper()} {p}" for p, m, op in operations(schema) if not op.get("summary")] == []


def test_every_tag_is_described(schema):
    described = {tag["name"]: tag.get("description", "") for tag in schema.get("tags", [])}
    used = {tag for _, _, operation in operations(schema) for tag in operation.get("tags", [])}

    assert used == {"auth", "explore", "models", "conversations", "admin"}
    assert used <= set(described)
    assert all(len(described[tag]) > 40 for tag in used), described


def test_operation_ids_are_the_path_then_the_action(schema):
    ids = [operation["operationId"] for _, _, operation in operations(schema)]
    assert len(ids) == len(set(ids))

    for path, method, operation in operations(schema):
        words = [
            segment.replace("-", "_")
            for segment in path.removeprefix("/api/v1/").strip("/").split("/")
            if not segment.startswith("{")
        ]
        operation_id = operation["operationId"]
        assert OPERATION_ID.match(operation_id), operation_id
        prefix = "_".join(words) + "_"
        assert operation_id.startswith(prefix), (path, method, operation_id)
        assert operation_id.removeprefix(prefix) in ACTION_BY_METHOD[method], (path, method, operation_id)


def test_query_parameters_are_named_one_way(schema):
    parameters = [
        (f"{method.upper()} {path}", parameter)
        for path, method, operation in operations(schema)
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "query"
    ]
    names = {parameter["name"] for _, parameter in parameters}

    # searching is `q` everywhere; yes/no filters are adjectives (`pinned`), not `is_pinned`
    assert "q" in names
    assert [where for where, parameter in parameters if parameter["name"] in {"search", "query"}] == []
    assert [
        (where, parameter["name"])
        for where, parameter in parameters
        if parameter.get("schema", {}).get("type") == "boolean" and parameter["name"].startswith("is_")
    ] == []


def examples(operation: dict[str, Any], status: str | None = None, media_type: str = "application/json"):
    if status is None:
        content = operation["requestBody"]["content"]
    else:
        content = operation["responses"][status].get("content", {})
    return [example["value"] for example in content.get(media_type, {}).get("examples", {}).values()]


def test_sign_in_has_examples_of_its_request_its_answer_and_its_errors(schema):
    login = schema["paths"]["/api/v1/auth/login/"]["post"]

    requests = examples(login)
    assert {"login", "password"} in [set(value) for value in requests]
    assert {"email", "password"} in [set(value) for value in requests]
    assert [set(value) for value in examples(login, "200")] == [{"user", "access", "refresh"}]
    assert examples(login, "401")[0]["error"]["code"] == "invalid_credentials"
    assert examples(login, "400")[0]["error"]["fields"]


def test_chat_has_examples_of_its_request_and_of_every_event_it_streams(schema):
    send = schema["paths"][MESSAGES]["post"]

    assert any(value.get("stream") is True for value in examples(send))
    events = examples(send, "200", "text/event-stream")
    assert [event["event"] for event in events] == ["start", "thinking", "token", "done", "error"]
    assert json.loads(events[3]["data"])["metrics"]["eval_count"] > 0
    assert examples(send, "404")[0] == {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}


def test_lists_have_examples_of_a_page(schema):
    page = examples(schema["paths"]["/api/v1/conversations/"]["get"], "200")[0]

    assert {"next", "previous", "results"} <= set(page)
    assert page["results"][0]["model_name"] == "llama3.2:3b"


def test_error_examples_have_the_one_error_shape(schema):
    errors = [
        value
        for _, _, operation in operations(schema)
        for status, response in operation["responses"].items()
        if int(status) >= 400
        for value in examples(operation, status)
    ]

    assert len(errors) >= 5
    assert all(set(value) == {"error"} for value in errors)
    assert all(set(value["error"]) == {"code", "message", "fields"} for value in errors)
