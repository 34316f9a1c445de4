"""Service and category names per language (django-modeltranslation; it imports this module).

What customers read of the catalog has a column per shipped language: a category's name, a
service's name and description (`name_en`, `name_ru`, ... `name_pt_br`, and `name_ind` for
Indonesian, modeltranslation's spelling of "id"). Reading `service.name` (or `.values("name")`)
gives the active language's text, or the default language's (settings.MODELTRANSLATION_DEFAULT_
LANGUAGE, the panel's LANGUAGE_CODE) when that one is empty. The model's own column (`name`)
always holds the default language's text too, so that code reading the column directly
(`order__service__name` in another app's query, the unique constraint on category names) sees
one language.

Everything else about `name` means the default language, whatever language is active.
modeltranslation's own rule is "assigning or filtering `name` uses the active language's
column", which would let a request in Russian, or a sync started from the Russian backoffice, put
a provider's English name in the Russian column, and miss a category by the name just written.
Here:
- `obj.name = text`, `Service(name=text)` and `objects.create(name=text)` write the default
  language's column (and the model's own);
- `save()`, `clean_fields()` and `validate_unique()` run in the default language, so the model's
  own column and its checks see the default language's text;
- `filter(name=...)`, `get_or_create(name=...)` and `order_by("name")` use the default language's
  column, and `update(name=...)` and `bulk_update(..., ["name"])` write it with the model's own
  (catalog.models.DefaultLanguageLookups);
- translations are written by name: `obj.name_ru = text`, `update(name_ru=...)` (the backoffice's
  per-language fields);
- customers search in their language and the default one with catalog.selectors.text_matches.
"""

from __future__ import annotations

import functools

from modeltranslation import settings as mt_settings
from modeltranslation.fields import TranslationFieldDescriptor
from modeltranslation.translator import TranslationOptions, register
from modeltranslation.utils import build_localized_fieldname, resolution_order
from modeltranslation.utils import get_language as active_language

from .languages import DEFAULT_LANGUAGE, default_language, in_default_language
from .models import Category, Service

LANGUAGES: tuple[str, ...] = tuple(mt_settings.AVAILABLE_LANGUAGES)
OTHER_LANGUAGES: tuple[str, ...] = tuple(code for code in LANGUAGES if code != DEFAULT_LANGUAGE)


@register(Category)
class CategoryTranslation(TranslationOptions):
    fields = ("name",)


@register(Service)
class ServiceTranslation(TranslationOptions):
    fields = ("name", "description")


TRANSLATED: dict[type, tuple[str, ...]] = {Category: ("name",), Service: ("name", "description")}


def column(field: str, language: str | None = None) -> str:
    """The column of `field` in `language` (default: the default language), e.g. name_pt_br."""
    return build_localized_fieldname(field, language or DEFAULT_LANGUAGE)


def reading_order(language: str | None = None) -> tuple[str, ...]:
    """The languages a reader of `language` (default: the active one) is shown, first to last:
    theirs, then the fallback (the default language)."""
    return resolution_order(language or active_language())


# --- Writes bound to the default language --------------------------------------------------------


class DefaultLanguageDescriptor(TranslationFieldDescriptor):
    """modeltranslation's descriptor (reads: the active language, else the fallback), except
    that assigning writes the default language's column rather than the active one's."""

    def __set__(self, instance, value):
        with default_language():
            super().__set__(instance, value)


def _bind_writes(model: type, fields: tuple[str, ...]) -> None:
    for name in fields:
        current = model.__dict__[name]
        setattr(
            model,
            name,
            DefaultLanguageDescriptor(
                current.field,
                fallback_languages=current.fallback_languages,
                fallback_value=current.fallback_value,
                fallback_undefined=current.fallback_undefined,
            ),
        )

    # modeltranslation's constructor turns `name=` into the active language's column; run it in
    # the default language when a translated field is passed by its own name (rows loaded from
    # the database come positionally and skip this).
    translated = frozenset(fields)
    init = model.__init__

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        if kwargs and not translated.isdisjoint(kwargs):
            with default_language():
                init(self, *args, **kwargs)
        else:
            init(self, *args, **kwargs)

    model.__init__ = __init__
    for method in ("save", "clean_fields", "validate_unique"):
        setattr(model, method, in_default_language(getattr(model, method)))


for _model, _fields in TRANSLATED.items():
    _bind_writes(_model, _fields)
