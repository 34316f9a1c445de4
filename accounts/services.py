import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q, Subquery
from django.utils import timezone

from .ledger import InsufficientFunds, LedgerError, Posting, ledger_post, money
from .models import AuditLog, LedgerEntry, PanelApiKey, User

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


def panel_key_owner(digest: str) -> Subquery:
    """The owner of the child panel key with this hash, as a subquery that PostgreSQL runs once
    (it names no outer column) through the unique index on the hash."""
    return Subquery(PanelApiKey.objects.filter(key_hash=digest).values("user_id")[:1])


def user_by_api_key(raw_key: str | None) -> User | None:
    """The active user owning this API key (their own, or one of their child panels'), or None.

    One query either way: `api_key_hash = %s OR id = (SELECT user_id ... WHERE key_hash = %s)`,
    two index lookups that PostgreSQL combines, so a child panel's calls cost what the owner's do.
    """
    if not raw_key or len(raw_key) > MAX_KEY_LENGTH:
        return None
    digest = api_key_hash(raw_key)
    panel_key_hash = Subquery(PanelApiKey.objects.filter(key_hash=digest).values("key_hash")[:1])
    user = (
        User.objects.filter(Q(api_key_hash=digest) | Q(pk=panel_key_owner(digest)), is_active=True)
        .annotate(panel_key_hash=panel_key_hash)
        .only(*API_USER_FIELDS)
        .first()
    )
    # The lookup is by hash, so timing reveals nothing about the key; the comparison is
    # repeated in constant time so a collation quirk can never match a near-miss.
    if user is None:
        return None
    if hmac.compare_digest(user.api_key_hash or "", digest) or hmac.compare_digest(user.panel_key_hash or "", digest):
        return user
    return None


def panel_api_key_issue(*, user_id: int, panel_schema: str) -> str:
    """Give the child panel `panel_schema` a new API key of its owner `user_id` on this panel,
    replacing the one it had (which stops working at once). Returns the key in full, once."""
    raw_key = secrets.token_hex(API_KEY_BYTES)
    PanelApiKey.objects.update_or_create(
        panel_schema=panel_schema,
        defaults={"user_id": user_id, "key_hash": api_key_hash(raw_key), "key_prefix": raw_key[:API_KEY_PREFIX_LEN]},
    )
    return raw_key


def panel_api_key_matches(*, panel_schema: str, raw_key: str) -> bool:
    """Whether `raw_key` is the child panel's current key on this panel."""
    current = PanelApiKey.objects.filter(panel_schema=panel_schema).values_list("key_hash", flat=True).first()
    return current is not None and hmac.compare_digest(current, api_key_hash(raw_key))


def panel_api_key_revoke(*, panel_schema: str) -> bool:
    """Revoke the child panel's key (the panel is deleted): True when it had one."""
    deleted, _ = PanelApiKey.objects.filter(panel_schema=panel_schema).delete()
    return bool(deleted)


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
    actor_id: int | None = None,
) -> CustomerCreated:
    """Create a customer with an API key, or top up an existing one through the ledger (an
    audited deposit, see balance_adjust)."""
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
            memo = "Initial balance" if created else "Top-up"
            balance_adjust(
                user_id=user.pk,
                amount=amount,
                kind=LedgerEntry.Kind.DEPOSIT,
                reason=memo,
                idempotency_key=f"create-customer:{uuid.uuid4().hex}",
                actor_id=actor_id,
            )
    user.refresh_from_db()
    return CustomerCreated(user=user, created=created, api_key=api_key)


# --- The audit log and the audited writes on a customer -----------------------------------------


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def audit_record(
    *,
    actor_id: int | None,
    action: str,
    obj: Any,
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
) -> AuditLog:
    """Write the audit row of a staff action; call it in the transaction that makes the change."""
    return AuditLog.objects.create(
        actor_id=actor_id,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        before={k: _json(v) for k, v in (before or {}).items()},
        after={k: _json(v) for k, v in (after or {}).items()},
        reason=reason,
    )


class BalanceRefused(ValueError):
    """The balance cannot be moved as asked; the message is for staff."""


class BalanceBelowZero(BalanceRefused):
    """The movement would take the balance below zero."""


BALANCE_ACTIONS = {
    LedgerEntry.Kind.ADJUSTMENT: "customer.balance_adjust",
    LedgerEntry.Kind.DEPOSIT: "customer.deposit",
}


def balance_adjust(
    *,
    user_id: int,
    amount: Decimal,
    reason: str,
    idempotency_key: str,
    actor_id: int | None,
    kind: str = LedgerEntry.Kind.ADJUSTMENT,
    memo: str = "",
) -> Posting:
    """Move a customer's balance by hand (a staff correction or a deposit recorded by an operator)
    through the ledger, with its audit row in the same transaction.

    The idempotency key becomes the ledger key: a second call with the same key moves nothing,
    writes no audit row, and returns the first entry with created=False. Never takes a balance
    below zero.
    """
    reason = reason.strip()
    if not reason:
        raise BalanceRefused("A reason is required.")
    if kind not in BALANCE_ACTIONS:
        raise BalanceRefused(f"Unknown kind {kind!r}.")
    amount = Decimal(amount)
    if not amount.is_finite() or amount == 0 or amount != money(amount):
        raise BalanceRefused("Enter a non-zero amount with at most 5 decimal places.")
    with transaction.atomic():
        try:
            posting = ledger_post(
                user_id=user_id,
                amount=amount,
                kind=kind,
                memo=(memo or reason)[:255],
                actor_id=actor_id,
                idempotency_key=idempotency_key,
            )
        except InsufficientFunds:
            raise BalanceBelowZero("That would take the balance below zero.") from None
        except LedgerError as exc:
            raise BalanceRefused(str(exc)) from None
        if posting.created:
            entry = posting.entry
            audit_record(
                actor_id=actor_id,
                action=BALANCE_ACTIONS[kind],
                obj=User(pk=user_id),
                before={"balance": entry.balance_after - entry.amount},
                after={"balance": entry.balance_after, "amount": entry.amount, "ledger_entry": entry.pk},
                reason=reason,
            )
    return posting


def customer_discount_change(*, user_id: int, percent: Decimal, actor_id: int | None) -> bool:
    """Set a reseller's discount on every service (0 <= percent < 100), audited. False: no change."""
    if not Decimal("0") <= percent < Decimal("100"):
        raise ValueError("A discount is a percent from 0 up to, not including, 100.")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        if user.discount_percent == percent:
            return False
        User.objects.filter(pk=user_id).update(discount_percent=percent)
        audit_record(
            actor_id=actor_id,
            action="customer.discount",
            obj=user,
            before={"discount_percent": user.discount_percent},
            after={"discount_percent": percent},
        )
    return True
