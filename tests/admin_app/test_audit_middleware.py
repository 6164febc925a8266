"""The audit context follows a request into its streamed body (a stream writes after the view returned)."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.http import HttpResponse, StreamingHttpResponse
from django.test import RequestFactory

from core.audit import current_audit_context
from core.middleware import AuditContextMiddleware, RequestIdMiddleware
from core.request_id import get_request_id


def test_a_streamed_body_runs_in_the_requests_audit_context_and_request_id(user):
    # given: a view whose streamed body notes who it acts for, behind the two middlewares
    seen: list[tuple] = []

    async def body():
        for _ in range(2):
            context = current_audit_context()
            seen.append((context.who() if context else None, get_request_id()))
            yield b"chunk"

    def view(request):
        request.user = user  # as DRF's authentication does
        return StreamingHttpResponse(body())

    stack = RequestIdMiddleware(AuditContextMiddleware(view))
    request = RequestFactory().get("/stream", HTTP_X_REQUEST_ID="stream-1")

    # when: the body is produced after the middlewares returned
    response = stack(request)
    assert current_audit_context() is None

    async def consume() -> list[bytes]:
        return [chunk async for chunk in response.streaming_content]

    chunks = async_to_sync(consume)()

    # then: each chunk was produced as the request's user, under its request id
    assert chunks == [b"chunk", b"chunk"]
    assert seen == [((str(user.pk), user.username), "stream-1")] * 2
    assert current_audit_context() is None


def test_a_plain_response_is_left_as_it_is(user):
    response = HttpResponse(b"whole")
    stack = RequestIdMiddleware(AuditContextMiddleware(lambda request: response))

    result = stack(RequestFactory().get("/plain"))

    assert result is response
    assert result.content == b"whole"
    assert result["X-Request-ID"]
