"""contacts.name_key: names folded for duplicate look-ups, filled for existing contacts

Revision ID: 0010_name_keys
Revises: 0009_imports
Create Date: 2026-11-22 20:05:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0010_name_keys"
down_revision = "0009_imports"
branch_labels = None
depends_on = None

BATCH = 20_000


def upgrade():
    # Plain ALTER TABLE: a batch (copy) of contacts would drop its search triggers on SQLite.
    op.add_column("contacts", sa.Column("name_key", sa.String(length=320), nullable=True))
    _fill_name_keys()
    op.create_index("ix_contacts_name_key", "contacts", ["name_key"], unique=False)


def _fill_name_keys():
    """The key of every existing contact, computed as the app computes it, in batches."""
    from crm.services.contacts.search import name_key

    bind = op.get_bind()
    contacts = sa.table(
        "contacts",
        sa.column("id", sa.Integer),
        sa.column("first_name", sa.String),
        sa.column("middle_name", sa.String),
        sa.column("last_name", sa.String),
        sa.column("name_key", sa.String),
    )
    update = (
        sa.update(contacts)
        .where(contacts.c.id == sa.bindparam("contact_id"))
        .values(name_key=sa.bindparam("key"))
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(
                contacts.c.id, contacts.c.first_name, contacts.c.middle_name, contacts.c.last_name
            )
            .where(contacts.c.id > last)
            .order_by(contacts.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        bind.execute(
            update,
            [
                {"contact_id": row.id, "key": name_key(row[1], row[2], row[3])[:320] or None}
                for row in rows
            ],
        )
        last = rows[-1].id


def downgrade():
    op.drop_index("ix_contacts_name_key", table_name="contacts")
    op.drop_column("contacts", "name_key")
