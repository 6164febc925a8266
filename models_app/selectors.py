"""Reads of the catalogue. Other apps read models and tags only through these functions.

Every selector returns rows with their alive tags prefetched (one query), never a deleted tag.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.contrib.postgres.search import (
    SearchHeadline,
    SearchQuery,
    SearchRank,
    TrigramStrictWordSimilarity,
)
from django.db.models import (
    CharField,
    Count,
    Exists,
    Expression,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Greatest, Lower

from auth_app import selectors as account_selectors
from core.exceptions import NotFound, ValidationFailed
from core.ollama.pool import normalise_model_name
from models_app.filters import AIModelFilter
from models_app.models import NAME_LETTERS_APART, AIModel, ModelTag, RoleModelAccess, Tag

SEARCH_QUERY_MAX_LENGTH = 200
# ts_headline marks matches with these private-use characters, so the API can HTML-escape the text
# first and only then turn them into <mark> tags.
HIGHLIGHT_START = "\ue000"
HIGHLIGHT_STOP = "\ue001"

# Each ordering ends with unique columns so pages never overlap or skip rows.
AIMODEL_ORDERINGS: dict[str, tuple[Any, ...]] = {
    "name": ("name", "id"),
    "-name": ("-name", "id"),
    "newest": (F("released_at").desc(nulls_last=True), "-created_at", "id"),
    "size": (F("size").asc(nulls_last=True), "name", "id"),
    "-size": (F("size").desc(nulls_last=True), "name", "id"),
    "popularity": ("-conversation_count", "name", "id"),
}
RELEVANCE = "relevance"


class SearchMatch(StrEnum):
    FULLTEXT = "fulltext"
    SIMILAR = "similar"


@dataclass(frozen=True)
class AIModelSearch:
    """Search results (annotated `rank` and `search_headline`) and how they were matched."""

    queryset: QuerySet[AIModel]
    match: SearchMatch


def alive_tags_prefetch() -> Prefetch:
    """A model's alive tags by name, in one query for a whole page of models."""
    return Prefetch("tags", queryset=Tag.objects.order_by("name"))


def _filtered(queryset: QuerySet[AIModel], filters: Mapping[str, Any] | None) -> QuerySet[AIModel]:
    filterset = AIModelFilter(data=dict(filters or {}), queryset=queryset)
    if not filterset.is_valid():
        raise ValidationFailed(fields={name: list(errors) for name, errors in filterset.errors.items()})
    return filterset.qs


def _ordered(queryset: QuerySet[AIModel], ordering: str, popularity: Expression | None) -> QuerySet[AIModel]:
    """`ordering` applied; "popularity" needs the caller's measure of it (conversations are another
    app's rows: the caller asks that app, e.g. conversations_app's `conversation_count_per_model`)."""
    if ordering not in AIMODEL_ORDERINGS or (ordering == "popularity" and popularity is None):
        raise ValidationFailed(fields={"ordering": [f"Unknown ordering {ordering!r}."]})
    if ordering == "popularity":
        queryset = queryset.annotate(conversation_count=popularity)
    return queryset.order_by(*AIMODEL_ORDERINGS[ordering])


def aimodel_list_published(
    *,
    filters: Mapping[str, Any] | None = None,
    ordering: str = "name",
    popularity: Expression | None = None,
) -> QuerySet[AIModel]:
    """Published, alive models matching `filters` (see AIModelFilter), with their alive tags."""
    queryset = _filtered(AIModel.objects.published(), filters)
    return _ordered(queryset, ordering, popularity).prefetch_related(alive_tags_prefetch())


def _search_text(query: str) -> str:
    text = " ".join(query.split())
    if not text:
        raise ValidationFailed(fields={"q": ["The search query is blank."]})
    if len(text) > SEARCH_QUERY_MAX_LENGTH:
        raise ValidationFailed(
            fields={"q": [f"Ensure this field has no more than {SEARCH_QUERY_MAX_LENGTH} characters."]}
        )
    return text


def aimodel_search_query(text: str) -> SearchQuery:
    """`websearch_to_tsquery` in both configurations the search vector was built with: `simple` for
    names, families and tags, `english` (stemmed) for descriptions."""
    return SearchQuery(text, config="simple", search_type="websearch") | SearchQuery(
        text, config="english", search_type="websearch"
    )


def aimodel_search_published(
    *,
    query: str,
    filters: Mapping[str, Any] | None = None,
    ordering: str = RELEVANCE,
    popularity: Expression | None = None,
) -> AIModelSearch:
    """Published, alive models matching `query`, best first.

    Full-text search over the weighted vector (name > family and tags > description) with a
    highlighted description snippet; when that finds nothing, names similar to the query
    (trigram word similarity) so typos still find models.
    """
    text = _search_text(query)
    base = _filtered(AIModel.objects.published(), filters)
    tsquery = aimodel_search_query(text)
    fulltext = base.filter(search_vector=tsquery)
    queryset: QuerySet[AIModel]  # annotated with `rank` and `search_headline`
    if fulltext.exists():
        queryset = fulltext.annotate(
            rank=SearchRank(F("search_vector"), tsquery),
            search_headline=SearchHeadline(
                "description",
                tsquery,
                config="english",
                start_sel=HIGHLIGHT_START,
                stop_sel=HIGHLIGHT_STOP,
                max_words=30,
                min_words=12,
                max_fragments=2,
                fragment_delimiter=" … ",
            ),
        )
        match = SearchMatch.FULLTEXT
    else:
        needle = text.lower()
        # `lower(name) %> needle` and the same on the name with its letters apart from its digits are
        # what the two trigram GIN indexes answer: "lama" is close to the word "llama" of "llama 3.2:3b"
        # but not to "llama3"; "lama3" is close to "llama3" but not to "llama 3". They are ranked by
        # how close the needle is to whole words, so "llama3.2:3b" comes before "tinyllama:latest".
        queryset = (
            base.alias(lower_name=Lower("name"), name_apart=NAME_LETTERS_APART)
            .filter(Q(lower_name__trigram_word_similar=needle) | Q(name_apart__trigram_word_similar=needle))
            .annotate(
                rank=Greatest(
                    TrigramStrictWordSimilarity(needle, Lower("name")),
                    TrigramStrictWordSimilarity(needle, NAME_LETTERS_APART),
                ),
                search_headline=Value(None, output_field=CharField()),
            )
        )
        match = SearchMatch.SIMILAR
    if ordering == RELEVANCE:
        queryset = queryset.order_by("-rank", "name", "id")
    else:
        queryset = _ordered(queryset, ordering, popularity)
    return AIModelSearch(queryset=queryset.prefetch_related(alive_tags_prefetch()), match=match)


def _as_uuid(value: uuid.UUID | str) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def aimodel_get_published(
    *,
    model_id: uuid.UUID | str | None = None,
    name: str | None = None,
    within: QuerySet[AIModel] | None = None,
) -> AIModel | None:
    """The published, alive model with this id, or with this Ollama name (case-insensitive,
    `:latest` implied), with its alive tags; None when there is none. `within` narrows the search,
    e.g. to `usable_models(user)`."""
    if (model_id is None) == (name is None):
        raise TypeError("Give exactly one of model_id and name.")
    queryset = (within if within is not None else AIModel.objects.published()).prefetch_related(
        alive_tags_prefetch()
    )
    if model_id is not None:
        pk = _as_uuid(model_id)
        return None if pk is None else queryset.filter(pk=pk).first()
    lower_name = normalise_model_name(str(name)).lower()
    return queryset.alias(lower_name=Lower("name")).filter(lower_name=lower_name).first()


def aimodel_get_published_by_ref(*, ref: uuid.UUID | str, within: QuerySet[AIModel] | None = None) -> AIModel:
    """A published, alive model by id or by name (what Explore's detail URL holds); NotFound otherwise.
    `within` narrows the search, e.g. to `usable_models(user)`."""
    if _as_uuid(ref) is not None:
        model = aimodel_get_published(model_id=ref, within=within)
    else:
        model = aimodel_get_published(name=str(ref), within=within)
    if model is None:
        raise NotFound("No published model has this id or name.")
    return model


def aimodel_list(
    *,
    filters: Mapping[str, Any] | None = None,
    ordering: str = "name",
    deleted: bool = False,
    popularity: Expression | None = None,
) -> QuerySet[AIModel]:
    """Every alive model, published or not (or the soft-deleted ones with `deleted=True`)."""
    queryset = AIModel.all_objects.dead() if deleted else AIModel.objects.all()
    return _ordered(_filtered(queryset, filters), ordering, popularity).prefetch_related(
        alive_tags_prefetch()
    )


def aimodel_get(*, model_id: uuid.UUID | str, include_deleted: bool = False) -> AIModel:
    """A model by id, published or not (deleted too with `include_deleted`); NotFound otherwise."""
    manager = AIModel.all_objects if include_deleted else AIModel.objects
    model = manager.prefetch_related(alive_tags_prefetch()).filter(pk=_as_uuid(model_id)).first()
    if model is None:
        raise NotFound("No model has this id.")
    return model


def aimodel_by_names(*, names: Iterable[str]) -> dict[str, AIModel]:
    """Alive models (published or not) with these Ollama names, keyed by lower-cased normalised name;
    one query, tags not loaded. Names missing from the catalogue are simply absent."""
    wanted = {normalise_model_name(name).lower() for name in names}
    if not wanted:
        return {}
    models = AIModel.objects.alias(lower_name=Lower("name")).filter(lower_name__in=wanted)
    return {model.name.lower(): model for model in models}


def tag_list(*, deleted: bool = False) -> QuerySet[Tag]:
    """Alive tags by name (or the soft-deleted ones with `deleted=True`)."""
    queryset = Tag.all_objects.dead() if deleted else Tag.objects.all()
    return queryset.order_by("name", "id")


def tag_get(*, tag_id: uuid.UUID | str, include_deleted: bool = False) -> Tag:
    """A tag by id (deleted too with `include_deleted`); NotFound otherwise."""
    manager = Tag.all_objects if include_deleted else Tag.objects
    tag = manager.filter(pk=_as_uuid(tag_id)).first()
    if tag is None:
        raise NotFound("No tag has this id.")
    return tag


def tag_get_by_slug(*, slug: str) -> Tag:
    """An alive tag by slug; NotFound otherwise."""
    tag = Tag.objects.filter(slug=slug).first()
    if tag is None:
        raise NotFound("No tag has this slug.")
    return tag


def tag_list_with_model_counts() -> QuerySet[Tag]:
    """Alive tags by name, each annotated with `model_count`: its published, alive models."""
    counts = (
        ModelTag.objects.filter(tag=OuterRef("pk"), model__is_active=True, model__deleted_at__isnull=True)
        .order_by()
        .values("tag")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return Tag.objects.annotate(
        model_count=Coalesce(Subquery(counts, output_field=IntegerField()), 0)
    ).order_by("name", "id")


# --- who may use which model ----------------------------------------------------------------------------


def usable_model_condition(*, user_id: Any) -> Q:
    """The filter on AIModel rows that keeps the models the user may use (see `usable_models`).

    Built from subqueries only, so it adds no query of its own to the one it filters: whether the
    user holds no role or an unrestricted one is decided once per statement (an uncorrelated
    subquery), and a grant per row by an index lookup on the user's few access entries.
    """
    if user_id is None:
        return Q()
    roles = account_selectors.user_roles(user_id=user_id)
    has_entries = Exists(RoleModelAccess.objects.filter(role_id=OuterRef("pk")))
    grants = RoleModelAccess.objects.filter(role_id__in=roles.values("pk"))
    granted_tags = ModelTag.objects.filter(
        model_id=OuterRef("pk"),
        tag__deleted_at__isnull=True,
        tag_id__in=grants.filter(tag__isnull=False).values("tag_id"),
    )
    return (
        ~Exists(roles)
        | Exists(roles.filter(~has_entries))
        | Exists(grants.filter(model_id=OuterRef("pk")))
        | Exists(granted_tags)
    )


def usable_models(user: Any = None, *, user_id: Any = None) -> QuerySet[AIModel]:
    """The published, alive models `user` (or the user with id `user_id`) may use: the one check of
    model access, which the model lists of signed-in users, chat and the Ollama/OpenAI-compatible APIs
    all go through. An anonymous user (no id) may use every published model.

    The rule: a role without access entries (`RoleModelAccess`) is unrestricted; a role with entries
    allows the models they name and the models carrying a tag they name (alive tags only). A user
    may use a model when any of their roles allows it, so a user holding no role, or at least one
    unrestricted role, may use every published model. Explore, which is public, does not use this:
    it shows every published model.

    Unevaluated and unordered; tags are not loaded (add `alive_tags_prefetch()` when they are shown).
    """
    if user_id is None:
        user_id = getattr(user, "pk", None)
    return AIModel.objects.published().filter(usable_model_condition(user_id=user_id))


def usable_model_list(
    *, user: Any, filters: Mapping[str, Any] | None = None, ordering: str = "name"
) -> QuerySet[AIModel]:
    """`usable_models(user)` matching `filters` (see AIModelFilter), ordered, with their alive tags."""
    queryset = _ordered(_filtered(usable_models(user), filters), ordering, None)
    return queryset.prefetch_related(alive_tags_prefetch())


def role_model_access_get(*, role_id: Any) -> tuple[list[AIModel], list[Tag]]:
    """The models and the tags a role's access entries name (by name; deleted ones too, so staff see
    every entry that exists), in one query. Both empty: the role is unrestricted."""
    entries = (
        RoleModelAccess.objects.filter(role_id=role_id)
        .select_related("model", "tag")
        .order_by("model__name", "tag__name", "id")
    )
    models, tags = [], []
    for entry in entries:
        if entry.model is not None:
            models.append(entry.model)
        elif entry.tag is not None:
            tags.append(entry.tag)
    return models, tags
