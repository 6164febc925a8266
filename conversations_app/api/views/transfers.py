"""Imports, the account export and the account's deletion.

POST /api/v1/conversations/import/                 multipart `file` → 201 (imported) or 202 (queued)
GET  /api/v1/conversations/imports/{id}/           the import job: progress, outcome per conversation
POST /api/v1/auth/me/export/                       → 202, the export job (Location to poll)
GET  /api/v1/auth/me/export/{id}/                  the export job, with `download_url` when done
GET  /api/v1/auth/me/export/{id}/download/?signature=…   the ZIP (signed, expiring link)
DELETE /api/v1/auth/me/                            {"password"} → 204, the account and its content deleted
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from auth_app.api.views import MeView
from auth_app.authentication import AuthenticatedRequest
from conversations_app import services
from conversations_app.api.serializers.transfers import (
    AccountDeleteSerializer,
    ImportUploadSerializer,
    TransferJobSerializer,
)
from conversations_app.api.uploads import ImportMultiPartParser
from conversations_app.models import TransferJob
from conversations_app.selectors import transfer_job_get
from core.api import NO_CONTENT, error_example, validated
from core.exceptions import NotFound
from core.schema import AutoSchema, ErrorSerializer

LOCATION = {"Location": {"schema": {"type": "string"}, "description": "The job to poll."}}


def _job_response(request: Request, job: TransferJob, *, status_code: int, location: str = "") -> Response:
    data = TransferJobSerializer(job, context={"request": request}).data
    return Response(data, status=status_code, headers={"Location": location} if location else None)


class ConversationImportView(APIView):
    parser_classes = [ImportMultiPartParser]

    @extend_schema(
        tags=["conversations"],
        summary="Import conversations from another application's export",
        description=(
            "Multipart, field `file`: an Open WebUI chat export (JSON array of chats, or one chat), "
            "ChatGPT's `conversations.json`, a LibreChat conversation export (`messages` or "
            "`messagesTree`), or OllamaNet's own export (one conversation's JSON, or the ZIP of "
            "`POST /api/v1/auth/me/export/`); JSON or a ZIP of JSON files, up to IMPORT_MAX_BYTES, the "
            "format told from the content (400 `unknown_import_format` otherwise). Every branch is kept "
            "(regenerated answers and edited prompts become sibling exchanges), with titles, instants, "
            "pinned/archived and the model (an unknown model is kept by name on an unpublished "
            "placeholder). Each conversation is imported on its own: a bad one is skipped and reported "
            "in `results`. Importing the same file again adds only what is new (`unchanged` / "
            "`updated`). Files up to IMPORT_SYNC_MAX_BYTES are imported at once (201); larger ones in "
            "the background (202, `Location` to poll)."
        ),
        request={"multipart/form-data": ImportUploadSerializer},
        responses={
            201: TransferJobSerializer,
            202: OpenApiResponse(TransferJobSerializer, description="Queued; poll `Location`."),
            400: OpenApiResponse(
                ErrorSerializer,
                description="No file, or not an export this server reads.",
                examples=[
                    error_example(
                        400,
                        "unknown_import_format",
                        "The file is not an export this server can import; expected …",
                    )
                ],
            ),
        },
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        upload = validated(ImportUploadSerializer, request.data)["file"]
        job = services.import_job_create(
            owner=request.user, upload=upload, name=upload.name, size=upload.size
        )
        if job.status in (TransferJob.Status.SUCCEEDED, TransferJob.Status.FAILED):
            return _job_response(request, job, status_code=status.HTTP_201_CREATED)
        location = reverse("conversation-import-job", kwargs={"job_id": job.pk})
        return _job_response(request, job, status_code=status.HTTP_202_ACCEPTED, location=location)


class ImportJobView(APIView):
    @extend_schema(
        tags=["conversations"],
        summary="An import's progress and outcome",
        description="`processed` and `counts` move while it runs; when finished, `results` has the "
        "outcome of every conversation of the file.",
        responses=TransferJobSerializer,
    )
    def get(self, request: AuthenticatedRequest, job_id) -> Response:
        job = transfer_job_get(owner=request.user, job_id=job_id, kind=TransferJob.Kind.IMPORT)
        return _job_response(request, job, status_code=status.HTTP_200_OK)


class AccountExportView(APIView):
    @extend_schema(
        tags=["auth"],
        summary="Export everything you own",
        description=(
            "Builds, in the background, a ZIP of everything the account owns: every conversation with "
            "all its branches as OllamaNet's lossless JSON (importable again with "
            "`POST /api/v1/conversations/import/`) and as Markdown, folders, feedback, notes, "
            "attachments' files, usage, and API keys' metadata. Answers 202 with the job; poll its "
            "`Location` until `status` is `succeeded`, then follow `download_url` (signed, valid "
            "until `expires_at`, EXPORT_LINK_MAX_AGE seconds)."
        ),
        request=None,
        responses={202: OpenApiResponse(TransferJobSerializer, description="Queued; poll `Location`.")},
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        job = services.export_job_create(owner=request.user)
        location = reverse("account-export-job", kwargs={"job_id": job.pk})
        return _job_response(request, job, status_code=status.HTTP_202_ACCEPTED, location=location)


class AccountExportJobView(APIView):
    @extend_schema(
        tags=["auth"],
        summary="An account export's progress and download link",
        responses=TransferJobSerializer,
    )
    def get(self, request: AuthenticatedRequest, job_id) -> Response:
        job = transfer_job_get(owner=request.user, job_id=job_id, kind=TransferJob.Kind.EXPORT)
        return _job_response(request, job, status_code=status.HTTP_200_OK)


class AccountExportDownloadView(APIView):
    """The export's archive. The signed `signature` is the credential (a browser can follow the link
    without an access token); wrong, tampered or expired signatures are a 404."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(
        tags=["auth"],
        auth=[],
        summary="Download an account export (signed link)",
        parameters=[
            OpenApiParameter(
                "signature", str, OpenApiParameter.QUERY, required=True, description="From `download_url`."
            )
        ],
        # The body is a ZIP archive (Content-Type application/zip); described as bytes, as every download.
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    def get(self, request: Request, job_id) -> FileResponse:
        signature = request.query_params.get("signature", "")
        if not signature or len(signature) > 1000:
            raise NotFound("This download link is not valid or has expired.")
        job = services.export_for_download(job_id=job_id, token=signature)
        return FileResponse(
            job.file.open("rb"),
            as_attachment=True,
            filename=f"ollamanet-export-{job.created_at:%Y%m%d}.zip",
            content_type="application/zip",
        )


class _BodyOnDeleteSchema(AutoSchema):
    """OpenAPI for a DELETE that takes a body (the password confirming the account's deletion);
    drf-spectacular documents bodies for PUT, PATCH and POST only."""

    def _get_request_body(self, direction: str = "request") -> Any:
        if self.method != "DELETE":
            return super()._get_request_body(direction)
        self.method = "POST"
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"


class AccountView(MeView):
    """The caller's own profile (GET, PATCH) and account (DELETE)."""

    schema = _BodyOnDeleteSchema()

    @extend_schema(
        tags=["auth"],
        summary="Delete your account",
        description=(
            "Needs the current `password` (400 when wrong). Every refresh token (and API key) is revoked "
            "at once and the access token stops working; the account and everything it owns "
            "(conversations, folders, notes, feedback, attachments) leave every list at once and are "
            "purged for good, files included, after ACCOUNT_RETENTION_DAYS. The last administrator "
            "cannot delete their account (409 `last_admin`). Audited."
        ),
        request=AccountDeleteSerializer,
        responses={
            **NO_CONTENT,
            400: OpenApiResponse(ErrorSerializer, description="No password, or not the right one."),
            409: OpenApiResponse(
                ErrorSerializer,
                description="The caller is the last administrator.",
                examples=[error_example(409, "last_admin", "You are the last administrator; …")],
            ),
        },
    )
    def delete(self, request: AuthenticatedRequest) -> Response:
        data = validated(AccountDeleteSerializer, request.data)
        services.account_delete(user=request.user, password=data["password"])
        return Response(status=status.HTTP_204_NO_CONTENT)
