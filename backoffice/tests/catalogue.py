"""Translations a translator has not written yet, added to a language's loaded catalogue for one
test: so a test can show that a page translates a text (through a template, gettext, pgettext or
ngettext alike) before the catalogues have it."""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from django.utils.translation import trans_real

CONTEXT_SEPARATOR = "\x04"


@contextmanager
def translations_added(language: str, entries: Mapping[object, str | Sequence[str]]) -> Iterator[None]:
    """Add `entries` to `language`'s catalogue while the block runs. A key is a msgid, or
    (context, msgid); a value is the translation, or for a plural msgid (its singular) the list
    of forms by the language's plural index."""
    catalogue = trans_real.translation(language)._catalog
    top = catalogue._catalogs[0]  # the catalogue looked up first (see TranslationCatalog)
    keys: dict[object, str] = {}
    for key, value in entries.items():
        msgid = CONTEXT_SEPARATOR.join(key) if isinstance(key, tuple) else key
        if isinstance(value, str):
            keys[msgid] = value
        else:
            keys.update({(msgid, index): form for index, form in enumerate(value)})
    missing = object()
    saved = {key: top.get(key, missing) for key in keys}
    top.update(keys)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is missing:
                top.pop(key, None)
            else:
                top[key] = value
