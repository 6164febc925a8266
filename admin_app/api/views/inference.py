"""Staff views of inference: the Ollama servers, the models installed on them, the catalogue following
them, model pulls and a pull's event stream."""

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
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from admin_app import selectors
from admin_app import services as admin_services
from admin_app.api.serializers import (
    CatalogueSyncSerializer,
    InferenceServerSerializer,
    InstalledModelDeleteQuerySerializer,
    InstalledModelNameSerializer,
    InstalledModelSerializer,
    ModelPullSerializer,
    PullCreateSerializer,
)
from admin_app.api.views.base import UNREACHABLE, AdminReportView, AdminViewSet
from admin_app.models import ModelPull
from core.api import EVENT_STREAM, AsyncAPIView, validated
from core.db import db_step
from core.permissions import IsAdminRole
from core.sse import EventNumbering, with_keepalive


class InferenceServerListView(AdminReportView):
    @extend_schema(
        summary="The Ollama servers of the pool: health, latency, version, models, requests in flight",
        description="In the order of `OLLAMA_URLS` (or the one `OLLAMA_URL`). Servers due for a check "
        "(healthy ones every OLLAMA_POOL_REFRESH_SECONDS, failing ones after their backoff) are checked "
        "first. Requests in flight are counted across every worker.",
        responses={200: InferenceServerSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        return self.paginated(selectors.inference_server_list(), InferenceServerSerializer)


class InferenceSyncView(AdminReportView):
    @extend_schema(
        summary="Check every Ollama server now and make the catalogue's install status follow them",
        description="A catalogue model that some server holds becomes installed (pulled outside "
        "OllamaNet included), an installed one no server holds becomes not installed; models being "
        "pulled are left to their pull. When no server can be read, nothing changes (`synced: false`). "
        "A periodic task does the same every few seconds.",
        request=None,
        responses={200: CatalogueSyncSerializer},
    )
    def post(self, request: Request) -> Response:
        outcome = admin_services.catalogue_sync(force=True, record=True)
        data = {
            "synced": outcome.synced,
            "installed": outcome.installed,
            "not_installed": outcome.not_installed,
            "servers": selectors.inference_server_list(),
        }
        return Response(CatalogueSyncSerializer(data).data)


class InstalledModelListView(AdminReportView):
    @extend_schema(
        summary="Models installed on the Ollama servers, each with the servers that have it and its "
        "catalogue entry (if any)",
        responses={200: InstalledModelSerializer(many=True), 503: UNREACHABLE},
    )
    def get(self, request: Request) -> Response:
        return self.paginated(selectors.ollama_model_list(), InstalledModelSerializer)


class InstalledModelView(AdminReportView):
    @extend_schema(
        summary="Delete a model from the Ollama servers (the catalogue entry stays, marked not "
        "installed once no server has it)",
        parameters=[
            OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH, description="e.g. llama3:8b"),
            InstalledModelDeleteQuerySerializer,
        ],
        responses={
            204: OpenApiResponse(description="Deleted from Ollama."),
            400: OpenApiResponse(description="Not an Ollama model name, or not a server of the pool."),
            404: OpenApiResponse(description="No server targeted has the model."),
            409: OpenApiResponse(description="A pull of this model is under way."),
            503: UNREACHABLE,
        },
    )
    def delete(self, request: Request, name: str) -> Response:
        name = validated(InstalledModelNameSerializer, {"name": name})["name"]
        server = validated(InstalledModelDeleteQuerySerializer, request.query_params).get("server")
        admin_services.ollama_model_delete(model_name=name, server=server)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="Model pulls, newest first"),
    retrieve=extend_schema(summary="A model pull and its progress (poll it, or follow `events_url`)"),
    create=extend_schema(
        summary="Pull a model into Ollama, in the background",
        description="Onto `server`, or every server that answers and lacks the model (one after the "
        "other; `servers` in the answer). 202 with a new pull (queued); 200 with the pull already under "
        "way for this model, or with a finished one when the servers have the model already. Progress: "
        "poll the pull or read its events (Server-Sent Events).",
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
        data = self.validated_input()
        outcome = admin_services.model_pull_request(
            model_name=data["model"], requested_by=request.user, server=data.get("server")
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
