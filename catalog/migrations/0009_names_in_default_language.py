"""Today's names and descriptions become the default language's text (the configured one:
MODELTRANSLATION_DEFAULT_LANGUAGE, the panel's LANGUAGE_CODE); the other languages start empty,
so customers see the default language's text until staff translate.

Backwards: the default language's text goes back into the model's own columns, which keeps any
edit made since."""

from django.conf import settings
from django.db import migrations
from django.db.models import F
from modeltranslation.utils import build_localized_fieldname

TEXTS = {"category": ("name",), "service": ("name", "description")}


def _default_language() -> str:
    return getattr(settings, "MODELTRANSLATION_DEFAULT_LANGUAGE", None) or settings.LANGUAGE_CODE


def forwards(apps, schema_editor):
    language = _default_language()
    for model_name, fields in TEXTS.items():
        model = apps.get_model("catalog", model_name)
        for field in fields:
            target = build_localized_fieldname(field, language)
            model.objects.filter(**{f"{target}__isnull": True}).update(**{target: F(field)})


def backwards(apps, schema_editor):
    language = _default_language()
    for model_name, fields in TEXTS.items():
        model = apps.get_model("catalog", model_name)
        for field in fields:
            source = build_localized_fieldname(field, language)
            model.objects.filter(**{f"{source}__isnull": False}).update(**{field: F(source)})


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0008_names_per_language"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
