"""Catalogue reads: what is visible, filters and orderings, ranked search with typo fallback, plans."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from conversations_app import selectors as conversation_selectors
from core.exceptions import NotFound, ValidationFailed
from models_app import selectors, services
from models_app.models import AIModel
from tests.conversations_app.factories import ConversationFactory
from tests.models_app.factories import AIModelFactory, TagFactory, sample_catalogue

pytestmark = pytest.mark.django_db


def names(queryset) -> list[str]:
    return [model.name for model in queryset]


@pytest.fixture
def catalogue():
    return sample_catalogue()


def test_only_published_alive_models_are_listed(catalogue):
    hidden = AIModelFactory(name="draft:1", is_active=False)
    deleted = AIModelFactory(name="gone:1")
    services.aimodel_soft_delete(model=deleted)

    listed = names(selectors.aimodel_list_published())

    assert "draft:1" not in listed
    assert "gone:1" not in listed
    assert listed == sorted(listed)
    assert len(listed) == 6
    assert selectors.aimodel_get_published(model_id=hidden.pk) is None
    assert selectors.aimodel_get_published(model_id=deleted.pk) is None


def test_a_models_deleted_tags_are_not_listed_on_it(catalogue):
    services.tag_soft_delete(tag=catalogue["tags"]["vision"])

    llava = selectors.aimodel_get_published(name="llava:7b")

    assert list(llava.tags.all()) == []
    assert names(selectors.aimodel_list_published(filters={"tag": "vision"})) == []


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"family": "LLAMA"}, ["llama3.1:70b", "llama3.2:3b", "llava:7b"]),
        ({"parameter_size": "7.2b"}, ["mistral:7b"]),
        ({"installed": True}, ["qwen2.5-coder:7b"]),
        ({"installed": False, "family": "qwen2"}, []),
        ({"tag": "code"}, ["qwen2.5-coder:7b"]),
        ({"tag": "no-such-tag"}, []),
        ({"model_type": "chat", "family": "mistral"}, ["mistral:7b"]),
    ],
)
def test_filters(catalogue, filters, expected):
    assert names(selectors.aimodel_list_published(filters=filters)) == expected


def test_bad_filters_and_orderings_are_validation_errors(catalogue):
    with pytest.raises(ValidationFailed) as excinfo:
        selectors.aimodel_list_published(filters={"model_type": "toaster"})
    assert "model_type" in excinfo.value.fields
    with pytest.raises(ValidationFailed):
        selectors.aimodel_list_published(ordering="random()")


def test_orderings(catalogue):
    catalogue["mistral"].size, catalogue["mistral"].released_at = 10, timezone.now().date()
    catalogue["mistral"].save(update_fields=["size", "released_at"])

    assert names(selectors.aimodel_list_published(ordering="-name"))[0] == "qwen2.5-coder:7b"
    assert names(selectors.aimodel_list_published(ordering="size"))[0] == "mistral:7b"
    assert names(selectors.aimodel_list_published(ordering="-size"))[-1] == "mistral:7b"
    assert names(selectors.aimodel_list_published(ordering="newest"))[0] == "mistral:7b"


def test_popularity_counts_alive_conversations_in_one_query(catalogue, django_assert_num_queries):
    ConversationFactory.create_batch(3, model=catalogue["mixtral"])
    ConversationFactory.create_batch(2, model=catalogue["coder"])
    for conversation in ConversationFactory.create_batch(5, model=catalogue["llava"]):
        conversation.deleted_at = timezone.now()
        conversation.save(update_fields=["deleted_at"])

    with django_assert_num_queries(2):  # models + their tags
        ranked = list(
            selectors.aimodel_list_published(
                ordering="popularity", popularity=conversation_selectors.conversation_count_per_model()
            )
        )

    assert names(ranked)[:2] == ["mixtral:8x7b", "qwen2.5-coder:7b"]
    assert [m.conversation_count for m in ranked[:3]] == [3, 2, 0]


def test_popularity_needs_the_callers_measure_of_it(catalogue):
    with pytest.raises(ValidationFailed):
        selectors.aimodel_list_published(ordering="popularity")


# --- search -------------------------------------------------------------------------------------------


def search(query: str, **kwargs) -> tuple[list[str], str]:
    found = selectors.aimodel_search_published(query=query, **kwargs)
    return names(found.queryset), found.match


def test_an_exact_name_match_ranks_above_a_description_mention(catalogue):
    found, match = search("mistral")

    assert match == "fulltext"
    assert found == ["mistral:7b", "mixtral:8x7b"]


def test_a_tag_ranks_above_a_description_mention(catalogue):
    AIModelFactory(name="phi3:mini", family="phi3", description="Small, but good at code completion.")

    found, _ = search("code")

    assert found == ["qwen2.5-coder:7b", "phi3:mini"]


def test_words_of_a_name_are_searchable(catalogue):
    assert search("coder")[0] == ["qwen2.5-coder:7b"]
    assert search("llama3.2:3b")[0] == ["llama3.2:3b"]


def test_description_words_are_stemmed(catalogue):
    assert search("image")[0] == ["llava:7b"]
    assert search("program")[0] == ["qwen2.5-coder:7b"]


def test_websearch_syntax(catalogue):
    assert search("llama -vision")[0] == ["llama3.1:70b", "llama3.2:3b"]
    assert search('"mixture of experts"')[0] == ["mixtral:8x7b"]
    assert search("vision or mistral")[0] == ["mistral:7b", "llava:7b", "mixtral:8x7b"]


@pytest.mark.parametrize(
    ("typo", "expected"),
    [("lama3", "llama3"), ("mistrall", "mistral:7b"), ("mistrla", "mistral:7b"), ("qwen2.5-codr", "qwen2.5")],
)
def test_typos_still_find_the_model(catalogue, typo, expected):
    found, _ = search(typo)

    assert found
    assert found[0].startswith(expected)


@pytest.mark.parametrize(
    ("typo", "expected"),
    [
        ("lama", ["llama3.1:70b", "llama3.2:3b", "tinyllama:latest", "codellama:7b"]),
        ("llamma", ["llama3.1:70b", "llama3.2:3b"]),
        ("qwem", ["qwen2.5-coder:7b"]),
        ("mistrall", ["mistral:7b"]),
        ("mixtrl", ["mixtral:8x7b"]),
    ],
)
def test_a_typo_in_a_word_that_digits_follow_in_the_name_still_finds_it(catalogue, typo, expected):
    # given: names whose words run on into digits ("llama3", "qwen2"), and names that hold the word
    # inside a longer one
    AIModelFactory(name="codellama:7b", family="codellama", description="Code.")
    AIModelFactory(name="tinyllama:latest", family="tinyllama", description="Small.")

    # when
    found, _ = search(typo)

    # then: the closest names first, the word's own models before the ones that contain it
    assert found[: len(expected)] == expected


def test_when_full_text_finds_nothing_similar_names_are_offered(catalogue):
    found, match = search("lama3")

    assert match == "similar"
    assert found == ["llama3.1:70b", "llama3.2:3b"]


def test_search_applies_filters_and_hides_unpublished(catalogue):
    AIModelFactory(name="mistral-nemo:12b", family="mistral", is_active=False)

    assert search("mistral", filters={"family": "mixtral"})[0] == ["mixtral:8x7b"]
    assert "mistral-nemo:12b" not in search("nemo")[0]


def test_search_headline_marks_matches(catalogue):
    found = selectors.aimodel_search_published(query="experts").queryset.get()

    headline = found.search_headline
    assert f"{selectors.HIGHLIGHT_START}experts{selectors.HIGHLIGHT_STOP}" in headline


@pytest.mark.parametrize("query", ["", "   ", "x" * 201])
def test_blank_or_over_long_queries_are_refused(query):
    with pytest.raises(ValidationFailed) as excinfo:
        selectors.aimodel_search_published(query=query)
    assert "q" in excinfo.value.fields


@pytest.mark.parametrize(
    "query",
    ["'; DROP TABLE models_app_aimodel; --", "!!!", "a & b | !c", ":*", "((", '"', "llama:*", "\\", "%_"],
)
def test_operator_and_injection_looking_queries_are_just_text(catalogue, query):
    found, _ = search(query)

    assert isinstance(found, list)
    assert selectors.aimodel_list_published().count() == 6


@pytest.fixture
def large_catalogue(catalogue):
    """Enough rows for the planner's statistics to make an index worth it, as in production (with
    500, a whole scan of another small index is estimated cheaper than the trigram indexes' fixed
    cost)."""
    AIModel.objects.bulk_create(
        AIModel(name=f"filler-{i}:latest", family="filler", description="Nothing to see.", is_active=True)
        for i in range(5000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE models_app_aimodel")
    return catalogue


def _plan(queryset) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    return queryset.explain()


def test_full_text_search_uses_the_gin_index(large_catalogue):
    found = selectors.aimodel_search_published(query="mistral")

    assert "models_aimodel_search_gin" in _plan(found.queryset)


def test_the_typo_fallback_uses_the_trigram_index(large_catalogue):
    found = selectors.aimodel_search_published(query="mistrla")

    assert found.match == "similar"
    # one of the name's two trigram indexes (as written, or with letters apart from digits): which
    # one the planner prefers for a query both can answer depends on the statistics of the moment
    plan = _plan(found.queryset)
    assert "models_aimodel_name_trgm" in plan or "models_aimodel_name_apart_trgm" in plan


def test_the_typo_fallback_uses_the_trigram_index_on_the_names_with_letters_apart(large_catalogue):
    found = selectors.aimodel_search_published(query="lama")

    assert names(found.queryset)[:2] == ["llama3.1:70b", "llama3.2:3b"]
    plan = _plan(found.queryset)
    assert "models_aimodel_name_trgm" in plan
    assert "models_aimodel_name_apart_trgm" in plan


# --- single rows and tags -----------------------------------------------------------------------------


def test_get_published_by_id_or_name(catalogue):
    mistral = catalogue["mistral"]

    assert selectors.aimodel_get_published(model_id=mistral.pk) == mistral
    assert selectors.aimodel_get_published(model_id=str(mistral.pk)) == mistral
    assert selectors.aimodel_get_published(name="MISTRAL:7b") == mistral
    assert selectors.aimodel_get_published(model_id="not-a-uuid") is None
    assert selectors.aimodel_get_published_by_ref(ref="mistral:7b") == mistral
    with pytest.raises(NotFound):
        selectors.aimodel_get_published_by_ref(ref="mistral")  # means mistral:latest


def test_a_name_without_a_tag_means_latest():
    model = AIModelFactory(name="hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:latest")

    assert selectors.aimodel_get_published(name="hf.co/bartowski/llama-3.2-1b-instruct-gguf") == model


def test_tags_count_published_alive_models_only(catalogue):
    code = catalogue["tags"]["code"]
    hidden = AIModelFactory(is_active=False, tags=[code])
    deleted = AIModelFactory(tags=[code])
    services.aimodel_soft_delete(model=deleted)
    gone = TagFactory(name="gone")
    services.tag_soft_delete(tag=gone)

    counts = {tag.name: tag.model_count for tag in selectors.tag_list_with_model_counts()}

    assert counts == {"code": 1, "vision": 1}
    assert hidden.tags.count() == 1


def test_admin_reads_see_unpublished_and_the_trash(catalogue):
    draft = AIModelFactory(name="draft:1", is_active=False)
    services.aimodel_soft_delete(model=catalogue["mistral"])

    assert "draft:1" in names(selectors.aimodel_list())
    assert names(selectors.aimodel_list(deleted=True)) == ["mistral:7b"]
    assert selectors.aimodel_get(model_id=draft.pk) == draft
    assert selectors.aimodel_get(model_id=catalogue["mistral"].pk, include_deleted=True).is_deleted
    with pytest.raises(NotFound):
        selectors.aimodel_get(model_id=catalogue["mistral"].pk)
