"""Counting without reading every row: the count a paginator needs, estimated where it is large.

An exact COUNT(*) reads every matching row (or index entry): about a second per few million on
PostgreSQL, on every page view of a big list. A list only needs the count to draw page numbers,
so above ESTIMATE_ABOVE rows the planner's estimate (EXPLAIN, no rows read) is good enough. Below
it the count is exact, but read through LIMIT ESTIMATE_ABOVE + 1, so a wrong small estimate costs
at most that many rows; if the limit is reached the count is taken as the larger of the two.
Other databases (the SQLite demo) count exactly.
"""

from __future__ import annotations

import json

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

ESTIMATE_ABOVE = 10_000


def planner_rows(queryset: QuerySet) -> int | None:
    """The planner's estimate of the rows the queryset returns (PostgreSQL), else None."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def estimated_count(queryset: QuerySet) -> tuple[int, bool]:
    """(count, estimated): exact up to ESTIMATE_ABOVE rows, the planner's estimate above."""
    estimate = planner_rows(queryset)
    if estimate is None:
        return queryset.count(), False
    if estimate > ESTIMATE_ABOVE:
        return estimate, True
    capped = queryset.order_by().values("pk")[: ESTIMATE_ABOVE + 1].count()
    if capped > ESTIMATE_ABOVE:
        return max(capped, estimate), True
    return capped, False


class EstimatedCountPaginator(Paginator):
    """A Paginator whose count is estimated_count's; `estimated` says whether it is exact."""

    @cached_property
    def _counted(self) -> tuple[int, bool]:
        if isinstance(self.object_list, QuerySet):
            return estimated_count(self.object_list)
        return len(self.object_list), False

    @cached_property
    def count(self) -> int:
        return self._counted[0]

    @property
    def estimated(self) -> bool:
        return self._counted[1]
