"""contact logins: the user generated for a contact ("Generate login")

Revision ID: 0014_contact_logins
Revises: 0013_lifecycle
Create Date: 2026-11-22 23:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0014_contact_logins"
down_revision = "0013_lifecycle"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "contact_logins",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"],
            name=op.f("fk_contact_logins_contact_id_contacts"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"],
            name=op.f("fk_contact_logins_user_id_users"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_contact_logins")),
    )  # fmt: skip
    op.create_index(
        op.f("ix_contact_logins_user_id"), "contact_logins", ["user_id"], unique=True
    )


def downgrade():
    op.drop_index(op.f("ix_contact_logins_user_id"), table_name="contact_logins")
    op.drop_table("contact_logins")
