"""list indexes: contacts by status or email then id, deals by expected close date, and (PostgreSQL)
trigram indexes for the searches of the leads, deals and orders lists

Revision ID: 0016_list_indexes
Revises: 0015_contact_card
Create Date: 2026-11-23 06:00:00

The contact list sorted by customer or prospect status, or by email, pages through
(status, id) or (email, id): PostgreSQL otherwise sorted every tie by id for a page (by
status 0.5 s, by email descending, where 200,000 contacts without an email tie, 2 s); the deals list, ordered by expected close date, walks that date's index.
Plain CREATE/DROP INDEX: never a batch copy of `contacts` on SQLite (its search-index
triggers would go with it).

PostgreSQL: Flask-Admin's list search is `column ILIKE '%word%'` on each searchable column;
pg_trgm GIN indexes serve it (an order number at 1M contacts: 0.8 s -> 27 ms). They are raw
SQL (gin_trgm_ops), named ix_trgm_* and left out of the model comparison
(crm.extensions.RAW_SQL_SCHEMA_OBJECTS). SQLite scans these smaller tables.
"""

from alembic import op


revision = "0016_list_indexes"
down_revision = "0015_contact_card"
branch_labels = None
depends_on = None

TRIGRAM_INDEXES = (
    ("leads", "first_name"),
    ("leads", "last_name"),
    ("leads", "email"),
    ("leads", "company"),
    ("deals", "title"),
    ("orders", "number"),
    ("orders", "external_id"),
)


def upgrade():
    op.drop_index("ix_contacts_customer_status", table_name="contacts")
    op.drop_index("ix_contacts_prospect_status", table_name="contacts")
    op.drop_index("ix_contacts_email", table_name="contacts")
    op.create_index("ix_contacts_email_id", "contacts", ["email", "id"], unique=False)
    op.create_index(
        "ix_contacts_customer_status_id", "contacts", ["customer_status", "id"], unique=False
    )
    op.create_index(
        "ix_contacts_prospect_status_id", "contacts", ["prospect_status", "id"], unique=False
    )
    op.create_index("ix_deals_expected_close", "deals", ["expected_close"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for table, column in TRIGRAM_INDEXES:
            op.execute(
                f"CREATE INDEX ix_trgm_{table}_{column} ON {table} USING gin ({column} gin_trgm_ops)"
            )
    if op.get_bind().dialect.name == "sqlite":
        # SQLite's planner knows an index from ANALYZE's statistics: give the new ones theirs.
        for name in (
            "ix_contacts_email_id",
            "ix_contacts_customer_status_id",
            "ix_contacts_prospect_status_id",
            "ix_deals_expected_close",
        ):
            op.execute(f"ANALYZE {name}")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table, column in TRIGRAM_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS ix_trgm_{table}_{column}")
    op.drop_index("ix_deals_expected_close", table_name="deals")
    op.drop_index("ix_contacts_prospect_status_id", table_name="contacts")
    op.drop_index("ix_contacts_customer_status_id", table_name="contacts")
    op.drop_index("ix_contacts_email_id", table_name="contacts")
    op.create_index("ix_contacts_email", "contacts", ["email"], unique=False)
    op.create_index("ix_contacts_prospect_status", "contacts", ["prospect_status"], unique=False)
    op.create_index("ix_contacts_customer_status", "contacts", ["customer_status"], unique=False)
