"""The demo user's history: folders, conversations whose exchanges form a branched tree, feedback and
notes, made through the conversations services exactly as chatting would make them."""

from __future__ import annotations

import math
from typing import Any

from admin_app.demo_data.results import DemoDataResult
from admin_app.models import SystemMessage
from conversations_app import services as conversation_services
from conversations_app.models import AIResponse, Conversation, ConversationPromptResponse, Feedback, Folder
from models_app.models import AIModel

# What Ollama reports for the first answer of a conversation (the model is loaded) and later ones.
COLD_LOAD_NS = 2_100_000_000
WARM_LOAD_NS = 14_000_000


def _text(value: str | list[str]) -> str:
    """Multi-line texts are stored in the data file as lists of lines."""
    return "\n".join(value) if isinstance(value, list) else value


def _tokens(text: str) -> int:
    """A rough token count (about four characters a token): enough for plausible demo metrics."""
    return max(1, math.ceil(len(text) / 4))


def _metrics(*, model: AIModel, prompt_tokens: int, content: str, cold: bool) -> dict[str, int]:
    """Ollama's final-chunk metrics for an answer, at the speed of a mid-range GPU (bigger models
    are slower per token)."""
    eval_ns_per_token = 8_000_000 + (model.parameter_count or 0) // 250
    eval_count = _tokens(content)
    load_duration = COLD_LOAD_NS if cold else WARM_LOAD_NS
    prompt_eval_duration = prompt_tokens * eval_ns_per_token // 8
    eval_duration = eval_count * eval_ns_per_token
    return {
        "total_duration": load_duration + prompt_eval_duration + eval_duration + 3_000_000,
        "load_duration": load_duration,
        "prompt_eval_count": prompt_tokens,
        "prompt_eval_duration": prompt_eval_duration,
        "eval_count": eval_count,
        "eval_duration": eval_duration,
    }


def history_seed(
    *,
    user: Any,
    spec: dict[str, Any],
    catalogue: dict[str, AIModel],
    system_messages: dict[str, SystemMessage],
    result: DemoDataResult,
) -> None:
    """The demo user's folders and conversations, with feedback and notes on some answers.

    A conversation whose model is no longer published is skipped with a warning.
    """
    folders: dict[tuple[str, ...], Folder] = {}

    def add_folders(specs: list[dict[str, Any]], parent: Folder | None, path: tuple[str, ...]) -> None:
        for folder_spec in specs:
            folder = conversation_services.folder_create(
                owner=user, name=folder_spec["name"], parent_id=parent.pk if parent else None
            )
            folders[(*path, folder.name)] = folder
            result.record("folders")
            add_folders(folder_spec["children"], folder, (*path, folder.name))

    add_folders(spec["folders"], None, ())
    for conversation_spec in spec["conversations"]:
        model = catalogue.get(conversation_spec["model"])
        if model is None or model.deleted_at is not None or not model.is_active:
            result.warnings.append(
                f"Demo conversation {conversation_spec['title']!r} skipped: "
                f"model {conversation_spec['model']} is not published."
            )
            continue
        message = system_messages[conversation_spec["system_message"]]
        # An operator may have retired the system message; its text still frames the conversation.
        usable = message.deleted_at is None and message.is_active
        folder_path = tuple(conversation_spec["folder"])
        conversation = conversation_services.conversation_create(
            owner=user,
            model_ref=model.pk,
            title=conversation_spec["title"],
            system_message_id=message.pk if usable else None,
            system_prompt="" if usable else message.content,
            default_options=conversation_spec["options"],
            folder_id=folders[folder_path].pk if folder_path else None,
            is_pinned=conversation_spec["is_pinned"],
        )
        result.record("conversations")
        _add_exchanges(
            conversation=conversation,
            model=model,
            system_prompt=message.content,
            spec=conversation_spec,
            result=result,
        )


def _add_exchanges(
    *,
    conversation: Conversation,
    model: AIModel,
    system_prompt: str,
    spec: dict[str, Any],
    result: DemoDataResult,
) -> None:
    """The conversation's exchanges along its current branch. An exchange's `replaced_answers` are
    answered first and then regenerated, so they stay as earlier siblings of the answer the branch
    goes on from, and that branch ends at the conversation's current exchange."""
    branch = [system_prompt]
    cold = True
    for exchange_spec in spec["exchanges"]:
        prompt = _text(exchange_spec["prompt"])
        # Ollama evaluates the whole branch again for every answer (plus a few template tokens each).
        prompt_tokens = sum(_tokens(message) + 4 for message in [*branch, prompt])
        exchange: ConversationPromptResponse | None = None
        for answer in [*exchange_spec.get("replaced_answers", []), exchange_spec]:
            if exchange is None:
                exchange = conversation_services.exchange_start(conversation=conversation, content=prompt)
            else:
                exchange = conversation_services.exchange_regenerate(exchange=exchange)
            content = _text(answer["response"])
            exchange = conversation_services.exchange_complete(
                exchange=exchange,
                content=content,
                metrics=_metrics(model=model, prompt_tokens=prompt_tokens, content=content, cold=cold),
            )
            cold = False
            result.record("exchanges")
            _add_reactions(user=conversation.owner, response=exchange.response, spec=answer, result=result)
        branch += [prompt, content]


def _add_reactions(*, user: Any, response: AIResponse, spec: dict[str, Any], result: DemoDataResult) -> None:
    """The user's feedback on an answer and notes on spans of it (located by the quoted text)."""
    if feedback := spec.get("feedback"):
        conversation_services.feedback_create(
            user=user,
            response=response,
            rating=Feedback.Rating.UP if feedback["rating"] == "up" else Feedback.Rating.DOWN,
            reason=feedback["reason"],
            comment=feedback["comment"],
        )
        result.record("feedback")
    for note in spec.get("notes", []):
        start = response.content.find(note["quote"])
        if start < 0:
            raise ValueError(f"A demo note quotes text that is not in its answer: {note['quote']!r}")
        conversation_services.note_create(
            owner=user,
            response=response,
            content=note["content"],
            from_index=start,
            to_index=start + len(note["quote"]),
        )
        result.record("notes")
