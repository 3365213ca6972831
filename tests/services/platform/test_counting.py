"""services.counting: how lists say how many rows match, without counting a million."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import event, select, text

from crm.extensions import db
from crm.models import Contact
from crm.services.platform import counting
from crm.services.platform.counting import Count

pytestmark = pytest.mark.usefixtures("app")


def on_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def test_labels_say_exact_estimated_and_capped_counts():
    assert Count(1234).label("contacts") == "1,234 contacts"
    assert Count(1_000_000, "about").label("contacts") == "about 1,000,000 contacts"
    assert Count(10_000, "more").label("records") == "more than 10,000 records"
    assert [Count(7).short(), Count(990_000, "about").short(), Count(10_000, "more").short()] == [
        "7",
        "~990,000",
        "10,000+",
    ]
    assert [counting._rounded(n) for n in (42, 1234, 987_654, 1_000_001)] == [
        42,
        1200,
        990_000,
        1_000_000,
    ]


def test_a_count_within_the_cap_is_exact(make_contact):
    for name in ("Ana", "Bo", "Cy"):
        make_contact(first_name=name)
    found = counting.list_count(select(Contact.id), cap=3)
    assert found == Count(3)
    assert found.exact


def test_beyond_the_cap_sqlite_says_more_than(make_contact):
    if on_postgresql():
        pytest.skip("SQLite has no estimate; PostgreSQL's answer is tested below")
    for name in ("Ana", "Bo", "Cy"):
        make_contact(first_name=name)
    assert counting.list_count(select(Contact.id), cap=2) == Count(2, "more")


def test_beyond_the_cap_postgresql_counts_within_its_budget_else_estimates(
    app: Flask, make_contact, monkeypatch
):
    if not on_postgresql():
        pytest.skip("the estimate and the time budget are PostgreSQL's")
    for index in range(6):
        make_contact(first_name=f"N{index}")
    db.session.execute(text("ANALYZE contacts"))
    query = select(Contact.id)
    assert counting.list_count(query, cap=2) == Count(6)  # fits the budget: exact
    app.config["CRM_COUNT_BUDGET_MS"] = 0
    estimate = counting.list_count(query, cap=2)
    assert estimate == Count(counting.planner_estimate(query), "about")
    assert estimate.value == 6  # ANALYZE just read the table: the planner knows
    # An estimate far beyond the cap is shown as it is, whatever the budget.
    app.config["CRM_COUNT_BUDGET_MS"] = 5_000
    monkeypatch.setattr(counting, "EXACT_TRY_UP_TO", 3)
    assert counting.list_count(query, cap=2) == Count(6, "about")


def test_a_count_over_its_budget_is_cancelled_and_the_transaction_goes_on(make_contact):
    if not on_postgresql():
        pytest.skip("statement_timeout is PostgreSQL's")
    ana = make_contact(first_name="Ana")
    before = db.session.execute(text("SHOW statement_timeout")).scalar()
    huge = select(text("n")).select_from(text("generate_series(1, 200000000) AS n"))
    assert counting.count_within_budget(huge, 5) is None
    # The cancelled count is undone alone: the transaction and its timeout are as before.
    assert db.session.execute(text("SHOW statement_timeout")).scalar() == before
    assert db.session.get(Contact, ana.id).first_name == "Ana"
    assert counting.count_within_budget(select(Contact.id), 5_000) == 1
    assert db.session.execute(text("SHOW statement_timeout")).scalar() == before


def test_a_count_over_its_budget_is_not_tried_again_for_a_while(monkeypatch):
    """Paging through a long filtered list: the count that ran over its budget on page 1
    is not run again on page 2 (the list shows the estimate straight away)."""
    if not on_postgresql():
        pytest.skip("statement_timeout is PostgreSQL's")
    monkeypatch.setattr(counting, "_over_budget", type(counting._over_budget)())
    huge = select(text("n")).select_from(text("generate_series(1, 200000000) AS n"))
    other = select(text("n")).select_from(text("generate_series(1, 200000001) AS n"))
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    def counted() -> int:
        found = [s for s in statements if "generate_series" in s]
        statements.clear()
        return len(found)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert counting.count_within_budget(huge, 20) is None
        assert counted() == 1
        assert counting.count_within_budget(huge, 20) is None
        assert counted() == 0  # not run again
        assert counting.count_within_budget(other, 20) is None  # another query is tried
        assert counted() == 1
        assert counting.count_within_budget(huge, 30) is None  # and a larger budget
        assert counted() == 1
        later = counting._now() + counting.OVER_BUDGET_FOR_S + 1
        monkeypatch.setattr(counting, "_now", lambda: later)  # remembered long enough
        assert counting.count_within_budget(huge, 20) is None
        assert counted() == 1
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
