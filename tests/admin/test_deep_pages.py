"""Deep list pages: every list finds a deep page's ids first (an index walk), then reads its
rows; the page is the same as the one OFFSET on the full rows gives. On PostgreSQL the live
contacts and accounts have partial indexes that give the name order without a sort."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, text

from crm.admin import base
from crm.extensions import db
from crm.models import Account
from crm.services import orders


def _cells(client, url: str, column: str) -> list[str]:
    page = client.get(url).get_data(as_text=True)
    assert "Traceback" not in page
    return re.findall(rf'<td class="col-{column}">\s*(?:<a [^>]*>)?\s*([^<]+?)\s*<', page)


def test_deep_pages_of_accounts_and_orders_are_the_pages_offset_gives(
    client, login_as, monkeypatch
):
    admin = login_as("crm_admin")
    db.session.add_all(Account(name=f"Firm {n:02d}") for n in range(25))
    for n in range(25):
        orders.post_store_order(
            admin, {"external_id": f"s-{n}", "total": str(n + 1), "customer": {"email": "a@x.io"}}
        )
    db.session.commit()
    urls = {
        "/admin/account/?page=1": "name",
        "/admin/account/?page=1&sort=0&desc=1": "name",
        "/admin/order/?page=1": "number",
        "/admin/order/?page=1&sort=5": "total",
    }
    shallow = {url: _cells(client, url, column) for url, column in urls.items()}
    monkeypatch.setattr(base, "DEEP_OFFSET", 20)  # page 1 (rows 21-) is deep now
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        deep = {url: _cells(client, url, column) for url, column in urls.items()}
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert deep == shallow
    assert shallow["/admin/account/?page=1"] == [f"Firm {n:02d}" for n in range(20, 25)]
    assert shallow["/admin/account/?page=1&sort=0&desc=1"] == [
        f"Firm {n:02d}" for n in (4, 3, 2, 1, 0)
    ]
    assert len(shallow["/admin/order/?page=1"]) == 5
    assert shallow["/admin/order/?page=1&sort=5"] == [f"{n:,.2f} EUR" for n in range(21, 26)]
    # the deep pages skipped ids, not whole rows
    skipping = [s for s in statements if "OFFSET" in s and not s.startswith("SELECT count")]
    assert skipping and all(re.match(r"SELECT \w+\.id AS \w+ FROM", s) for s in skipping), skipping


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (
            "SELECT id FROM contacts WHERE deleted_at IS NULL AND active IS true "
            "ORDER BY last_name, first_name, id LIMIT 20 OFFSET 800000",
            "ix_pg_contacts_live_name",
        ),
        (
            "SELECT id FROM accounts WHERE merged_into_id IS NULL AND is_hidden IS false "
            "ORDER BY name DESC, id DESC LIMIT 20 OFFSET 20000",
            "ix_pg_accounts_live_name",
        ),
    ],
)
def test_postgresql_walks_the_live_name_indexes_without_sorting(app, query, index):
    """`deleted_at IS NULL` is no equality to PostgreSQL's planner: the full indexes could
    not give it their order, and it sorted every live contact for a deep page."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the partial indexes are PostgreSQL's (SQLite walks the full ones)")
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(db.session.scalars(text(f"EXPLAIN {query}")))
    assert index in plan and "Sort" not in plan, plan
    db.session.rollback()
