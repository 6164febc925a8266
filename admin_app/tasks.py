"""Background work of the administration: model pulls into Ollama, the servers' checks and the
catalogue following what they hold."""

from __future__ import annotations

from celery import shared_task

from admin_app.services.inference import model_pull_run
from admin_app.services.servers import catalogue_sync


# Acknowledged when it starts, unlike the other tasks: a pull can outlast the broker's visibility
# timeout, and a redelivered message would run a second download beside the first. A pull whose
# worker died is given up once stale and asked for again (admin_app.services.inference).
@shared_task(name="admin_app.tasks.pull_model", ignore_result=True, acks_late=False)
def pull_model(pull_id: str) -> str | None:
    """Run a queued model pull, recording its progress on the row (idempotent: a finished pull is
    left alone). Returns the pull's final status."""
    pull = model_pull_run(pull_id=pull_id)
    return None if pull is None else pull.status


@shared_task(name="admin_app.tasks.sync_inference", ignore_result=True)
def sync_inference() -> dict[str, list[str]] | None:
    """Check the Ollama servers that are due (healthy ones every OLLAMA_POOL_REFRESH_SECONDS, failing
    ones after their backoff) and make the catalogue's install status follow what they hold.
    Idempotent. Returns the names whose status changed (None while no server's listing is known)."""
    outcome = catalogue_sync()
    if not outcome.synced:
        return None
    return {"installed": outcome.installed, "not_installed": outcome.not_installed}
