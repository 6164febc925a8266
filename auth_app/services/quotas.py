"""Quotas of API use (API keys and the Ollama/OpenAI-compatible endpoints) and its accounting.

Two limits, each from the environment and overridable by staff:

- requests per minute (`API_KEY_REQUESTS_PER_MINUTE`), counted in Redis in fixed one-minute windows
  (one atomic INCR + EXPIRE per request);
- tokens per UTC day (`API_KEY_TOKENS_PER_DAY`), read from the usage rows in PostgreSQL that
  `record_usage` adds to. A request is refused once the day's tokens have reached the limit; the one
  that crosses it is not cut short.

0 means unlimited. Which limit applies: a key's own limit (`ApiKey.requests_per_minute` /
`tokens_per_day`, set by staff) when it has one, counted for that key alone; otherwise its owner's
(`User.api_requests_per_minute` / `api_tokens_per_day`, or the default), counted over all the owner's
use without a limit of its own (keyless use and every key without an own limit share it, so more keys
do not mean more quota).

Redis is an accelerator here too: while it is unreachable the per-minute limit steps aside (logged
once per cool-down, as the throttles do, `core.cache.outage`); the daily tokens still count.
"""

from __future__ import annotations

import datetime
import time
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import F, Q, Sum
from django.utils import timezone
from django_redis import get_redis_connection
from rest_framework import status
from uuid6 import uuid7

from auth_app.models import ApiKey, ApiUsage
from core.cache import CACHE_ERRORS, outage
from core.exceptions import ApplicationError

if TYPE_CHECKING:
    from auth_app.models import User

WINDOW_SECONDS = 60


class QuotaExceeded(ApplicationError):
    """Over a quota: the API answers 429 with `Retry-After: <retry_after>`."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    code = "quota_exceeded"

    def __init__(self, retry_after: int, message: str) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


def requests_per_minute_limit(user: User, api_key: ApiKey | None = None) -> int:
    """The per-minute limit that applies (0: unlimited)."""
    if api_key is not None and api_key.requests_per_minute is not None:
        return api_key.requests_per_minute
    if user.api_requests_per_minute is not None:
        return user.api_requests_per_minute
    return int(settings.API_KEY_REQUESTS_PER_MINUTE)


def tokens_per_day_limit(user: User, api_key: ApiKey | None = None) -> int:
    """The daily token limit that applies (0: unlimited)."""
    if api_key is not None and api_key.tokens_per_day is not None:
        return api_key.tokens_per_day
    if user.api_tokens_per_day is not None:
        return user.api_tokens_per_day
    return int(settings.API_KEY_TOKENS_PER_DAY)


def _utc_today() -> datetime.date:
    return timezone.now().astimezone(datetime.UTC).date()


def _seconds_to_midnight() -> int:
    now = timezone.now().astimezone(datetime.UTC)
    midnight = datetime.datetime.combine(
        now.date() + datetime.timedelta(days=1), datetime.time.min, datetime.UTC
    )
    return int((midnight - now).total_seconds()) + 1


def tokens_used_today(user: User, api_key: ApiKey | None = None) -> int:
    """Tokens (prompt + generated) counted today against the limit that applies (one query)."""
    rows = ApiUsage.objects.filter(user_id=user.pk, day=_utc_today())
    if api_key is not None and api_key.tokens_per_day is not None:
        rows = rows.filter(api_key_id=api_key.pk)
    else:
        rows = rows.filter(Q(api_key__isnull=True) | Q(api_key__tokens_per_day__isnull=True))
    total = rows.aggregate(total=Sum(F("prompt_tokens") + F("eval_tokens")))["total"]
    return int(total or 0)


def _count_in_window(bucket: str) -> tuple[int, int]:
    """Count one request in `bucket`'s current minute: (requests in the window so far, seconds to the
    window's end). (0, …) while Redis is unreachable: the limit steps aside."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    retry_after = WINDOW_SECONDS - int(now % WINDOW_SECONDS)
    if outage.active():
        return 0, retry_after
    key = cache.make_key(f"apiquota:rpm:{bucket}:{window}")
    try:
        pipeline = get_redis_connection("default").pipeline(transaction=True)
        pipeline.incr(key)
        pipeline.expire(key, 2 * WINDOW_SECONDS)
        count, _ = pipeline.execute()
    except CACHE_ERRORS as exc:
        outage.record(exc, "API quota")
        return 0, retry_after
    return int(count), retry_after


def check_request_quota(user: User, api_key: ApiKey | None = None) -> None:
    """Count one request of `user` (through `api_key`, if any) and refuse it with QuotaExceeded when
    it is over the daily tokens or the per-minute requests. Call once per request, before Ollama."""
    token_limit = tokens_per_day_limit(user, api_key)
    if token_limit and tokens_used_today(user, api_key) >= token_limit:
        raise QuotaExceeded(
            _seconds_to_midnight(),
            f"The daily token quota ({token_limit} tokens) is used up; it renews at midnight UTC.",
        )
    request_limit = requests_per_minute_limit(user, api_key)
    if not request_limit:
        return
    own = api_key is not None and api_key.requests_per_minute is not None
    bucket = f"key:{api_key.pk}" if own and api_key is not None else f"user:{user.pk}"
    count, retry_after = _count_in_window(bucket)
    if count > request_limit:
        raise QuotaExceeded(
            retry_after, f"Too many requests: the quota is {request_limit} per minute. Try again shortly."
        )


def record_usage(user: User, api_key: ApiKey | None = None, *, prompt_tokens: int, eval_tokens: int) -> None:
    """Add one request and its tokens to today's usage row of (user, key): one atomic upsert (INSERT …
    ON CONFLICT DO UPDATE with additions), safe under any number of concurrent callers."""
    table = ApiUsage._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (id, user_id, api_key_id, day, requests, prompt_tokens, eval_tokens,
                                 created_at, updated_at)
            VALUES (%s, %s, %s, %s, 1, %s, %s, now(), now())
            ON CONFLICT (user_id, api_key_id, day) DO UPDATE SET
                requests = {table}.requests + 1,
                prompt_tokens = {table}.prompt_tokens + EXCLUDED.prompt_tokens,
                eval_tokens = {table}.eval_tokens + EXCLUDED.eval_tokens,
                updated_at = now()
            """,  # noqa: S608 - the table name is the model's, the values are parameters
            [
                uuid7(),
                user.pk,
                api_key.pk if api_key is not None else None,
                _utc_today(),
                max(0, int(prompt_tokens or 0)),
                max(0, int(eval_tokens or 0)),
            ],
        )
