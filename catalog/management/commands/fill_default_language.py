"""Give every service and category a text in the default language where it has none.

Run it after changing PANEL_LANGUAGE on a panel that already has a catalog: the new default
language's columns start empty, and an empty text would show as an empty name wherever no
translation exists. Each empty one gets the model's own column, which holds the texts of the
language that was the default until now (staff then translate them). Safe to run again: texts
already there are kept.
"""

from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import F, Q

from catalog.languages import DEFAULT_LANGUAGE
from catalog.translation import TRANSLATED, column


class Command(BaseCommand):
    help = "Copy each catalog name or description into the default language's column where that one is empty."

    def handle(self, *args, **options):
        with transaction.atomic():
            for model, fields in TRANSLATED.items():
                for field in fields:
                    target = column(field)
                    empty = Q(**{f"{target}__isnull": True}) | Q(**{target: ""})
                    # rewrite(False): the model's own column, not modeltranslation's reading of it.
                    filled = (
                        model.objects.rewrite(False).filter(empty).exclude(**{field: ""}).update(**{target: F(field)})
                    )
                    self.stdout.write(
                        f"{model._meta.verbose_name_plural} {field} [{DEFAULT_LANGUAGE}]: {filled} filled"
                    )
