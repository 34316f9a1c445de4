"""What a line is in the protocol's list parameters (comments, usernames, keywords, mass orders).

Providers split these texts with the widest notion of a line break their language offers (PHP's
`\\R`, Python's `str.splitlines`), and charge one unit per line. We count with the widest one
too: every separator `str.splitlines` knows (LF, CR, CRLF, VT, FF, FS, GS, RS, NEL, U+2028,
U+2029). What goes upstream is the counted lines joined by LF, so any provider, whatever it
splits on, receives exactly as many lines as we charged for.

Inside a line, a tab becomes a space; any other control character is refused, because a
provider may treat it as a break (or choke on it) and we could not say how many units it makes.
"""

import unicodedata

from django.utils.translation import gettext_noop

from .refusals import Refusal

__all__ = ["LineError", "join_lines", "single_line", "split_lines"]


class LineError(Refusal):
    """A text that cannot be split into lines we can charge for: `message` in the protocol's
    English (the API answers it), `translated()` for pages; `label` names the field."""


def _clean(line: str, label: str, number: int | None) -> str:
    line = line.replace("\t", " ").strip()
    for char in line:
        if unicodedata.category(char) == "Cc":
            code = f"{ord(char):04X}"
            if number is None:
                raise LineError(
                    gettext_noop("%(label)s contains a control character (U+%(code)s)"),
                    {"label": label, "code": code},
                )
            raise LineError(
                gettext_noop("%(label)s contains a control character on line %(line)s (U+%(code)s)"),
                {"label": label, "line": number, "code": code},
            )
    return line


def split_lines(text: str, *, label: str = "Text") -> list[str]:
    """The non-empty lines of `text`, each stripped; the one definition of a line in the panel."""
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _clean(raw, label, number)
        if line:
            lines.append(line)
    return lines


def join_lines(lines: list[str]) -> str:
    """The text to send for lines that `split_lines` produced: one LF between lines."""
    return "\n".join(lines)


def single_line(text: str, *, label: str = "Text") -> str:
    """A value that must be one line (a username, a hashtag, a country): refused if it holds a
    line break or a control character, stripped otherwise."""
    lines = text.splitlines() or [""]
    if len(lines) > 1:
        raise LineError(gettext_noop("%(label)s must be a single line"), {"label": label})
    return _clean(lines[0], label, None)
