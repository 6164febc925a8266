"""The public Explore API: what it shows, pagination, search, bad input, ETags, throttling, query counts."""

from __future__ import annotations

import pytest
from django.utils import timezone

from explore_app.api.throttles import ExploreRateThrottle
from models_app import services
from tests.conftest import client_for
from tests.models_app.factories import AIModelFactory, TagFactory, sample_catalogue

pytestmark = pytest.mark.django_db

MODELS = "/api/v1/explore/models/"
TAGS = "/api/v1/explore/tags/"


def detail_url(ref) -> str:
    return f"{MODELS}{ref}/"


def result_names(response) -> list[str]:
    return [row["name"] for row in response.json()["results"]]


def assert_error(response, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    if field:
        assert field in body["error"]["fields"]


@pytest.fixture
def catalogue():
    return sample_catalogue()


# --- list -------------------------------------------------------------------------------------------


def test_anonymous_callers_browse_published_alive_models(anon_client, catalogue):
    AIModelFactory(name="draft:1", is_active=False)
    services.aimodel_soft_delete(model=AIModelFactory(name="gone:1"))

    response = anon_client.get(MODELS)

    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["total_pages"], body["page"]) == (6, 1, 1)
    assert body["next"] is body["previous"] is None
    assert result_names(response) == [
        "llama3.1:70b",
        "llama3.2:3b",
        "llava:7b",
        "mistral:7b",
        "mixtral:8x7b",
        "qwen2.5-coder:7b",
    ]
    coder = body["results"][-1]
    assert coder["installed"] is True
    assert coder["tags"] == [{"id": str(catalogue["tags"]["code"].pk), "name": "code", "slug": "code"}]
    assert coder["rank"] is coder["match"] is coder["snippet"] is None
    assert response["ETag"]


def test_signed_in_callers_see_the_same_catalogue(user, anon_client, catalogue):
    signed_in = client_for(user).get(MODELS)

    assert signed_in.status_code == 200
    assert signed_in.json() == anon_client.get(MODELS).json()


def test_a_models_deleted_tags_are_not_shown(anon_client, catalogue):
    services.tag_soft_delete(tag=catalogue["tags"]["vision"])

    llava = next(row for row in anon_client.get(MODELS).json()["results"] if row["name"] == "llava:7b")

    assert llava["tags"] == []
    assert anon_client.get(detail_url("llava:7b")).json()["tags"] == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("family=LLAMA", ["llama3.1:70b", "llama3.2:3b", "llava:7b"]),
        ("parameter_size=3.2b", ["llama3.2:3b"]),
        ("installed=true", ["qwen2.5-coder:7b"]),
        ("installed=false&family=qwen2", []),
        ("tag=code", ["qwen2.5-coder:7b"]),
        ("model_type=chat&family=mixtral", ["mixtral:8x7b"]),
        ("ordering=-name&page_size=2", ["qwen2.5-coder:7b", "mixtral:8x7b"]),
    ],
)
def test_filters_and_ordering(anon_client, catalogue, query, expected):
    response = anon_client.get(f"{MODELS}?{query}")

    assert response.status_code == 200
    assert result_names(response) == expected


def test_popularity_orders_by_number_of_conversations(anon_client, catalogue):
    from tests.conversations_app.factories import ConversationFactory

    ConversationFactory.create_batch(2, model=catalogue["mixtral"])
    ConversationFactory(model=catalogue["llava"])

    response = anon_client.get(f"{MODELS}?ordering=popularity")

    assert result_names(response)[:2] == ["mixtral:8x7b", "llava:7b"]


def test_pages_link_to_each_other_and_the_page_size_is_capped(anon_client):
    AIModelFactory.create_batch(105)

    first = anon_client.get(f"{MODELS}?page_size=2").json()
    middle = anon_client.get(f"{MODELS}?page_size=2&page=2").json()
    last = anon_client.get(f"{MODELS}?page_size=2&page=53").json()
    capped = anon_client.get(f"{MODELS}?page_size=1000").json()

    assert (first["count"], first["total_pages"], first["previous"]) == (105, 53, None)
    assert first["next"] == "http://testserver/api/v1/explore/models/?page=2&page_size=2"
    assert middle["previous"] == "http://testserver/api/v1/explore/models/?page_size=2"
    assert last["next"] is None
    assert len(last["results"]) == 1
    assert len(capped["results"]) == 100


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=0", "page"),
        ("page=abc", "page"),
        ("page_size=0", "page_size"),
        ("page_size=-5", "page_size"),
        ("page_size=ten", "page_size"),
        ("ordering=random()", "ordering"),
        ("installed=maybe", "installed"),
        ("model_type=toaster", "model_type"),
        ("tag=not%20a%20slug!", "tag"),
        ("family=" + "x" * 101, "family"),
        ("q=" + "x" * 201, "q"),
        ("q=llama%00", "q"),
    ],
)
def test_bad_query_parameters_are_400s_in_the_error_shape(anon_client, catalogue, query, field):
    assert_error(anon_client.get(f"{MODELS}?{query}"), 400, "invalid", field)


def test_a_page_past_the_end_is_a_404(anon_client, catalogue):
    assert_error(anon_client.get(f"{MODELS}?page=3"), 404, "not_found")


@pytest.mark.parametrize("page_size", [5, 50])
def test_list_query_count_does_not_grow_with_page_size(anon_client, django_assert_num_queries, page_size):
    tags = TagFactory.create_batch(3)
    for _ in range(60):
        AIModelFactory(tags=tags)

    with django_assert_num_queries(3):  # count, page, tags of the page
        response = anon_client.get(f"{MODELS}?page_size={page_size}")
    assert len(response.json()["results"]) == page_size
    assert all(len(row["tags"]) == 3 for row in response.json()["results"])

    with django_assert_num_queries(0):  # then served from Redis
        assert anon_client.get(f"{MODELS}?page_size={page_size}").status_code == 200


# --- search -----------------------------------------------------------------------------------------


def test_search_ranks_a_name_match_above_a_description_mention(anon_client, catalogue):
    response = anon_client.get(f"{MODELS}?q=Mistral")

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["name"] for row in rows] == ["mistral:7b", "mixtral:8x7b"]
    assert rows[0]["rank"] > rows[1]["rank"]
    assert {row["match"] for row in rows} == {"fulltext"}
    assert "<mark>Mistral</mark>" in rows[1]["snippet"]


def test_search_snippets_are_html_safe(anon_client, catalogue):
    row = anon_client.get(f"{MODELS}?q=code").json()["results"][0]

    assert row["name"] == "qwen2.5-coder:7b"
    assert "<b>" not in row["snippet"]
    assert "<mark>code</mark>" in row["snippet"]
    assert "&amp; explains" in row["snippet"]


@pytest.mark.parametrize(
    ("typo", "expected"),
    [
        ("lama3", ["llama3.1:70b", "llama3.2:3b"]),
        ("lama", ["llama3.1:70b", "llama3.2:3b"]),
        ("llamma", ["llama3.1:70b", "llama3.2:3b"]),
        ("mistrall", ["mistral:7b"]),
        ("mixtrl", ["mixtral:8x7b"]),
    ],
)
def test_search_survives_typos(anon_client, catalogue, typo, expected):
    assert result_names(anon_client.get(f"{MODELS}?q={typo}"))[: len(expected)] == expected


def test_a_typo_fallback_says_so_and_shows_a_plain_snippet(anon_client, catalogue):
    rows = anon_client.get(f"{MODELS}?q=lama3").json()["results"]

    assert {row["match"] for row in rows} == {"similar"}
    assert rows[1]["snippet"] == "Meta&#x27;s compact chat model."


def test_search_combines_with_filters_and_explicit_ordering(anon_client, catalogue):
    assert result_names(anon_client.get(f"{MODELS}?q=mistral&family=mixtral")) == ["mixtral:8x7b"]
    assert result_names(anon_client.get(f"{MODELS}?q=mistral&ordering=-name")) == [
        "mixtral:8x7b",
        "mistral:7b",
    ]


@pytest.mark.parametrize("query", ["", "%20%20%20"])
def test_an_empty_search_is_the_plain_catalogue(anon_client, catalogue, query):
    response = anon_client.get(f"{MODELS}?q={query}")

    assert response.status_code == 200
    assert response.json()["count"] == 6
    assert response.json()["results"][0]["match"] is None


@pytest.mark.parametrize(
    "query",
    [
        "'; DROP TABLE models_app_aimodel; --",
        '" OR 1=1 --',
        "<script>alert(1)</script>",
        "!!!",
        "a & b | !c",
        "llama:*",
        "((((",
        "%25_%25",
        "\\x00",
        "💥 模型",
    ],
)
def test_hostile_looking_searches_answer_200_and_harm_nothing(anon_client, catalogue, query):
    response = anon_client.get(MODELS, {"q": query})

    assert response.status_code == 200
    assert isinstance(response.json()["results"], list)
    assert anon_client.get(MODELS).json()["count"] == 6


@pytest.mark.parametrize("page_size", [5, 50])
@pytest.mark.parametrize("query", ["mistral", "mistrla"])  # full text; typo fallback
def test_search_query_count_does_not_grow_with_page_size(
    anon_client, django_assert_num_queries, page_size, query
):
    tags = TagFactory.create_batch(2)
    for i in range(60):
        AIModelFactory(name=f"mistral-ft{i}:7b", description="Tuned.", tags=tags)

    with django_assert_num_queries(4):  # full text matches?, count, page, tags of the page
        response = anon_client.get(f"{MODELS}?q={query}&page_size={page_size}")
    assert len(response.json()["results"]) == page_size


def test_search_never_shows_unpublished_or_deleted_models(anon_client, catalogue):
    AIModelFactory(name="mistral-draft:1", is_active=False)
    services.aimodel_soft_delete(model=AIModelFactory(name="mistral-gone:1"))

    for query in ["mistral", "mistral-draft", "mistral-gone", "mistrall-gone"]:
        names = result_names(anon_client.get(f"{MODELS}?q={query}"))
        assert "mistral-draft:1" not in names
        assert "mistral-gone:1" not in names


# --- detail -----------------------------------------------------------------------------------------


def test_detail_by_id_or_by_name(anon_client, catalogue):
    coder = catalogue["coder"]

    by_id = anon_client.get(detail_url(coder.pk))
    by_name = anon_client.get(detail_url("Qwen2.5-Coder:7b"))

    assert by_id.status_code == by_name.status_code == 200
    assert by_id.json() == by_name.json()
    body = by_id.json()
    assert body["name"] == "qwen2.5-coder:7b"
    assert body["tags"][0]["slug"] == "code"
    assert {"modelfile", "template", "license", "families", "languages"} <= set(body)
    assert "owner" not in body
    assert "install_error" not in body


def test_detail_of_a_name_with_slashes_and_an_implied_latest_tag(anon_client):
    AIModelFactory(name="hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:latest")

    response = anon_client.get(detail_url("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF"))

    assert response.status_code == 200
    assert response.json()["name"] == "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:latest"


def test_hidden_deleted_and_unknown_models_are_404s(anon_client, catalogue):
    draft = AIModelFactory(name="draft:1", is_active=False)
    gone = AIModelFactory(name="gone:1")
    services.aimodel_soft_delete(model=gone)

    for ref in [draft.pk, "draft:1", gone.pk, "gone:1", "nope:1", "00000000-0000-0000-0000-000000000000"]:
        assert_error(anon_client.get(detail_url(ref)), 404, "not_found")


def test_detail_query_count(anon_client, catalogue, django_assert_num_queries):
    with django_assert_num_queries(2):  # the model, its tags
        assert anon_client.get(detail_url("qwen2.5-coder:7b")).status_code == 200
    with django_assert_num_queries(0):
        assert anon_client.get(detail_url("qwen2.5-coder:7b")).status_code == 200


# --- tags -------------------------------------------------------------------------------------------


def test_tags_with_their_number_of_published_models(anon_client, catalogue):
    AIModelFactory(is_active=False, tags=[catalogue["tags"]["code"]])
    services.tag_soft_delete(tag=TagFactory(name="gone"))
    TagFactory(name="unused", slug="unused")

    response = anon_client.get(TAGS)

    assert response.status_code == 200
    assert [(row["name"], row["model_count"]) for row in response.json()["results"]] == [
        ("code", 1),
        ("unused", 0),
        ("vision", 1),
    ]


@pytest.mark.parametrize("page_size", [5, 50])
def test_tags_query_count(anon_client, django_assert_num_queries, page_size):
    for tag in TagFactory.create_batch(60):
        AIModelFactory(tags=[tag])

    with django_assert_num_queries(2):  # count, page (model counts are a subquery)
        response = anon_client.get(f"{TAGS}?page_size={page_size}")
    assert len(response.json()["results"]) == page_size
    assert {row["model_count"] for row in response.json()["results"]} == {1}


def test_models_of_a_tag(anon_client, catalogue):
    other = AIModelFactory(name="codellama:7b", tags=[catalogue["tags"]["code"]])
    AIModelFactory(name="hidden-coder:1", is_active=False, tags=[catalogue["tags"]["code"]])

    response = anon_client.get(f"{TAGS}code/models/?ordering=-name")

    assert response.status_code == 200
    assert result_names(response) == ["qwen2.5-coder:7b", other.name]


def test_models_of_an_unknown_or_deleted_tag_are_404s(anon_client, catalogue):
    services.tag_soft_delete(tag=catalogue["tags"]["vision"])

    assert_error(anon_client.get(f"{TAGS}vision/models/"), 404, "not_found")
    assert_error(anon_client.get(f"{TAGS}nope/models/"), 404, "not_found")
    assert_error(anon_client.get(f"{TAGS}code/models/?page_size=x"), 400, "invalid", "page_size")


@pytest.mark.parametrize("page_size", [5, 50])
def test_models_of_a_tag_query_count(anon_client, django_assert_num_queries, page_size):
    tag = TagFactory(slug="many")
    for _ in range(60):
        AIModelFactory(tags=[tag])

    with django_assert_num_queries(4):  # the tag, count, page, tags of the page
        response = anon_client.get(f"{TAGS}many/models/?page_size={page_size}")
    assert len(response.json()["results"]) == page_size


# --- conditional requests, throttling -----------------------------------------------------------


@pytest.mark.parametrize("url", [MODELS, f"{MODELS}?q=mistral", detail_url("mistral:7b"), TAGS])
def test_a_matching_if_none_match_is_a_304_without_body(anon_client, catalogue, url):
    etag = anon_client.get(url)["ETag"]

    not_modified = anon_client.get(url, headers={"If-None-Match": etag})
    weak = anon_client.get(url, headers={"If-None-Match": f'W/{etag}, "other"'})
    stale = anon_client.get(url, headers={"If-None-Match": '"stale"'})

    assert not_modified.status_code == weak.status_code == 304
    assert not_modified.content == b""
    assert not_modified["ETag"] == etag
    assert stale.status_code == 200
    assert stale["ETag"] == etag


def test_the_etag_changes_when_the_content_does(anon_client, catalogue, django_capture_on_commit_callbacks):
    etag = anon_client.get(detail_url("mistral:7b"))["ETag"]

    with django_capture_on_commit_callbacks(execute=True):
        services.aimodel_update(model=catalogue["mistral"], released_at=timezone.now().date())
    response = anon_client.get(detail_url("mistral:7b"), headers={"If-None-Match": etag})

    assert response.status_code == 200
    assert response["ETag"] != etag


def test_explore_is_throttled_with_retry_after(anon_client, catalogue, monkeypatch):
    monkeypatch.setattr(ExploreRateThrottle, "THROTTLE_RATES", {"explore": "3/min"})

    statuses = [anon_client.get(MODELS).status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    throttled = anon_client.get(MODELS)
    assert_error(throttled, 429, "throttled")
    assert int(throttled["Retry-After"]) > 0


def test_explore_is_read_only(anon_client, admin_client_api, catalogue):
    for client in (anon_client, admin_client_api):
        assert client.post(MODELS, {"name": "x:1"}).status_code == 405
        assert client.delete(detail_url("mistral:7b")).status_code == 405
