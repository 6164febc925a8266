"""Administration: system messages staff curate, and the append-only audit trail."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
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
