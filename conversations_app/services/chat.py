"""Chat: an exchange from the prompt to the stored answer, regenerating answers, switching branches.

How one answer is made (no database transaction is open, and no connection held, while Ollama is
waited on):

1. `exchange_start` (or `exchange_regenerate`) commits, in one transaction, the prompt, the exchange
   and a response in status `streaming`, and makes the exchange the conversation's current one.
2. `exchange_chat_messages` gives what to send to Ollama: the system prompt, the branch above the
   exchange as user/assistant turns, then the new prompt.
3. `ExchangeRelay` carries Ollama's streamed answer and records how it ended with
   `exchange_complete` (metrics), `exchange_fail` (error + what had arrived) or
   `exchange_interrupt` (stopped, see services.runs, or the API gateway's client went away; what had
   arrived). The first of these to run wins;
   a response is never finished twice. While it streams, the response's `updated_at` moves every
   CHAT_HEARTBEAT_SECONDS; `exchange_interrupt_stale` (a periodic task) marks `interrupted` the
   answers whose producer died without recording anything.

Locks follow the project's order (core.services): the conversation row, then the response row.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from conversations_app.models import (
    IMAGE_CONTENT_TYPES,
    AIResponse,
    Attachment,
    Conversation,
    ConversationPromptResponse,
    Prompt,
)
from conversations_app.selectors.attachments import conversation_documents
from conversations_app.selectors.history import ancestor_turns_within, deepest_leaf_id
from conversations_app.services.attachments import ensure_vision
from conversations_app.services.conversations import MODEL_NOT_USABLE
from core.db import db_step, released
from core.exceptions import ApplicationError, Conflict, DatabaseUnavailable, NotFound, ValidationFailed
from core.ollama import ChatStream
from core.queue import enqueue_on_commit
from core.services import lock_for_update
from models_app.selectors import usable_models

logger = logging.getLogger(__name__)

# How many bytes of UTF-8 text count as one token of context (see `estimated_tokens`).
BYTES_PER_TOKEN = 3

METRIC_FIELDS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)


def _lock_conversation(conversation_id: Any, *, owner_id: Any) -> Conversation:
    """Lock an alive conversation row (its model and system message read alongside: they are what the
    answer is asked of, and the history is built from this very read), annotated with `model_usable`:
    whether the owner's roles still allow its model (in the same statement, no query of its own);
    `owner_id=None` when the caller has just checked that itself (the API gateway).

    The current exchange is read afterwards, by its own statement: joined into the locking query,
    PostgreSQL would re-check only the locked row after waiting for a concurrent sender and return
    the exchange that sender has just inserted as missing (the statement's snapshot predates it).
    """
    locking = Conversation.objects.select_related("model", "system_message").select_for_update(of=("self",))
    if owner_id is not None:
        locking = locking.annotate(
            model_usable=Exists(usable_models(user_id=owner_id).filter(pk=OuterRef("model_id")))
        )
    conversation = locking.filter(pk=conversation_id).first()
    if conversation is None:
        raise NotFound("Conversation not found.")
    return conversation


def _current_exchange(conversation: Conversation) -> ConversationPromptResponse | None:
    """The locked conversation's current exchange (id and position only), read after the lock."""
    if conversation.current_exchange_id is None:
        return None
    return (
        ConversationPromptResponse._base_manager.only("id", "position")
        .filter(pk=conversation.current_exchange_id)
        .first()
    )


def _ensure_model_available(conversation: Conversation) -> None:
    model = conversation.model
    if model.deleted_at is not None or not model.is_active:
        raise Conflict(
            f"The model '{conversation.model_name}' is no longer offered; start a new conversation "
            "with another model.",
            code="model_unavailable",
        )
    if not getattr(conversation, "model_usable", True):  # annotated by _lock_conversation
        # The model is offered, not to this owner (their roles changed): as if it did not exist.
        raise NotFound(MODEL_NOT_USABLE, code="model_not_found")


def _create_exchange(
    *,
    conversation: Conversation,
    content: str,
    options: Mapping[str, Any],
    parent_id: Any,
    position: int,
    image_count: int = 0,
) -> ConversationPromptResponse:
    # The owner is written at insert: the database's trigger then finds nothing to correct (no second
    # row version, no second search vector).
    owner_id = conversation.owner_id
    prompt = Prompt.objects.create(
        content=content, options=dict(options), owner_id=owner_id, image_count=image_count
    )
    response = AIResponse.objects.create(model_name=conversation.model_name, owner_id=owner_id)
    return ConversationPromptResponse.objects.create(
        conversation=conversation, prompt=prompt, response=response, parent_id=parent_id, position=position
    )


# At most this many images go with one prompt.
MAX_IMAGES_PER_PROMPT = 8


def _link_images(*, conversation: Conversation, prompt_id: Any, image_ids: Sequence[Any]) -> None:
    """Send these images of the (locked) conversation with the prompt: each must be an alive image
    attachment of it, and its model must have vision. An image goes with the latest prompt it was
    sent with. ValidationFailed on `images` for an id that is not such an image (nothing is linked)."""
    if not image_ids:
        return
    ensure_vision(conversation)
    wanted = {str(image_id) for image_id in image_ids}
    linked = Attachment.objects.filter(
        pk__in=wanted, conversation_id=conversation.pk, content_type__in=IMAGE_CONTENT_TYPES
    ).update(prompt_id=prompt_id)
    if linked != len(wanted):
        raise ValidationFailed(
            "Only images attached to this conversation can be sent with a message.",
            fields={"images": ["Unknown image, or not an image attached to this conversation."]},
        )


def exchange_start(
    *,
    conversation: Conversation,
    content: str,
    options: Mapping[str, Any] | None = None,
    system_prompt: str | None = None,
    images: Sequence[Any] = (),
    model_access_checked: bool = False,
) -> ConversationPromptResponse:
    """Store a new prompt after the conversation's current exchange, with a `streaming` response.

    The options stored with the prompt are the conversation's defaults overlaid with `options`.
    A `system_prompt` replaces the conversation's (free text instead of a SystemMessage) from this
    message on. `images` (ids of image attachments of the conversation) go to the model with this
    prompt (`_link_images`). The new exchange becomes current and `last_message_at` moves, all in one
    transaction committed before Ollama is asked anything. `model_access_checked`: the caller has just
    checked, in the same transaction, that the owner may use the conversation's model.
    """
    if not content.strip():
        raise ValidationFailed(fields={"content": ["This field may not be blank."]})
    with transaction.atomic():
        locked = _lock_conversation(
            conversation.pk, owner_id=None if model_access_checked else conversation.owner_id
        )
        _ensure_model_available(locked)
        parent = _current_exchange(locked)
        exchange = _create_exchange(
            conversation=locked,
            content=content,
            options={**locked.default_options, **(options or {})},
            parent_id=parent.pk if parent else None,
            position=parent.position + 1 if parent else 0,
            image_count=len(set(map(str, images))),
        )
        _link_images(conversation=locked, prompt_id=exchange.prompt_id, image_ids=images)
        now = timezone.now()
        changes: dict[str, Any] = {
            "current_exchange": exchange,
            "last_message_at": now,
            "message_count": F("message_count") + 1,
            "updated_at": now,
        }
        if system_prompt is not None:
            changes |= {"system_prompt": system_prompt, "system_message": None, "version": F("version") + 1}
            locked.system_prompt, locked.system_message = system_prompt, None
        Conversation.objects.filter(pk=locked.pk).update(**changes)
    return exchange


def _answer_again(
    *,
    exchange: ConversationPromptResponse,
    content: str | None,
    options: Mapping[str, Any] | None,
    owner_id: Any = None,
    images: Sequence[Any] | None = None,
    think: bool | None = None,
) -> ConversationPromptResponse:
    """A sibling of `exchange` (same parent and position) with a `streaming` response, which becomes
    the conversation's current exchange. `content=None` asks the same prompt again. `owner_id` (the
    conversation's owner, read from the conversation when not given) is whose model access is
    checked. `images=None` sends the images of the source prompt again (they move to the new one);
    otherwise those images are sent. `think`, when given, is overlaid on the options used."""
    if owner_id is None:
        owner_id = exchange.conversation.owner_id
    with transaction.atomic():
        locked = _lock_conversation(exchange.conversation_id, owner_id=owner_id)
        _ensure_model_available(locked)
        source = (
            ConversationPromptResponse.objects.select_related("prompt")
            .filter(pk=exchange.pk, conversation=locked)
            .first()
        )
        if source is None:
            raise NotFound("Exchange not found.")
        if options is not None:
            options = {**locked.default_options, **options}
        elif content is None:
            options = source.prompt.options
        else:
            options = locked.default_options
        if think is not None:
            options = {**options, "think": think}
        sibling = _create_exchange(
            conversation=locked,
            content=source.prompt.content if content is None else content,
            options=options,
            parent_id=source.parent_id,
            position=source.position,
            image_count=source.prompt.image_count if images is None else len(set(map(str, images))),
        )
        if images is None:
            if source.prompt.image_count:
                Attachment.objects.filter(prompt_id=source.prompt_id).update(prompt_id=sibling.prompt_id)
        else:
            _link_images(conversation=locked, prompt_id=sibling.prompt_id, image_ids=images)
        now = timezone.now()
        Conversation.objects.filter(pk=locked.pk).update(
            current_exchange=sibling,
            last_message_at=now,
            message_count=F("message_count") + 1,
            updated_at=now,
        )
    return sibling


def exchange_regenerate(
    *,
    exchange: ConversationPromptResponse,
    options: Mapping[str, Any] | None = None,
    owner_id: Any = None,
    think: bool | None = None,
) -> ConversationPromptResponse:
    """Ask again: a sibling of `exchange` (same parent and position, same prompt text, same images)
    with a `streaming` response, which becomes the conversation's current exchange.

    Without `options` the prompt's own options are reused; with them, the conversation's defaults
    overlaid with `options`; `think`, when given, overlays either. `owner_id`: see `_answer_again`.
    """
    return _answer_again(exchange=exchange, content=None, options=options, owner_id=owner_id, think=think)


def exchange_edit(
    *,
    exchange: ConversationPromptResponse,
    content: str,
    options: Mapping[str, Any] | None = None,
    owner_id: Any = None,
    images: Sequence[Any] | None = None,
) -> ConversationPromptResponse:
    """Edit a prompt: a sibling of `exchange` (same parent and position) with the new text and a
    `streaming` response, which becomes the conversation's current exchange. The old branch stays
    reachable as a sibling. The options are the conversation's defaults overlaid with `options`.
    `images`: those sent with the new text; None keeps the edited prompt's images."""
    if not content.strip():
        raise ValidationFailed(fields={"content": ["This field may not be blank."]})
    return _answer_again(
        exchange=exchange, content=content, options=options or {}, owner_id=owner_id, images=images
    )


def _int_metric(value: Any) -> int | None:
    """Ollama's metrics are non-negative integers; anything else is not stored."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _finish(
    *,
    exchange: ConversationPromptResponse,
    status: str,
    content: str | None,
    error: str = "",
    done_reason: str = "",
    metrics: Mapping[str, Any] | None = None,
    thinking: str | None = None,
) -> ConversationPromptResponse:
    """Move a `streaming` response to its final status and add what it cost to the conversation.

    A response that is already finished is left as it is (the first outcome recorded wins).
    `content=None` (and `thinking=None`) keeps the text stored so far.
    """
    with transaction.atomic():
        conversation = lock_for_update(Conversation, exchange.conversation_id)
        response = AIResponse._base_manager.select_for_update().get(pk=exchange.response_id)
        if response.status != AIResponse.Status.STREAMING:
            exchange.response = response
            return exchange
        counts = {name: _int_metric((metrics or {}).get(name)) for name in METRIC_FIELDS}
        now = timezone.now()
        content = response.content if content is None else content
        values: dict[str, Any] = {
            "status": status,
            "content": content,
            "error": error,
            "done_reason": done_reason[:20],
            "completed_at": now,
            "updated_at": now,
            **counts,
        }
        if thinking is not None:
            values["thinking"] = thinking
        AIResponse._base_manager.filter(pk=response.pk).update(**values)
        for name, value in values.items():
            setattr(response, name, value)
        conversation_changes: dict[str, Any] = {}
        if content:
            conversation_changes["message_count"] = F("message_count") + 1
        if counts["prompt_eval_count"] is not None:
            Prompt._base_manager.filter(pk=exchange.prompt_id).update(token_count=counts["prompt_eval_count"])
            conversation_changes["prompt_tokens"] = F("prompt_tokens") + counts["prompt_eval_count"]
        if counts["eval_count"] is not None:
            conversation_changes["completion_tokens"] = F("completion_tokens") + counts["eval_count"]
        if conversation_changes:
            Conversation._base_manager.filter(pk=exchange.conversation_id).update(**conversation_changes)
        if (
            status == AIResponse.Status.COMPLETE
            and content
            and not conversation.title
            and exchange.position == 0
        ):
            enqueue_on_commit(
                "conversations_app.tasks.title_conversation", str(exchange.conversation_id), str(exchange.pk)
            )
    exchange.response = response
    return exchange


def exchange_complete(
    *,
    exchange: ConversationPromptResponse,
    content: str,
    done_reason: str = "stop",
    metrics: Mapping[str, Any] | None = None,
    thinking: str = "",
) -> ConversationPromptResponse:
    """The answer arrived whole: store it (and the model's thinking) with Ollama's metrics and count
    its tokens on the prompt (prompt_eval_count) and the conversation's totals."""
    return _finish(
        exchange=exchange,
        status=AIResponse.Status.COMPLETE,
        content=content,
        done_reason=done_reason,
        metrics=metrics,
        thinking=thinking,
    )


def exchange_fail(
    *, exchange: ConversationPromptResponse, error: str, content: str = "", thinking: str = ""
) -> ConversationPromptResponse:
    """Ollama could not answer (or stopped mid-way): keep the error and what had arrived."""
    return _finish(
        exchange=exchange, status=AIResponse.Status.FAILED, content=content, error=error, thinking=thinking
    )


def exchange_interrupt(
    *, exchange: ConversationPromptResponse, content: str, thinking: str = ""
) -> ConversationPromptResponse:
    """The client went away before the end: keep what had arrived."""
    return _finish(
        exchange=exchange, status=AIResponse.Status.INTERRUPTED, content=content, thinking=thinking
    )


def conversation_switch_branch(
    *, conversation: Conversation, exchange: ConversationPromptResponse
) -> ConversationPromptResponse:
    """Follow the branch through `exchange` (a sibling of an answer on screen, or any exchange of the
    conversation) and make its leaf the current exchange.

    The leaf is found by walking down from `exchange`, taking at each level the most recently
    created child: selecting an alternative answer shows that answer's latest continuation.
    Returns the new current exchange.
    """
    with transaction.atomic():
        locked = _lock_conversation(conversation.pk, owner_id=conversation.owner_id)
        if not ConversationPromptResponse.objects.filter(pk=exchange.pk, conversation=locked).exists():
            raise NotFound("Exchange not found.")
        leaf_id = deepest_leaf_id(exchange.pk)
        Conversation.objects.filter(pk=locked.pk).update(
            current_exchange_id=leaf_id, updated_at=timezone.now()
        )
    return ConversationPromptResponse.objects.select_related("prompt", "response").get(pk=leaf_id)


def estimated_tokens(text: str) -> int:
    """The context a text takes, estimated from its UTF-8 size: one token per 3 bytes (about 3 to 4
    letters of English, one character of Chinese or Japanese), rounded up. Cautious on purpose: an
    overestimate leaves an older turn out, an underestimate would let Ollama cut the front of the
    context, system prompt included."""
    return -(-len(text.encode()) // BYTES_PER_TOKEN)


def context_budget(*, options: Mapping[str, Any], model_context: int | None) -> int:
    """Tokens of history that may be sent: the context (`num_ctx` of the options, else the model's
    trained context capped by CHAT_DEFAULT_CONTEXT_TOKENS, which is what Ollama uses when not told)
    less the room kept for the answer (`num_predict` when given, else a quarter of the context, at
    most half of it)."""
    num_ctx = options.get("num_ctx")
    if isinstance(num_ctx, int) and not isinstance(num_ctx, bool) and num_ctx > 0:
        context = num_ctx
    else:
        context = min(
            model_context or settings.CHAT_DEFAULT_CONTEXT_TOKENS, settings.CHAT_DEFAULT_CONTEXT_TOKENS
        )
    num_predict = options.get("num_predict")
    wanted = num_predict if isinstance(num_predict, int) and num_predict > 0 else context // 4
    return context - min(wanted, context // 2)


# At most this many documents are considered for one message; a document cut to fewer bytes than
# DOCUMENT_MIN_BYTES is left out rather than sent as a stub.
MAX_DOCUMENTS = 20
DOCUMENT_MIN_BYTES = 512
DOCUMENTS_INTRO = "Documents attached to this conversation, newest first:"


def _document_block(name: str, text: str, *, cut: bool) -> str:
    ending = "\n[The rest of this document did not fit in the context.]" if cut else ""
    return f'<document name="{name}">\n{text}{ending}\n</document>'


def documents_within(*, conversation_id: Any, budget_bytes: int) -> tuple[str, list[dict[str, Any]]]:
    """The conversation's documents as one text for the model, within `budget_bytes`, and what
    became of each: newest first, each whole while it fits (`included`); the first that does not fit
    is cut to the room left (`cut`, unless that room is under DOCUMENT_MIN_BYTES); the rest are
    `left_out`. No documents: an empty text."""
    if budget_bytes <= 0:
        return "", []
    documents = conversation_documents(
        conversation_id=conversation_id, head_chars=budget_bytes, limit=MAX_DOCUMENTS
    )
    if not documents:
        return "", []
    blocks: list[str] = []
    statuses: list[dict[str, Any]] = []
    room = budget_bytes - len(DOCUMENTS_INTRO.encode())
    for document in documents:
        overhead = len(_document_block(document.name, "", cut=True).encode()) + 2
        if room - overhead >= document.size:
            blocks.append(_document_block(document.name, document.head, cut=False))
            status = "included"
        elif room - overhead >= DOCUMENT_MIN_BYTES:
            head = document.head.encode()[: room - overhead].decode(errors="ignore")
            blocks.append(_document_block(document.name, head, cut=True))
            status = "cut"
        else:
            status = "left_out"
        if status != "left_out":
            room -= len(blocks[-1].encode()) + 2
        statuses.append({"id": str(document.id), "name": document.name, "status": status})
    if not blocks:
        return "", statuses
    return "\n\n".join([DOCUMENTS_INTRO, *blocks]), statuses


def prompt_images(*, prompt_id: Any) -> list[str]:
    """The images sent with a prompt, oldest attached first, base64-encoded as Ollama takes them."""
    paths = (
        Attachment.objects.filter(prompt_id=prompt_id, content_type__in=IMAGE_CONTENT_TYPES)
        .order_by("created_at", "id")
        .values_list("file", flat=True)
    )
    images = []
    for path in paths:
        with default_storage.open(path, "rb") as file:
            images.append(base64.b64encode(file.read()).decode("ascii"))
    return images


def ollama_options(options: Mapping[str, Any]) -> tuple[dict[str, Any], bool | None]:
    """A prompt's stored options split into Ollama's `options` and its top-level `think` (stored
    with the options so a regenerated answer thinks as the first did)."""
    rest = dict(options)
    think = rest.pop("think", None)
    return rest, think if isinstance(think, bool) else None


def exchange_chat_messages(
    *, exchange: ConversationPromptResponse, conversation: Conversation | None = None
) -> list[dict[str, Any]]:
    """The messages to send to Ollama to answer `exchange`, within the model's context.

    First the system prompt (the conversation's own text, else its SystemMessage's content, if any),
    then the conversation's documents (`documents_within`, up to CHAT_DOCUMENTS_SHARE of the budget
    left after the system prompt and the new prompt; which were sent is stored on the prompt as
    `documents`), then the newest exchanges above this one on its branch that fit in the context budget
    (`context_budget`, counted with `estimated_tokens`) as a user turn and an assistant turn each, then
    this exchange's prompt with its images (`prompt_images`; the images of earlier prompts are not
    sent again: they would fill the context, and the answers given to them carry what was seen).
    The system prompt and the new prompt are always sent. How many earlier
    exchanges were left out is stored on the prompt (`history_omitted`), for the history to say so.
    An earlier exchange whose answer has no text (it failed before the first token) is left out whole,
    so the model never sees a question without its answer. Only text columns are read, in one query
    whose cost follows the budget, not the length of the conversation.

    `conversation`, when given, is the exchange's conversation as `exchange_start` or
    `exchange_regenerate` has just locked it (with its model and system message), which saves reading
    it again.
    """
    if conversation is None:
        conversation = (
            Conversation._base_manager.select_related("system_message", "model")
            .only(
                "system_prompt",
                "system_message__content",
                "system_message__deleted_at",
                "model__context_length",
            )
            .get(pk=exchange.conversation_id)
        )
    messages: list[dict[str, Any]] = []
    system = conversation.system_prompt
    if (
        not system
        and conversation.system_message is not None
        and conversation.system_message.deleted_at is None
    ):
        system = conversation.system_message.content
    if system:
        messages.append({"role": "system", "content": system})
    prompt = exchange.prompt
    budget = context_budget(options=prompt.options, model_context=conversation.model.context_length)
    room = budget - estimated_tokens(system) - estimated_tokens(prompt.content)
    documents, statuses = documents_within(
        conversation_id=exchange.conversation_id,
        budget_bytes=int(max(room, 0) * settings.CHAT_DOCUMENTS_SHARE) * BYTES_PER_TOKEN,
    )
    if documents:
        messages.append({"role": "system", "content": documents})
        room -= estimated_tokens(documents)
    turns = ancestor_turns_within(exchange=exchange, budget_bytes=room * BYTES_PER_TOKEN)
    for turn in turns:
        if turn.answer:
            messages.append({"role": "user", "content": turn.prompt})
            messages.append({"role": "assistant", "content": turn.answer})
    omitted = turns[0].position if turns else exchange.position
    if omitted != prompt.history_omitted or statuses != prompt.documents:
        Prompt._base_manager.filter(pk=prompt.pk).update(history_omitted=omitted, documents=statuses)
        prompt.history_omitted, prompt.documents = omitted, statuses
    question: dict[str, Any] = {"role": "user", "content": prompt.content}
    images = prompt_images(prompt_id=prompt.pk) if prompt.image_count else []
    if images:
        question["images"] = images
    messages.append(question)
    return messages


def exchange_heartbeat(*, exchange: ConversationPromptResponse) -> None:
    """Show that the answer is still being produced (its `updated_at`), so the sweep leaves it."""
    AIResponse._base_manager.filter(pk=exchange.response_id, status=AIResponse.Status.STREAMING).update(
        updated_at=timezone.now()
    )


STALE_ERROR = "The answer was cut off: the server process producing it stopped before it ended."


def exchange_interrupt_stale(*, older_than: timedelta) -> int:
    """Mark `interrupted` the answers still `streaming` that showed no sign of life for `older_than`
    (their producer crashed, or was stopped by a deploy). Returns how many were marked.

    Each goes through `_finish`, so the first outcome recorded still wins and the conversation's
    counters move as for any interruption.
    """
    cutoff = timezone.now() - older_than
    stale = list(
        ConversationPromptResponse._base_manager.filter(
            response__status=AIResponse.Status.STREAMING, response__updated_at__lt=cutoff
        ).only("id", "conversation_id", "prompt_id", "response_id")
    )
    for exchange in stale:
        response = _finish(
            exchange=exchange, status=AIResponse.Status.INTERRUPTED, content=None, error=STALE_ERROR
        ).response
        logger.warning("answer %s was left streaming; marked %s", exchange.response_id, response.status)
    return len(stale)


def answer_piece(chunk: Mapping[str, Any]) -> str:
    """The text one of Ollama's objects adds to the stored answer: a chat's `message.content`, a
    generation's `response`, and tool calls written out as `name(arguments)` lines (an answer that
    only calls tools still shows what it asked for)."""
    message = chunk.get("message") or {}
    piece = message.get("content") or chunk.get("response") or ""
    calls = message.get("tool_calls") or []
    if calls and isinstance(calls, list):
        written = []
        for call in calls:
            function = (call.get("function") if isinstance(call, dict) else None) or {}
            arguments = function.get("arguments")
            text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
            written.append(f"[tool call] {function.get('name', '')}({text})")
        piece += ("\n" if piece else "") + "\n".join(written)
    return piece if isinstance(piece, str) else ""


def thinking_piece(chunk: Mapping[str, Any]) -> str:
    """What one of Ollama's objects adds to the model's thinking (`message.thinking` of a chat,
    `thinking` of a generation), kept apart from the answer."""
    thought = (chunk.get("message") or {}).get("thinking") or chunk.get("thinking") or ""
    return thought if isinstance(thought, str) else ""


# Strong references to the recordings retried in the background (the event loop keeps weak ones).
_PENDING_RECORDINGS: set[asyncio.Task] = set()


class ExchangeRelay:
    """Carries Ollama's streamed answer to one exchange and records how the answer ended.

    Iterate `tokens()` for the pieces of text. When Ollama finishes, the response becomes
    `complete`; when Ollama fails mid-way, `failed` (the ApplicationError is raised to the consumer);
    when the consumer stops early (cancelled, or the iterator closed), `interrupted`. `close()` is
    the synchronous safety net for a consumer that vanished without closing the iterator.

    Every database step gives its connection back at once (`core.db.db_step`): no connection is held
    while Ollama is waited on. When the outcome cannot be stored because PostgreSQL is unreachable,
    the consumer gets DatabaseUnavailable at once and the outcome (with the text that arrived) is
    stored in the background as soon as the database answers again.
    """

    def __init__(self, *, exchange: ConversationPromptResponse, stream: ChatStream) -> None:
        self.exchange = exchange
        self._stream = stream
        self._pieces: list[str] = []
        self._thoughts: list[str] = []
        self._finished = False  # the outcome is stored, or its storing is under way in the background
        self._last_heartbeat = time.monotonic()

    @property
    def content(self) -> str:
        return "".join(self._pieces)

    @property
    def thinking(self) -> str:
        return "".join(self._thoughts)

    async def _record(self, service: Callable[..., ConversationPromptResponse], **kwargs: Any) -> None:
        if self._finished:
            return
        try:
            self.exchange = await db_step(service, exchange=self.exchange, **kwargs)
        except (OperationalError, InterfaceError) as exc:
            self._finished = True
            task = asyncio.get_running_loop().create_task(self._record_later(service, kwargs))
            _PENDING_RECORDINGS.add(task)
            task.add_done_callback(_PENDING_RECORDINGS.discard)
            logger.warning("answer %s not stored yet, retrying: %s", self.exchange.response_id, exc)
            raise DatabaseUnavailable(
                "The answer could not be stored because the database is unavailable; it will be "
                "stored as soon as the database is back."
            ) from exc
        self._finished = True

    async def _record_later(self, service: Callable[..., ConversationPromptResponse], kwargs: dict) -> None:
        """Store the outcome once PostgreSQL answers again (backing off), for as long as allowed."""
        deadline = time.monotonic() + settings.CHAT_RECORD_RETRY_SECONDS
        delay = 0.5
        while True:
            await asyncio.sleep(delay)
            try:
                self.exchange = await db_step(service, exchange=self.exchange, **kwargs)
            except (OperationalError, InterfaceError) as exc:
                if time.monotonic() >= deadline:
                    logger.error("answer %s could not be stored: %s", self.exchange.response_id, exc)
                    return
                delay = min(delay * 2, 5.0)
                continue
            logger.info("answer %s stored after the database came back", self.exchange.response_id)
            return

    async def _heartbeat(self) -> None:
        if time.monotonic() - self._last_heartbeat < settings.CHAT_HEARTBEAT_SECONDS:
            return
        self._last_heartbeat = time.monotonic()
        try:
            await db_step(exchange_heartbeat, exchange=self.exchange)
        except (OperationalError, InterfaceError) as exc:
            logger.warning("heartbeat of answer %s not stored: %s", self.exchange.response_id, exc)

    async def chunks(self) -> AsyncGenerator[dict[str, Any], None]:
        """Ollama's objects as they arrive (for a caller that passes them on whole, like the API
        gateway); the answer stored is the text they add up to (`answer_piece`)."""
        final: dict[str, Any] = {}
        try:
            async for chunk in self._stream:
                piece = answer_piece(chunk)
                if piece:
                    self._pieces.append(piece)
                thought = thinking_piece(chunk)
                if thought:
                    self._thoughts.append(thought)
                yield chunk
                if chunk.get("done"):
                    final = chunk
                await self._heartbeat()
            await self._stream.aclose()
            await self._record(
                exchange_complete,
                content=self.content,
                done_reason=str(final.get("done_reason") or "stop"),
                metrics=final,
                thinking=self.thinking,
            )
        except DatabaseUnavailable:
            raise
        except ApplicationError as exc:
            await self._record(exchange_fail, content=self.content, error=exc.message, thinking=self.thinking)
            raise
        except (asyncio.CancelledError, GeneratorExit):
            # Nobody is left to tell if the database is down too: the retry in the background stays.
            with contextlib.suppress(DatabaseUnavailable):
                await self._record(exchange_interrupt, content=self.content, thinking=self.thinking)
            raise
        finally:
            await self._stream.aclose()

    async def tokens(self) -> AsyncGenerator[str, None]:
        """The pieces of the answer's text, as they arrive."""
        async with contextlib.aclosing(self.pieces()) as pieces:
            async for kind, piece in pieces:
                if kind == "token":
                    yield piece

    async def pieces(self) -> AsyncGenerator[tuple[str, str], None]:
        """The pieces of the model's thinking (`thinking`) and of the answer's text (`token`), in
        the order they arrive."""
        async with contextlib.aclosing(self.chunks()) as chunks:
            async for chunk in chunks:
                thought = thinking_piece(chunk)
                if thought:
                    yield "thinking", thought
                piece = (chunk.get("message") or {}).get("content") or ""
                if piece:
                    yield "token", piece

    def close(self) -> None:
        """Record an interruption if nothing else was recorded.

        Django's ASGI handler calls this from a worker thread when the response ends. Called on the
        event loop instead (no database access there), it leaves the recording to the iterator's
        own closing.
        """
        if self._finished:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self.exchange = released(exchange_interrupt)(
                exchange=self.exchange, content=self.content, thinking=self.thinking
            )
            self._finished = True
