"""The catalog's default language and running code in it (catalog.translation explains why).

Kept apart from catalog.translation, which registers the models, so that the models' own query
sets can use it."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.utils import translation
from modeltranslation import settings as mt_settings

# settings.MODELTRANSLATION_DEFAULT_LANGUAGE: the panel's LANGUAGE_CODE.
DEFAULT_LANGUAGE: str = mt_settings.DEFAULT_LANGUAGE


@contextmanager
def default_language() -> Iterator[None]:
    """Run a block in the default language, whatever the caller's (a request's, or one a
    previous request left active in this thread)."""
    if translation.get_language() == DEFAULT_LANGUAGE:
        yield
        return
    with translation.override(DEFAULT_LANGUAGE):
        yield


def in_default_language(function: Callable) -> Callable:
    """`function`, run inside default_language()."""

    @functools.wraps(function)
    def wrapped(*args, **kwargs):
        with default_language():
            return function(*args, **kwargs)

    return wrapped
