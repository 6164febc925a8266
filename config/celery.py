"""The Celery application; tasks are discovered in each app's tasks.py."""

import os

from celery import Celery

# Production settings unless told otherwise: they refuse to start without their secrets.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("ollamanet")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
