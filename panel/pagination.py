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

from django.core.exceptions import EmptyResultSet
from django.core.paginator import Page, Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

ESTIMATE_ABOVE = 10_000


def planner_rows(queryset: QuerySet) -> int | None:
    """The planner's estimate of the rows the queryset returns (PostgreSQL), else None."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    try:
        sql, params = queryset.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:  # a filter that matches nothing (`id IN ()`): nothing to ask
        return 0
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


class KeysetPage(Page):
    """A page of a list in descending ID order, read by ID (`WHERE id < last seen`) rather than
    OFFSET, so the thousandth page costs what the first does and rows placed meanwhile do not
    shift it. `next_before` / `previous_after` are what its Next / Previous links carry."""

    def __init__(self, object_list, number, paginator, *, more_after: bool, more_before: bool):
        super().__init__(object_list, number, paginator)
        self._more_after, self._more_before = more_after, more_before

    def has_next(self) -> bool:
        return self._more_after

    def has_previous(self) -> bool:
        return self._more_before

    def has_other_pages(self) -> bool:
        return self._more_after or self._more_before

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return max(self.number - 1, 1)

    @property
    def next_before(self) -> int | None:
        return self.object_list[-1].pk if self._more_after and self.object_list else None

    @property
    def previous_after(self) -> int | None:
        return self.object_list[0].pk if self._more_before and self.object_list else None


def keyset_page(
    queryset: QuerySet, *, size: int, number: int = 1, before: int | None = None, after: int | None = None
) -> KeysetPage:
    """The page of `queryset` (newest first) after the row `before` (Next), before the row `after`
    (Previous), or else page `number` by OFFSET (a typed address). `number` is only shown."""
    paginator = EstimatedCountPaginator(queryset.order_by("-pk"), size)
    if before is not None:
        rows = list(queryset.filter(pk__lt=before).order_by("-pk")[: size + 1])
        return KeysetPage(rows[:size], max(number, 2), paginator, more_after=len(rows) > size, more_before=True)
    if after is not None:
        rows = list(queryset.filter(pk__gt=after).order_by("pk")[: size + 1])
        first = len(rows) <= size
        return KeysetPage(
            rows[:size][::-1], 1 if first else max(number, 2), paginator, more_after=True, more_before=not first
        )
    number = max(min(number, paginator.num_pages), 1)
    offset = (number - 1) * size
    rows = list(queryset.order_by("-pk")[offset : offset + size + 1])
    return KeysetPage(rows[:size], number, paginator, more_after=len(rows) > size, more_before=number > 1)
