"""The simulator's catalogue: the protocol's service types, a generated catalogue, prices.

Types are matched ignoring case, white space, `_` and `-` (upstream.names.name_key).
"""

from __future__ import annotations

import random
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from upstream.names import name_key

PLACES = Decimal("0.00001")
# Order, refill and service IDs: digits only.
DIGITS = re.compile(r"\d{1,12}")

TYPES = (
    "Default",
    "Package",
    "SEO",
    "Custom Comments",
    "Mentions",
    "Mentions with Hashtags",
    "Mentions Custom List",
    "Mentions Hashtag",
    "Mentions User Followers",
    "Mentions Media Likers",
    "Custom Comments Package",
    "Comment Likes",
    "Poll",
    "Invites from Groups",
    "Subscriptions",
    "Web Traffic",
)

# How `add` reads each type: where the quantity comes from ("quantity" param, lines of a
# text param, or one package), the other required params, and whether runs/interval apply.
TYPE_RULES: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "Default": ("quantity", (), True),
    "Package": ("package", (), False),
    "SEO": ("quantity", ("keywords",), False),
    "Custom Comments": ("lines:comments", (), False),
    "Mentions": ("quantity", ("usernames",), False),
    "Mentions with Hashtags": ("quantity", ("usernames", "hashtags"), False),
    "Mentions Custom List": ("lines:usernames", (), False),
    "Mentions Hashtag": ("quantity", ("hashtag",), False),
    "Mentions User Followers": ("quantity", ("username",), False),
    "Mentions Media Likers": ("quantity", ("media",), False),
    "Custom Comments Package": ("package_lines:comments", (), False),
    "Comment Likes": ("quantity", ("username",), False),
    "Poll": ("quantity", ("answer_number",), False),
    "Invites from Groups": ("quantity", ("groups",), False),
    "Subscriptions": ("subscription", ("username",), False),
    "Web Traffic": ("quantity", ("country", "device", "type_of_traffic"), True),
}
TYPE_BY_KEY = {name_key(type_name): type_name for type_name in TYPE_RULES}
# List parameters, one item per line; the label names them in a refusal.
LINE_PARAMS = {"comments": "Comments", "usernames": "Usernames", "keywords": "Keywords", "hashtags": "Hashtags"}


def type_of(service: dict[str, Any]) -> str | None:
    """The protocol's name of a service's type, however the service spells it."""
    spelled = service["type"]
    return TYPE_BY_KEY.get(name_key(spelled)) if isinstance(spelled, str) else None


# Minutes: 0 5 10 15 20 30 40 50 60 90 120 150 180 210 240 270 300 360 420 480 540 600.
SUBSCRIPTION_DELAYS = {0, 5, 10, 15, 20, 30, 40, 50, 60, *range(90, 301, 30), *range(360, 601, 60)}

# (category, type, weight, rate range, min choices, max choices, refill %, cancel %, drip-feed %)
_FAMILIES: tuple[tuple[str, str, int, tuple[str, str], tuple[int, ...], tuple[int, ...], int, int, int], ...] = (
    ("Instagram Followers", "Default", 16, ("0.40", "6.00"), (10, 50, 100), (5000, 20000, 100000), 60, 40, 30),
    ("Instagram Likes", "Default", 14, ("0.08", "2.50"), (10, 20, 50), (10000, 50000, 200000), 40, 40, 40),
    ("Instagram Views", "Default", 8, ("0.01", "0.40"), (100, 500), (1000000, 10000000), 0, 30, 50),
    ("Instagram Comments", "Custom Comments", 3, ("4.00", "30.00"), (5, 10), (500, 1000, 1500), 0, 30, 0),
    ("Instagram Comments", "Custom Comments Package", 1, ("2.00", "15.00"), (1,), (10, 20), 0, 0, 0),
    ("Instagram Comment Likes", "Comment Likes", 1, ("1.00", "8.00"), (20, 50), (5000, 20000), 0, 30, 0),
    ("Instagram Mentions", "Mentions", 1, ("2.00", "10.00"), (100,), (10000, 50000), 0, 0, 0),
    ("Instagram Mentions", "Mentions with Hashtags", 1, ("2.50", "12.00"), (100,), (10000, 50000), 0, 0, 0),
    ("Instagram Mentions", "Mentions Custom List", 1, ("3.00", "15.00"), (10,), (1000, 5000), 0, 0, 0),
    ("Instagram Mentions", "Mentions Hashtag", 1, ("2.00", "10.00"), (100,), (10000, 50000), 0, 0, 0),
    ("Instagram Mentions", "Mentions User Followers", 1, ("2.00", "10.00"), (100,), (10000, 50000), 0, 0, 0),
    ("Instagram Mentions", "Mentions Media Likers", 1, ("2.00", "10.00"), (100,), (10000, 50000), 0, 0, 0),
    ("Instagram Auto Likes", "Subscriptions", 2, ("0.20", "3.00"), (20, 50), (5000, 20000), 0, 40, 0),
    ("Instagram Packages", "Package", 2, ("1.00", "50.00"), (1,), (1,), 0, 0, 0),
    ("TikTok Views", "Default", 12, ("0.01", "0.30"), (100, 500), (1000000, 10000000), 0, 40, 50),
    ("TikTok Followers", "Default", 7, ("0.80", "7.00"), (10, 50, 100), (10000, 50000), 50, 40, 20),
    ("TikTok Likes", "Default", 6, ("0.10", "3.00"), (10, 50), (50000, 200000), 30, 40, 30),
    ("YouTube Views", "Default", 12, ("0.50", "5.00"), (100, 500, 1000), (100000, 1000000), 40, 30, 30),
    ("YouTube Subscribers", "Default", 5, ("8.00", "40.00"), (50, 100), (5000, 20000), 60, 20, 10),
    ("YouTube Likes", "Default", 4, ("0.50", "4.00"), (20, 50), (20000, 100000), 40, 40, 20),
    ("YouTube Comments", "Custom Comments", 2, ("8.00", "40.00"), (5, 10), (500, 1000), 0, 20, 0),
    ("Telegram Members", "Default", 7, ("0.30", "4.00"), (100, 500), (10000, 50000, 100000), 40, 30, 20),
    ("Telegram Members", "Invites from Groups", 1, ("2.00", "9.00"), (100,), (10000, 30000), 0, 30, 0),
    ("Telegram Post Views", "Default", 5, ("0.01", "0.20"), (100,), (100000, 1000000), 0, 30, 50),
    ("Telegram Polls", "Poll", 2, ("0.20", "2.00"), (50, 100), (10000, 50000), 0, 30, 0),
    ("Twitter Followers", "Default", 6, ("1.00", "12.00"), (10, 100), (5000, 50000), 50, 30, 20),
    ("Twitter Likes", "Default", 3, ("0.50", "5.00"), (10, 50), (10000, 50000), 30, 40, 20),
    ("Twitter Polls", "Poll", 1, ("0.50", "3.00"), (100,), (10000, 50000), 0, 30, 0),
    ("Facebook Page Likes", "Default", 4, ("1.00", "10.00"), (100,), (10000, 100000), 40, 30, 20),
    ("Spotify Plays", "Default", 3, ("0.30", "2.00"), (1000,), (1000000,), 0, 30, 30),
    ("Google SEO", "SEO", 1, ("3.00", "20.00"), (100,), (10000,), 0, 0, 0),
    ("Website Traffic", "Web Traffic", 2, ("0.10", "2.00"), (500, 1000), (100000, 1000000), 0, 30, 100),
)
_QUALITIES = ("[Real]", "[HQ]", "[Mixed]", "[Non Drop]", "[Max 100K]", "[Instant]", "[Low Drop]", "[Premium]")
_SPEEDS = ("1K/day", "5K/day", "10K/day", "20K/day", "50K/day", "100K/day")


def money(value: Decimal) -> str:
    return f"{value:.5f}"


def quantize(value: Decimal) -> Decimal:
    return value.quantize(PLACES, rounding=ROUND_HALF_UP)


def _random_rate(rng: random.Random, low: str, high: str) -> Decimal:
    value = Decimal(str(round(rng.uniform(float(low), float(high)), 4)))
    return value.quantize(Decimal("0.01") if value >= Decimal("0.1") else Decimal("0.0001"))


def generate_catalog(count: int, seed: int) -> dict[int, dict[str, Any]]:
    """`count` services, the same for the same (count, seed); every type appears once the
    count allows, most services are Default, and IDs run 1..count grouped by category."""
    rng = random.Random(f"catalog:{seed}")
    covering = []
    for type_name in TYPES[1:]:
        covering.append(next(i for i, family in enumerate(_FAMILIES) if family[1] == type_name))
    weights = [family[2] for family in _FAMILIES]
    picks = covering[:count] + rng.choices(range(len(_FAMILIES)), weights, k=max(0, count - len(covering)))
    picks.sort()
    catalog = {}
    for service_id, family_index in enumerate(picks, start=1):
        category, type_name, _, rates, mins, maxes, refill_pct, cancel_pct, drip_pct = _FAMILIES[family_index]
        refill = rng.randrange(100) < refill_pct
        name = f"{category} {rng.choice(_QUALITIES)}"
        if type_name not in {"Package", "Custom Comments Package"}:
            name += f" [Speed: {rng.choice(_SPEEDS)}]"
        if refill:
            name += f" [Refill: {rng.choice((30, 60, 90, 365))}D]"
        catalog[service_id] = {
            "service": service_id,
            "name": name,
            "type": type_name,
            "category": category,
            "rate": _random_rate(rng, *rates),
            "min": rng.choice(mins),
            "max": rng.choice(maxes),
            "refill": refill,
            "cancel": rng.randrange(100) < cancel_pct,
            "dripfeed": rng.randrange(100) < drip_pct,
            "desc": f"{type_name} service for {category}. Start 0-{rng.choice((1, 2, 6, 12, 24))} h.",
        }
    return catalog


def render_service(service: dict[str, Any]) -> dict[str, Any]:
    rendered = {**service, "rate": str(service["rate"]), "min": str(service["min"]), "max": str(service["max"])}
    rendered.pop("disabled", None)  # ours, not the protocol's: a disabled service is not listed
    return rendered


def to_service_id_or_none(value: Any) -> int | None:
    text = str(value).strip() if value is not None else ""
    return int(text) if DIGITS.fullmatch(text) else None


def to_service_id(value: Any) -> int:
    service_id = to_service_id_or_none(value)
    if service_id is None:
        raise ValueError(f"Bad service ID: {value!r}")
    return service_id


def checked_service(fields: dict[str, Any], *, new: bool = False) -> dict[str, Any]:
    allowed = {
        "service",
        "name",
        "type",
        "category",
        "rate",
        "min",
        "max",
        "refill",
        "cancel",
        "dripfeed",
        "desc",
        "disabled",
    }
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"Unknown service field: {sorted(unknown)[0]}")
    if new:
        missing = {"name", "rate", "min", "max"} - set(fields)
        if missing:
            raise ValueError(f"A new service needs {', '.join(sorted(missing))}")
    service = {"type": "Default", "category": "Other", "refill": False, "cancel": False, "dripfeed": False, "desc": ""}
    service.update(fields)
    if type_of(service) is None:
        raise ValueError(f"Unknown service type: {service['type']}")
    try:
        service["rate"] = Decimal(str(service["rate"]))
        service["min"] = int(service["min"])
        service["max"] = int(service["max"])
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError("rate, min and max must be numbers") from None
    if not service["rate"].is_finite() or service["rate"] < 0 or not 0 < service["min"] <= service["max"]:
        raise ValueError("rate must be >= 0 and 0 < min <= max")
    if not isinstance(service.get("disabled", False), bool):
        raise ValueError("disabled must be true or false")
    for flag in ("refill", "cancel", "dripfeed"):
        if not isinstance(service[flag], bool):
            raise ValueError(f"{flag} must be true or false")
    service["name"] = str(service["name"])
    service["category"] = str(service["category"])
    service["desc"] = str(service["desc"])
    return service
