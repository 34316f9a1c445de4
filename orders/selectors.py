from decimal import Decimal

from django.db import connection
from django.db.models import Case, DecimalField, ExpressionWrapper, F, Q, Value, When
from django.db.models.functions import Coalesce

from accounts.ledger import money
from accounts.models import PanelApiKey, User
from accounts.services import panel_key_owner
from panel.db import prepared_cursor
from panel.money import MONEY

from .models import UNITS, Order, Status

# Report figures summed in the database, per order.
MONEY_FIELD = DecimalField(**MONEY)
ZERO = Value(Decimal("0"), output_field=MONEY_FIELD)

# Revenue is what customers paid and kept paying: the charge less refunds.
REVENUE = ExpressionWrapper(F("charge") - F("refunded"), output_field=MONEY_FIELD)
# Upstream cost: the provider's reported charge when known; otherwise the expected cost, scaled
# down to the delivered share for a Partial order (the refund rule's complement, see
# orders.settlement.refund_due), and nothing for a Canceled one.
COST = Case(
    When(status=Status.CANCELED, then=ZERO),
    When(cost_actual__isnull=False, then=F("cost_actual")),
    When(
        status=Status.PARTIAL,
        then=ExpressionWrapper(
            F("cost_expected") * (UNITS - Coalesce(F("remains"), 0)) / UNITS, output_field=MONEY_FIELD
        ),
    ),
    default=F("cost_expected"),
    output_field=MONEY_FIELD,
)


# One order's status as the API answers it: (id, net charge as text with five decimals,
# start_count, status, remains, quantity, runs, interval).
StatusRow = tuple[int, str, int | None, str, int | None, int, int | None, int | None]


def _id_array(order_ids: list[str]) -> str:
    """The IDs as one PostgreSQL array literal: binding a single text parameter costs far less
    than adapting a list of 100 integers. Callers pass plain decimal digits only."""
    return "{" + ",".join(order_ids) + "}"


def order_status_rows_by_key(*, key_hash: str, order_ids: list[str]) -> tuple[int | None, list[StatusRow]]:
    """The active customer owning the API key with this hash, and their status rows among
    `order_ids` (strings of digits that fit a bigint): (None, []) when no active customer has
    the key.

    This is the downstream API's hottest read (a status call for 100 IDs). On PostgreSQL one
    statement does both (the customer LEFT JOIN their orders), so the call costs a single round
    trip; the net charge comes back as text, already at the five decimals every amount carries
    (numeric(18, 5) minus numeric(18, 5) keeps that scale), so no Decimal is built per row.
    Elsewhere (the SQLite demo) two ORM queries give the same rows.
    """
    if connection.vendor != "postgresql":
        user_id = (
            User.objects.filter(Q(api_key_hash=key_hash) | Q(pk=panel_key_owner(key_hash)), is_active=True)
            .values_list("id", flat=True)
            .first()
        )
        if user_id is None or not order_ids:
            return user_id, []
        rows = Order.objects.filter(user_id=user_id, pk__in=[int(pk) for pk in order_ids]).values_list(
            "id", "charge", "refunded", "start_count", "status", "remains", "quantity", "runs", "interval"
        )
        return user_id, [(pk, str(money(charge - refunded)), *rest) for pk, charge, refunded, *rest in rows.order_by()]
    # Identifiers are constants; the values are bound parameters.
    sql = (
        "SELECT u.id, o.id, (o.charge - o.refunded)::text, o.start_count, o.status, o.remains, "  # noqa: S608
        f"o.quantity, o.runs, o.interval FROM {User._meta.db_table} u "
        f"LEFT JOIN {Order._meta.db_table} o ON o.user_id = u.id AND o.id = ANY(%s::bigint[]) "
        # The key is the customer's own or one of their child panels' (accounts.PanelApiKey): the
        # subquery names no outer column, so it runs once, through the unique index on the hash.
        "WHERE (u.api_key_hash = %s OR u.id = "
        f"(SELECT k.user_id FROM {PanelApiKey._meta.db_table} k WHERE k.key_hash = %s)) AND u.is_active"
    )
    with prepared_cursor() as cursor:
        cursor.execute(sql, [_id_array(order_ids), key_hash, key_hash])
        fetched = cursor.fetchall()
    if not fetched:
        return None, []
    return fetched[0][0], [row[1:] for row in fetched if row[1] is not None]
