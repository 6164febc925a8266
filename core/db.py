"""Database steps of async code: short, in a worker thread, the connection given back at once.

Django hands a request's connection back to the pool only when the request has finished, and a
streamed response finishes when its last byte is sent. An async view that waits on Ollama (seconds
to minutes) would hold a pooled connection all that time, and the eleventh concurrent stream of a
worker would wait for one. So async code never touches the ORM directly: each database step runs
through `db_step`, which runs it in a worker thread and returns that thread's connection to the
pool (or closes it, without a pool) as soon as the step is done. A step is one service call or one
selector: a few milliseconds, one transaction at most.

At most as many steps run at once as the pool has connections; the others wait on the event loop,
holding nothing. Without that, a burst of hundreds of streams would start hundreds of steps in as
many threads, each holding a connection while it waits for the interpreter, and the pool's timeout
(which is also how fast an unreachable PostgreSQL is reported) would run out under mere load.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import DEFAULT_DB_ALIAS, connections

P = ParamSpec("P")
R = TypeVar("R")


def release_connections() -> None:
    """Give this thread's database connections back (to the pool), unless a transaction is open.

    Inside an atomic block (a caller's transaction, or a test's) the connection stays: closing it
    would roll that transaction back.
    """
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


def released(func: Callable[P, R]) -> Callable[P, R]:
    """`func`, then the thread's connections given back, however it ended."""

    @functools.wraps(func)
    def step(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        finally:
            release_connections()

    return step


# Steps running at once without a pool (connections are opened per step then).
UNPOOLED_CONCURRENT_STEPS = 10
_step_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _slots() -> asyncio.Semaphore:
    """The event loop's semaphore of concurrent steps, as many as the pool's connections."""
    loop = asyncio.get_running_loop()
    slots = _step_slots.get(loop)
    if slots is None:
        pool = connections.settings[DEFAULT_DB_ALIAS].get("OPTIONS", {}).get("pool")
        size = pool.get("max_size", UNPOOLED_CONCURRENT_STEPS) if isinstance(pool, dict) else None
        slots = _step_slots[loop] = asyncio.Semaphore(size or UNPOOLED_CONCURRENT_STEPS)
    return slots


async def db_step(func: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """Run one short synchronous database step from async code, holding no connection afterwards."""
    async with _slots():
        return await sync_to_async(released(func))(*args, **kwargs)


# Whether reads may go to the read replica (core.db_router); off unless a read-only view turned it on.
replica_reads: ContextVar[bool] = ContextVar("replica_reads", default=False)


@contextmanager
def reads_on_primary() -> Iterator[None]:
    """Within the block every read goes to the primary, whatever the view allowed: for what must
    not be a moment stale (a value stored in the shared cache for minutes)."""
    token = replica_reads.set(False)
    try:
        yield
    finally:
        replica_reads.reset(token)
