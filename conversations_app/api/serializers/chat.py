"""Serializers of the chat API: what a message may carry, and how an exchange is shown."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from conversations_app.models import AIResponse, ConversationPromptResponse, Feedback
from conversations_app.services.chat import MAX_IMAGES_PER_PROMPT, METRIC_FIELDS
from core.api import StrictKeysMixin

MAX_PROMPT_CHARS = 100_000
MAX_SYSTEM_PROMPT_CHARS = 20_000


class StrictFloatField(serializers.FloatField):
    """A finite JSON number: true/false, "nan" and "inf" are not numbers (NaN would slip past the
    min/max checks, and neither encodes as JSON)."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return value


class ChatOptionsSerializer(StrictKeysMixin, serializers.Serializer):
    """Ollama generation options a message may set (each optional; unknown keys are refused)."""

    temperature = StrictFloatField(min_value=0, max_value=2, required=False)
    top_p = StrictFloatField(min_value=0, max_value=1, required=False)
    top_k = serializers.IntegerField(min_value=1, max_value=1000, required=False)
    min_p = StrictFloatField(min_value=0, max_value=1, required=False)
    typical_p = StrictFloatField(min_value=0, max_value=1, required=False)
    num_predict = serializers.IntegerField(
        min_value=-1,
        max_value=1_000_000,
        required=False,
        help_text="Tokens to generate at most; -1: no limit.",
    )
    num_ctx = serializers.IntegerField(min_value=1, max_value=1_048_576, required=False)
    seed = serializers.IntegerField(min_value=-(2**31), max_value=2**31 - 1, required=False)
    stop = serializers.ListField(
        child=serializers.CharField(max_length=200, trim_whitespace=False),
        max_length=16,
        required=False,
    )
    repeat_penalty = StrictFloatField(min_value=0, max_value=2, required=False)
    repeat_last_n = serializers.IntegerField(min_value=-1, max_value=1_048_576, required=False)
    presence_penalty = StrictFloatField(min_value=-2, max_value=2, required=False)
    frequency_penalty = StrictFloatField(min_value=-2, max_value=2, required=False)
    mirostat = serializers.ChoiceField(choices=[0, 1, 2], required=False)
    mirostat_tau = StrictFloatField(min_value=0, max_value=100, required=False)
    mirostat_eta = StrictFloatField(min_value=0, max_value=1, required=False)
    think = serializers.BooleanField(
        required=False,
        help_text="Ask a reasoning model to think before it answers (sent to Ollama as `think`).",
    )

    def validate_num_predict(self, value: int) -> int:
        if value == 0:
            raise serializers.ValidationError("Must be a positive number of tokens, or -1 for no limit.")
        return value


THINK_HELP = (
    "Ask a reasoning model to think before it answers; the thinking is stored apart from the answer "
    "(`response.thinking`) and streamed as `thinking` events. The same as `options.think`."
)
IMAGES_HELP = (
    "Ids of image attachments of this conversation (PNG, JPEG, WebP, GIF; the model must have vision) "
    "sent to the model with this prompt."
)


class ThinkMixin(serializers.Serializer):
    """`think` as a field of the body, folded into the options (where the prompt stores it)."""

    think = serializers.BooleanField(required=False, help_text=THINK_HELP)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        think = attrs.pop("think", None)
        if think is not None:
            attrs["options"] = {**(attrs.get("options") or {}), "think": think}
        return attrs


def images_field() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.UUIDField(),
        max_length=MAX_IMAGES_PER_PROMPT,
        required=False,
        help_text=IMAGES_HELP,
    )


class MessageCreateSerializer(ThinkMixin, StrictKeysMixin, serializers.Serializer):
    """A prompt to send to the conversation's model."""

    content = serializers.CharField(max_length=MAX_PROMPT_CHARS, trim_whitespace=False)
    options = ChatOptionsSerializer(required=False)
    system_prompt = serializers.CharField(
        max_length=MAX_SYSTEM_PROMPT_CHARS,
        allow_blank=True,
        required=False,
        trim_whitespace=False,
        help_text="Replaces the conversation's system prompt from this message on.",
    )
    images = images_field()
    stream = serializers.BooleanField(
        default=False,
        help_text="Stream the answer as Server-Sent Events (as does Accept: text/event-stream).",
    )

    def validate_content(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value


class ExchangeEditSerializer(ThinkMixin, StrictKeysMixin, serializers.Serializer):
    """A prompt's new text, answered as a sibling of the edited exchange."""

    content = serializers.CharField(max_length=MAX_PROMPT_CHARS, trim_whitespace=False)
    options = ChatOptionsSerializer(required=False, help_text="Overlaid on the conversation's defaults.")
    images = serializers.ListField(
        child=serializers.UUIDField(),
        max_length=MAX_IMAGES_PER_PROMPT,
        required=False,
        help_text=IMAGES_HELP + " Without it, the edited prompt's images are sent again.",
    )
    stream = serializers.BooleanField(
        default=False,
        help_text="Stream the answer as Server-Sent Events (as does Accept: text/event-stream).",
    )

    def validate_content(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value


class TrashedExchangeSerializer(serializers.ModelSerializer):
    """An exchange deleted with the branch below it."""

    prompt = serializers.CharField(source="prompt.content", read_only=True, help_text="The prompt's text.")

    class Meta:
        model = ConversationPromptResponse
        fields = ("id", "conversation", "parent", "position", "prompt", "created_at", "deleted_at")
        read_only_fields = fields


class RegenerateSerializer(StrictKeysMixin, serializers.Serializer):
    """Ask for another answer to an exchange's prompt; options default to the prompt's own."""

    options = ChatOptionsSerializer(required=False)
    think = serializers.BooleanField(
        required=False, help_text=THINK_HELP + " Overlaid on the options used, whichever they are."
    )
    stream = serializers.BooleanField(default=False)


class PromptDocumentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=["included", "cut", "left_out"])


class PromptOutSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    content = serializers.CharField()
    options = serializers.DictField()
    token_count = serializers.IntegerField()
    history_omitted = serializers.IntegerField(
        help_text="Earlier exchanges of the branch the model was not sent: they did not fit in its context."
    )
    documents = PromptDocumentSerializer(
        many=True,
        help_text="The conversation's documents (extracted text of its attachments), newest first, and "
        "whether the model was sent each whole (`included`), cut to fit (`cut`) or not at all (`left_out`).",
    )
    created_at = serializers.DateTimeField()


class MetricsSerializer(serializers.Serializer):
    """Ollama's metrics of an answer: durations in nanoseconds, counts in tokens."""

    total_duration = serializers.IntegerField(allow_null=True)
    load_duration = serializers.IntegerField(allow_null=True)
    prompt_eval_count = serializers.IntegerField(allow_null=True)
    prompt_eval_duration = serializers.IntegerField(allow_null=True)
    eval_count = serializers.IntegerField(allow_null=True)
    eval_duration = serializers.IntegerField(allow_null=True)


def metrics_of(response: AIResponse) -> dict[str, int | None]:
    return {name: getattr(response, name) for name in METRIC_FIELDS}


class ResponseOutSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    content = serializers.CharField()
    model_name = serializers.CharField()
    status = serializers.ChoiceField(choices=AIResponse.Status.choices)
    done_reason = serializers.CharField()
    error = serializers.CharField()
    thinking = serializers.CharField(
        help_text="What the model thought before answering (asked with `think`); not part of the answer."
    )
    metrics = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(MetricsSerializer)
    def get_metrics(self, response: AIResponse) -> dict[str, int | None]:
        return metrics_of(response)


class CallerFeedbackSerializer(serializers.Serializer):
    """The caller's own feedback on an answer."""

    id = serializers.UUIDField()
    rating = serializers.ChoiceField(choices=Feedback.Rating.choices)
    reason = serializers.CharField()
    comment = serializers.CharField()
    version = serializers.IntegerField()


class SiblingsSerializer(serializers.Serializer):
    """The alternatives at this place of the tree (regenerated answers), oldest first."""

    ids = serializers.ListField(child=serializers.UUIDField())
    index = serializers.IntegerField(help_text="Where this exchange is among `ids` (0-based).")
    count = serializers.IntegerField()


class ExchangeSerializer(serializers.Serializer):
    """One exchange of a branch: the prompt, the answer, the caller's feedback and notes, siblings."""

    id = serializers.UUIDField()
    conversation_id = serializers.UUIDField()
    parent_id = serializers.UUIDField(allow_null=True)
    position = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    prompt = PromptOutSerializer()
    response = ResponseOutSerializer()
    feedback = CallerFeedbackSerializer(source="caller_feedback", allow_null=True)
    note_count = serializers.IntegerField()
    siblings = serializers.SerializerMethodField()

    @extend_schema_field(SiblingsSerializer)
    def get_siblings(self, row: Mapping[str, Any]) -> dict[str, Any]:
        ids = row["sibling_ids"]
        own = row["id"]
        return {"ids": ids, "index": ids.index(own) if own in ids else 0, "count": len(ids)}

    def to_representation(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """`row` is one of `selectors.history.exchange_rows`.

        Written out by hand: a page of history holds up to 2,000 exchanges, and DRF's field-by-field
        machinery would cost more than the query. The fields declared above are the contract (and
        the OpenAPI schema); this builds exactly that shape. Ids and instants are left as the
        database gave them: the renderer (orjson) writes UUIDs and UTC instants ("…Z") as DRF would,
        at a fraction of the cost of converting each one here.
        """
        return {
            "id": row["id"],
            "conversation_id": row["conversation_id"],
            "parent_id": row["parent_id"],
            "position": row["position"],
            "created_at": row["created_at"],
            "prompt": {
                "id": row["prompt_id"],
                "content": row["prompt__content"],
                "options": row["prompt__options"],
                "token_count": row["prompt__token_count"],
                "history_omitted": row["prompt__history_omitted"],
                "documents": row["prompt__documents"],
                "created_at": row["prompt__created_at"],
            },
            "response": {
                "id": row["response_id"],
                "content": row["response__content"],
                "model_name": row["response__model_name"],
                "status": row["response__status"],
                "done_reason": row["response__done_reason"],
                "error": row["response__error"],
                "thinking": row["response__thinking"],
                "metrics": {name: row[f"response__{name}"] for name in METRIC_FIELDS},
                "created_at": row["response__created_at"],
                "completed_at": row["response__completed_at"],
            },
            "feedback": row["caller_feedback"],
            "note_count": row["note_count"],
            "siblings": self.get_siblings(row),
        }


class ExchangePageSerializer(serializers.Serializer):
    """A page of a branch (cursor pagination)."""

    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ExchangeSerializer(many=True)
