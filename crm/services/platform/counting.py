"""Counting that stays cheap at a million rows.

A list says how many rows match without scanning a million of them on every page:

- up to `COUNT_CAP` matches are counted exactly (the count stops reading at the cap);
- beyond it, PostgreSQL gives its planner's estimate, shown as "about 1,000,000"; where
  the estimate is small enough to be worth it, an exact count is tried first under a time
  budget (`CRM_COUNT_BUDGET_MS`, cancelled by `statement_timeout` when it runs over); an
  estimate far beyond the cap (EXACT_TRY_UP_TO) is shown without counting at all;
- SQLite has no estimate: beyond the cap the list says "more than 10,000".

A count that ran over its budget is not tried again for OVER_BUDGET_FOR_S in this process:
paging through a long filtered list would otherwise spend the budget on every page, for
the same "about N".
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from flask import current_app, has_app_context
from sqlalchemy import Select, func, select
from sqlalchemy.exc import OperationalError

from crm.extensions import db

COUNT_CAP = 10_000
# An estimate above this is shown as it is: an exact count of more rows would not fit the
# budget anyway (PostgreSQL counts about a million index entries a second per core here).
EXACT_TRY_UP_TO = 100_000
DEFAULT_BUDGET_MS = 50
OVER_BUDGET_FOR_S = 300.0
_OVER_BUDGET_KEPT = 1_000  # the statements remembered, the oldest forgotten first
_over_budget: OrderedDict[tuple[str, str, int], float] = OrderedDict()
_over_budget_lock = threading.Lock()
_now = time.monotonic


@dataclass(frozen=True)
class Count:
    """How many rows match: `exact`, `about` (the planner's estimate) or `more` (than)."""

    value: int
    kind: str = "exact"

    @property
    def exact(self) -> bool:
        return self.kind == "exact"

    def label(self, noun: str = "") -> str:
        number = f"{self.value:,}"
        text = {"exact": number, "about": f"about {number}", "more": f"more than {number}"}
        shown = text[self.kind]
        return f"{shown} {noun}".rstrip()

    def short(self) -> str:
        """For a dashboard tile: 1,234 / ~1,000,000 / 10,000+."""
        return {"exact": "{:,}", "about": "~{:,}", "more": "{:,}+"}[self.kind].format(self.value)


def capped_count(query: Select, cap: int | None = None) -> tuple[int, bool]:
    """(rows `query` selects, counted up to the cap; whether there are more than the cap)."""
    cap = COUNT_CAP if cap is None else cap
    limited = query.order_by(None).limit(cap + 1).subquery()
    total = db.session.scalar(select(func.count()).select_from(limited)) or 0
    return min(total, cap), total > cap


def list_count(query: Select, cap: int | None = None) -> Count:
    """How many rows `query` selects, as a list shows it (see the module's docstring)."""
    cap = COUNT_CAP if cap is None else cap
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    estimate = planner_estimate(query) if postgresql else None
    if estimate is not None and estimate > max(EXACT_TRY_UP_TO, cap):
        # Far beyond the cap: even counting up to it reads 10,000 rows (and their access
        # checks) for a figure shown as "about" anyway.
        return Count(_rounded(estimate), "about")
    if estimate is not None and estimate > cap:  # beyond the cap: no capped count first
        exact = count_within_budget(query, _budget_ms())
        return Count(exact) if exact is not None else Count(_rounded(estimate), "about")
    total, over = capped_count(query, cap)
    if not over:
        return Count(total)
    if estimate is None:
        return Count(cap, "more")
    # The planner guessed at most the cap, yet more were counted: exactly, or "more than".
    exact = count_within_budget(query, _budget_ms())
    return Count(exact) if exact is not None else Count(cap, "more")


def planner_estimate(query: Select) -> int:
    """PostgreSQL's estimate of the rows `query` returns (EXPLAIN, nothing is read)."""
    connection = db.session.connection()
    compiled = query.order_by(None).compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    plan = connection.exec_driver_sql(
        "EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params
    ).scalar()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def count_within_budget(query: Select, budget_ms: int) -> int | None:
    """An exact count on PostgreSQL if it takes less than `budget_ms`, else None (the
    statement is cancelled by the server, in a savepoint that is then rolled back)."""
    if budget_ms <= 0:
        return None
    counted = select(func.count()).select_from(query.order_by(None).subquery())
    connection = db.session.connection()
    compiled = counted.compile(dialect=connection.dialect)
    key = (str(compiled), repr(sorted(compiled.params.items(), key=str)), budget_ms)
    with _over_budget_lock:
        if _over_budget.get(key, 0.0) > _now():
            return None  # over the budget a moment ago: not worth trying again yet
    before = connection.exec_driver_sql("SHOW statement_timeout").scalar()
    savepoint = connection.begin_nested()
    try:
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(budget_ms)}")
        total = connection.execute(counted).scalar()
    except OperationalError:  # QueryCanceled: over the budget
        savepoint.rollback()
        with _over_budget_lock:
            _over_budget[key] = _now() + OVER_BUDGET_FOR_S
            _over_budget.move_to_end(key)
            while len(_over_budget) > _OVER_BUDGET_KEPT:
                _over_budget.popitem(last=False)
        return None
    # SET LOCAL outlives a released savepoint: give the transaction its timeout back.
    connection.exec_driver_sql("SELECT set_config('statement_timeout', %(v)s, true)", {"v": before})
    savepoint.commit()
    return int(total or 0)


def _budget_ms() -> int:
    if not has_app_context():
        return DEFAULT_BUDGET_MS
    return int(current_app.config.get("CRM_COUNT_BUDGET_MS", DEFAULT_BUDGET_MS))


def _rounded(value: int) -> int:
    """Two significant digits: an estimate is not more precise than that."""
    if value < 100:
        return value
    digits = len(str(value)) - 2
    return round(value, -digits)
