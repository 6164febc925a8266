"""Administration: system messages staff curate, the append-only audit trail, and the model pulls
staff start in Ollama."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower, Now
from uuid6 import uuid7

from core.models import BaseModel, SoftDeleteModel, VersionedModel


class SystemMessage(BaseModel, SoftDeleteModel, VersionedModel):
    """A curated system prompt users can pick for a conversation."""

    name = models.CharField(max_length=100)
    content = models.TextField()
    description = models.TextField(blank=True, default="")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(
                Lower("name"), condition=Q(deleted_at__isnull=True), name="admin_sysmsg_name_ci_alive_uniq"
            ),
            models.CheckConstraint(condition=~Q(name=""), name="admin_sysmsg_name_not_blank"),
            models.CheckConstraint(condition=~Q(content=""), name="admin_sysmsg_content_not_blank"),
        ]

    def __str__(self) -> str:
        return self.name


class AuditEvent(models.Model):
    """One thing that happened: who did what to which object, with before/after of changed fields.

    Append-only: a database trigger refuses UPDATE and DELETE. The actor is kept by id and name,
    not by foreign key, so deleting a user never has to rewrite history.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_default=Now())
    actor_id = models.UUIDField(null=True, blank=True, help_text="NULL for the system")
    actor_repr = models.CharField(max_length=150, blank=True, default="")
    action = models.CharField(max_length=100)
    target_type = models.CharField(max_length=100, blank=True, default="")
    target_id = models.CharField(max_length=64, blank=True, default="")
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True, default="")
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    # Not columns: the rows the event names, set by the audit admin on the events it shows.
    target_obj: models.Model | None
    actor_obj: models.Model | None

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [models.CheckConstraint(condition=~Q(action=""), name="admin_audit_action_not_blank")]
        indexes = [
            models.Index(models.F("created_at").desc(), models.F("id").desc(), name="admin_audit_time_idx"),
            models.Index(fields=["actor_id", "created_at"], name="admin_audit_actor_idx"),
            models.Index(fields=["target_type", "target_id"], name="admin_audit_target_idx"),
            models.Index(fields=["action", "created_at"], name="admin_audit_action_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_repr or 'system'} {self.action}"


class PullStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"


ACTIVE_PULL_STATUSES = (PullStatus.QUEUED, PullStatus.RUNNING)
FINISHED_PULL_STATUSES = (PullStatus.SUCCESS, PullStatus.FAILED)


class ModelPull(BaseModel):
    """One download of a model into Ollama, run by a background task that records its progress here.

    At most one pull per model name is queued or running: the database decides it (partial unique
    index), so two staff members asking at once share one download.
    """

    Status = PullStatus

    model_name = models.CharField(max_length=200, help_text="Ollama model name, e.g. llama3.2:3b")
    status = models.CharField(max_length=10, choices=PullStatus.choices, default=PullStatus.QUEUED)
    detail = models.CharField(
        max_length=200, blank=True, default="", help_text="Ollama's last status line, e.g. 'pulling manifest'"
    )
    completed_bytes = models.PositiveBigIntegerField(default=0)
    total_bytes = models.PositiveBigIntegerField(default=0)
    percent = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    task_id = models.CharField(max_length=64, blank=True, default="", help_text="Id of the Celery task")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    servers = ArrayField(
        models.CharField(max_length=300),
        default=list,
        blank=True,
        help_text="The Ollama servers the model is pulled onto (their URLs), in order",
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(
                Lower("model_name"),
                condition=Q(status__in=ACTIVE_PULL_STATUSES),
                name="admin_pull_one_active_per_model",
            ),
            models.CheckConstraint(condition=~Q(model_name=""), name="admin_pull_model_name_not_blank"),
            models.CheckConstraint(condition=Q(status__in=PullStatus.values), name="admin_pull_status_valid"),
            models.CheckConstraint(condition=Q(percent__lte=100), name="admin_pull_percent_at_most_100"),
            # Finished exactly when it has ended (the status itself is checked on its own above).
            models.CheckConstraint(
                condition=Q(status__in=FINISHED_PULL_STATUSES, finished_at__isnull=False)
                | (~Q(status__in=FINISHED_PULL_STATUSES) & Q(finished_at__isnull=True)),
                name="admin_pull_finished_iff_done",
            ),
        ]
        indexes = [models.Index(F("created_at").desc(), F("id").desc(), name="admin_pull_recent_idx")]

    def __str__(self) -> str:
        return f"{self.model_name} ({self.status}, {self.percent}%)"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_PULL_STATUSES
