from django.db import connection

from .models import Order

STATUS_COLUMNS = ("id", "charge", "refunded", "start_count", "status", "remains", "quantity", "runs", "interval")


def order_status_rows(*, user_id: int, order_ids: set[int]) -> list[tuple]:
    """(id, charge, refunded, start_count, status, remains, quantity, runs, interval) of the
    customer's orders among `order_ids`, in one query.

    This is the downstream API's hottest read (a status call for 100 IDs), so on PostgreSQL it
    is one plain statement with the IDs as a single array parameter: the ORM's IN (...) with
    100 placeholders costs about three times as much to build and bind.
    """
    if not order_ids:
        return []
    if connection.vendor == "postgresql":
        # Identifiers are constants; the values are bound parameters.
        sql = f"SELECT {', '.join(STATUS_COLUMNS)} FROM {Order._meta.db_table} WHERE user_id = %s AND id = ANY(%s)"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql, [user_id, list(order_ids)])
            return cursor.fetchall()
    return list(Order.objects.filter(user_id=user_id, pk__in=order_ids).values_list(*STATUS_COLUMNS).order_by())
