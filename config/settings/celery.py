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
CELERY_BEAT_SCHEDULE = {
    "purge-expired-refresh-tokens": {
        "task": "auth_app.tasks.purge_expired_refresh_tokens",
        "schedule": crontab(hour=3, minute=17),
    },
    "purge-trash": {
        "task": "conversations_app.tasks.purge_trash",
        "schedule": crontab(hour=3, minute=47),
    },
}
