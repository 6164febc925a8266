"""Celery: Redis as broker, JSON only, beat schedule for the periodic housekeeping."""

from celery.schedules import crontab

from config.env import env

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=env("REDIS_URL", default="redis://127.0.0.1:63799/0"))
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The worker keeps reconnecting for as long as the broker is away, instead of exiting after 100 tries.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Queueing work from a request (core/queue.py) must not hang on a dead or silent broker: short socket
# timeouts and one quick retry, then the request goes on and a sweep (or a 503) takes over.
BROKER_SOCKET_TIMEOUT = env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=1.0)
CELERY_BROKER_CONNECTION_TIMEOUT = BROKER_SOCKET_TIMEOUT
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": BROKER_SOCKET_TIMEOUT,
    "socket_timeout": BROKER_SOCKET_TIMEOUT,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_BEAT_SCHEDULE = {
    "purge-expired-refresh-tokens": {
        "task": "auth_app.tasks.purge_expired_refresh_tokens",
        "schedule": crontab(hour=3, minute=17),
    },
    "interrupt-stale-answers": {
        "task": "conversations_app.tasks.interrupt_stale_answers",
        "schedule": 60.0,
    },
    # Attachments whose text extraction could not be queued (broker down) are queued again.
    "queue-pending-attachments": {
        "task": "conversations_app.tasks.queue_pending_attachments",
        "schedule": 300.0,
    },
    # Ollama servers due for a check are checked, and the catalogue's install status follows what they
    # hold (core/ollama/pool/, admin_app/services/servers.py): within a minute of any change.
    "sync-inference": {
        "task": "admin_app.tasks.sync_inference",
        "schedule": 15.0,
    },
    # The Explore leaderboard, recomputed from votes and kept answers (staff can also ask for it).
    "refresh-leaderboard": {
        "task": "explore_app.tasks.refresh_leaderboard",
        "schedule": 900.0,
    },
    "purge-trash": {
        "task": "conversations_app.tasks.purge_trash",
        "schedule": crontab(hour=3, minute=47),
    },
    # Accounts deleted longer than ACCOUNT_RETENTION_DAYS ago, and export archives whose link expired.
    "purge-deleted-accounts": {
        "task": "conversations_app.tasks.purge_deleted_accounts",
        "schedule": crontab(hour=4, minute=7),
    },
}
