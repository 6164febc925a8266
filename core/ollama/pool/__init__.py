"""Several Ollama servers as one pool: where each request for a model goes.

`OLLAMA_URLS` (comma-separated) lists the servers; without it the pool is the one `OLLAMA_URL`.

State, shared by every web and Celery worker through Redis (keys under the cache's prefix):

- `ollama:server:<url>`: what the last check of the server found (`ServerState`: health, the models
  `/api/tags` lists, version, latency, last error, consecutive failures, when to check it next);
- `ollama:tags:<url>`: the full `/api/tags` entries (sizes, digests, details), for the staff lists;
- `ollama:inflight:<url>`: requests in flight on the server, a hash of counts per worker process,
  changed with atomic HINCRBY; `ollama:worker:<id>`: a key each worker keeps alive with a TTL, so the
  counts of a worker that crashed stop counting within `WORKER_TTL` seconds.

Checks (`refresh_servers`) run in the background (the `sync_inference` beat task), at once after a
pull or delete, and when staff list servers or models: a server answering `/api/version` and
`/api/tags` is healthy and checked again after `OLLAMA_POOL_REFRESH_SECONDS`; one that fails is down
and checked again after an exponential backoff (`OLLAMA_POOL_BACKOFF_SECONDS`, doubled per failure up
to `OLLAMA_POOL_BACKOFF_MAX_SECONDS`).

Routing (`routed`, under `open_chat_stream`) costs one Redis round trip: each process keeps a view of
the servers' state, at most `OLLAMA_POOL_VIEW_SECONDS` old, and one Lua script both picks the server
with the fewest requests in flight among the healthy ones that have the model (the in-flight
increment included) and, when the view is due, returns the fresh state. The order tried:

1. healthy servers that have the model, fewest in flight first (ties: the order of `OLLAMA_URLS`);
2. servers never checked (or whose state Redis lost), then servers down whose backoff is over;
3. servers down that had the model (a last resort: they may be back), then healthy servers said not
   to have it (the view may be older than a pull).

A server that fails before the answer starts (connection refused or timed out, a 5xx, a 404 for the
model) costs nothing but time: the request moves to the next server, the failure is recorded (the
server marked down) and the connection retries of the transport are left to the last server. When
none could answer: 409 `model_not_installed` if a server that answered lacks the model, otherwise the
failure itself (503 `ollama_unavailable` when none was reachable).

Redis down: servers are tried in the order of `OLLAMA_URLS`, nothing is counted, and the outage is
logged once per cool-down (`core.cache.Outage`), like the throttles.
"""

from core.ollama.pool.routing import (
    Lease,
    PooledChatStream,
    acquire,
    forget_view,
    load_view,
    plan,
    routed,
)
from core.ollama.pool.state import (
    DOWN,
    HEALTHY,
    UNKNOWN,
    WORKER_TTL,
    PoolSnapshot,
    ServerState,
    down_state,
    inflight_key,
    model_key,
    normalise_model_name,
    pool_outage,
    probe,
    refresh_servers,
    server_urls,
    server_with,
    snapshot,
    state_key,
    store_state,
    stored_states,
    tags_key,
    worker_id,
    worker_key_prefix,
)

__all__ = [
    "DOWN",
    "HEALTHY",
    "UNKNOWN",
    "WORKER_TTL",
    "Lease",
    "PoolSnapshot",
    "PooledChatStream",
    "ServerState",
    "acquire",
    "down_state",
    "forget_view",
    "inflight_key",
    "load_view",
    "model_key",
    "normalise_model_name",
    "plan",
    "pool_outage",
    "probe",
    "refresh_servers",
    "routed",
    "server_urls",
    "server_with",
    "snapshot",
    "state_key",
    "store_state",
    "stored_states",
    "tags_key",
    "worker_id",
    "worker_key_prefix",
]
