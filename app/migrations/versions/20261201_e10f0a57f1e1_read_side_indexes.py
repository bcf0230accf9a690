"""read-side indexes: the teacher's pages cost what they show, not the years of history

- ``welds``: the index on ``site_id`` alone becomes ``(site_id, started_at)`` (the board's
  newest welds of a site, read in order instead of sorting all of them); a partial index
  ``(site_id, started_at) WHERE run_id IS NULL`` holds only the welds waiting for a teacher
  (about 1 %): their count on every teacher page and their list read it alone.
- ``operation_runs``: the index on ``station_id`` alone becomes ``(station_id,
  started_at)`` (the runs an unattributed weld may belong to: the nearest of its station
  in time, not all of the station's runs sorted).

Every insert writes each index of its table: the two replaced indexes keep the count as
it was; the partial one is written only by welds nobody was badged in for.

Revision ID: e10f0a57f1e1
Revises: e10c5e551015
Create Date: 2026-12-01 18:15:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e10f0a57f1e1"
down_revision = "e10c5e551015"
branch_labels = None
depends_on = None

UNATTRIBUTED = sa.text("run_id IS NULL")


def upgrade():
    with op.batch_alter_table("welds", schema=None) as batch_op:
        batch_op.drop_index("ix_welds_site_id")
        batch_op.create_index("ix_welds_site_started", ["site_id", "started_at"], unique=False)
        batch_op.create_index(
            "ix_welds_site_unattributed",
            ["site_id", "started_at"],
            unique=False,
            sqlite_where=UNATTRIBUTED,
            postgresql_where=UNATTRIBUTED,
        )
    with op.batch_alter_table("operation_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_operation_runs_station_id")
        batch_op.create_index(
            "ix_operation_runs_station_started", ["station_id", "started_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("operation_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_operation_runs_station_started")
        batch_op.create_index("ix_operation_runs_station_id", ["station_id"], unique=False)
    with op.batch_alter_table("welds", schema=None) as batch_op:
        batch_op.drop_index("ix_welds_site_unattributed")
        batch_op.drop_index("ix_welds_site_started")
        batch_op.create_index("ix_welds_site_id", ["site_id"], unique=False)
