"""Background work of the administration: model pulls into Ollama."""

from __future__ import annotations

from celery import shared_task

from admin_app.services.inference import model_pull_run


# Acknowledged when it starts, unlike the other tasks: a pull can outlast the broker's visibility
# timeout, and a redelivered message would run a second download beside the first. A pull whose
# worker died is given up once stale and asked for again (admin_app.services.inference).
@shared_task(name="admin_app.tasks.pull_model", ignore_result=True, acks_late=False)
def pull_model(pull_id: str) -> str | None:
    """Run a queued model pull, recording its progress on the row (idempotent: a finished pull is
    left alone). Returns the pull's final status."""
    pull = model_pull_run(pull_id=pull_id)
    return None if pull is None else pull.status
