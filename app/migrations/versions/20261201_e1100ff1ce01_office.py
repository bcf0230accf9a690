"""the office: routing templates, assignments, work order status, erasure

- ``routing_templates`` and ``routing_template_steps``: named routings a work order is made
  from; ``assignments``: an operation given to a student (ended rows kept).
- ``work_orders``: ``status`` (open, closed, cancelled), ``created_at``, ``closed_at`` and
  ``made_from`` (the template or the order it was copied from).
- ``students.erased_at``: the student's personal data was erased.
- ``events``: an index of what people did on pages and command lines (the audit page).
- ``events.redacted_at``: an erasure rewrote what the row said of a student. The
  append-only triggers are made again to let that one change through (identity, kind,
  outcome and time unchanged) and nothing else; deleting a row stays refused.

Revision ID: e1100ff1ce01
Revises: e10f0a57f1e1
Create Date: 2026-12-01 20:45:00

"""

import sqlalchemy as sa
from alembic import op

from app.models.types import UtcDateTime

# revision identifiers, used by Alembic.
revision = "e1100ff1ce01"
down_revision = "e10f0a57f1e1"
branch_labels = None
depends_on = None

OPEN = sa.text("ended_at IS NULL")
ENDED = sa.text("ended_event_id IS NOT NULL")
PEOPLE = sa.text("channel IN ('web', 'cli')")

# What a redaction may not change: the row's identity, kind, outcome, time and actor.
SAME_ROW_PG = (
    "NEW.id = OLD.id AND NEW.kind = OLD.kind AND NEW.status = OLD.status "
    "AND NEW.channel = OLD.channel AND NEW.key = OLD.key AND NEW.received_at = OLD.received_at "
    "AND NEW.site_id IS NOT DISTINCT FROM OLD.site_id "
    "AND NEW.user_id IS NOT DISTINCT FROM OLD.user_id AND NEW.actor_kind = OLD.actor_kind "
    "AND NEW.redacted_at IS NOT NULL "
    "AND NEW.redacted_at IS DISTINCT FROM OLD.redacted_at"
)
SAME_ROW_SQLITE = (
    "NEW.id = OLD.id AND NEW.kind = OLD.kind AND NEW.status = OLD.status "
    "AND NEW.channel = OLD.channel AND NEW.key = OLD.key AND NEW.received_at = OLD.received_at "
    "AND NEW.site_id IS OLD.site_id AND NEW.user_id IS OLD.user_id "
    "AND NEW.actor_kind = OLD.actor_kind "
    "AND NEW.redacted_at IS NOT NULL AND NEW.redacted_at IS NOT OLD.redacted_at"
)


def upgrade():
    conn = op.get_bind()
    op.create_table(
        "routing_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=150), nullable=False),
        sa.Column("product", sa.String(length=150), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_routing_templates_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_templates")),
        sa.UniqueConstraint("site_id", "code", name=op.f("uq_routing_templates_site_id_code")),
    )
    with op.batch_alter_table("routing_templates") as batch:
        batch.create_index("ix_routing_templates_site_id", ["site_id"])
    op.create_table(
        "routing_template_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("operation_type_id", sa.Integer(), nullable=False),
        sa.Column("wps_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["operation_type_id"],
            ["operation_types.id"],
            name=op.f("fk_routing_template_steps_operation_type_id_operation_types"),
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["routing_templates.id"],
            name=op.f("fk_routing_template_steps_template_id_routing_templates"),
        ),
        sa.ForeignKeyConstraint(
            ["wps_id"], ["wps.id"], name=op.f("fk_routing_template_steps_wps_id_wps")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_template_steps")),
        sa.UniqueConstraint(
            "template_id", "step", name=op.f("uq_routing_template_steps_template_id_step")
        ),
    )
    with op.batch_alter_table("routing_template_steps") as batch:
        batch.create_index("ix_routing_template_steps_template_id", ["template_id"])
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("assigned_at", UtcDateTime(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("ended_at", UtcDateTime(), nullable=True),
        sa.Column("ended_event_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ended_event_id"], ["events.id"], name=op.f("fk_assignments_ended_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_assignments_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["operation_id"], ["operations.id"], name=op.f("fk_assignments_operation_id_operations")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_assignments_site_id_sites")
        ),
        sa.ForeignKeyConstraint(
            ["student_id"], ["students.id"], name=op.f("fk_assignments_student_id_students")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
    )
    with op.batch_alter_table("assignments") as batch:
        batch.create_index("ix_assignments_site_id", ["site_id"])
        batch.create_index("ix_assignments_operation_id", ["operation_id"])
        batch.create_index("ix_assignments_event_id", ["event_id"])
        batch.create_index("ix_assignments_student_open", ["student_id", "ended_at"])
        batch.create_index(
            "uq_assignments_open",
            ["operation_id", "student_id"],
            unique=True,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        )
        batch.create_index(
            "ix_assignments_ended_event_id",
            ["ended_event_id"],
            sqlite_where=ENDED,
            postgresql_where=ENDED,
        )

    with op.batch_alter_table("work_orders") as batch:
        batch.add_column(
            sa.Column("status", sa.String(length=10), server_default="open", nullable=False)
        )
        batch.add_column(sa.Column("created_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("closed_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("made_from", sa.String(length=60), nullable=True))
        batch.create_check_constraint("status", "status IN ('open', 'closed', 'cancelled')")
    # Plain ALTER TABLE … ADD COLUMN: a batch rebuild of these tables would drop the event
    # log's triggers (and costs a copy of the biggest tables).
    op.add_column("students", sa.Column("erased_at", UtcDateTime(), nullable=True))
    op.add_column("events", sa.Column("redacted_at", UtcDateTime(), nullable=True))
    # The audit page's index: only what people did on pages and command lines is in it.
    op.create_index(
        "ix_events_site_people",
        "events",
        ["site_id", "id"],
        sqlite_where=PEOPLE,
        postgresql_where=PEOPLE,
    )

    if conn.dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql "
            "AS $$ BEGIN IF TG_OP = 'DELETE' OR (OLD.status <> 'pending' AND NOT ("
            f"{SAME_ROW_PG})) THEN RAISE EXCEPTION 'events are append-only'; END IF; "
            "RETURN NEW; END $$"
        )
    else:
        op.execute("DROP TRIGGER events_append_only_update")
        op.execute(
            "CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events "
            f"WHEN OLD.status <> 'pending' AND NOT ({SAME_ROW_SQLITE}) "
            "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
        )


def downgrade():
    raise RuntimeError(
        "Cette migration ne se défait pas (bureau, effacement) : restaurez la sauvegarde de "
        "la base faite avant la mise à jour."
    )
