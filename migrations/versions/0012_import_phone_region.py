"""import phone region: the country of an import's numbers written without a country code

Revision ID: 0012_import_phone_region
Revises: 0011_export_jobs
Create Date: 2026-11-22 22:50:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0012_import_phone_region"
down_revision = "0011_export_jobs"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_region", sa.String(length=2), nullable=True))


def downgrade():
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.drop_column("phone_region")
