"""order search index (SQLite) and live-name indexes (PostgreSQL) for deep list pages

Revision ID: 0017_order_search_live_names
Revises: 0016_list_indexes
Create Date: 2026-11-23 08:10:00

SQLite: Flask-Admin searches the Orders list with `CAST(column) LIKE '%word%'`, which SQLite
answers by reading every order (1.2 s at 620,000 orders). `order_search` is an
external-content FTS5 table with the trigram tokenizer, kept in step by triggers on `orders`
like `contact_search` on `contacts`; the Orders list matches words through it
(crm.services.contacts.search.indexed_matches). PostgreSQL has trigram indexes on these columns (0016).
Never batch-alter `orders` on SQLite: the copy would lose the triggers.

PostgreSQL: the lists' indexes ix_contacts_live_name (deleted_at, active, last_name, ...) and
ix_accounts_live_name (is_hidden, merged_into_id, name, id) cannot give PostgreSQL their order,
because `deleted_at IS NULL` and `merged_into_id IS NULL` are not equalities to its planner:
it read and sorted every live contact for a deep page (page 40,000: 440-700 ms, the sort
spilling to disk). Partial indexes WHERE ... IS NULL give it the order (92-107 ms, an index
walk). They are raw SQL named ix_pg_*, left out of the model comparison
(crm.extensions.RAW_SQL_SCHEMA_OBJECTS): SQLite, which uses the full indexes, does not get them.
"""

from alembic import op


revision = "0017_order_search_live_names"
down_revision = "0016_list_indexes"
branch_labels = None
depends_on = None

COLUMNS = "number, external_id"
NEW = "new.id, new.number, new.external_id"
OLD = "'delete', old.id, old.number, old.external_id"


PARTIAL_INDEXES = (
    (
        "ix_pg_contacts_live_name",
        "contacts (active, last_name, first_name, id) WHERE deleted_at IS NULL",
    ),
    (
        "ix_pg_accounts_live_name",
        "accounts (name, id) WHERE merged_into_id IS NULL AND is_hidden IS false",
    ),
)


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name, definition in PARTIAL_INDEXES:
            op.execute(f"CREATE INDEX {name} ON {definition}")
            op.execute(f"ANALYZE {definition.split()[0]}")
        return
    op.execute(
        f"CREATE VIRTUAL TABLE order_search USING fts5({COLUMNS}, "
        "content='orders', content_rowid='id', tokenize='trigram')"
    )
    op.execute(f"""
        CREATE TRIGGER order_search_insert AFTER INSERT ON orders BEGIN
            INSERT INTO order_search(rowid, {COLUMNS}) VALUES ({NEW});
        END
    """)
    op.execute(f"""
        CREATE TRIGGER order_search_delete AFTER DELETE ON orders BEGIN
            INSERT INTO order_search(order_search, rowid, {COLUMNS}) VALUES ({OLD});
        END
    """)
    op.execute(f"""
        CREATE TRIGGER order_search_update AFTER UPDATE OF number, external_id ON orders BEGIN
            INSERT INTO order_search(order_search, rowid, {COLUMNS}) VALUES ({OLD});
            INSERT INTO order_search(rowid, {COLUMNS}) VALUES ({NEW});
        END
    """)
    op.execute("INSERT INTO order_search(order_search) VALUES ('rebuild')")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name, _definition in PARTIAL_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
        return
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS order_search_{trigger}")
    op.execute("DROP TABLE IF EXISTS order_search")
