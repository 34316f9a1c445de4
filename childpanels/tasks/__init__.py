"""Celery finds tasks in `childpanels.tasks`; each part of the app keeps its own module."""

from .billing import *  # noqa: F403
from .lifecycle import *  # noqa: F403
from .provider import *  # noqa: F403
