"""`manage.py purge_trash`: delete for good what has been in the trash longer than the retention."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from conversations_app.tasks import purge_trash


class Command(BaseCommand):
    help = (
        "Purge soft-deleted folders, conversations, attachments, notes and feedback deleted more than "
        "--days days ago (default: TRASH_RETENTION_DAYS), stored files included."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=None, help="retention in days (default: the setting)")

    def handle(self, *args, days: int | None, **options) -> None:
        if days is not None and days < 0:
            raise CommandError("--days must be zero or more.")
        retention = settings.TRASH_RETENTION_DAYS if days is None else days
        counts = purge_trash(retention_days=retention)
        summary = ", ".join(f"{count} {kind}" for kind, count in counts.items())
        self.stdout.write(
            self.style.SUCCESS(f"Purged what was deleted over {retention} days ago: {summary}.")
        )
