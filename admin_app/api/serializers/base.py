"""Fields and query serializers the staff API's areas share: Ollama model names, the trash switch."""

from __future__ import annotations

import re
from typing import Any

from rest_framework import serializers

from models_app.selectors import normalise_model_name

# Ollama's model names: [host/][namespace/]model[:tag]; letters, digits, '.', '_' and '-' in each part.
OLLAMA_NAME = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*(?::[A-Za-z0-9_][A-Za-z0-9._-]*)?"
)


class OllamaModelNameField(serializers.CharField):
    """A model name as Ollama writes it, e.g. `llama3.2:3b` or `hf.co/org/model:Q4_K_M`."""

    default_error_messages = {
        "name": "Not an Ollama model name (e.g. llama3.2:3b).",
        "name_length": "Ensure this name has no more than {max_length} characters, with the `:latest` "
        "that a name without a tag gets.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 200)
        kwargs.setdefault("help_text", "Ollama model name, e.g. llama3.2:3b (`:latest` when no tag is given)")
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not OLLAMA_NAME.fullmatch(value):
            self.fail("name")
        if self.max_length is not None and len(normalise_model_name(value)) > self.max_length:
            # The name is stored as Ollama reads it, with `:latest` when no tag is given.
            self.fail("name_length", max_length=self.max_length)
        return value


class TrashQuerySerializer(serializers.Serializer):
    deleted = serializers.BooleanField(
        required=False, default=False, help_text="true: the soft-deleted ones (the trash) instead"
    )
