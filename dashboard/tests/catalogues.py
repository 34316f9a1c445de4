"""A small compiled catalogue for tests: the shipped ones are filled in by translators (and compiled
by `make`), so a test that wants to see a page or an email in another language brings its own few
translations, compiled into a scratch LOCALE_PATHS entry searched before the project's."""

from pathlib import Path

import polib
from django.utils.translation import to_locale


def install_catalogue(settings, directory: Path, language: str, entries: dict[str, str]) -> None:
    """Translate `entries` (English -> translation) in `language` for the rest of the test.

    Changing LOCALE_PATHS through pytest-django's `settings` makes Django drop the translations it
    has loaded (django.test.signals), so the next gettext reads this catalogue first.
    """
    catalogue = polib.POFile()
    catalogue.metadata = {"Content-Type": "text/plain; charset=UTF-8", "Language": language}
    for english, translated in entries.items():
        catalogue.append(polib.POEntry(msgid=english, msgstr=translated))
    folder = directory / "catalogue" / to_locale(language) / "LC_MESSAGES"
    folder.mkdir(parents=True, exist_ok=True)
    catalogue.save_as_mofile(str(folder / "django.mo"))
    settings.LOCALE_PATHS = [str(directory / "catalogue"), *settings.LOCALE_PATHS]
