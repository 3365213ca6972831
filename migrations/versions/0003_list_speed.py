"""covering indexes for category, criterion and linked-account look-ups; contacts.has_phone

Revision ID: 0003_list_speed
Revises: 0002_many_contacts
Create Date: 2026-11-22 14:20:00

Written by hand: the column is added with ALTER TABLE (no table rebuild, so the search
index's triggers on contacts stay) and filled with one UPDATE.
"""

from alembic import op
import sqlalchemy as sa


revision = "0003_list_speed"
down_revision = "0002_many_contacts"
branch_labels = None
depends_on = None

COVERING = (
    ("contact_categories", "category_id"),
    ("contact_criteria", "criterion_id"),
    ("contact_accounts", "account_id"),
)


def upgrade():
    for table, key in COVERING:
        op.create_index(f"ix_{table}_{key}_contact_id", table, [key, "contact_id"], unique=False)
        op.drop_index(f"ix_{table}_{key}", table_name=table)
    op.add_column(
        "contacts",
        sa.Column("has_phone", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    contacts = sa.table("contacts", sa.column("id"), sa.column("has_phone", sa.Boolean))
    op.execute(
        contacts.update()
        .where(contacts.c.id.in_(sa.text("SELECT contact_id FROM phones")))
        .values(has_phone=True)
    )
    op.create_index("ix_contacts_has_phone", "contacts", ["has_phone"], unique=False)


def downgrade():
    op.drop_index("ix_contacts_has_phone", table_name="contacts")
    # Not a batch operation: rebuilding contacts on SQLite would drop the search triggers.
    op.execute("ALTER TABLE contacts DROP COLUMN has_phone")
    for table, key in COVERING:
        op.create_index(f"ix_{table}_{key}", table, [key], unique=False)
        op.drop_index(f"ix_{table}_{key}_contact_id", table_name=table)
