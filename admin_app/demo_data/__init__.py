"""Demo data for a fresh installation, loaded by `manage.py load_demo_data` on every start.

Roles, an admin account, tags, a catalogue of Ollama library models, system messages, and a demo user
with folders and conversations (one branched by a regenerated answer), read from `data.json`.
Each row is created only when its natural key is missing; rows that exist, alive or in the trash, are
left exactly as operators left them (no password reset, no metadata rewrite, no re-added tag). A run
that finds everything in place costs a handful of queries and writes nothing.
"""

from admin_app.demo_data.loader import (
    ADMIN_EMAIL,
    ADMIN_USERNAME,
    DEFAULT_DEMO_PASSWORD,
    DEMO_EMAIL,
    DEMO_USERNAME,
    demo_data,
    demo_data_load,
)
from admin_app.demo_data.results import AccountResult, AccountStatus, DemoDataResult

__all__ = [
    "ADMIN_EMAIL",
    "ADMIN_USERNAME",
    "DEFAULT_DEMO_PASSWORD",
    "DEMO_EMAIL",
    "DEMO_USERNAME",
    "AccountResult",
    "AccountStatus",
    "DemoDataResult",
    "demo_data",
    "demo_data_load",
]
