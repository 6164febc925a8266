"""`manage.py load_demo_data`: create the demo data that is missing; safe to run on every start."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from admin_app.demo_data import AccountResult, AccountStatus, DemoDataResult, demo_data_load


class Command(BaseCommand):
    help = (
        "Create what is missing of the demo data: the User and Admin roles, the admin account, tags, a "
        "catalogue of Ollama models, system messages and a demo user with conversations. Existing rows "
        "are never changed. The admin password comes from DEMO_ADMIN_PASSWORD or is generated and shown "
        "once; the demo user's comes from DEMO_USER_PASSWORD or is the default."
    )

    def handle(self, *args, **options) -> None:
        result = demo_data_load(
            admin_password=settings.DEMO_ADMIN_PASSWORD, demo_password=settings.DEMO_USER_PASSWORD
        )
        verbose = options["verbosity"] >= 1
        for warning in result.warnings:
            self.stderr.write(self.style.WARNING(warning))
        if verbose:
            self.stdout.write(self._summary(result))
        for label, account in (("Admin account", result.admin), ("Demo user", result.demo_user)):
            if account is not None:
                self._report_account(label, account, verbose=verbose)

    def _summary(self, result: DemoDataResult) -> str:
        if not result.created:
            return "Demo data: everything is in place, nothing to add."
        created = ", ".join(f"{label}: {count}" for label, count in result.created.items())
        return self.style.SUCCESS(f"Demo data: created {created}.")

    def _report_account(self, label: str, account: AccountResult, *, verbose: bool) -> None:
        """Credentials of an account created now are shown even with --verbosity 0: a generated
        password exists nowhere else."""
        reset = f"python manage.py changepassword {account.username}"
        if account.status == AccountStatus.CREATED:
            password = f"from {account.password_env}" if account.password_env else f'"{account.password}"'
            self.stdout.write(
                self.style.SUCCESS(f'{label} created: username "{account.username}", password {password}.')
            )
            if account.generated:
                self.stdout.write(f"  This password is shown only once. Change it with: {reset}")
        elif account.status == AccountStatus.EXISTS:
            if verbose:
                self.stdout.write(
                    f'{label} "{account.username}" already exists; its password is unchanged. '
                    f"To reset it: {reset}"
                )
        elif account.status == AccountStatus.DELETED:
            self.stderr.write(
                self.style.WARNING(
                    f'{label} "{account.username}" is in the trash and was left there; restore it in the '
                    "Django admin if you need it."
                )
            )
        else:
            self.stderr.write(
                self.style.WARNING(
                    f'{label} "{account.username}" was not created: its e-mail address belongs to '
                    "another account."
                )
            )
