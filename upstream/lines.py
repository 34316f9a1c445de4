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

__all__ = ["LineError", "join_lines", "single_line", "split_lines"]


class LineError(ValueError):
    """A text that cannot be split into lines we can charge for; `message` is for the customer."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _clean(line: str, label: str, number: int | None) -> str:
    line = line.replace("\t", " ").strip()
    for char in line:
        if unicodedata.category(char) == "Cc":
            where = f" on line {number}" if number is not None else ""
            raise LineError(f"{label} contains a control character{where} (U+{ord(char):04X})")
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
        raise LineError(f"{label} must be a single line")
    return _clean(lines[0], label, None)
