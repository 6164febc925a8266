"""Request bodies over the limit are refused by the ASGI layer before Django spools them."""

import asyncio
import json

from core.asgi import BodySizeLimitMiddleware


def _run(*, headers, chunks):
    sent, received_by_app = [], []
    queue = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)
    ]

    async def receive():
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    async def inner(scope, receive, send):
        while True:
            message = await receive()
            received_by_app.append(message)
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"stored"})

    scope = {"type": "http", "headers": headers, "method": "POST", "path": "/upload"}
    asyncio.run(BodySizeLimitMiddleware(inner, max_bytes=10)(scope, receive, send))
    return sent, received_by_app


def test_declared_length_over_the_limit_is_refused_without_calling_the_app():
    sent, received_by_app = _run(headers=[(b"content-length", b"11")], chunks=[])
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"]["code"] == "too_large"
    assert received_by_app == []


def test_undeclared_body_is_cut_off_once_it_passes_the_limit():
    sent, received_by_app = _run(headers=[], chunks=[b"123456", b"789012", b"345"])
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [413]
    assert received_by_app[-1] == {"type": "http.disconnect"}
    assert b"stored" not in b"".join(m.get("body", b"") for m in sent)


def test_bodies_within_the_limit_pass_through_untouched():
    sent, received_by_app = _run(headers=[(b"content-length", b"10")], chunks=[b"12345", b"67890"])
    assert sent[0]["status"] == 201
    assert b"".join(m["body"] for m in received_by_app) == b"1234567890"
