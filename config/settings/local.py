"""Development (`make run`, a laptop): debug on, development defaults for everything else.

Chosen explicitly (scripts/dev.sh sets DJANGO_SETTINGS_MODULE=config.settings.local); the entry points
default to `config.settings.production`, which refuses to start without its secrets.
"""

from config.env import env
from config.settings.base import *  # noqa: F403

DEBUG = env.bool("DJANGO_DEBUG", default=True)
