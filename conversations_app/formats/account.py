"""The archive of everything a user owns, built by the export task:

    manifest.json                 format "ollamanet.account", the profile, what the archive holds
    conversations/<id>.json       each conversation's lossless export (every branch; importable again)
    conversations/<id>.md         the same conversation's current branch, for reading
    folders.json, feedback.json, notes.json, usage.json
    attachments/<id>/<name>       the files uploaded to the conversations
    api_keys.json                 the API keys' metadata (never a secret), when the platform has keys

The archive is written to a temporary file, then stored; nothing of it is held in memory whole.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import zipfile
from typing import Any

from django.apps import apps
from django.core.files import File
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from conversations_app.api.export import EXPORT_FORMAT, ConversationExportSerializer, MarkdownExportRenderer
from conversations_app.models import Attachment, Conversation, Feedback, Folder, Note
from conversations_app.selectors import conversation_export, usage_by_model_and_day, usage_totals
from conversations_app.services.exports import export_job_fail, export_job_finish, export_job_start

logger = logging.getLogger(__name__)

ACCOUNT_FORMAT = "ollamanet.account"
ACCOUNT_FORMAT_VERSION = 1
SECRET_FIELD = re.compile(r"hash|secret|digest|token|password", re.IGNORECASE)


def _json(value: Any) -> bytes:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2).encode()


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^\w.\- ]+", "_", name).strip(" .") or "file"
    return cleaned[:120]


def _api_keys(owner_id: Any) -> list[dict[str, Any]] | None:
    """The owner's API keys without anything secret, or None when the platform has no API keys."""
    try:
        model = apps.get_model("auth_app", "ApiKey")
    except LookupError:
        return None
    fields = [
        field.attname
        for field in model._meta.concrete_fields
        if not SECRET_FIELD.search(field.name) and field.name not in ("user", "owner")
    ]
    owner_field = (
        "user_id" if any(f.attname == "user_id" for f in model._meta.concrete_fields) else "owner_id"
    )
    return list(model._base_manager.filter(**{owner_field: owner_id}).values(*fields))


def account_archive_write(owner: Any, archive: zipfile.ZipFile) -> dict[str, int]:
    """Write everything `owner` owns into `archive`; returns how many of each kind it holds."""
    conversation_ids = list(
        Conversation.objects.filter(owner=owner).order_by("created_at", "id").values_list("pk", flat=True)
    )
    renderer = MarkdownExportRenderer()
    for conversation_id in conversation_ids:
        document = ConversationExportSerializer.document(
            conversation_export(owner=owner, conversation_id=conversation_id)
        )
        archive.writestr(f"conversations/{conversation_id}.json", _json(document))
        archive.writestr(f"conversations/{conversation_id}.md", renderer.render(document))
    folders = list(
        Folder.objects.filter(owner=owner)
        .order_by("created_at")
        .values("id", "name", "parent_id", "created_at")
    )
    archive.writestr("folders.json", _json(folders))
    feedback = list(
        Feedback.objects.filter(user=owner, response__deleted_at__isnull=True)
        .order_by("created_at")
        .values("id", "response_id", "rating", "reason", "comment", "created_at", "updated_at")
    )
    archive.writestr("feedback.json", _json(feedback))
    notes = list(
        Note.objects.filter(owner=owner, response__deleted_at__isnull=True)
        .order_by("created_at")
        .values("id", "response_id", "content", "from_index", "to_index", "created_at", "updated_at")
    )
    archive.writestr("notes.json", _json(notes))
    rows = usage_by_model_and_day(owner=owner)
    archive.writestr("usage.json", _json({"totals": usage_totals(rows), "by_model_and_day": rows}))
    attachments = 0
    for attachment in Attachment.objects.filter(conversation__owner=owner, conversation__deleted_at=None):
        try:
            with (
                attachment.file.open("rb") as source,
                archive.open(
                    f"attachments/{attachment.pk}/{_safe_name(attachment.original_name)}", "w"
                ) as target,
            ):
                for chunk in iter(lambda: source.read(1 << 20), b""):
                    target.write(chunk)
            attachments += 1
        except OSError:
            logger.warning("attachment %s has no stored file; left out of the export", attachment.pk)
    counts = {
        "conversations": len(conversation_ids),
        "folders": len(folders),
        "feedback": len(feedback),
        "notes": len(notes),
        "attachments": attachments,
    }
    keys = _api_keys(owner.pk)
    if keys is not None:
        archive.writestr("api_keys.json", _json(keys))
        counts["api_keys"] = len(keys)
    manifest = {
        "format": ACCOUNT_FORMAT,
        "format_version": ACCOUNT_FORMAT_VERSION,
        "conversation_format": EXPORT_FORMAT,
        "exported_at": timezone.now(),
        "user": {
            "id": owner.pk,
            "username": owner.username,
            "email": owner.email,
            "display_name": owner.display_name,
            "preferences": owner.preferences,
            "created_at": owner.created_at,
        },
        "contents": counts,
    }
    archive.writestr("manifest.json", _json(manifest))
    return counts


def export_job_run(*, job_id: Any) -> None:
    """Build and store the archive of an export job (a job not waiting to run is left alone)."""
    job = export_job_start(job_id=job_id)
    if job is None:
        return
    try:
        with tempfile.TemporaryFile() as spool:
            with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                counts = account_archive_write(job.owner, archive)
            spool.seek(0)
            export_job_finish(job=job, archive=File(spool, name=f"{job.pk}.zip"), counts=counts)
    except Exception:
        logger.exception("export %s failed", job_id)
        export_job_fail(job_id=job_id, error="The export could not be built; please ask for another one.")
        raise
