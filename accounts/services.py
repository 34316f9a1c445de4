import hashlib
import hmac
import secrets
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from .ledger import ledger_credit, money
from .models import LedgerEntry, User

API_KEY_BYTES = 24  # 192 bits from the OS's CSPRNG, shown as 48 hex characters.
API_KEY_PREFIX_LEN = 8
MAX_KEY_LENGTH = 256  # longer values are refused without a lookup


def api_key_hash(raw_key: str) -> str:
    # Keys are long random strings, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


@transaction.atomic
def api_key_rotate(*, user: User) -> str:
    """Give the user a new API key, invalidating the old one. Returns the key in full, once."""
    raw_key = secrets.token_hex(API_KEY_BYTES)
    user.api_key_hash = api_key_hash(raw_key)
    user.api_key_prefix = raw_key[:API_KEY_PREFIX_LEN]
    user.api_key_created_at = timezone.now()
    user.save(update_fields=["api_key_hash", "api_key_prefix", "api_key_created_at"])
    return raw_key


# What API calls read of the caller; loading only these keeps the per-call lookup light.
API_USER_FIELDS = ("id", "username", "balance", "discount_percent", "api_key_hash", "is_active", "timezone")


def user_by_api_key(raw_key: str | None) -> User | None:
    """The active user owning this API key, or None."""
    if not raw_key or len(raw_key) > MAX_KEY_LENGTH:
        return None
    digest = api_key_hash(raw_key)
    user = User.objects.filter(api_key_hash=digest, is_active=True).only(*API_USER_FIELDS).first()
    # The lookup is by hash, so timing reveals nothing about the key; the comparison is
    # repeated in constant time so a collation quirk can never match a near-miss.
    if user is None or not hmac.compare_digest(user.api_key_hash, digest):
        return None
    return user


@dataclass(frozen=True)
class CustomerCreated:
    user: User
    created: bool
    api_key: str | None  # Only when a new key was issued.


@transaction.atomic
def customer_create(
    *,
    username: str,
    email: str = "",
    password: str | None = None,
    balance: Decimal | None = None,
    created_by_id: int | None = None,
) -> CustomerCreated:
    """Create a customer with an API key, or top up an existing one through the ledger."""
    user, created = User.objects.get_or_create(username=username, defaults={"email": email})
    if created:
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    api_key = api_key_rotate(user=user) if created or not user.api_key_hash else None
    if balance:
        amount = money(balance)
        if amount > 0:
            ledger_credit(
                user_id=user.pk,
                amount=amount,
                kind=LedgerEntry.Kind.DEPOSIT,
                memo="Initial balance" if created else "Top-up",
                created_by_id=created_by_id,
            )
    user.refresh_from_db()
    return CustomerCreated(user=user, created=created, api_key=api_key)
