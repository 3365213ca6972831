"""server-side sessions and remember-me tokens

Revision ID: 0018_server_sessions
Revises: 0017_order_search_live_names
Create Date: 2026-12-07 15:40:00

A signed-in browser was only a signed cookie: signing out, a password reset or a role change
could not end a copy of it, and Flask-Login's remember cookie (the user id and an HMAC) lasted
a year. `user_sessions` holds one row per signed-in browser and `remember_tokens` one per
"keep me signed in" cookie (random, stored hashed, expiring, rotated on use); deleting the rows
ends them (crm.services.platform.sessions). Existing cookie sessions are not carried over: everyone
signs in once more after this upgrade.
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_server_sessions"
down_revision = "0017_order_search_live_names"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=200), nullable=False),
        sa.Column("remembered", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_sessions_token_hash")),
    )
    op.create_index(op.f("ix_user_sessions_user_id"), "user_sessions", ["user_id"])
    op.create_index(op.f("ix_user_sessions_last_seen_at"), "user_sessions", ["last_seen_at"])
    op.create_table(
        "remember_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("selector", sa.String(length=32), nullable=False),
        sa.Column("family", sa.String(length=32), nullable=False),
        sa.Column("validator_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_remember_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remember_tokens")),
        sa.UniqueConstraint("selector", name=op.f("uq_remember_tokens_selector")),
    )
    op.create_index(op.f("ix_remember_tokens_user_id"), "remember_tokens", ["user_id"])
    op.create_index(op.f("ix_remember_tokens_expires_at"), "remember_tokens", ["expires_at"])
    op.create_index(op.f("ix_remember_tokens_family"), "remember_tokens", ["family"])


def downgrade():
    op.drop_index(op.f("ix_remember_tokens_family"), table_name="remember_tokens")
    op.drop_index(op.f("ix_remember_tokens_expires_at"), table_name="remember_tokens")
    op.drop_index(op.f("ix_remember_tokens_user_id"), table_name="remember_tokens")
    op.drop_table("remember_tokens")
    op.drop_index(op.f("ix_user_sessions_last_seen_at"), table_name="user_sessions")
    op.drop_index(op.f("ix_user_sessions_user_id"), table_name="user_sessions")
    op.drop_table("user_sessions")
