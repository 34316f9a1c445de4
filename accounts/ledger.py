"""The only code that changes a balance.

Each movement is an append-only LedgerEntry plus the cached balance on the user, written in one
transaction under the user's row lock. The database refuses a negative balance (CHECK) and a
second entry with the same idempotency key (UNIQUE), so a replayed charge or refund is a no-op.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Sum, Value, When
from django.db.models.functions import Coalesce

from panel.db import bulk_insert, prepared_cursor
from panel.money import exact_totals_by, sums_in_sql

from .models import LedgerEntry, User


class LedgerError(Exception):
    pass


class InsufficientFunds(LedgerError):
    """The debit would take the balance below zero."""

    message = "Not enough funds on balance"

    def __str__(self) -> str:
        return self.message


def money(value: Decimal | int | str) -> Decimal:
    """Quantize to the 5 decimal places that every stored amount carries."""
    return Decimal(value).quantize(settings.MONEY_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Posting:
    entry: LedgerEntry
    created: bool  # False when the idempotency key had already been used: nothing moved.


def _check(amount: Decimal, kind: str) -> Decimal:
    amount = Decimal(amount)
    if amount != money(amount):
        raise LedgerError(f"Amount {amount} has more than 5 decimal places.")
    if amount == 0:
        raise LedgerError("A ledger entry cannot move zero.")
    if kind not in LedgerEntry.Kind.values:
        raise LedgerError(f"Unknown ledger kind {kind!r}.")
    return amount


def _entry_with_key(idempotency_key: str | None) -> LedgerEntry | None:
    return LedgerEntry.objects.filter(idempotency_key=idempotency_key).first() if idempotency_key else None


def ledger_post(
    *,
    user_id: int,
    amount: Decimal,
    kind: str,
    memo: str = "",
    order_id: int | None = None,
    actor_id: int | None = None,
    idempotency_key: str | None = None,
) -> Posting:
    """Move `amount` (signed) on the user's balance and record it.

    Raises InsufficientFunds when a debit would overdraw. With an idempotency key that was used
    before, returns the earlier entry and moves nothing.
    """
    amount = _check(amount, kind)

    try:
        with transaction.atomic():
            # The row lock serialises every movement of this user's money. A replayed key is
            # recognised by the UNIQUE index refusing its entry (below), so the common path is
            # lock, insert, update.
            balance = User.objects.select_for_update().values_list("balance", flat=True).get(pk=user_id)
            new_balance = balance + amount
            if new_balance < 0:
                # Refused, unless it replays a movement made when the balance could pay it.
                existing = _entry_with_key(idempotency_key)
                if existing is not None:
                    return Posting(existing, created=False)
                raise InsufficientFunds()
            entry = LedgerEntry.objects.create(
                user_id=user_id,
                kind=kind,
                amount=amount,
                balance_after=new_balance,
                order_id=order_id,
                actor_id=actor_id,
                memo=memo[:255],
                idempotency_key=idempotency_key or None,
            )
            User.objects.filter(pk=user_id).update(balance=new_balance)
    except IntegrityError:
        # The key was used before (by an earlier movement, or a concurrent one): a replay.
        existing = _entry_with_key(idempotency_key)
        if existing is None:
            raise
        return Posting(existing, created=False)
    return Posting(entry, created=True)


@dataclass(frozen=True)
class Movement:
    """One movement for ledger_post_many: ledger_post's arguments."""

    user_id: int
    amount: Decimal
    kind: str
    memo: str = ""
    order_id: int | None = None
    actor_id: int | None = None
    idempotency_key: str | None = None


def ledger_post_many(movements: list[Movement]) -> list[Posting]:
    """Post several movements in one transaction: ledger_post's rules, one entry per movement.

    For a batch (a poll's refunds): the users are locked once, in ascending ID order (so two
    batches, or a batch and a single posting, never wait on each other in a cycle), the keys
    already used are looked up in one query, the entries are inserted in one statement and each
    balance is written once. A movement whose key was used before (earlier, or earlier in the same
    batch) moves nothing and returns the entry that did. If any movement would take a balance
    below zero, InsufficientFunds is raised and nothing moves. Returns the postings in the order
    of `movements`.
    """
    checked = [(movement, _check(movement.amount, movement.kind)) for movement in movements]
    if not checked:
        return []
    with transaction.atomic():
        user_ids = sorted({movement.user_id for movement in movements})
        balances = dict(
            User.objects.select_for_update().filter(pk__in=user_ids).order_by("pk").values_list("pk", "balance")
        )
        missing = set(user_ids) - balances.keys()
        if missing:
            raise User.DoesNotExist(f"No user {min(missing)}.")
        # Read after the locks: an entry another transaction made for these users has committed.
        keys = [movement.idempotency_key for movement in movements if movement.idempotency_key]
        used = {entry.idempotency_key: entry for entry in LedgerEntry.objects.filter(idempotency_key__in=keys)}
        results: list[LedgerEntry | Posting] = []
        entries: list[LedgerEntry] = []
        for movement, amount in checked:
            key = movement.idempotency_key or None
            if key in used:
                results.append(Posting(used[key], created=False))
                continue
            new_balance = balances[movement.user_id] + amount
            if new_balance < 0:
                raise InsufficientFunds()
            balances[movement.user_id] = new_balance
            entry = LedgerEntry(
                user_id=movement.user_id,
                kind=movement.kind,
                amount=amount,
                balance_after=new_balance,
                order_id=movement.order_id,
                actor_id=movement.actor_id,
                memo=movement.memo[:255],
                idempotency_key=key,
            )
            entries.append(entry)
            results.append(entry)
            if key:
                used[key] = entry
        if entries:
            bulk_insert(LedgerEntry, entries)
            _write_balances({entry.user_id: balances[entry.user_id] for entry in entries})
    return [result if isinstance(result, Posting) else Posting(result, created=True) for result in results]


def _write_balances(balances: dict[int, Decimal]) -> None:
    """Each user's new balance in one statement: UPDATE ... FROM unnest(arrays) on PostgreSQL (a
    CASE per user costs more to build than to run; the arrays keep the statement's text constant),
    a CASE elsewhere."""
    if connection.vendor != "postgresql":
        User.objects.filter(pk__in=balances).update(
            balance=Case(*[When(pk=user_id, then=Value(balance)) for user_id, balance in balances.items()])
        )
        return
    user_ids = sorted(balances)
    with prepared_cursor() as cursor:
        cursor.execute(
            "UPDATE accounts_user AS u SET balance = v.balance "
            "FROM unnest(%b::bigint[], %b::numeric[]) AS v(id, balance) WHERE u.id = v.id",
            [user_ids, [balances[user_id] for user_id in user_ids]],
        )


def ledger_debit(
    *,
    user_id: int,
    amount: Decimal,
    kind: str = LedgerEntry.Kind.CHARGE,
    memo: str = "",
    order_id: int | None = None,
    actor_id: int | None = None,
    idempotency_key: str | None = None,
) -> Posting:
    if amount <= 0:
        raise LedgerError("A debit amount must be positive.")
    return ledger_post(
        user_id=user_id,
        amount=-amount,
        kind=kind,
        memo=memo,
        order_id=order_id,
        actor_id=actor_id,
        idempotency_key=idempotency_key,
    )


def ledger_credit(
    *,
    user_id: int,
    amount: Decimal,
    kind: str = LedgerEntry.Kind.DEPOSIT,
    memo: str = "",
    order_id: int | None = None,
    actor_id: int | None = None,
    idempotency_key: str | None = None,
) -> Posting:
    if amount <= 0:
        raise LedgerError("A credit amount must be positive.")
    return ledger_post(
        user_id=user_id,
        amount=amount,
        kind=kind,
        memo=memo,
        order_id=order_id,
        actor_id=actor_id,
        idempotency_key=idempotency_key,
    )


@dataclass(frozen=True)
class Drift:
    user_id: int
    username: str
    balance: Decimal
    ledger_sum: Decimal


def ledger_drift() -> list[Drift]:
    """Users whose cached balance differs from the sum of their entries, exact on every database
    (one query on PostgreSQL; the SQLite demo adds the entries as Decimals, see panel.money)."""
    users = User.objects.all()
    if sums_in_sql(users):
        rows = (
            users.annotate(ledger_sum=Coalesce(Sum("ledger_entries__amount"), Decimal("0")))
            .exclude(balance=F("ledger_sum"))
            .values_list("id", "username", "balance", "ledger_sum")
            .order_by("id")
        )
        return [Drift(*row) for row in rows]
    sums = exact_totals_by(LedgerEntry.objects.all(), "user_id", "amount")
    return [
        Drift(user_id, username, balance, sums.get(user_id, Decimal("0")))
        for user_id, username, balance in users.values_list("id", "username", "balance").order_by("id")
        if balance != sums.get(user_id, Decimal("0"))
    ]
