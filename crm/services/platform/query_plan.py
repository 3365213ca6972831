"""How a contact query's conditions on sets of contacts are phrased for SQLite.

A list's conditions on sets of contacts (a tag, a category, a city, the search index) are
`contacts.id IN (...)`. SQLite's planner cannot tell how big each set is: when it drives by
a big one it reads and sorts every member, and with two sets it reads every contact of one
to check the other. So inside `planning()` each set is phrased by `member_of`:

- a query that is not walking an index for its order (a count, a few matches to sort, a
  bulk action's set) with two sets or more: one `contacts.id IN (A INTERSECT B ...)`,
  computed from the link tables' covering indexes alone, drives; the sets' own conditions
  are then true;
- one set drives such a query;
- in a query that walks an index (many matches in the name's or a sort's order) the sets
  are sized with a bounded count: the smallest drives unless it is big (MANY or more), where
  walking the index and checking the sets, collected once, finds a page sooner. The others
  are phrased with `services.access.unindexed`, or checked on the driver's rows (see
  `another_drives`).

The sets of one plan must be AND-ed (as the list's filters and search are); a negated set
("tag is not") is phrased outside the plan.

Measured at 1M contacts (make bench): a tag on 20,000 driving beats walking the name index
(70 against 140 ms); a phone fragment found in 33,000 contacts does not (page: 103 against
65 ms), nor a city with 67,000 (167 against 249 ms): hence MANY. Counting category and city:
136 ms when the category drives, 60 intersected; search "ith" with the tag VIP: 207 ms when
the search drives, 35 when the tag does.

Other databases weigh the costs themselves: there every set may drive and nothing is
counted.

    with planning(walks_index=False) as plan:
        query = build()          # each set is phrased by member_of(key, rows)
        if plan.decide():
            query = build()      # the same sets, phrased by the plan
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Select, func, intersect, select, true

from crm.extensions import db
from crm.models import Contact
from crm.services.platform.access import unindexed

MANY = 25_000
_INTERSECTION = ("intersection",)


@dataclass
class Plan:
    # Whether the query walks an index for its order (else the sets drive, however big).
    walks_index: bool = False
    sets: dict[Hashable, Select] = field(default_factory=dict)
    driver: Hashable | None = None
    decided: bool = False

    def decide(self) -> bool:
        """Choose how the sets seen are phrased; True if the query must be built again."""
        if not self.sets or self.decided:
            return False
        self.decided = True
        if not self.walks_index:
            self.driver = _INTERSECTION if len(self.sets) > 1 else next(iter(self.sets))
            return True
        sizes = {key: _size(rows) for key, rows in self.sets.items()}
        key = min(sizes, key=sizes.__getitem__)
        self.driver = key if sizes[key] < MANY else None
        return True


_plan: ContextVar[Plan | None] = ContextVar("crm_query_plan", default=None)


@contextmanager
def planning(*, walks_index: bool = False) -> Iterator[Plan]:
    plan = Plan(walks_index=walks_index)
    token = _plan.set(plan)
    try:
        yield plan
    finally:
        _plan.reset(token)


def _size(rows: Select) -> int:
    """Members of the set, counted up to MANY."""
    bounded = rows.limit(MANY).subquery()
    return db.session.scalar(select(func.count()).select_from(bounded)) or 0


def member_of(key: Hashable, rows: Select) -> ColumnElement[bool]:
    """`contacts.id IN (rows)`, phrased by the plan being built (see the module docstring);
    `key` names the set (the same set, the same key). Outside a plan the set drives unless
    it is big."""
    if db.engine.dialect.name != "sqlite":
        return Contact.id.in_(rows)
    plan = _plan.get()
    if plan is None:  # built outside a plan: on its own size
        return _phrased(_size(rows) < MANY, rows)
    if not plan.decided:  # the first build: the sets are noted, the query is built again
        plan.sets.setdefault(key, rows)
        return Contact.id.in_(rows)
    if plan.driver == _INTERSECTION:
        if key != next(iter(plan.sets)):
            return true()  # in the intersection, which the first set carries
        return Contact.id.in_(intersect(*plan.sets.values()))
    return _phrased(key == plan.driver, rows)


def _phrased(drives: bool, rows: Select) -> ColumnElement[bool]:
    column = Contact.id if drives else unindexed(Contact.__table__.c.id)
    return column.in_(rows)


def another_drives(key: Hashable) -> bool:
    """Whether another single set was chosen to drive: then a condition that can be checked
    on the driver's rows (a LIKE on the row) beats collecting a big set of its own."""
    plan = _plan.get()
    return plan is not None and plan.driver not in (None, key, _INTERSECTION)
