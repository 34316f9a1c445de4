"""Reading a provider's `services` list: fetch it, and turn each entry into the fields we store.

Each entry's raw JSON is stored with the SHA-256 of its canonical form, so that the next sync
compares digests instead of loading every stored document.
"""

from __future__ import annotations

import hashlib
import json
import logging
from decimal import ROUND_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings

from upstream.client import Service as Listed
from upstream.models import Provider
from upstream.names import name_key
from upstream.services import provider_call

from ..models import ServiceType

logger = logging.getLogger("catalog.sync")

MAX_UNITS = 2**63 - 1
MAX_RATE = Decimal(10) ** 13  # what a DecimalField(max_digits=18, decimal_places=5) holds

# Providers spell types their own way ("Custom comments", "custom_comments",
# "Mentions  with   hashtags"); ours are the protocol's. name_key is the one comparison.
KNOWN_TYPES = {name_key(value): value for value in ServiceType.values}


def known_type(upstream_type: str) -> str | None:
    """Our ServiceType for a provider's type name, or None when we cannot sell that type."""
    return KNOWN_TYPES.get(name_key(upstream_type))


def _clean(value: Any) -> Any:
    """Make a provider's raw JSON storable: Decimals become strings (never floats) and NUL
    characters, which PostgreSQL refuses in text, are dropped."""
    if isinstance(value, dict):
        return {_clean(str(key)): _clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str):
        return value.replace("\x00", "")
    return value


def _raw(value: dict) -> tuple[dict, str]:
    """The item as we store it, and the SHA-256 of its canonical JSON."""
    # The json module's C encoder and decoder do the common case far faster than _clean.
    text = json.dumps(value, default=str, sort_keys=True, separators=(",", ":"))
    if "\\u0000" in text:
        value = _clean(value)
        text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    else:
        value = json.loads(text)
    return value, hashlib.sha256(text.encode()).hexdigest()


def clean_text(value: str, length: int) -> str:
    return value.replace("\x00", "")[:length]


def normalize(item: Listed) -> dict[str, Any] | None:
    """The UpstreamService fields for one listed service, or None when it cannot be stored."""
    upstream_id = item.service.strip()
    rate = item.rate
    if not upstream_id or len(upstream_id) > 64 or not rate.is_finite() or not 0 <= rate < MAX_RATE:
        return None
    if not (0 <= item.min <= MAX_UNITS and 0 <= item.max <= MAX_UNITS):
        return None
    try:
        # Rounded up: a cost is never under-estimated, and the stored value compares equal
        # to the next listing, so an unchanged service is not rewritten.
        rate = rate.quantize(settings.MONEY_PLACES, rounding=ROUND_UP)
    except InvalidOperation:
        return None
    raw, digest = _raw(item.raw)
    return {
        "upstream_id": upstream_id,
        "name": clean_text(item.name, 500),
        "type": clean_text(item.type, 64),
        "category": clean_text(item.category, 255),
        "rate": rate,
        "min": item.min,
        "max": item.max,
        "refill": item.refill,
        "cancel": item.cancel,
        "dripfeed": item.dripfeed,
        "desc": clean_text(item.desc, 100_000),
        "raw": raw,
        "raw_digest": digest,
    }


def fetch(provider: Provider) -> list[Listed]:
    """The provider's `services` list. A remote call: never inside a transaction.

    Raises UpstreamError; NoFreeSlot (a NotSent) when every request slot stays busy."""
    return provider_call(provider, "services", lambda client: client.services())


def normalize_all(items: list[Listed]) -> dict[str, dict[str, Any]]:
    listing: dict[str, dict[str, Any]] = {}
    skipped = 0
    for item in items:
        values = normalize(item)
        if values is None:
            skipped += 1
            continue
        listing[values["upstream_id"]] = values  # a repeated ID: the last entry wins
    if skipped:
        logger.warning("sync: skipped %d upstream services that cannot be stored", skipped)
    return listing
