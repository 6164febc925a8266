"""What a demo-data run did: rows created, accounts, warnings."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum


class AccountStatus(StrEnum):
    CREATED = "created"
    EXISTS = "exists"
    DELETED = "deleted"
    EMAIL_TAKEN = "email_taken"


@dataclass(frozen=True)
class AccountResult:
    """What a run did about one account. For an account created now, `password` is its password
    unless that came from the environment variable `password_env`; `generated` says it was random."""

    username: str
    status: AccountStatus
    password: str = ""
    password_env: str = ""
    generated: bool = False


@dataclass
class DemoDataResult:
    """Counts of the rows a run created (by label, in creation order), the accounts and warnings."""

    created: Counter[str] = field(default_factory=Counter)
    admin: AccountResult | None = None
    demo_user: AccountResult | None = None
    warnings: list[str] = field(default_factory=list)

    def record(self, label: str, count: int = 1) -> None:
        """Count `count` rows created under `label`; nothing created leaves no entry."""
        if count:
            self.created[label] += count
