"""Titles for conversations nobody named: after the first answer, the model (or TITLE_MODEL) is asked
for a few words. A title a user set is never overwritten, and a failure leaves the title empty."""

from __future__ import annotations

import logging
import re
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from conversations_app.models import Conversation, ConversationPromptResponse
from core.exceptions import ApplicationError
from core.ollama import OllamaClient
from core.ollama.pool import server_with

logger = logging.getLogger(__name__)

TITLE_MAX_WORDS = 8
# What the model is shown of the first exchange (the start of each side is enough for a title).
TITLE_SOURCE_CHARS = 2000
TITLE_INSTRUCTION = (
    "Write a short title, at most eight words, for the conversation below. Answer with the title "
    "only: no quotes, no punctuation at the end, no explanation."
)

# Markdown and quotes (straight and typographic) a model may wrap its title in.
_WRAPPERS = "#*_`\"' \u201c\u201d\u2018\u2019"
_THINKING = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


def clean_title(text: str) -> str:
    """The first line of what the model wrote, without reasoning, quotes or Markdown, at most
    TITLE_MAX_WORDS words (empty when nothing is left)."""
    text = _THINKING.sub("", text)
    line = next((line for line in text.splitlines() if line.strip()), "")
    line = re.sub(r"^title\s*:\s*", "", line.strip().strip(_WRAPPERS), flags=re.IGNORECASE)
    line = line.strip().strip(_WRAPPERS).rstrip(".!?:;,")
    words = line.split()[:TITLE_MAX_WORDS]
    return " ".join(words)[: Conversation._meta.get_field("title").max_length]


def conversation_title_generate(*, conversation_id: Any, exchange_id: Any) -> str:
    """Title an untitled conversation from one exchange (its first). Returns the title stored, or ""
    when none was (titled meanwhile, gone, or the model failed or said nothing usable)."""
    conversation = Conversation.objects.filter(pk=conversation_id, title="").only("model_name").first()
    exchange = (
        ConversationPromptResponse.objects.filter(pk=exchange_id, conversation_id=conversation_id)
        .select_related("prompt", "response")
        .first()
    )
    if conversation is None or exchange is None:
        return ""
    model = settings.TITLE_MODEL or conversation.model_name
    dialogue = (
        f"User: {exchange.prompt.content[:TITLE_SOURCE_CHARS]}\n\n"
        f"Assistant: {exchange.response.content[:TITLE_SOURCE_CHARS]}"
    )
    messages = [{"role": "system", "content": TITLE_INSTRUCTION}, {"role": "user", "content": dialogue}]
    try:
        # The pool's server that holds the model (OLLAMA_URL when none is known to).
        with OllamaClient(server_with(model)) as client:
            answer = client.chat(
                model=model, messages=messages, options={"temperature": 0.2, "num_predict": 40}
            )
    except ApplicationError as exc:
        logger.warning("no title for conversation %s: %s", conversation_id, exc.message)
        return ""
    title = clean_title(str((answer.get("message") or {}).get("content") or ""))
    if not title:
        logger.warning("no title for conversation %s: the model's answer had none", conversation_id)
        return ""
    # Only while still untitled: a title the user set in the meantime stays.
    updated = Conversation.objects.filter(pk=conversation_id, title="").update(
        title=title, version=F("version") + 1, updated_at=timezone.now()
    )
    return title if updated else ""
