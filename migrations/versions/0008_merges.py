"""merges of contacts and accounts: tombstones pointing to the master, and merge records

Revision ID: 0008_merges
Revises: 0007_not_duplicates
Create Date: 2026-11-22 17:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_merges'
down_revision = '0007_not_duplicates'
branch_labels = None
depends_on = None


def _add_merged_into(table):
    """The column with its foreign key, without rebuilding the table on SQLite (a rebuild
    would drop the search index's triggers on contacts)."""
    name = f'fk_{table}_merged_into_id_{table}'
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(
            f'ALTER TABLE {table} ADD COLUMN merged_into_id INTEGER CONSTRAINT {name} '
            f'REFERENCES {table} (id) ON DELETE SET NULL'
        )
    else:
        op.add_column(table, sa.Column('merged_into_id', sa.Integer(), nullable=True))
        op.create_foreign_key(name, table, table, ['merged_into_id'], ['id'], ondelete='SET NULL')
    # Partial: only merged records are indexed.
    op.create_index(
        f'ix_{table}_merged_into_id', table, ['merged_into_id'], unique=False,
        sqlite_where=sa.text('merged_into_id IS NOT NULL'),
        postgresql_where=sa.text('merged_into_id IS NOT NULL'),
    )


def upgrade():
    op.create_table('merges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('master_id', sa.Integer(), nullable=False),
    sa.Column('merged_ids', sa.JSON(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('user_email', sa.String(length=254), nullable=True),
    sa.Column('summary', sa.String(length=300), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('master_version', sa.Integer(), nullable=False),
    sa.Column('undone_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('undone_by_email', sa.String(length=254), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_merges'))
    )
    op.create_index(op.f('ix_merges_at'), 'merges', ['at'], unique=False)
    op.create_index('ix_merges_kind_master_id', 'merges', ['kind', 'master_id'], unique=False)
    for table in ('accounts', 'contacts'):
        _add_merged_into(table)
    # The Accounts list skips merged accounts from its index.
    op.drop_index('ix_accounts_is_hidden_name', table_name='accounts')
    op.create_index(
        'ix_accounts_live_name', 'accounts', ['is_hidden', 'merged_into_id', 'name', 'id'],
        unique=False,
    )
    # The trash: trashed contacts, not the merged ones (which carry deleted_at too).
    trashed = sa.text('deleted_at IS NOT NULL AND merged_into_id IS NULL')
    op.create_index(
        'ix_contacts_trash', 'contacts', ['deleted_at', 'id'], unique=False,
        sqlite_where=trashed, postgresql_where=trashed,
    )


def downgrade():
    op.drop_index('ix_contacts_trash', table_name='contacts')
    op.drop_index('ix_accounts_live_name', table_name='accounts')
    op.create_index(
        'ix_accounts_is_hidden_name', 'accounts', ['is_hidden', 'name', 'id'], unique=False
    )
    for table in ('contacts', 'accounts'):
        op.drop_index(f'ix_{table}_merged_into_id', table_name=table)
        if op.get_bind().dialect.name == 'sqlite':
            op.execute(f'ALTER TABLE {table} DROP COLUMN merged_into_id')
        else:
            op.drop_constraint(f'fk_{table}_merged_into_id_{table}', table, type_='foreignkey')
            op.drop_column(table, 'merged_into_id')
    op.drop_index('ix_merges_kind_master_id', table_name='merges')
    op.drop_index(op.f('ix_merges_at'), table_name='merges')
    op.drop_table('merges')
