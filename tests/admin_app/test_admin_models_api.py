"""Staff API, catalogue models: list with filters, detail, create (by hand or from Ollama's
`/api/show`), change with If-Match, publish/unpublish, add/remove tags with a report, delete, restore."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from admin_app.models import AuditEvent
from models_app.models import AIModel, InstallStatus
from tests.admin_app.helpers import audit_events_of
from tests.conftest import client_for
from tests.models_app.factories import AIModelFactory, TagFactory

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin-model-list")
FROM_OLLAMA_URL = reverse("admin-model-from-ollama")


def detail_url(model) -> str:
    return reverse("admin-model-detail", args=[model.pk])


def action_url(model, name: str) -> str:
    return reverse(f"admin-model-{name}", args=[model.pk])


def deleted_model(**fields) -> AIModel:
    model = AIModelFactory(**fields)
    AIModel.objects.filter(pk=model.pk).update(deleted_at=timezone.now())
    return model


def snapshot(model) -> dict:
    row = AIModel.all_objects.get(pk=model.pk)
    return {
        "name": row.name,
        "description": row.description,
        "size": row.size,
        "is_active": row.is_active,
        "deleted_at": row.deleted_at,
        "version": row.version,
        "tags": sorted(row.model_tags.values_list("tag__name", flat=True)),
    }


# --- who may call it ---------------------------------------------------------------------------------

# (method, url of a model, body, status for an administrator)
ENDPOINTS = [
    ("get", lambda m: LIST_URL, None, 200),
    ("get", detail_url, None, 200),
    ("post", lambda m: LIST_URL, {"name": "fresh:7b"}, 201),
    ("patch", detail_url, {"description": "changed"}, 200),
    ("delete", detail_url, None, 204),
    ("post", lambda m: action_url(m, "unpublish"), None, 200),
    ("post", lambda m: action_url(m, "publish"), None, 200),
    ("post", lambda m: action_url(m, "add-tags"), {"tag_ids": ["00000000-0000-0000-0000-000000000000"]}, 200),
    (
        "post",
        lambda m: action_url(m, "remove-tags"),
        {"tag_ids": ["00000000-0000-0000-0000-000000000000"]},
        200,
    ),
    ("post", lambda m: FROM_OLLAMA_URL, {"name": "llama3.2:3b"}, 201),
]


@pytest.mark.parametrize(("method", "url", "body", "expected"), ENDPOINTS)
def test_anonymous_callers_get_401_and_plain_users_403(
    anon_client, api_client, fake_ollama, method, url, body, expected
):
    model = AIModelFactory()
    before = snapshot(model)

    assert getattr(anon_client, method)(url(model), body, format="json").status_code == 401
    assert getattr(api_client, method)(url(model), body, format="json").status_code == 403
    assert snapshot(model) == before
    assert AIModel.all_objects.count() == 1
    assert fake_ollama.requests == []


def test_restore_is_for_administrators_only(anon_client, api_client):
    model = deleted_model()

    assert anon_client.post(action_url(model, "restore")).status_code == 401
    assert api_client.post(action_url(model, "restore")).status_code == 403
    assert snapshot(model)["deleted_at"] is not None


@pytest.mark.parametrize("role", ["admin_user", "superuser"])
@pytest.mark.parametrize(("method", "url", "body", "expected"), ENDPOINTS)
def test_administrators_and_superusers_may_call_every_endpoint(
    request, fake_ollama, role, method, url, body, expected
):
    client = client_for(request.getfixturevalue(role))
    model = AIModelFactory()

    response = getattr(client, method)(url(model), body, format="json")

    assert response.status_code == expected, response.content
    restored = client.post(action_url(deleted_model(), "restore"))
    assert restored.status_code == 200
    assert restored.json()["deleted_at"] is None


# --- list and detail ---------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [2, 10])
def test_list_pages_with_totals_in_constant_queries(admin_client_api, page_size, django_assert_num_queries):
    tags = [TagFactory(name="code"), TagFactory(name="small")]
    for n in range(12):
        AIModelFactory(name=f"model{n:02}:7b", is_active=n % 3 != 0, tags=tags)
    deleted_model(name="gone:7b")

    # authentication, Admin role, count, one page, the page's tags
    with django_assert_num_queries(5):
        response = admin_client_api.get(LIST_URL, {"page_size": page_size})

    body = response.json()
    assert body["count"] == 12
    assert body["total_pages"] == -(-12 // page_size)
    assert [row["name"] for row in body["results"]] == [f"model{n:02}:7b" for n in range(page_size)]
    assert all([tag["name"] for tag in row["tags"]] == ["code", "small"] for row in body["results"])
    assert "modelfile" not in body["results"][0]


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"published": "false"}, ["draft:1b"]),
        ({"published": "true"}, ["coder:7b", "llava:7b"]),
        ({"q": "LLAV"}, ["llava:7b"]),
        ({"tag": "code"}, ["coder:7b"]),
        ({"install_status": "installed"}, ["coder:7b"]),
        ({"deleted": "true"}, ["old:1b"]),
        ({"ordering": "-name"}, ["llava:7b", "draft:1b", "coder:7b"]),
    ],
)
def test_list_filters_and_orders(admin_client_api, params, names):
    AIModelFactory(name="coder:7b", install_status=InstallStatus.INSTALLED, tags=[TagFactory(name="code")])
    AIModelFactory(name="llava:7b")
    AIModelFactory(name="draft:1b", is_active=False)
    deleted_model(name="old:1b")

    response = admin_client_api.get(LIST_URL, params)

    assert response.status_code == 200
    assert [row["name"] for row in response.json()["results"]] == names


@pytest.mark.parametrize(
    "params",
    [
        {"published": "maybe"},
        {"deleted": "maybe"},
        {"ordering": "price"},
        {"install_status": "downloading"},
        {"model_type": "toaster"},
        {"q": "x" * 201},
    ],
)
def test_list_refuses_bad_filters(admin_client_api, params):
    response = admin_client_api.get(LIST_URL, params)

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == set(params)


def test_detail_shows_everything_about_a_deleted_model(admin_client_api, django_assert_num_queries):
    model = deleted_model(name="gone:7b", modelfile="FROM gone", tags=[TagFactory(name="code")])

    # authentication, Admin role, the model, its tags
    with django_assert_num_queries(4):
        response = admin_client_api.get(detail_url(model))

    body = response.json()
    assert (body["name"], body["modelfile"], body["published"]) == ("gone:7b", "FROM gone", True)
    assert body["deleted_at"] is not None
    assert [tag["name"] for tag in body["tags"]] == ["code"]
    assert response["ETag"] == f'"{AIModel.all_objects.get(pk=model.pk).version}"'


@pytest.mark.parametrize("pk", ["00000000-0000-0000-0000-000000000000", "llama3"])
def test_an_unknown_model_is_a_404(admin_client_api, pk):
    response = admin_client_api.get(f"{LIST_URL}{pk}/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# --- create by hand ----------------------------------------------------------------------------------


def test_create_stores_an_unpublished_model_with_its_tags(admin_client_api, admin_user):
    tag = TagFactory(name="code")
    body = {
        "name": "qwen2.5-coder",
        "description": "Writes code.",
        "family": "qwen2",
        "families": ["qwen2"],
        "size": 4_683_087_332,
        "model_type": "code",
        "tag_ids": [str(tag.pk)],
    }

    response = admin_client_api.post(LIST_URL, body, format="json")

    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["name"], created["published"], created["model_type"]) == (
        "qwen2.5-coder:latest",
        False,
        "code",
    )
    assert [t["name"] for t in created["tags"]] == ["code"]
    assert created["owner"] == str(admin_user.pk)
    model = AIModel.objects.get(pk=created["id"])
    assert [e.action for e in audit_events_of(model)] == ["created"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "has space:7b"}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "TAKEN:7B"}, "name"),
        ({"name": "new:7b", "size": -1}, "size"),
        ({"name": "new:7b", "size": "big"}, "size"),
        ({"name": "new:7b", "model_type": "toaster"}, "model_type"),
        ({"name": "new:7b", "families": "llama"}, "families"),
        ({"name": "new:7b", "reference_link": "not a link"}, "reference_link"),
        ({"name": "new:7b", "released_at": "yesterday"}, "released_at"),
        ({"name": "new:7b", "description": "d" * 5001}, "description"),
        ({"name": "new:7b", "tag_ids": ["00000000-0000-0000-0000-000000000000"]}, "tag_ids"),
        ({"name": "new:7b", "tag_ids": ["not-a-uuid"]}, "tag_ids"),
        ({"name": "new:7b", "tag_ids": "code"}, "tag_ids"),
        ({"name": "new:7b", "install_status": "installed"}, "install_status"),
        ({"name": "new:7b", "published": "sometimes"}, "published"),
    ],
)
def test_create_refuses_bad_input_and_writes_nothing(admin_client_api, body, field):
    AIModelFactory(name="taken:7b")

    response = admin_client_api.post(LIST_URL, body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert list(AIModel.all_objects.values_list("name", flat=True)) == ["taken:7b"]


# --- create from Ollama ------------------------------------------------------------------------------


def test_create_from_ollama_fills_what_ollama_knows(admin_client_api, fake_ollama):
    tag = TagFactory(name="small")

    response = admin_client_api.post(
        FROM_OLLAMA_URL,
        {"name": "llama3.2:3b", "description": "Compact.", "published": True, "tag_ids": [str(tag.pk)]},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert {key: body[key] for key in ("name", "description", "published", "install_status")} == {
        "name": "llama3.2:3b",
        "description": "Compact.",
        "published": True,
        "install_status": "installed",
    }
    assert {
        key: body[key]
        for key in (
            "format",
            "family",
            "families",
            "parameter_size",
            "parameter_count",
            "quantization_level",
            "quantization_version",
            "architecture",
            "file_type",
            "parent_model",
            "size",
            "size_label",
            "model_type",
        )
    } == {
        "format": "gguf",
        "family": "llama",
        "families": ["llama"],
        "parameter_size": "3.2B",
        "parameter_count": 3_212_749_888,
        "quantization_level": "Q4_K_M",
        "quantization_version": 2,
        "architecture": "llama",
        "file_type": 15,
        "parent_model": "",
        "size": 2_019_393_189,
        "size_label": "2.0GB",
        "model_type": "chat",
    }
    assert body["license"].startswith("LLAMA 3.2")
    assert body["template"] == "{{ .Prompt }}"
    assert body["modelfile"].endswith("FROM llama3.2:3b\n")
    assert len(body["digest"]) == 64
    assert [t["name"] for t in body["tags"]] == ["small"]
    assert [r.body for r in fake_ollama.requests if r.path == "/api/show"] == [{"model": "llama3.2:3b"}]


def test_create_from_ollama_keeps_its_capabilities_which_staff_may_edit(admin_client_api, fake_ollama):
    # given: a model Ollama says reads images
    fake_ollama.add_model("llava:7b", capabilities=["completion", "vision"])

    # when
    created = admin_client_api.post(FROM_OLLAMA_URL, {"name": "llava:7b"}, format="json")

    # then
    assert created.status_code == 201, created.content
    assert created.json()["capabilities"] == ["completion", "vision"]
    model = AIModel.objects.get(name="llava:7b")
    assert model.has_vision
    # and staff take vision away
    edited = admin_client_api.patch(
        detail_url(model),
        {"capabilities": ["completion"]},
        format="json",
        HTTP_IF_MATCH=f'"{model.version}"',
    )
    assert edited.status_code == 200, edited.content
    model.refresh_from_db()
    assert (model.capabilities, model.has_vision) == (["completion"], False)


def test_create_from_ollama_of_a_model_ollama_lacks_is_a_clear_409(admin_client_api, fake_ollama):
    response = admin_client_api.post(FROM_OLLAMA_URL, {"name": "mistral:7b"}, format="json")

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "model_not_installed"
    assert "'mistral:7b'" in error["message"]
    assert not AIModel.all_objects.exists()


def test_create_from_ollama_while_ollama_is_down_is_a_503(admin_client_api, ollama_down):
    response = admin_client_api.post(FROM_OLLAMA_URL, {"name": "llama3.2:3b"}, format="json")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "ollama_unavailable"
    assert not AIModel.all_objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": "llama 3"}, "name"),
        ({"name": "llama3.2:3b", "published": "often"}, "published"),
        ({"name": "llama3.2:3b", "tag_ids": ["x"]}, "tag_ids"),
        ({"name": "llama3.2:3b", "family": "llama"}, "family"),
        ({"name": "qwen:1b", "tag_ids": ["00000000-0000-0000-0000-000000000000"]}, "tag_ids"),
        ({"name": "LLAMA3.2:3b"}, "name"),
    ],
)
def test_create_from_ollama_refuses_bad_input_and_writes_nothing(admin_client_api, fake_ollama, body, field):
    fake_ollama.add_model("LLAMA3.2:3b")
    fake_ollama.add_model("qwen:1b")
    AIModelFactory(name="llama3.2:3b", description="already here")

    response = admin_client_api.post(FROM_OLLAMA_URL, body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert list(AIModel.all_objects.values_list("description", flat=True)) == ["already here"]


# --- change ----------------------------------------------------------------------------------------


def test_change_with_the_current_etag_writes_and_records_one_event(admin_client_api):
    model = AIModelFactory(description="Old.", size=1)

    response = admin_client_api.patch(
        detail_url(model),
        {"description": "New.", "size": 2},
        format="json",
        HTTP_IF_MATCH=f'"{model.version}"',
    )

    assert response.status_code == 200
    assert (response.json()["description"], response.json()["size"]) == ("New.", 2)
    assert response["ETag"] == f'"{model.version + 1}"'
    [event] = [e for e in audit_events_of(model) if e.action == "updated"]
    assert (event.before, event.after) == (
        {"description": "Old.", "size": 1},
        {"description": "New.", "size": 2},
    )


def test_a_stale_etag_is_a_412_and_the_row_is_unchanged(admin_client_api):
    model = AIModelFactory(description="Read.")
    read_version = model.version
    admin_client_api.patch(detail_url(model), {"description": "Changed meanwhile."}, format="json")
    before = snapshot(model)

    response = admin_client_api.patch(
        detail_url(model),
        {"description": "Mine.", "size": 5},
        format="json",
        HTTP_IF_MATCH=f'"{read_version}"',
    )

    assert response.status_code == 412
    assert response.json()["error"]["code"] == "stale_version"
    assert snapshot(model) == before
    assert before["description"] == "Changed meanwhile."


def test_a_malformed_etag_is_a_412(admin_client_api):
    model = AIModelFactory()

    response = admin_client_api.patch(detail_url(model), {"size": 5}, format="json", HTTP_IF_MATCH="latest")

    assert response.status_code == 412
    assert AIModel.objects.get(pk=model.pk).size == model.size


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "taken:7b"}, "name"),
        ({"name": "bad name"}, "name"),
        ({"size": -5}, "size"),
        ({"parameter_count": "many"}, "parameter_count"),
        ({"published": True}, "published"),
        ({"is_active": True}, "is_active"),
        ({"install_status": "installed"}, "install_status"),
        ({"version": 9}, "version"),
        ({"languages": [1, {"a": 1}]}, "languages"),
    ],
)
def test_change_refuses_bad_input_and_writes_nothing(admin_client_api, body, field):
    AIModelFactory(name="taken:7b")
    model = AIModelFactory(name="mine:7b")
    before = snapshot(model)

    response = admin_client_api.patch(detail_url(model), body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert snapshot(model) == before


def test_a_deleted_model_can_be_read_but_its_tags_not_changed(admin_client_api):
    model = deleted_model()
    tag = TagFactory()

    response = admin_client_api.post(action_url(model, "add-tags"), {"tag_ids": [str(tag.pk)]}, format="json")

    assert response.status_code == 409
    assert snapshot(model)["tags"] == []


# --- publish, tags, delete, restore ------------------------------------------------------------------


def test_publish_and_unpublish_toggle_what_explore_shows(
    admin_client_api, anon_client, django_capture_on_commit_callbacks
):
    model = AIModelFactory(name="shown:7b", is_active=False)
    explore = reverse("explore-model-list")

    with django_capture_on_commit_callbacks(execute=True):
        published = admin_client_api.post(action_url(model, "publish"), HTTP_IF_MATCH=f'"{model.version}"')
    seen = [row["name"] for row in anon_client.get(explore).json()["results"]]
    with django_capture_on_commit_callbacks(execute=True):
        unpublished = admin_client_api.post(action_url(model, "unpublish"))
    hidden = [row["name"] for row in anon_client.get(explore).json()["results"]]

    assert published.status_code == 200
    assert published.json()["published"] is True
    assert unpublished.json()["published"] is False
    assert (seen, hidden) == (["shown:7b"], [])
    assert [e.action for e in audit_events_of(model)] == ["created", "updated", "updated"]


def test_publish_with_a_stale_etag_is_a_412(admin_client_api):
    model = AIModelFactory(is_active=False)

    response = admin_client_api.post(action_url(model, "publish"), HTTP_IF_MATCH=f'"{model.version + 1}"')

    assert response.status_code == 412
    assert snapshot(model)["is_active"] is False


def test_adding_tags_reports_added_already_present_and_not_found(admin_client_api):
    code, vision, small = TagFactory(name="code"), TagFactory(name="vision"), TagFactory(name="small")
    model = AIModelFactory(tags=[code])
    missing = "00000000-0000-0000-0000-000000000000"

    response = admin_client_api.post(
        action_url(model, "add-tags"),
        {"tag_ids": [str(vision.pk), str(code.pk), missing, str(small.pk)]},
        format="json",
        HTTP_IF_MATCH=f'"{AIModel.objects.get(pk=model.pk).version}"',
    )

    assert response.status_code == 200, response.content
    report = response.json()
    assert [t["name"] for t in report["added"]] == ["vision", "small"]
    assert [t["name"] for t in report["already_present"]] == ["code"]
    assert report["not_found"] == [missing]
    assert [t["name"] for t in report["model"]["tags"]] == ["code", "small", "vision"]
    assert response["ETag"] == f'"{report["model"]["version"]}"'
    assert snapshot(model)["tags"] == ["code", "small", "vision"]


def test_removing_tags_reports_removed_not_present_and_not_found(admin_client_api):
    code, vision = TagFactory(name="code"), TagFactory(name="vision")
    model = AIModelFactory(tags=[code])
    missing = "00000000-0000-0000-0000-000000000000"

    response = admin_client_api.post(
        action_url(model, "remove-tags"), {"tag_ids": [str(code.pk), str(vision.pk), missing]}, format="json"
    )

    report = response.json()
    assert [t["name"] for t in report["removed"]] == ["code"]
    assert [t["name"] for t in report["not_present"]] == ["vision"]
    assert report["not_found"] == [missing]
    assert report["model"]["tags"] == []
    deleted_links = AuditEvent.objects.filter(target_type="models_app.modeltag", action="deleted")
    assert deleted_links.count() == 1
    assert deleted_links.get().before["tag_id"] == str(code.pk)


@pytest.mark.parametrize(
    "body",
    [{}, {"tag_ids": []}, {"tag_ids": "code"}, {"tag_ids": ["nope"]}, {"tag_ids": [None]}, {"tags": ["x"]}],
)
@pytest.mark.parametrize("name", ["add-tags", "remove-tags"])
def test_tag_changes_refuse_bad_input_and_write_nothing(admin_client_api, name, body):
    tag = TagFactory()
    model = AIModelFactory(tags=[tag])
    before = snapshot(model)

    response = admin_client_api.post(action_url(model, name), body, format="json")

    assert response.status_code == 400
    assert snapshot(model) == before


def test_tag_changes_with_a_stale_etag_are_412(admin_client_api):
    model = AIModelFactory()
    before = snapshot(model)

    response = admin_client_api.post(
        action_url(model, "add-tags"),
        {"tag_ids": [str(TagFactory().pk)]},
        format="json",
        HTTP_IF_MATCH='"99"',
    )

    assert response.status_code == 412
    assert snapshot(model) == before


def test_delete_and_restore_leave_one_event_each(admin_client_api):
    model = AIModelFactory()

    deleted = admin_client_api.delete(detail_url(model), HTTP_IF_MATCH=f'"{model.version}"')
    twice = admin_client_api.delete(detail_url(model))
    restored = admin_client_api.post(action_url(model, "restore"))

    assert (deleted.status_code, twice.status_code, restored.status_code) == (204, 409, 200)
    assert [e.action for e in audit_events_of(model)] == ["created", "soft_deleted", "restored"]


def test_delete_with_a_stale_etag_is_a_412_and_the_model_stays(admin_client_api):
    model = AIModelFactory()

    response = admin_client_api.delete(detail_url(model), HTTP_IF_MATCH='"42"')

    assert response.status_code == 412
    assert snapshot(model)["deleted_at"] is None


def test_restore_refuses_when_the_name_was_taken_meanwhile(admin_client_api):
    model = deleted_model(name="llama3:8b")
    AIModelFactory(name="LLAMA3:8B")

    response = admin_client_api.post(action_url(model, "restore"))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "restore_conflict"
    assert snapshot(model)["deleted_at"] is not None
