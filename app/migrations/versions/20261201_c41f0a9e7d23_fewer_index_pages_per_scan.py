"""fewer index pages written per scan

Every index of a table is written by every insert into it: on SQLite each touched page is
one more 4 KiB frame in the WAL that the commit writes and the fsync flushes, while the
write lock is held. The event log loses two indexes no query reads (by site and by target
station, by time); the columns that stay NULL on most rows (the event that ended a
presence, an interval or a run, completed a piece, the student of an event) get partial
indexes that only their non-NULL rows enter; pieces lose the index on their site, which
(site_id, code) already leads with.

Revision ID: c41f0a9e7d23
Revises: b7c2e5d1a940
Create Date: 2026-12-01 12:20:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c41f0a9e7d23"
down_revision = "b7c2e5d1a940"
branch_labels = None
depends_on = None

# (table, column) indexed only where the column is not NULL, under the same index name.
PARTIAL = [
    ("events", "student_id"),
    ("pieces", "event_id"),
    ("pieces", "completed_event_id"),
    ("operation_runs", "finished_event_id"),
    ("run_intervals", "ended_event_id"),
    ("presences", "ended_event_id"),
]


def upgrade():
    op.drop_index("ix_events_target_station_received", table_name="events")
    op.drop_index("ix_events_site_received", table_name="events")
    op.drop_index("ix_pieces_site_id", table_name="pieces")
    for table, column in PARTIAL:
        name = f"ix_{table}_{column}"
        present = sa.text(f"{column} IS NOT NULL")
        op.drop_index(name, table_name=table)
        op.create_index(name, table, [column], sqlite_where=present, postgresql_where=present)


def downgrade():
    for table, column in PARTIAL:
        name = f"ix_{table}_{column}"
        op.drop_index(name, table_name=table)
        op.create_index(name, table, [column])
    op.create_index("ix_pieces_site_id", "pieces", ["site_id"])
    op.create_index("ix_events_site_received", "events", ["site_id", "received_at"])
    op.create_index(
        "ix_events_target_station_received", "events", ["target_station_id", "received_at"]
    )
