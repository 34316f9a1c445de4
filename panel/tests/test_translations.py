"""Every shipped language has every string the code marks, and every catalogue compiles.

The extraction is `make messages`' own (scripts/make_messages.py) into a scratch directory, so a
string added to a template or to Python without its translations fails here, naming the language
and the string. msgfmt --check compiles each catalogue as `make` does and refuses a translation
whose placeholders differ from the English (`%(name)s`, `{count}` in python-brace strings).
"""

import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.utils.translation import to_locale

ROOT = Path(settings.BASE_DIR)
SHIPPED = [to_locale(code) for code, _ in settings.LANGUAGES if code != "en"]


def _key(entry) -> tuple:
    return (entry.msgctxt, entry.msgid, entry.msgid_plural)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> polib.POFile:
    scratch = tmp_path_factory.mktemp("locale")
    (scratch / "xx" / "LC_MESSAGES").mkdir(parents=True)
    script = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
        "from scripts.make_messages import extract; extract(['xx'], Path(sys.argv[2]))"
    )
    subprocess.run([sys.executable, "-c", script, str(ROOT), str(scratch)], check=True, timeout=120)
    return polib.pofile(str(scratch / "xx" / "LC_MESSAGES" / "django.po"))


def test_every_shipped_language_has_a_catalogue():
    assert {code for code, _ in settings.LANGUAGES} >= {"en", "ru", "es", "pt-br", "tr", "ar", "hi", "id"}
    for locale in SHIPPED:
        assert (ROOT / "locale" / locale / "LC_MESSAGES" / "django.po").is_file(), locale


def test_extraction_finds_the_panel_strings(extracted):
    ids = {entry.msgid for entry in extracted}
    assert len(ids) > 500
    assert "New order" in ids and "Add funds" in ids


@pytest.mark.parametrize("locale", SHIPPED)
def test_every_marked_string_is_translated(locale, extracted):
    catalogue = polib.pofile(str(ROOT / "locale" / locale / "LC_MESSAGES" / "django.po"))
    translated = {}
    for entry in catalogue:
        if entry.obsolete or "fuzzy" in entry.flags:
            continue
        forms = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        if forms and all(form.strip() for form in forms):
            translated[_key(entry)] = entry
    missing = [entry.msgid for entry in extracted if _key(entry) not in translated]
    assert not missing, f"{locale}: {len(missing)} strings without a translation, e.g. {missing[:10]}"


@pytest.mark.parametrize("locale", SHIPPED)
def test_plural_forms_are_all_written(locale):
    catalogue = polib.pofile(str(ROOT / "locale" / locale / "LC_MESSAGES" / "django.po"))
    # msgfmt leaves out a fuzzy header, and with it the plural rule: Russian would count like English.
    assert not catalogue.metadata_is_fuzzy, f"{locale}: the header is marked fuzzy"
    header = catalogue.metadata.get("Plural-Forms", "")
    count = int(header.split("nplurals=")[1].split(";")[0])
    for entry in catalogue:
        if entry.msgid_plural and not entry.obsolete:
            assert len(entry.msgstr_plural) == count, (locale, entry.msgid)


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="gettext's msgfmt is not installed")
@pytest.mark.parametrize("locale", SHIPPED)
def test_catalogue_compiles_with_matching_placeholders(locale, tmp_path):
    source = ROOT / "locale" / locale / "LC_MESSAGES" / "django.po"
    result = subprocess.run(
        ["msgfmt", "--check-format", "--check-header", "-o", str(tmp_path / "django.mo"), str(source)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


# makemessages tells xgettext these names (and `_`); a string marked through any other alias is
# never gathered and silently stays English.
GATHERED = {"_", "gettext", "gettext_lazy", "gettext_noop", "ngettext", "ngettext_lazy", "pgettext"}
GATHERED |= {"pgettext_lazy", "npgettext", "npgettext_lazy"}


def test_strings_are_marked_only_through_names_the_extraction_knows():
    import re

    alias = re.compile(r"from django\.utils\.translation import ([^\n]+)")
    offenders = []
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith((".venv/", "var/")) or "/migrations/" in relative:
            continue
        for names in alias.findall(path.read_text(encoding="utf-8")):
            for item in names.strip("() ").split(","):
                name, _, renamed = item.strip().partition(" as ")
                if renamed and "gettext" in name and renamed.strip() not in GATHERED:
                    offenders.append(f"{relative}: {item.strip()}")
    assert not offenders, offenders
