"""Static files (the Django admin's, Swagger UI's and Redoc's) served by the application itself with
WhiteNoise: hashed names cached for ever, gzip and brotli variants chosen by `Accept-Encoding`.

WhiteNoise's middleware is synchronous only; one synchronous middleware in the chain makes Django run
every request of the ASGI server through a thread and back, streams included. This one is native in
both stacks: an API request costs a dictionary lookup (or, in development, where files are looked up
as they are asked for, a path check), and only a static file is opened and read in worker threads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import IO, Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponseBase
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise's middleware (same settings, same responses), usable without a thread switch under
    ASGI."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any = None, **kwargs: Any) -> None:
        super().__init__(get_response, **kwargs)
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        path = request.path_info
        if not self.autorefresh:
            static_file = self.files.get(path)
        elif any(path.startswith(prefix) for prefix in self._lookup_prefixes()):
            static_file = await sync_to_async(self.find_file, thread_sensitive=False)(path)
        else:
            static_file = None
        if static_file is None:
            return await self.get_response(request)
        response = await sync_to_async(self.serve, thread_sensitive=False)(static_file, request)
        # The file is read in worker threads, not by Django's fallback for synchronous bodies (which
        # loads a whole file at once); a HEAD or a 304 has no file and sends nothing.
        stream = getattr(response, "file_to_stream", None)
        response.streaming_content = _read_in_threads(stream, response)  # type: ignore[attr-defined]
        return response

    def _lookup_prefixes(self) -> list[str]:
        """URL prefixes under which development finds files on demand (STATIC_URL and any root)."""
        return [self.static_prefix, *(prefix for _root, prefix in self.directories)]


async def _read_in_threads(stream: IO[bytes] | None, response: HttpResponseBase) -> AsyncIterator[bytes]:
    if stream is None:
        return
    read = sync_to_async(stream.read, thread_sensitive=False)
    while chunk := await read(getattr(response, "block_size", 64 * 1024)):
        yield chunk
