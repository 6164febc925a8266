"""Staff API, platform: catalogue models and tags, system messages, inference (Ollama's models and
pulls), usage statistics and database reports. Admin role only (superusers count).

Each action validates, calls one service (or selector), serializes. Writes on the catalogue go through
models_app's services; every changed row records itself in the audit trail.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from admin_app import selectors
from admin_app import services as admin_services
from admin_app.api.accounts_views import AdminViewSet
from admin_app.api.platform_filters import AdminAIModelFilter
from admin_app.api.platform_serializers import (
    AdminModelListSerializer,
    AdminModelSerializer,
    AdminTagSerializer,
    AIModelCreateSerializer,
    AIModelFromOllamaSerializer,
    AIModelListQuerySerializer,
    AIModelUpdateSerializer,
    DatabaseConnectionsSerializer,
    DatabaseHealthSerializer,
    DatabaseMigrationsSerializer,
    DatabaseTableSerializer,
    DateRangeQuerySerializer,
    InstalledModelNameSerializer,
    InstalledModelSerializer,
    ModelFeedbackMeasuresSerializer,
    ModelFeedbackReportSerializer,
    ModelFeedbackRowSerializer,
    ModelPullSerializer,
    PlatformUsageReportSerializer,
    PlatformUsageRowSerializer,
    PlatformUsageTotalsSerializer,
    PullCreateSerializer,
    SlowStatementsQuerySerializer,
    SlowStatementsSerializer,
    SystemMessageCreateSerializer,
    SystemMessageSerializer,
    SystemMessageUpdateSerializer,
    TagCreateSerializer,
    TagIdsSerializer,
    TagsAddedSerializer,
    TagsRemovedSerializer,
    TagUpdateSerializer,
    TrashQuerySerializer,
    UsageQuerySerializer,
)
from admin_app.models import ModelPull, SystemMessage
from conversations_app import selectors as conversation_selectors
from core.api import EVENT_STREAM, IF_MATCH, NO_CONTENT, AsyncAPIView, validated
from core.db import db_step
from core.pagination import PageNumberPagination
from core.permissions import IsAdminRole
from core.sse import EventNumbering, with_keepalive
from models_app import selectors as catalogue_selectors
from models_app import services as catalogue_services
from models_app.models import AIModel, Tag

WRITABLE = ["get", "post", "patch", "delete", "head", "options"]


TRASH_PARAMETERS = [TrashQuerySerializer]
UNREACHABLE = OpenApiResponse(description="Ollama is unreachable.")


# --- models --------------------------------------------------------------------------------------------


def _model_action(summary: str, request: Any = None, responses: Any = AdminModelSerializer) -> Any:
    return extend_schema(summary=summary, parameters=[IF_MATCH], request=request, responses=responses)


@extend_schema_view(
    list=extend_schema(
        summary="List catalogue models (alive unless `deleted=true`), published or not, with filters",
        parameters=[AIModelListQuerySerializer],
        responses=AdminModelListSerializer(many=True),
    ),
    retrieve=extend_schema(summary="A catalogue model (deleted ones too)"),
    create=extend_schema(summary="Add a model to the catalogue", responses={201: AdminModelSerializer}),
    partial_update=_model_action("Change a model's attributes"),
    destroy=extend_schema(
        summary="Delete a model (to the trash)", parameters=[IF_MATCH], responses=NO_CONTENT
    ),
    restore=_model_action("Restore a deleted model (409 when its name is taken)"),
    publish=_model_action("Publish a model (Explore shows it, users may chat with it)"),
    unpublish=_model_action("Unpublish a model"),
    add_tags=_model_action("Add tags to a model", TagIdsSerializer, TagsAddedSerializer),
    remove_tags=_model_action("Remove tags from a model", TagIdsSerializer, TagsRemovedSerializer),
    from_ollama=extend_schema(
        summary="Add a model Ollama has installed, described by Ollama (`/api/show`)",
        responses={
            201: AdminModelSerializer,
            409: OpenApiResponse(description="Ollama does not have this model."),
            503: UNREACHABLE,
        },
    ),
)
class AIModelAdminViewSet(AdminViewSet):
    serializer_class = AdminModelSerializer
    input_serializer_classes = {
        "create": AIModelCreateSerializer,
        "partial_update": AIModelUpdateSerializer,
        "from_ollama": AIModelFromOllamaSerializer,
        "add_tags": TagIdsSerializer,
        "remove_tags": TagIdsSerializer,
    }
    filterset_class = AdminAIModelFilter
    http_method_names = WRITABLE

    def owned_queryset(self) -> QuerySet[AIModel]:
        params = validated(AIModelListQuerySerializer, self.request.query_params)
        return catalogue_selectors.aimodel_list(
            ordering=params["ordering"],
            deleted=params["deleted"],
            popularity=conversation_selectors.conversation_count_per_model(),
        )

    def get_object(self) -> AIModel:
        return catalogue_selectors.aimodel_get(model_id=self.kwargs["pk"], include_deleted=True)

    def _respond_with(self, model: AIModel, status_code: int = status.HTTP_200_OK) -> Response:
        reloaded = catalogue_selectors.aimodel_get(model_id=model.pk, include_deleted=True)
        return self.respond(reloaded, status_code=status_code)

    def list(self, request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(AdminModelListSerializer(page, many=True).data)

    def create(self, request, *args, **kwargs) -> Response:
        data = self.validated_input()
        model = catalogue_services.aimodel_create(owner=request.user, **data)
        return self._respond_with(model, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs) -> Response:
        model = catalogue_services.aimodel_update(
            model=self.get_object(), expected_version=self.expected_version, **self.validated_input()
        )
        return self._respond_with(model)

    def destroy(self, request, *args, **kwargs) -> Response:
        catalogue_services.aimodel_soft_delete(
            model=self.get_object(), expected_version=self.expected_version
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None) -> Response:
        model = catalogue_services.aimodel_restore(
            model=self.get_object(), expected_version=self.expected_version
        )
        return self._respond_with(model)

    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None) -> Response:
        model = catalogue_services.aimodel_publish(
            model=self.get_object(), expected_version=self.expected_version
        )
        return self._respond_with(model)

    @action(detail=True, methods=["post"])
    def unpublish(self, request, pk=None) -> Response:
        model = catalogue_services.aimodel_unpublish(
            model=self.get_object(), expected_version=self.expected_version
        )
        return self._respond_with(model)

    @action(detail=True, methods=["post"], url_path="add-tags")
    def add_tags(self, request, pk=None) -> Response:
        model = self.get_object()
        outcome = catalogue_services.aimodel_tags_add(
            model=model, tag_ids=self.validated_input()["tag_ids"], expected_version=self.expected_version
        )
        report = {
            "added": outcome.added,
            "already_present": outcome.already_present,
            "not_found": outcome.not_found,
            "model": catalogue_selectors.aimodel_get(model_id=model.pk),
        }
        response = Response(TagsAddedSerializer(report).data)
        response["ETag"] = report["model"].etag
        return response

    @action(detail=True, methods=["post"], url_path="remove-tags")
    def remove_tags(self, request, pk=None) -> Response:
        model = self.get_object()
        outcome = catalogue_services.aimodel_tags_remove(
            model=model, tag_ids=self.validated_input()["tag_ids"], expected_version=self.expected_version
        )
        report = {
            "removed": outcome.removed,
            "not_present": outcome.not_present,
            "not_found": outcome.not_found,
            "model": catalogue_selectors.aimodel_get(model_id=model.pk),
        }
        response = Response(TagsRemovedSerializer(report).data)
        response["ETag"] = report["model"].etag
        return response

    @action(detail=False, methods=["post"], url_path="from-ollama")
    def from_ollama(self, request) -> Response:
        model = admin_services.aimodel_create_from_ollama(owner=request.user, **self.validated_input())
        return self._respond_with(model, status.HTTP_201_CREATED)


# --- tags ----------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List tags (alive unless `deleted=true`)", parameters=TRASH_PARAMETERS),
    retrieve=extend_schema(summary="A tag (deleted ones too)"),
    create=extend_schema(summary="Create a tag", responses={201: AdminTagSerializer}),
    partial_update=extend_schema(summary="Change a tag", parameters=[IF_MATCH], responses=AdminTagSerializer),
    destroy=extend_schema(summary="Delete a tag (to the trash)", parameters=[IF_MATCH], responses=NO_CONTENT),
    restore=extend_schema(
        summary="Restore a deleted tag (409 when its name or slug is taken)",
        parameters=[IF_MATCH],
        request=None,
        responses=AdminTagSerializer,
    ),
)
class TagAdminViewSet(AdminViewSet):
    serializer_class = AdminTagSerializer
    input_serializer_classes = {"create": TagCreateSerializer, "partial_update": TagUpdateSerializer}
    http_method_names = WRITABLE

    def owned_queryset(self) -> QuerySet[Tag]:
        return catalogue_selectors.tag_list(
            deleted=validated(TrashQuerySerializer, self.request.query_params)["deleted"]
        )

    def get_object(self) -> Tag:
        return catalogue_selectors.tag_get(tag_id=self.kwargs["pk"], include_deleted=True)

    def create(self, request, *args, **kwargs) -> Response:
        tag = catalogue_services.tag_create(**self.validated_input())
        return self.respond(tag, status_code=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs) -> Response:
        tag = catalogue_services.tag_update(
            tag=self.get_object(), expected_version=self.expected_version, **self.validated_input()
        )
        return self.respond(tag)

    def destroy(self, request, *args, **kwargs) -> Response:
        catalogue_services.tag_soft_delete(tag=self.get_object(), expected_version=self.expected_version)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None) -> Response:
        tag = catalogue_services.tag_restore(tag=self.get_object(), expected_version=self.expected_version)
        return self.respond(tag)


# --- system messages -----------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List system messages (alive unless `deleted=true`), active or not",
        parameters=TRASH_PARAMETERS,
    ),
    retrieve=extend_schema(summary="A system message (deleted ones too)"),
    create=extend_schema(summary="Create a system message", responses={201: SystemMessageSerializer}),
    partial_update=extend_schema(
        summary="Change a system message", parameters=[IF_MATCH], responses=SystemMessageSerializer
    ),
    destroy=extend_schema(
        summary="Delete a system message (to the trash)", parameters=[IF_MATCH], responses=NO_CONTENT
    ),
    restore=extend_schema(
        summary="Restore a deleted system message (409 when its name is taken)",
        parameters=[IF_MATCH],
        request=None,
        responses=SystemMessageSerializer,
    ),
)
class SystemMessageAdminViewSet(AdminViewSet):
    serializer_class = SystemMessageSerializer
    input_serializer_classes = {
        "create": SystemMessageCreateSerializer,
        "partial_update": SystemMessageUpdateSerializer,
    }
    http_method_names = WRITABLE

    def owned_queryset(self) -> QuerySet[SystemMessage]:
        return selectors.system_message_list(
            deleted=validated(TrashQuerySerializer, self.request.query_params)["deleted"]
        )

    def get_object(self) -> SystemMessage:
        return selectors.system_message_get(system_message_id=self.kwargs["pk"])

    def create(self, request, *args, **kwargs) -> Response:
        message = admin_services.system_message_create(**self.validated_input())
        return self.respond(message, status_code=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs) -> Response:
        message = admin_services.system_message_update(
            message=self.get_object(), expected_version=self.expected_version, **self.validated_input()
        )
        return self.respond(message)

    def destroy(self, request, *args, **kwargs) -> Response:
        admin_services.system_message_soft_delete(
            message=self.get_object(), expected_version=self.expected_version
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None) -> Response:
        message = admin_services.system_message_restore(
            message=self.get_object(), expected_version=self.expected_version
        )
        return self.respond(message)


# --- inference -----------------------------------------------------------------------------------------


class AdminReportView(GenericAPIView):
    """Base of the staff reports that are not rows of a table: Admin role, page numbers with totals."""

    permission_classes = [IsAdminRole]
    pagination_class = PageNumberPagination
    filter_backends: list = []

    def paginated(self, rows: Any, serializer_class: type[serializers.Serializer], **header: Any) -> Response:
        """A page of `rows` in the pagination envelope, after the `header` keys."""
        response = self.get_paginated_response(serializer_class(self.paginate_queryset(rows), many=True).data)
        response.data = {**header, **response.data}
        return response


class InstalledModelListView(AdminReportView):
    @extend_schema(
        summary="Models installed in Ollama, each with its catalogue entry (if any)",
        responses={200: InstalledModelSerializer(many=True), 503: UNREACHABLE},
    )
    def get(self, request: Request) -> Response:
        return self.paginated(selectors.ollama_model_list(), InstalledModelSerializer)


class InstalledModelView(AdminReportView):
    @extend_schema(
        summary="Delete a model from Ollama (the catalogue entry stays, marked not installed)",
        parameters=[
            OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH, description="e.g. llama3:8b")
        ],
        responses={
            204: OpenApiResponse(description="Deleted from Ollama."),
            400: OpenApiResponse(description="Not an Ollama model name."),
            404: OpenApiResponse(description="Ollama has no such model."),
            409: OpenApiResponse(description="A pull of this model is under way."),
            503: UNREACHABLE,
        },
    )
    def delete(self, request: Request, name: str) -> Response:
        name = validated(InstalledModelNameSerializer, {"name": name})["name"]
        admin_services.ollama_model_delete(model_name=name)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="Model pulls, newest first"),
    retrieve=extend_schema(summary="A model pull and its progress (poll it, or follow `events_url`)"),
    create=extend_schema(
        summary="Pull a model into Ollama, in the background",
        description="202 with a new pull (queued); 200 with the pull already under way for this model, or "
        "with a finished one when Ollama has the model already. Progress: poll the pull or read its "
        "events (Server-Sent Events).",
        responses={202: ModelPullSerializer, 200: ModelPullSerializer, 503: UNREACHABLE},
    ),
)
class ModelPullViewSet(AdminViewSet):
    serializer_class = ModelPullSerializer
    input_serializer_classes = {"create": PullCreateSerializer}
    http_method_names = ["get", "post", "head", "options"]

    def owned_queryset(self) -> QuerySet[ModelPull]:
        return selectors.model_pull_list()

    def get_object(self) -> ModelPull:
        return selectors.model_pull_get(pull_id=self.kwargs["pk"])

    def create(self, request, *args, **kwargs) -> Response:
        outcome = admin_services.model_pull_request(
            model_name=self.validated_input()["model"], requested_by=request.user
        )
        response = self.respond(
            selectors.model_pull_get(pull_id=outcome.pull.pk),
            status_code=status.HTTP_202_ACCEPTED if outcome.started else status.HTTP_200_OK,
        )
        response["Location"] = reverse("admin-model-pull-detail", args=[outcome.pull.pk])
        return response


PULL_EVENTS_DESCRIPTION = """
`text/event-stream`, one event per change of the pull (its row is read every
INFERENCE_PULL_EVENTS_POLL_INTERVAL seconds):

- `event: progress` — the pull (`status`, `percent`, `completed_bytes`, `total_bytes`, `detail`, …),
  first as it is, then whenever it changes.
- `event: done` — the pull once it has ended (`success` or `failed` with `error`). Last event.
- `event: timeout` — `{"message", "pull"}` when the stream has lasted INFERENCE_PULL_EVENTS_MAX_SECONDS;
  reconnect to follow on. Last event.

Each event has an `id:`; a comment line is sent every 15 seconds without change, so proxies keep the
connection open. No database connection is held between two polls.
"""


class PullEventStream:
    """The events of one pull, read from its row until it ends or the stream has lasted long enough."""

    def __init__(self, pull_id: Any) -> None:
        self.pull_id = pull_id
        self.poll_interval = settings.INFERENCE_PULL_EVENTS_POLL_INTERVAL
        self.max_seconds = settings.INFERENCE_PULL_EVENTS_MAX_SECONDS

    def _read(self) -> dict[str, Any]:
        return dict(ModelPullSerializer(selectors.model_pull_get(pull_id=self.pull_id)).data)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return with_keepalive(self._events())

    async def _events(self) -> AsyncIterator[bytes]:
        event = EventNumbering()
        started = time.monotonic()
        previous: dict[str, Any] | None = None
        while True:
            pull = await db_step(self._read)
            if pull["status"] in (ModelPull.Status.SUCCESS, ModelPull.Status.FAILED):
                yield event("done", pull)
                return
            if pull != previous:
                yield event("progress", pull)
                previous = pull
            if time.monotonic() - started >= self.max_seconds:
                message = "The stream has reached its time limit; reconnect to follow the pull."
                yield event("timeout", {"message": message, "pull": pull})
                return
            await asyncio.sleep(self.poll_interval)


class ModelPullEventsView(AsyncAPIView):
    permission_classes = [IsAdminRole]

    @extend_schema(
        operation_id="admin_inference_pulls_events",
        summary="Progress of a model pull as Server-Sent Events",
        description=PULL_EVENTS_DESCRIPTION,
        responses={
            (200, EVENT_STREAM): OpenApiResponse(
                response=OpenApiTypes.STR, description=PULL_EVENTS_DESCRIPTION
            ),
            404: OpenApiResponse(description="No such pull."),
        },
    )
    async def get(self, request: Request, pull_id) -> StreamingHttpResponse:
        await db_step(selectors.model_pull_get, pull_id=pull_id)
        response = StreamingHttpResponse(PullEventStream(pull_id), content_type=EVENT_STREAM)
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response


# --- usage statistics ----------------------------------------------------------------------------------


class UsageView(AdminReportView):
    @extend_schema(
        summary="Answers, tokens and generation speed per day, by model or by user",
        parameters=[UsageQuerySerializer],
        responses=PlatformUsageReportSerializer,
    )
    def get(self, request: Request) -> Response:
        params = validated(UsageQuerySerializer, request.query_params)
        start, end, group_by = params["from"], params["to"], params["group_by"]
        totals = conversation_selectors.platform_usage_totals(start=start, end=end)
        return self.paginated(
            conversation_selectors.platform_usage_by_day(start=start, end=end, group_by=group_by),
            PlatformUsageRowSerializer,
            **{
                "from": start,
                "to": end,
                "group_by": group_by,
                "totals": PlatformUsageTotalsSerializer(totals).data,
            },
        )


class FeedbackUsageView(AdminReportView):
    @extend_schema(
        summary="Feedback per model: thumbs up and down, and their ratio",
        parameters=[DateRangeQuerySerializer],
        responses=ModelFeedbackReportSerializer,
    )
    def get(self, request: Request) -> Response:
        params = validated(DateRangeQuerySerializer, request.query_params)
        start, end = params["from"], params["to"]
        totals = conversation_selectors.platform_feedback_totals(start=start, end=end)
        return self.paginated(
            conversation_selectors.platform_feedback_by_model(start=start, end=end),
            ModelFeedbackRowSerializer,
            **{"from": start, "to": end, "totals": ModelFeedbackMeasuresSerializer(totals).data},
        )


# --- database ------------------------------------------------------------------------------------------


class DatabaseHealthView(AdminReportView):
    @extend_schema(summary="PostgreSQL: version, uptime, database size", responses=DatabaseHealthSerializer)
    def get(self, request: Request) -> Response:
        return Response(DatabaseHealthSerializer(selectors.database_health()).data)


class DatabaseTablesView(AdminReportView):
    @extend_schema(
        summary="Tables by total size, with row estimates and dead tuples",
        responses=DatabaseTableSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        return self.paginated(selectors.database_tables(), DatabaseTableSerializer)


class DatabaseConnectionsView(AdminReportView):
    @extend_schema(
        summary="Connections to this database by state, and the connection pool's statistics",
        responses=DatabaseConnectionsSerializer,
    )
    def get(self, request: Request) -> Response:
        return Response(DatabaseConnectionsSerializer(selectors.database_connections()).data)


class DatabaseSlowStatementsView(AdminReportView):
    @extend_schema(
        summary="Slowest statements (pg_stat_statements), or why they cannot be shown",
        parameters=[SlowStatementsQuerySerializer],
        responses=SlowStatementsSerializer,
    )
    def get(self, request: Request) -> Response:
        params = validated(SlowStatementsQuerySerializer, request.query_params)
        report = selectors.database_slow_statements(order_by=params["order_by"], limit=params["limit"])
        return Response(SlowStatementsSerializer(report).data)


class DatabaseMigrationsView(AdminReportView):
    @extend_schema(
        summary="Migrations applied and not applied yet, per app", responses=DatabaseMigrationsSerializer
    )
    def get(self, request: Request) -> Response:
        apps = selectors.database_migrations()
        report = {
            "applied_count": sum(len(app["applied"]) for app in apps),
            "unapplied_count": sum(len(app["unapplied"]) for app in apps),
            "apps": apps,
        }
        return Response(DatabaseMigrationsSerializer(report).data)
