"""students can call the teacher from their station (A-AIDE)

A station's context says since when its students wait for the teacher; like the rest of
the context, a new row carries it over and undoing the scan that set it brings the row
before back.

Revision ID: b7c2e5d1a940
Revises: 698d5512f9cc
Create Date: 2026-12-01 12:05:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b7c2e5d1a940"
down_revision = "698d5512f9cc"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("station_contexts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("help_since", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("station_contexts", schema=None) as batch_op:
        batch_op.drop_column("help_since")
