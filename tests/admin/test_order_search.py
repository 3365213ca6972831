"""The Orders list's search: fragments of the order number or the store's order id, every
word matching, served on SQLite by the `order_search` trigram index (which follows every
write) and on PostgreSQL by the columns' trigram indexes."""

from __future__ import annotations

import re

from sqlalchemy import event, text

from crm.extensions import db
from crm.models import Order
from crm.services.sales import orders


def _store_order(admin, external_id: str, email: str) -> Order:
    order, _ = orders.post_store_order(
        admin, {"external_id": external_id, "total": "5", "customer": {"email": email}}
    )
    db.session.commit()
    return order


def _found(client, words: str) -> list[str]:
    page = client.get("/admin/order/", query_string={"search": words}).get_data(as_text=True)
    assert "Traceback" not in page
    return sorted(re.findall(r'<td class="col-number">\s*([^<\s]+)', page))


def test_orders_are_found_by_fragments_of_their_number_or_store_id(client, login_as):
    admin = login_as("crm_admin")
    first = _store_order(admin, "SHOP-88812", "ana@example.com")
    second = _store_order(admin, "shop-77734", "ben@example.com")
    third = _store_order(admin, "X9", "cem@example.com")
    db.session.execute(
        text("UPDATE orders SET number = :n WHERE id = :id"), {"n": "SO-2026-0451", "id": first.id}
    )
    db.session.commit()
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert _found(client, "8881") == ["SO-2026-0451"]  # a fragment of the store's id
        assert _found(client, "shop") == sorted(["SO-2026-0451", second.number])  # any case
        assert _found(client, "2026-04") == ["SO-2026-0451"]  # of the order number
        assert _found(client, "shop 777") == [second.number]  # every word must match
        assert _found(client, "shop 999") == []
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert _found(client, "X9") == [third.number]  # two characters: Flask-Admin's LIKE
    assert _found(client, "x9") == [third.number]
    searched = [s for s in statements if "orders" in s and ("MATCH" in s or "LIKE" in s.upper())]
    assert searched, statements
    if db.engine.dialect.name == "sqlite":  # the trigram table, not a read of every order
        assert all("order_search MATCH" in s for s in searched), searched
    else:  # ILIKE, which the ix_trgm_orders_* indexes serve
        assert all("ILIKE" in s for s in searched), searched


def test_the_order_search_index_follows_renames_and_deletes(client, login_as):
    admin = login_as("crm_admin")
    kept = _store_order(admin, "KEEP-123", "ana@example.com")
    gone = _store_order(admin, "GONE-456", "ben@example.com")
    kept.external_id = "RENAMED-789"
    for line in gone.lines:
        db.session.delete(line)
    db.session.flush()
    db.session.execute(text("DELETE FROM orders WHERE id = :id"), {"id": gone.id})
    db.session.commit()
    assert _found(client, "keep-1") == []
    assert _found(client, "renamed-7") == [kept.number]
    assert _found(client, "gone-4") == []
    if db.engine.dialect.name == "sqlite":
        db.session.execute(
            text("INSERT INTO order_search(order_search) VALUES ('integrity-check')")
        )


def test_a_word_in_very_many_orders_is_left_to_the_lists_own_scan(client, login_as, monkeypatch):
    """Past DENSE_MATCHES matches, reading the list in its order finds a page sooner than
    the index: same results, other plan."""
    from crm.services.contacts import search

    admin = login_as("crm_admin")
    both = sorted(_store_order(admin, f"SHOP-{n}", f"c{n}@example.com").number for n in (1, 2))
    monkeypatch.setattr(search, "DENSE_MATCHES", 1)
    assert search.indexed_matches("order_search", Order.id, "shop") is None
    assert _found(client, "shop") == both
    assert _found(client, "shop-2") == [both[1]]
    if db.engine.dialect.name == "sqlite":
        assert search.indexed_matches("order_search", Order.id, "shop-2") is not None
