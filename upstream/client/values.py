"""Tolerant value parsing: numbers as strings or numbers, IDs, flags in any spelling."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from .results import MAX_IDS_PER_CALL

_TRUE_WORDS = {"1", "true", "yes", "y", "on", "t"}
_FALSE_WORDS = {"0", "false", "no", "n", "off", "f", ""}
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def to_decimal(value: Any) -> Decimal | None:
    # JSON floats arrive as Decimal (parse_float=Decimal); the float branch is only for
    # callers handing us Python values, and goes through the shortest repr, not binary.
    if type(value) is str:
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str | float):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            return None
    else:
        return None
    return number if number.is_finite() else None


def to_int(value: Any) -> int | None:
    # Fast paths for the usual "3572", 3572 and absent: a poll parses hundreds per call.
    if value is None:
        return None
    if type(value) is int:
        return value
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    number = to_decimal(value)
    # adjusted() caps the size so that "1e999999" cannot make int() build a huge number.
    if number is None or number.adjusted() > 18 or number != number.to_integral_value():
        return None
    return int(number)


def to_bool(value: Any, default: bool = False) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, Decimal)):
        return value != 0
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    return default


def to_id(value: Any) -> str | None:
    """An order, refill or service ID as a string, or None if `value` does not look like one."""
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 64:
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        number = to_int(value)
        return None if number is None else str(number)
    if isinstance(value, str):
        text = value.strip()
        return text if _ID_RE.fullmatch(text) else None
    return None


def to_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return str(value)
    return None


def chunks(ids: Iterable[Any]) -> Iterator[list[str]]:
    unique: dict[str, None] = {}
    for value in ids:
        text = to_id(value)
        if text is None:
            raise ValueError(f"not an ID: {value!r}")
        unique[text] = None
    ordered = list(unique)
    for start in range(0, len(ordered), MAX_IDS_PER_CALL):
        yield ordered[start : start + MAX_IDS_PER_CALL]


def one_id(value: Any) -> str:
    text = to_id(value)
    if text is None:
        raise ValueError(f"not an ID: {value!r}")
    return text
