"""Conversations: folders, conversations, the exchanges (prompt + response) that form branches,
feedback and notes on answers, and attachments."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

from core.models import BaseModel, SoftDeleteModel, VersionedModel

ALIVE = Q(deleted_at__isnull=True)
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
# Images a conversation may carry for a model with vision, sent to it as they are (no text extracted).
IMAGE_CONTENT_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")


def message_owner_field() -> models.ForeignKey:
    """The owner of the conversation a prompt or answer belongs to, denormalised onto the message so
    search ranks one user's messages without joining exchanges and conversations. The chat services write
    it at insert; the database makes sure of it (trigger `conv_exchange_message_owner`, migration 0002)
    when the exchange is inserted, for rows written any other way. Two
    indexes lead with it: GIN (owner, search_vector) finds a user's rare words, B-tree (owner,
    created_at DESC) walks a user's newest messages when a word is in a large share of them."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        editable=False,
        db_index=False,
        related_name="+",
        help_text="Set by the database from the exchange's conversation",
    )


class Folder(BaseModel, SoftDeleteModel, VersionedModel):
    """A user's folder of conversations; folders nest."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="folders")
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )
    name = models.CharField(max_length=255)

    class Meta:
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(
                F("owner"),
                F("parent"),
                Lower("name"),
                condition=ALIVE,
                nulls_distinct=False,
                name="conv_folder_name_ci_alive_uniq",
            ),
            models.CheckConstraint(condition=~Q(name=""), name="conv_folder_name_not_blank"),
            models.CheckConstraint(condition=~Q(parent=F("id")), name="conv_folder_not_own_parent"),
        ]

    def __str__(self) -> str:
        return self.name


class Label(BaseModel, SoftDeleteModel, VersionedModel):
    """A user's own label for conversations (unique per user, whatever the case)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=64)

    class Meta:
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(
                F("owner"), Lower("name"), condition=ALIVE, name="conv_label_name_ci_alive_uniq"
            ),
            models.CheckConstraint(condition=~Q(name=""), name="conv_label_name_not_blank"),
        ]

    def __str__(self) -> str:
        return self.name


class ConversationSource(models.TextChoices):
    APP = "app", "App"
    API = "api", "API (personal key)"


class ImportSource(models.TextChoices):
    OLLAMANET = "ollamanet", "OllamaNet"
    OPEN_WEBUI = "open_webui", "Open WebUI"
    CHATGPT = "chatgpt", "ChatGPT"
    LIBRECHAT = "librechat", "LibreChat"


class Conversation(BaseModel, SoftDeleteModel, VersionedModel):
    """A chat with one catalogue model; its exchanges form a tree, `current_exchange` is the chosen leaf.

    `source` says where it was started: in the app, or through the Ollama/OpenAI-compatible API with a
    personal key (`api_key`); `api_history_digest` then identifies the turns a client will send back
    to continue it (gateway_app.history)."""

    Source = ConversationSource

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    folder = models.ForeignKey(
        Folder, on_delete=models.SET_NULL, null=True, blank=True, related_name="conversations"
    )
    model = models.ForeignKey("models_app.AIModel", on_delete=models.PROTECT, related_name="conversations")
    model_name = models.CharField(max_length=200, help_text="The model's name when the conversation started")
    title = models.CharField(max_length=255, blank=True, default="")
    system_prompt = models.TextField(blank=True, default="")
    system_message = models.ForeignKey(
        "admin_app.SystemMessage",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="conversations",
    )
    default_options = models.JSONField(default=dict, blank=True)
    is_pinned = models.BooleanField(default=False)
    is_archived = models.BooleanField(default=False)
    last_message_at = models.DateTimeField(default=timezone.now, db_default=models.functions.Now())
    message_count = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    current_exchange = models.ForeignKey(
        "ConversationPromptResponse", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    labels: models.ManyToManyField[Label, ConversationLabel] = models.ManyToManyField(
        Label, through="ConversationLabel", related_name="conversations", blank=True
    )
    source = models.CharField(
        max_length=10, choices=ConversationSource.choices, default=ConversationSource.APP, db_default="app"
    )
    # Indexed by conv_api_history_idx, which starts with it.
    api_key = models.ForeignKey(
        "auth_app.ApiKey",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="conversations",
        db_index=False,
        help_text="The personal key the conversation was started with (API conversations)",
    )
    api_history_digest = models.CharField(
        max_length=64,
        blank=True,
        default="",
        db_default="",
        help_text="SHA-256 of the turns so far as an API client sends them back (continuation)",
    )
    import_source = models.CharField(
        max_length=20,
        choices=ImportSource.choices,
        blank=True,
        default="",
        help_text="The application an imported conversation came from (empty when made here)",
    )
    import_source_id = models.CharField(
        max_length=255, blank=True, default="", help_text="The conversation's id in that application"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(model_name=""), name="conv_conversation_model_name_not_blank"
            ),
            models.CheckConstraint(
                condition=Q(source__in=ConversationSource.values), name="conv_conversation_source_valid"
            ),
            models.CheckConstraint(
                condition=Q(api_key__isnull=True) | Q(source="api"), name="conv_conversation_key_only_api"
            ),
            # Importing the same export twice finds the conversation the first import made.
            models.UniqueConstraint(
                fields=["owner", "import_source", "import_source_id"],
                condition=ALIVE & ~Q(import_source=""),
                name="conv_conversation_import_uniq_alive",
            ),
            models.CheckConstraint(
                condition=Q(import_source="", import_source_id="")
                | (Q(import_source__in=ImportSource.values) & ~Q(import_source_id="")),
                name="conv_conversation_import_source_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["api_key", "api_history_digest"], name="conv_api_history_idx"),
            models.Index(
                F("owner"),
                F("last_message_at").desc(),
                F("id").desc(),
                condition=ALIVE,
                name="conv_owner_last_msg_idx",
            ),
            models.Index(fields=["deleted_at"], condition=~ALIVE, name="conv_conversation_trash_idx"),
        ]

    def __str__(self) -> str:
        # Lists that annotate `first_prompt` (the admin's) name an untitled conversation by it.
        first_prompt = " ".join((getattr(self, "first_prompt", None) or "").split())
        if not self.title and first_prompt:
            return first_prompt if len(first_prompt) <= 60 else f"{first_prompt[:59]}…"
        return self.title or "Untitled conversation"


class ConversationLabel(models.Model):
    """A label on a conversation."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+", db_index=False)
    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "label"], name="conv_label_link_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.label_id} on {self.conversation_id}"


class Prompt(BaseModel, SoftDeleteModel):
    """What the user sent: the text and the generation options used."""

    content = models.TextField()
    options = models.JSONField(default=dict, blank=True)
    token_count = models.PositiveIntegerField(default=0, help_text="Ollama's prompt_eval_count")
    history_omitted = models.PositiveIntegerField(
        default=0,
        help_text="Earlier exchanges of the branch left out of what the model was sent (context budget)",
    )
    documents = models.JSONField(
        default=list,
        blank=True,
        help_text="The conversation's documents as the model was sent them with this prompt: "
        '[{"id", "name", "status": "included" | "cut" | "left_out"}], newest first',
    )
    image_count = models.PositiveSmallIntegerField(
        default=0, db_default=0, help_text="Images sent to the model with this prompt (`images` of a message)"
    )
    search_vector = models.GeneratedField(
        expression=SearchVector("content", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    owner = message_owner_field()

    class Meta:
        indexes = [
            GinIndex(fields=["owner", "search_vector"], name="conv_prompt_owner_search_gin"),
            models.Index(
                F("owner"), F("created_at").desc(), condition=ALIVE, name="conv_prompt_owner_recent_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.content[:60]


class ResponseStatus(models.TextChoices):
    STREAMING = "streaming", "Streaming"
    COMPLETE = "complete", "Complete"
    INTERRUPTED = "interrupted", "Interrupted"
    FAILED = "failed", "Failed"


class AIResponse(BaseModel, SoftDeleteModel):
    """The assistant's answer with Ollama's metrics (integers: nanoseconds and counts)."""

    Status = ResponseStatus

    content = models.TextField(blank=True, default="")
    model_name = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=ResponseStatus.choices, default=ResponseStatus.STREAMING)
    done_reason = models.CharField(max_length=20, blank=True, default="")
    error = models.TextField(blank=True, default="")
    # What a reasoning model thought before answering (asked with `think`); never sent back to it.
    thinking = models.TextField(blank=True, default="", db_default="")
    total_duration = models.PositiveBigIntegerField(null=True, blank=True)
    load_duration = models.PositiveBigIntegerField(null=True, blank=True)
    prompt_eval_count = models.PositiveIntegerField(null=True, blank=True)
    prompt_eval_duration = models.PositiveBigIntegerField(null=True, blank=True)
    eval_count = models.PositiveIntegerField(null=True, blank=True)
    eval_duration = models.PositiveBigIntegerField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    search_vector = models.GeneratedField(
        expression=SearchVector("content", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    owner = message_owner_field()

    class Meta:
        verbose_name = "AI response"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ResponseStatus.values), name="conv_response_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="streaming") | Q(completed_at__isnull=False),
                name="conv_response_finished_has_completed_at",
            ),
        ]
        indexes = [
            GinIndex(fields=["owner", "search_vector"], name="conv_response_owner_search_gin"),
            models.Index(
                F("owner"), F("created_at").desc(), condition=ALIVE, name="conv_response_owner_recent_idx"
            ),
            models.Index(
                fields=["status"], condition=Q(status="streaming"), name="conv_response_streaming_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"[{self.status}] {self.content[:60]}"


class ConversationPromptResponse(BaseModel, SoftDeleteModel):
    """An exchange: one prompt and its answer, placed in the conversation's tree.

    `parent` is the exchange it follows (NULL for the first), `position` its depth; a regenerated
    answer is a sibling: same parent and position, same prompt text, a new response.
    """

    # Indexed by conv_exchange_conv_pos_idx, which starts with it: an index of its own would be a copy.
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="exchanges", db_index=False
    )
    prompt = models.OneToOneField(Prompt, on_delete=models.CASCADE, related_name="exchange")
    response = models.OneToOneField(AIResponse, on_delete=models.CASCADE, related_name="exchange")
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )
    # Non-negative by conv_exchange_position_matches_parent (0 for the root, > 0 below it).
    position = models.IntegerField()

    class Meta:
        verbose_name = "exchange"
        constraints = [
            models.CheckConstraint(
                condition=Q(parent__isnull=True, position=0) | Q(parent__isnull=False, position__gt=0),
                name="conv_exchange_position_matches_parent",
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "position"], name="conv_exchange_conv_pos_idx"),
        ]

    def __str__(self) -> str:
        return f"Exchange at position {self.position}"


class FeedbackReason(models.TextChoices):
    HELPFUL = "helpful", "Helpful"
    ACCURATE = "accurate", "Accurate"
    INACCURATE = "inaccurate", "Inaccurate"
    UNHELPFUL = "unhelpful", "Unhelpful"
    HARMFUL = "harmful", "Harmful or offensive"
    INCOMPLETE = "incomplete", "Incomplete"
    OTHER = "other", "Other"


class Feedback(BaseModel, SoftDeleteModel, VersionedModel):
    """A user's thumbs up/down on an answer; one alive per (response, user)."""

    Reason = FeedbackReason

    class Rating(models.IntegerChoices):
        UP = 1, "Thumbs up"
        DOWN = -1, "Thumbs down"

    response = models.ForeignKey(AIResponse, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feedback")
    rating = models.SmallIntegerField(choices=Rating.choices)
    reason = models.CharField(max_length=20, choices=FeedbackReason.choices, blank=True, default="")
    comment = models.TextField(blank=True, default="", max_length=2000)

    class Meta:
        verbose_name_plural = "feedback"
        constraints = [
            models.UniqueConstraint(
                fields=["response", "user"], condition=ALIVE, name="conv_feedback_one_per_user_alive"
            ),
            models.CheckConstraint(condition=Q(rating__in=[1, -1]), name="conv_feedback_rating_valid"),
            models.CheckConstraint(
                condition=Q(reason="") | Q(reason__in=FeedbackReason.values),
                name="conv_feedback_reason_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{'👍' if self.rating == 1 else '👎'} on {self.response_id}"


class Note(BaseModel, SoftDeleteModel, VersionedModel):
    """A user's note on a highlighted span [from_index, to_index) of an answer."""

    response = models.ForeignKey(AIResponse, on_delete=models.CASCADE, related_name="notes")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notes")
    content = models.TextField(max_length=10_000)
    from_index = models.PositiveIntegerField()
    # Non-negative by conv_note_span_ordered together with from_index >= 0.
    to_index = models.IntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(from_index__lt=F("to_index")), name="conv_note_span_ordered"),
            models.CheckConstraint(condition=~Q(content=""), name="conv_note_content_not_blank"),
        ]

    def __str__(self) -> str:
        return self.content[:60]


def attachment_path(instance: Attachment, filename: str) -> str:
    """Content-addressed storage path: attachments/ab/cd/<sha256>."""
    digest = instance.sha256
    return f"attachments/{digest[:2]}/{digest[2:4]}/{digest}"


class ProcessingStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Attachment(BaseModel, SoftDeleteModel):
    """A file uploaded to a conversation, stored by its SHA-256, with its extracted text."""

    ProcessingStatus = ProcessingStatus

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="attachments")
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(upload_to=attachment_path, max_length=255)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    processing_status = models.CharField(
        max_length=20, choices=ProcessingStatus.choices, default=ProcessingStatus.PENDING
    )
    extracted_text = models.TextField(blank=True, default="")
    processing_error = models.TextField(blank=True, default="")
    # An image goes to the model with the latest prompt it was sent with (`images` of a message).
    prompt = models.ForeignKey(
        Prompt, on_delete=models.SET_NULL, null=True, blank=True, related_name="images"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(size__lte=MAX_ATTACHMENT_BYTES), name="conv_attachment_size_within_limit"
            ),
            models.CheckConstraint(
                condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="conv_attachment_sha256_hex"
            ),
            models.CheckConstraint(
                condition=Q(
                    content_type__in=[
                        "application/pdf",
                        "text/plain",
                        "text/markdown",
                        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                        *IMAGE_CONTENT_TYPES,
                    ]
                ),
                name="conv_attachment_content_type_allowed",
            ),
            models.CheckConstraint(
                condition=Q(processing_status__in=ProcessingStatus.values),
                name="conv_attachment_processing_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["sha256"], name="conv_attachment_sha256_idx")]

    def __str__(self) -> str:
        return self.original_name


class SharedLink(BaseModel):
    """A public, read-only snapshot of a conversation's current branch, reached by an unguessable token.

    The token itself is never stored: `token_hash` is its SHA-256, so a leaked table opens no link.
    The snapshot is frozen when the link is made (sharing again after new messages makes a new link);
    it holds prompts, answers, model and title, never the owner's identity, notes or feedback.
    """

    # Indexed by conv_sharedlink_owner_idx, which starts with it.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shared_links", db_index=False
    )
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="shared_links")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    title = models.CharField(max_length=255, blank=True, default="")
    # Positive by conv_sharedlink_not_empty.
    exchange_count = models.IntegerField()
    snapshot = models.JSONField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    access_count = models.PositiveBigIntegerField(default=0, db_default=0)
    last_accessed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(token_hash__regex=r"^[0-9a-f]{64}$"), name="conv_sharedlink_token_hash_hex"
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")), name="conv_sharedlink_expires_after_creation"
            ),
            models.CheckConstraint(condition=Q(exchange_count__gt=0), name="conv_sharedlink_not_empty"),
        ]
        indexes = [
            models.Index(
                F("owner"),
                F("created_at").desc(),
                F("id").desc(),
                name="conv_sharedlink_owner_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Shared link to {self.title or 'an untitled conversation'}"


class TransferKind(models.TextChoices):
    IMPORT = "import", "Import"
    EXPORT = "export", "Export"


class TransferStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


FINISHED_TRANSFER_STATUSES = (TransferStatus.SUCCEEDED, TransferStatus.FAILED)


def transfer_path(instance: TransferJob, filename: str) -> str:
    """Where a job's file lives: transfers/<kind>/<job id><suffix> (never the client's name)."""
    suffix = ".zip" if filename.lower().endswith(".zip") else ".json"
    return f"transfers/{instance.kind}/{instance.pk}{suffix}"


class TransferJob(BaseModel):
    """An import of conversations from a file, or an export of everything a user owns, run in the
    background: the file it reads or writes, its progress, and what became of each conversation."""

    Kind = TransferKind
    Status = TransferStatus

    # Indexed by conv_transfer_owner_recent_idx, which starts with it.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="transfer_jobs", db_index=False
    )
    kind = models.CharField(max_length=10, choices=TransferKind.choices)
    status = models.CharField(max_length=10, choices=TransferStatus.choices, default=TransferStatus.QUEUED)
    file = models.FileField(upload_to=transfer_path, max_length=255, blank=True, default="")
    original_name = models.CharField(max_length=255, blank=True, default="")
    size = models.PositiveBigIntegerField(default=0, help_text="Bytes of the file")
    source_format = models.CharField(max_length=20, choices=ImportSource.choices, blank=True, default="")
    processed = models.PositiveIntegerField(default=0, help_text="Conversations handled so far")
    counts = models.JSONField(default=dict, blank=True, help_text="Conversations by outcome")
    results = models.JSONField(default=list, blank=True, help_text="One entry per conversation")
    error = models.TextField(blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="An export's download ends then")

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=TransferKind.values), name="conv_transfer_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=TransferStatus.values), name="conv_transfer_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=FINISHED_TRANSFER_STATUSES, finished_at__isnull=False)
                | (~Q(status__in=FINISHED_TRANSFER_STATUSES) & Q(finished_at__isnull=True)),
                name="conv_transfer_finished_iff_done",
            ),
            models.CheckConstraint(
                condition=Q(source_format="") | Q(source_format__in=ImportSource.values),
                name="conv_transfer_source_format_valid",
            ),
        ]
        indexes = [
            models.Index(F("owner"), F("created_at").desc(), name="conv_transfer_owner_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.status} ({self.original_name or self.pk})"
