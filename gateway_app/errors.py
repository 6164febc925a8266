"""The gateway's one error type: a status and a message, written out in the dialect of the endpoint
(`{"error": "..."}` for Ollama's, `{"error": {"message", "type", "param", "code"}}` for OpenAI's)."""

from __future__ import annotations


class GatewayError(Exception):
    """A refusal or failure to answer with `status`; `param` names the field at fault (OpenAI's
    `param`), `code` is OpenAI's machine-readable code, `retry_after` a Retry-After in seconds."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.retry_after = retry_after


def invalid(message: str, *, param: str | None = None) -> GatewayError:
    return GatewayError(400, message, param=param, code="invalid_request")


def model_not_found(name: str) -> GatewayError:
    """What Ollama answers for a model it does not have (the catalogue's published models are all the
    gateway has)."""
    return GatewayError(404, f"model '{name}' not found", param="model", code="model_not_found")
