"""What each application's export says, read into one shape: an `ImportedConversation` whose `turns`
are the exchanges to create (a prompt and its answer), parents before children.

Message trees become exchange trees losslessly: a user message with several answers (regenerated)
becomes sibling exchanges with the same prompt; several user messages after the same answer (an
edited prompt) become sibling exchanges with different prompts; the export's current message decides
the current exchange. Hidden, empty or system messages and tool messages are passed over (their
children move up to their parent); a non-empty system message at the start becomes the system prompt.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from conversations_app.models import AIResponse, ImportSource
from core.parsers import NUL

MAX_TITLE = 255
MAX_MODEL_NAME = 200
MAX_SOURCE_ID = 255
UNKNOWN_MODEL = "unknown"
METRICS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)


class BadConversation(ValueError):
    """This conversation of the file cannot be imported (the reason is reported, the others go on)."""


@dataclass
class ImportedTurn:
    """One exchange: a prompt and its answer, under the exchange `parent_key` (None: the first)."""

    key: str
    parent_key: str | None
    prompt: str
    answer: str
    model_name: str
    prompt_at: dt.datetime
    answer_at: dt.datetime
    status: str = AIResponse.Status.COMPLETE
    error: str = ""
    done_reason: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    token_count: int = 0
    history_omitted: int = 0
    metrics: dict[str, int | None] = field(default_factory=dict)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ImportedConversation:
    source: str
    source_id: str
    title: str
    model_name: str
    created_at: dt.datetime
    turns: list[ImportedTurn]
    current_key: str | None
    system_prompt: str = ""
    default_options: dict[str, Any] = field(default_factory=dict)
    is_pinned: bool = False
    is_archived: bool = False
    folder_name: str = ""
    last_message_at: dt.datetime | None = None


# --- values ------------------------------------------------------------------------------------------


def _instant(value: Any, default: dt.datetime | None = None) -> dt.datetime | None:
    """A moment from epoch seconds (or milliseconds / nanoseconds, as some exports write) or ISO 8601."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int | float):
        seconds = float(value)
        while seconds > 1e11:  # milliseconds, microseconds or nanoseconds since the epoch
            seconds /= 1000
        try:
            return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            return default
    if isinstance(value, str) and value:
        try:
            parsed = parse_datetime(value)
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, dt.UTC)
    return default


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _clip(value: Any, length: int) -> str:
    return _text(value).strip()[:length]


def _source_id(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    source_id = _clip(value, MAX_SOURCE_ID)
    if not source_id:
        raise BadConversation("The conversation has no id.")
    return source_id


def _model(value: Any) -> str:
    return _clip(value, MAX_MODEL_NAME) or UNKNOWN_MODEL


# --- message trees to exchange trees ----------------------------------------------------------------------


@dataclass
class _Message:
    id: str
    parent: str | None
    role: str  # "user", "assistant", or anything else (passed over)
    content: str
    at: dt.datetime
    model: str = ""
    status: str = AIResponse.Status.COMPLETE
    error: str = ""
    done_reason: str = ""
    order: int = 0
    children: list[str] = field(default_factory=list)


def _kept(message: _Message) -> bool:
    return message.role in ("user", "assistant")


def _tree_turns(
    messages: dict[str, _Message], *, current_id: str | None, default_model: str
) -> tuple[list[ImportedTurn], str | None, str]:
    """Exchanges from a message tree; returns them (parents first), the current exchange's key and
    the system prompt (a non-empty system message before the first user message)."""
    for message in messages.values():
        if message.parent is not None and message.parent not in messages:
            message.parent = None  # a dangling parent (a partial export): the message starts a tree
    for message in messages.values():
        if message.parent is not None:
            messages[message.parent].children.append(message.id)
    system_prompt = ""

    def ordered(ids: Iterable[str]) -> list[str]:
        return sorted(ids, key=lambda i: (messages[i].at, messages[i].order))

    def kept_children(message_id: str | None) -> list[str]:
        """The kept messages below `message_id` (None: the roots), skipped messages flattened."""
        nonlocal system_prompt
        pending = ordered(
            [m.id for m in messages.values() if m.parent is None]
            if message_id is None
            else messages[message_id].children
        )
        found: list[str] = []
        seen: set[str] = set()
        while pending:
            candidate = pending.pop(0)
            if candidate in seen:
                raise BadConversation("The messages' parents form a cycle.")
            seen.add(candidate)
            message = messages[candidate]
            if _kept(message) and (message.content or message.role == "user" or message.error):
                found.append(candidate)
            else:
                if message.role == "system" and message.content.strip() and not system_prompt:
                    system_prompt = message.content
                pending = ordered([*pending, *message.children])
        return found

    turns: list[ImportedTurn] = []
    turn_of: dict[str, str] = {}  # message id → the key of the exchange that holds it
    visited: set[str] = set()
    stack: list[tuple[str, str | None]] = [(i, None) for i in reversed(kept_children(None))]
    while stack:
        message_id, parent_key = stack.pop()
        if message_id in visited:
            raise BadConversation("The messages' parents form a cycle.")
        visited.add(message_id)
        message = messages[message_id]
        below = kept_children(message_id)
        follow: list[tuple[str, str | None]] = []
        if message.role == "user":
            answers = [i for i in below if messages[i].role == "assistant"]
            later_prompts = [i for i in below if messages[i].role == "user"]
            if not answers:
                turns.append(
                    ImportedTurn(
                        key=message.id,
                        parent_key=parent_key,
                        prompt=message.content,
                        answer="",
                        model_name=message.model or default_model,
                        prompt_at=message.at,
                        answer_at=message.at,
                        status=AIResponse.Status.INTERRUPTED,
                    )
                )
                turn_of[message.id] = message.id
            for answer_id in answers:
                answer = messages[answer_id]
                visited.add(answer_id)
                turns.append(
                    ImportedTurn(
                        key=answer.id,
                        parent_key=parent_key,
                        prompt=message.content,
                        answer=answer.content,
                        model_name=answer.model or default_model,
                        prompt_at=message.at,
                        answer_at=max(answer.at, message.at),
                        status=answer.status,
                        error=answer.error,
                        done_reason=answer.done_reason,
                    )
                )
                turn_of[answer.id] = answer.id
                turn_of[message.id] = answer.id
                follow += [(i, answer.id) for i in kept_children(answer_id)]
            follow += [(i, turn_of[message.id]) for i in later_prompts]
        else:  # an answer with no prompt before it (a greeting): an exchange with an empty prompt
            turns.append(
                ImportedTurn(
                    key=message.id,
                    parent_key=parent_key,
                    prompt="",
                    answer=message.content,
                    model_name=message.model or default_model,
                    prompt_at=message.at,
                    answer_at=message.at,
                    status=message.status,
                    error=message.error,
                    done_reason=message.done_reason,
                )
            )
            turn_of[message.id] = message.id
            follow += [(i, message.id) for i in below]
        stack.extend(reversed(follow))

    current_key = None
    if current_id is not None:
        # The current message may be a passed-over one: its nearest kept ancestor decides.
        node: str | None = current_id
        seen_current: set[str] = set()
        while node is not None and node in messages and node not in turn_of and node not in seen_current:
            seen_current.add(node)
            node = messages[node].parent
        current_key = turn_of.get(node) if node is not None else None
    return turns, current_key, system_prompt


def _latest_leaf(turns: list[ImportedTurn]) -> str | None:
    """The most recent exchange that has no continuation (LibreChat shows the newest branch)."""
    parents = {turn.parent_key for turn in turns}
    leaves = [turn for turn in turns if turn.key not in parents]
    return max(leaves, key=lambda turn: turn.answer_at).key if leaves else None


def _ensure_turns(turns: list[ImportedTurn]) -> None:
    if not turns:
        raise BadConversation("The conversation has no messages.")


# --- Open WebUI ----------------------------------------------------------------------------------------


def _open_webui_content(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):  # OpenAI-style parts
        return "\n\n".join(
            _text(part.get("text"))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return _text(content)


def open_webui(data: Mapping[str, Any]) -> ImportedConversation:
    """An Open WebUI chat: `{id, title, chat: {models, history: {messages, currentId}}, created_at,
    pinned, archived}` (an element of "Export chats"), or the bare `chat` object."""
    chat = data.get("chat") if isinstance(data.get("chat"), dict) else data
    assert isinstance(chat, dict)
    created = _instant(data.get("created_at")) or _instant(chat.get("timestamp")) or timezone.now()
    models = _items(chat.get("models"))
    default_model = _model(models[0] if models else None)
    history = _obj(chat.get("history"))
    raw = history.get("messages")
    if raw is None and isinstance(chat.get("messages"), list):  # an old export: a linear list
        raw, previous = {}, None
        for index, item in enumerate(chat["messages"]):
            if isinstance(item, dict):
                item_id = str(item.get("id") or f"m{index}")
                raw[item_id] = {**item, "id": item_id, "parentId": previous}
                previous = item_id
    if not isinstance(raw, dict):
        raise BadConversation("`chat.history.messages` is missing or not an object.")
    messages: dict[str, _Message] = {}
    for order, (key, item) in enumerate(raw.items()):
        if not isinstance(item, dict):
            raise BadConversation(f"Message {key!r} is not an object.")
        parent = item.get("parentId")
        error = item.get("error")
        messages[str(key)] = _Message(
            id=str(key),
            parent=str(parent) if parent is not None else None,
            role=_text(item.get("role")),
            content=_open_webui_content(item),
            at=_instant(item.get("timestamp"), created) or created,
            model=_clip(item.get("model"), MAX_MODEL_NAME),
            status=AIResponse.Status.FAILED if error else AIResponse.Status.COMPLETE,
            error=_text(error.get("content")) if isinstance(error, dict) else _text(error),
            order=order,
        )
    current = history.get("currentId")
    turns, current_key, system_prompt = _tree_turns(
        messages, current_id=str(current) if current is not None else None, default_model=default_model
    )
    _ensure_turns(turns)
    params = _obj(chat.get("params"))
    return ImportedConversation(
        source=ImportSource.OPEN_WEBUI,
        source_id=_source_id(data.get("id") or chat.get("id")),
        title=_clip(data.get("title") or chat.get("title"), MAX_TITLE),
        model_name=default_model,
        created_at=created,
        turns=turns,
        current_key=current_key or _latest_leaf(turns),
        system_prompt=_text(chat.get("system")) or _text(params.get("system")) or system_prompt,
        is_pinned=data.get("pinned") is True,
        is_archived=data.get("archived") is True,
        last_message_at=_instant(data.get("updated_at")),
    )


# --- ChatGPT -------------------------------------------------------------------------------------------


def _chatgpt_content(message: Mapping[str, Any]) -> str:
    content = _obj(message.get("content"))
    kind = content.get("content_type")
    if kind in ("text", "multimodal_text"):
        parts = _items(content.get("parts"))
        return "\n\n".join(part for part in parts if isinstance(part, str) and part)
    if kind == "code":
        return _text(content.get("text"))
    return ""


def chatgpt(data: Mapping[str, Any]) -> ImportedConversation:
    """A conversation of ChatGPT's `conversations.json`: `{id, title, create_time, mapping: {node id:
    {message: {author: {role}, content: {parts}, create_time, metadata: {model_slug}}, parent,
    children}}, current_node}`. The hidden root (no message), empty system messages and tool messages
    are passed over."""
    created = _instant(data.get("create_time")) or timezone.now()
    default_model = _model(data.get("default_model_slug"))
    mapping = data["mapping"]
    messages: dict[str, _Message] = {}
    for order, (key, node) in enumerate(mapping.items()):
        if not isinstance(node, dict):
            raise BadConversation(f"Node {key!r} of the mapping is not an object.")
        message = _obj(node.get("message"))
        author = _obj(message.get("author"))
        metadata = _obj(message.get("metadata"))
        role = _text(author.get("role"))
        if metadata.get("is_visually_hidden_from_conversation"):
            role = "hidden"
        finish = _obj(metadata.get("finish_details"))
        interrupted = message.get("status") == "in_progress" or finish.get("type") == "interrupted"
        parent = node.get("parent")
        messages[str(key)] = _Message(
            id=str(key),
            parent=str(parent) if parent is not None else None,
            role=role,
            content=_chatgpt_content(message),
            at=_instant(message.get("create_time"), created) or created,
            model=_clip(metadata.get("model_slug"), MAX_MODEL_NAME),
            status=AIResponse.Status.INTERRUPTED if interrupted else AIResponse.Status.COMPLETE,
            done_reason=_clip(finish.get("type"), 20) if finish.get("type") != "interrupted" else "",
            order=order,
        )
    current = data.get("current_node")
    turns, current_key, system_prompt = _tree_turns(
        messages, current_id=str(current) if current is not None else None, default_model=default_model
    )
    _ensure_turns(turns)
    return ImportedConversation(
        source=ImportSource.CHATGPT,
        source_id=_source_id(data.get("conversation_id") or data.get("id")),
        title=_clip(data.get("title"), MAX_TITLE),
        model_name=default_model if default_model != UNKNOWN_MODEL else turns[0].model_name,
        created_at=created,
        turns=turns,
        current_key=current_key or _latest_leaf(turns),
        system_prompt=system_prompt,
        is_archived=data.get("is_archived") is True,
        last_message_at=_instant(data.get("update_time")),
    )


# --- LibreChat -----------------------------------------------------------------------------------------

LIBRECHAT_ROOT = "00000000-0000-0000-0000-000000000000"


def _librechat_text(message: Mapping[str, Any]) -> str:
    parts = message.get("content")
    if isinstance(parts, list) and parts:
        texts = []
        for part in parts:
            if isinstance(part, dict) and part.get("type") == "text":
                text = part.get("text")
                texts.append(_text(text.get("value")) if isinstance(text, dict) else _text(text))
        if texts:
            return "\n\n".join(texts)
    return _text(message.get("text"))


def librechat(data: Mapping[str, Any]) -> ImportedConversation:
    """A LibreChat conversation export: `{conversationId, title, endpoint, options: {model,
    promptPrefix}, messages: [{messageId, parentMessageId, isCreatedByUser, text, model, createdAt}]}`
    or the same with the nested `messagesTree` (`children`). The current branch is the newest one."""
    options = _obj(data.get("options"))
    flat: list[Mapping[str, Any]] = []
    if isinstance(data.get("messagesTree"), list):
        pending = list(data["messagesTree"])
        while pending:
            item = pending.pop()
            if not isinstance(item, dict):
                raise BadConversation("A message is not an object.")
            flat.append(item)
            children = item.get("children")
            pending.extend(children if isinstance(children, list) else [])
    elif isinstance(data.get("messages"), list):
        flat = data["messages"]
    else:
        raise BadConversation("`messages` is not a list.")
    default_model = _model(options.get("model") or data.get("model") or data.get("endpoint"))
    created = timezone.now()
    messages: dict[str, _Message] = {}
    for order, item in enumerate(flat):
        if not isinstance(item, dict) or not item.get("messageId"):
            raise BadConversation("A message is not an object with a `messageId`.")
        parent = item.get("parentMessageId")
        at = _instant(item.get("createdAt"), created) or created
        messages[str(item["messageId"])] = _Message(
            id=str(item["messageId"]),
            parent=None if parent in (None, LIBRECHAT_ROOT) else str(parent),
            role="user" if item.get("isCreatedByUser") is True else "assistant",
            content=_librechat_text(item),
            at=at,
            model=_clip(item.get("model"), MAX_MODEL_NAME),
            status=(
                AIResponse.Status.FAILED
                if item.get("error") is True
                else AIResponse.Status.INTERRUPTED
                if item.get("unfinished") is True
                else AIResponse.Status.COMPLETE
            ),
            order=order,
        )
    turns, _, _ = _tree_turns(messages, current_id=None, default_model=default_model)
    _ensure_turns(turns)
    return ImportedConversation(
        source=ImportSource.LIBRECHAT,
        source_id=_source_id(data.get("conversationId")),
        title=_clip(data.get("title"), MAX_TITLE),
        model_name=default_model,
        created_at=min(turn.prompt_at for turn in turns),
        turns=turns,
        current_key=_latest_leaf(turns),
        system_prompt=_text(options.get("promptPrefix")),
    )


# --- OllamaNet's own export ----------------------------------------------------------------------------


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def ollamanet(data: Mapping[str, Any]) -> ImportedConversation:
    """OllamaNet's lossless export (`format: ollamanet.conversation`): every exchange of every branch
    with its prompt's options and token count, the answer's status and metrics, feedback and notes."""
    meta = data.get("conversation")
    exchanges = data.get("exchanges")
    if not isinstance(meta, dict) or not isinstance(exchanges, list):
        raise BadConversation("`conversation` or `exchanges` is missing.")
    created = _instant(meta.get("created_at")) or timezone.now()
    turns: list[ImportedTurn] = []
    known: set[str] = set()
    statuses = set(AIResponse.Status.values) - {AIResponse.Status.STREAMING}
    for exchange in sorted(
        (e for e in exchanges if isinstance(e, dict)), key=lambda e: _int_or_none(e.get("position")) or 0
    ):
        prompt, response = exchange.get("prompt"), exchange.get("response")
        if not isinstance(prompt, dict) or not isinstance(response, dict) or not exchange.get("id"):
            raise BadConversation("An exchange lacks its id, prompt or response.")
        parent = exchange.get("parent")
        if parent is not None and str(parent) not in known:
            raise BadConversation("An exchange's parent is not in the export.")
        raw_status = response.get("status")
        status: str = raw_status if isinstance(raw_status, str) and raw_status in statuses else "interrupted"
        options = prompt.get("options")
        turns.append(
            ImportedTurn(
                key=str(exchange["id"]),
                parent_key=str(parent) if parent is not None else None,
                prompt=_text(prompt.get("content")),
                answer=_text(response.get("content")),
                model_name=_model(response.get("model_name") or meta.get("model_name")),
                prompt_at=_instant(prompt.get("created_at"), created) or created,
                answer_at=_instant(response.get("completed_at"))
                or _instant(response.get("created_at"), created)
                or created,
                status=status,
                error=_text(response.get("error")),
                done_reason=_clip(response.get("done_reason"), 20),
                options=options if isinstance(options, dict) else {},
                token_count=_int_or_none(prompt.get("token_count")) or 0,
                history_omitted=_int_or_none(prompt.get("history_omitted")) or 0,
                metrics={name: _int_or_none(response.get(name)) for name in METRICS},
                feedback=[item for item in exchange.get("feedback") or [] if isinstance(item, dict)],
                notes=[item for item in exchange.get("notes") or [] if isinstance(item, dict)],
            )
        )
        known.add(str(exchange["id"]))
    _ensure_turns(turns)
    system_message = _obj(meta.get("system_message"))
    folder = _obj(meta.get("folder"))
    options = meta.get("default_options")
    current = meta.get("current_exchange")
    return ImportedConversation(
        source=ImportSource.OLLAMANET,
        source_id=_source_id(meta.get("id")),
        title=_clip(meta.get("title"), MAX_TITLE),
        model_name=_model(meta.get("model_name")),
        created_at=created,
        turns=turns,
        current_key=str(current) if current is not None and str(current) in known else _latest_leaf(turns),
        system_prompt=_text(meta.get("system_prompt")) or _text(system_message.get("content")),
        default_options=options if isinstance(options, dict) else {},
        is_pinned=meta.get("is_pinned") is True,
        is_archived=meta.get("is_archived") is True,
        folder_name=_clip(folder.get("name"), 255),
        last_message_at=_instant(meta.get("last_message_at")),
    )


def _unstorable(value: Any) -> str:
    """What PostgreSQL could not store in `value` (a NUL character, a lone surrogate), or ""; nesting
    depth is no concern here (LibreChat's tree nests every message in its parent)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if NUL in item:
                return "a NUL character (\\u0000)"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "a lone surrogate"
    return ""


READERS: dict[str, Callable[[Mapping[str, Any]], ImportedConversation]] = {
    ImportSource.OPEN_WEBUI: open_webui,
    ImportSource.CHATGPT: chatgpt,
    ImportSource.LIBRECHAT: librechat,
    ImportSource.OLLAMANET: ollamanet,
}


def imported_conversation(source: str, data: Any) -> ImportedConversation:
    """One decoded element of a `source` export as an ImportedConversation; BadConversation (with the
    reason) when it cannot be imported."""
    problem = _unstorable(data)
    if problem:
        raise BadConversation(f"The conversation holds what cannot be stored: {problem}.")
    if not isinstance(data, dict):
        raise BadConversation("The conversation is not a JSON object.")
    try:
        return READERS[source](data)
    except (KeyError, TypeError, AttributeError) as exc:
        raise BadConversation(f"The conversation is not a well-formed {source} conversation.") from exc
