"""What a gateway call does to the database: the key checked, the model found in the catalogue, the
quota counted, the call recorded as the key owner's conversation, the usage added up.

Each function here is one database step (`core.db.db_step` from the views): short, and no connection
is held while Ollama answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models.functions import Lower

from auth_app.models import ApiKey
from auth_app.services.api_keys import InvalidApiKey, authenticate_api_key
from auth_app.services.quotas import QuotaExceeded, check_request_quota, record_usage
from conversations_app.models import ConversationPromptResponse
from conversations_app.selectors import conversation_for_api_history
from conversations_app.services import conversation_api_history_set, conversation_create, exchange_start
from core.audit import audit_context, audit_record
from gateway_app.dialects.ollama import Call
from gateway_app.errors import GatewayError, model_not_found
from gateway_app.history import history_digest
from models_app.models import AIModel
from models_app.selectors import normalise_model_name, usable_model_list, usable_models

TITLE_LENGTH = 60
SCOPE_NAMES = {"chat": "chat", "models": "listing models", "embeddings": "embeddings"}


@dataclass
class Admission:
    """A call let through: whose key, which catalogue model, and the exchange it is recorded as (None
    when the key does not record)."""

    key: ApiKey
    model: AIModel
    exchange: ConversationPromptResponse | None = None


def gateway_key_authenticate(*, raw_key: str, scope: str) -> ApiKey:
    """The live key presented, allowed `scope`: 401 otherwise (unknown, revoked, expired, owner
    locked out), 403 when the key was not given that scope."""
    if not raw_key:
        raise GatewayError(
            401, "An API key is required: send it as 'Authorization: Bearer <key>'.", code="invalid_api_key"
        )
    try:
        key = authenticate_api_key(raw_key)
    except InvalidApiKey as exc:
        raise GatewayError(401, exc.message, code="invalid_api_key") from None
    if scope not in key.scopes:
        raise GatewayError(
            403,
            f"This API key may not be used for {SCOPE_NAMES.get(scope, scope)}.",
            code="insufficient_scope",
        )
    return key


def _quota(key: ApiKey) -> None:
    try:
        check_request_quota(key.user, key)
    except QuotaExceeded as exc:
        raise GatewayError(
            429, exc.message, code="rate_limit_exceeded", retry_after=exc.retry_after
        ) from None


def _model(name: str, *, user: Any) -> AIModel:
    """A published model the key's owner may use (their roles); any other is unknown, like Ollama's.
    One query (no tags: a call needs none)."""
    model = (
        usable_models(user)
        .alias(lower_name=Lower("name"))
        .filter(lower_name=normalise_model_name(name).lower())
        .first()
    )
    if model is None:
        raise model_not_found(name)
    return model


def gateway_models_list(*, raw_key: str) -> list[AIModel]:
    """The catalogue's published models the key's owner may use, for a key allowed to list them."""
    key = gateway_key_authenticate(raw_key=raw_key, scope="models")
    return list(usable_model_list(user=key.user))


def gateway_model_admit(*, raw_key: str, scope: str, model_name: str) -> Admission:
    """A call about one model that asks Ollama (show, embed): key, published model, quota."""
    key = gateway_key_authenticate(raw_key=raw_key, scope=scope)
    model = _model(model_name, user=key.user)
    _quota(key)
    return Admission(key=key, model=model)


def gateway_admit(*, raw_key: str, scope: str) -> ApiKey:
    """A call that asks Ollama about no particular model (ps): key and quota."""
    key = gateway_key_authenticate(raw_key=raw_key, scope=scope)
    _quota(key)
    return key


def gateway_refusal_record(*, raw_key: str, action: str) -> None:
    """Model management through the gateway is for staff's admin API: an attempt made with a valid key
    is recorded in the audit trail (the view refuses it, 403)."""
    key = gateway_key_authenticate(raw_key=raw_key, scope="models")
    with audit_context(actor=key.user):
        audit_record(action="api_model_management_refused", target=key, after={"operation": action})


def conversation_title(prompt: str) -> str:
    words = " ".join(prompt.split())
    return words if len(words) <= TITLE_LENGTH else f"{words[: TITLE_LENGTH - 1]}…"


def gateway_chat_start(*, raw_key: str, call: Call) -> Admission:
    """Admit a chat or generation and, for a key that records, store its prompt before Ollama is
    asked: in the conversation whose turns so far the call continues (same key, same model, same
    earlier turns), else in a new conversation titled from the prompt (source `api`, the key)."""
    key = gateway_key_authenticate(raw_key=raw_key, scope="chat")
    model = _model(call.model, user=key.user)
    _quota(key)
    if not key.record:
        return Admission(key=key, model=model)
    with transaction.atomic(), audit_context(actor=key.user):
        conversation = None
        if call.turns and len(call.turns) > 1:
            conversation = conversation_for_api_history(
                api_key_id=key.pk, model_id=model.pk, digest=history_digest(call.turns[:-1])
            )
        if conversation is None:
            conversation = conversation_create(
                owner=key.user,
                model_ref=model,
                title=conversation_title(call.prompt),
                system_prompt=call.system,
                api_key=key,
            )
        exchange = exchange_start(
            conversation=conversation, content=call.prompt, options=call.options, model_access_checked=True
        )
    return Admission(key=key, model=model, exchange=exchange)


def gateway_chat_finish(
    *, admission: Admission, call: Call, final: Mapping[str, Any], answer: Mapping[str, Any]
) -> None:
    """After Ollama's last object: the tokens to the key's usage, and the conversation's digest
    moved on to the turns the client now holds (its messages and this answer)."""
    record_usage(
        admission.key.user,
        admission.key,
        prompt_tokens=_count(final.get("prompt_eval_count")),
        eval_tokens=_count(final.get("eval_count")),
    )
    if admission.exchange is not None and call.turns is not None:
        conversation_api_history_set(
            conversation_id=admission.exchange.conversation_id,
            digest=history_digest([*call.turns, dict(answer)]),
        )


def gateway_usage_record(*, admission: Admission, prompt_tokens: int) -> None:
    """Embeddings: no conversation, only the tokens read."""
    record_usage(admission.key.user, admission.key, prompt_tokens=prompt_tokens, eval_tokens=0)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
