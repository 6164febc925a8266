"""Fixtures of the auth tests: a controllable clock."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone


class Clock:
    """Stands in for `django.utils.timezone.now`; moves only when told to."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """Django's clock under the test's control: lockouts expire by `clock.advance(...)`, not by sleeping."""
    fake = Clock(timezone.now())
    monkeypatch.setattr(timezone, "now", fake)
    return fake
