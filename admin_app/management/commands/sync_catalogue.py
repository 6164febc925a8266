"""`manage.py sync_catalogue`: check every Ollama server now and make the catalogue's install status
follow what they hold."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from admin_app.services import catalogue_sync
from core.audit import audit_context


class Command(BaseCommand):
    help = (
        "Check every Ollama server of the pool (OLLAMA_URLS, or OLLAMA_URL) now, then mark installed the "
        "catalogue models some server holds and not installed the installed ones none holds."
    )

    def handle(self, *args, **options) -> None:
        with audit_context(actor_repr="manage.py sync_catalogue"):
            outcome = catalogue_sync(force=True, record=True)
        for server in outcome.servers:
            line = f"{server.url}: {server.status}, {len(server.models)} models"
            self.stdout.write(line if server.status != "down" else f"{line} ({server.last_error})")
        if not outcome.synced:
            raise CommandError("No Ollama server could be read; the catalogue is left as it is.")
        self.stdout.write(
            self.style.SUCCESS(
                f"Catalogue: {len(outcome.installed)} now installed, {len(outcome.not_installed)} no longer."
            )
        )
        for name in outcome.installed:
            self.stdout.write(f"  + {name}")
        for name in outcome.not_installed:
            self.stdout.write(f"  - {name}")
