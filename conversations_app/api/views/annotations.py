"""Feedback and note views on an answer."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations_app import services
from conversations_app.api.serializers import (
    FeedbackCreateSerializer,
    FeedbackSerializer,
    FeedbackUpdateSerializer,
    NoteCreateSerializer,
    NoteSerializer,
    NoteUpdateSerializer,
)
from conversations_app.api.views.base import OwnedResourceViewSet, SpanPagination
from conversations_app.selectors import feedback_get, note_list, response_get_owned
from core.api import IF_MATCH, NO_CONTENT, ReplicaReadsMixin, validated
from core.services import parse_if_match


class FeedbackView(ReplicaReadsMixin, APIView):
    """The caller's feedback on one of their answers: a single resource per (answer, user)."""

    def _feedback(self, response_id):
        return feedback_get(user=self.request.user, response_id=response_id)

    @staticmethod
    def _respond(feedback, status_code: int = status.HTTP_200_OK) -> Response:
        response = Response(FeedbackSerializer(feedback).data, status=status_code)
        response["ETag"] = feedback.etag
        return response

    @extend_schema(summary="Your feedback on an answer", responses=FeedbackSerializer)
    def get(self, request, response_id) -> Response:
        return self._respond(self._feedback(response_id))

    @extend_schema(
        summary="Rate an answer (409 when you already did)",
        request=FeedbackCreateSerializer,
        responses={201: FeedbackSerializer},
    )
    def post(self, request, response_id) -> Response:
        answer = response_get_owned(owner=request.user, response_id=response_id)
        feedback = services.feedback_create(
            user=request.user, response=answer, **validated(FeedbackCreateSerializer, request.data)
        )
        return self._respond(feedback, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change your feedback",
        parameters=[IF_MATCH],
        request=FeedbackUpdateSerializer,
        responses=FeedbackSerializer,
    )
    def patch(self, request, response_id) -> Response:
        feedback = services.feedback_update(
            feedback=self._feedback(response_id),
            expected_version=parse_if_match(request.headers.get("If-Match")),
            **validated(FeedbackUpdateSerializer, request.data),
        )
        return self._respond(feedback)

    @extend_schema(summary="Withdraw your feedback", parameters=[IF_MATCH], responses=NO_CONTENT)
    def delete(self, request, response_id) -> Response:
        services.feedback_delete(
            feedback=self._feedback(response_id),
            expected_version=parse_if_match(request.headers.get("If-Match")),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="Your notes on an answer, in text order"),
    retrieve=extend_schema(summary="A note"),
    create=extend_schema(summary="Annotate a span of an answer", responses={201: NoteSerializer}),
    partial_update=extend_schema(summary="Change a note", parameters=[IF_MATCH], responses=NoteSerializer),
    destroy=extend_schema(summary="Delete a note", parameters=[IF_MATCH], responses=NO_CONTENT),
)
class NoteViewSet(OwnedResourceViewSet):
    """Your notes on one of your answers, each on a span [from_index, to_index) of its text (code points).
    Updates honour `If-Match`; responses carry an `ETag`."""

    serializer_class = NoteSerializer
    input_serializer_classes = {"create": NoteCreateSerializer, "partial_update": NoteUpdateSerializer}
    pagination_class = SpanPagination

    def owned_queryset(self) -> QuerySet:
        return note_list(owner=self.request.user, response_id=self.kwargs["response_id"])

    def _answer(self):
        return response_get_owned(owner=self.request.user, response_id=self.kwargs["response_id"])

    def list(self, request, *args, **kwargs) -> Response:
        self._answer()  # another user's answer is a 404, not an empty list
        return super().list(request, *args, **kwargs)

    def create(self, request, response_id=None) -> Response:
        note = services.note_create(owner=request.user, response=self._answer(), **self.validated_input())
        return self.respond(note, status_code=status.HTTP_201_CREATED)

    def partial_update(self, request, response_id=None, pk=None) -> Response:
        note = services.note_update(
            note=self.get_object(), expected_version=self.expected_version, **self.validated_input()
        )
        return self.respond(note)

    def destroy(self, request, response_id=None, pk=None) -> Response:
        services.note_delete(note=self.get_object(), expected_version=self.expected_version)
        return Response(status=status.HTTP_204_NO_CONTENT)
