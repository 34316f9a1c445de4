"""Gather the translatable strings of the code into locale/<lang>/LC_MESSAGES/django.po.

`make messages` runs it for every shipped language; panel/tests/test_translations.py runs the same
extraction into a scratch directory to find strings that a catalogue lacks. Tests, benchmarks, the
simulator (a provider of its own, in English) and the virtualenv are not the panel's text.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IGNORE = [".venv", "var", "bench", "scripts", "simulator", "testing", "staticfiles", "*/tests", "node_modules"]


def extract(locales: list[str], locale_dir: Path | None = None) -> None:
    """makemessages for `locales` into `locale_dir` (default: the project's locale/).

    makemessages writes next to the nearest `locale` directory it walks past, so a scratch
    extraction walks a directory of links to the project's folders (all but locale/) instead.
    """
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "panel.settings")
    os.environ.setdefault("DEBUG", "true")
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    walk_from = ROOT
    if locale_dir is not None:
        settings.LOCALE_PATHS = [locale_dir]
        walk_from = locale_dir / "source"
        walk_from.mkdir()
        for entry in ROOT.iterdir():
            if entry.name != "locale" and not entry.name.startswith("."):
                (walk_from / entry.name).symlink_to(entry)
    cwd = os.getcwd()
    os.chdir(walk_from)
    try:
        call_command(
            "makemessages",
            locale=locales,
            ignore_patterns=IGNORE,
            add_location="file",
            no_obsolete=True,
            symlinks=locale_dir is not None,
            verbosity=0,
        )
    finally:
        os.chdir(cwd)


if __name__ == "__main__":
    extract(sys.argv[1:])
