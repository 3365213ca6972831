"""Deep list pages: every list finds a deep page's ids first (an index walk), then reads its
rows; the page is the same as the one OFFSET on the full rows gives. On PostgreSQL the live
contacts and accounts have partial indexes that give the name order without a sort."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import event, select, text

from crm.admin import base
from crm.extensions import db
from crm.models import Account, Contact
from crm.services.sales import orders


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


def _deep_page(table: str) -> Any:
    """The ids of a deep page of the live contacts or accounts by name, as the lists ask."""
    if table == "contacts":
        live = (Contact.deleted_at.is_(None), Contact.active.is_(True))
        order = (Contact.last_name, Contact.first_name, Contact.id)
        return select(Contact.id).where(*live).order_by(*order).limit(20).offset(800_000)
    live = (Account.merged_into_id.is_(None), Account.is_hidden.is_(False))
    order = (Account.name.desc(), Account.id.desc())
    return select(Account.id).where(*live).order_by(*order).limit(20).offset(20_000)


@pytest.mark.parametrize(
    ("table", "partial_index"),
    [("contacts", "ix_pg_contacts_live_name"), ("accounts", "ix_pg_accounts_live_name")],
)
def test_deep_pages_walk_the_live_name_index_without_sorting(app, table, partial_index):
    """`deleted_at IS NULL` is no equality to PostgreSQL's planner: the full indexes could
    not give it their order, and it sorted every live contact for a deep page; its partial
    indexes (WHERE ... IS NULL) give it. SQLite takes the order from the full indexes."""
    query = _deep_page(table).compile(db.engine, compile_kwargs={"literal_binds": True})
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(db.session.scalars(text(f"EXPLAIN {query}")))
        assert partial_index in plan and "Sort" not in plan, plan
    else:
        rows = db.session.execute(text(f"EXPLAIN QUERY PLAN {query}"))
        plan = "\n".join(str(row[-1]) for row in rows)
        assert "_live_name" in plan and "TEMP B-TREE" not in plan, plan
    db.session.rollback()
