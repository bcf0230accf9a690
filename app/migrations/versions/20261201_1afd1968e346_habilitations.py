"""habilitations: the regulated machines and operations minors may use once authorised

Habilitation kinds per site (with the place's derogation date), the habilitations a
station or an operation type requires, and the students' authorisations until a date
(with their medical opinion and safety training). An authorisation changed or dropped by
an import is ended, not deleted: the rows are the record of who was authorised when.

Revision ID: 1afd1968e346
Revises: dd8c0125317d
Create Date: 2026-12-01 14:09:51.455946

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "1afd1968e346"
down_revision = "dd8c0125317d"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "habilitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("derogation_until", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_habilitations_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_habilitations")),
        sa.UniqueConstraint("site_id", "code", name=op.f("uq_habilitations_site_id_code")),
    )
    with op.batch_alter_table("habilitations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_habilitations_site_id"), ["site_id"], unique=False)

    op.create_table(
        "operation_type_requirements",
        sa.Column("operation_type_id", sa.Integer(), nullable=False),
        sa.Column("habilitation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["habilitation_id"],
            ["habilitations.id"],
            name=op.f("fk_operation_type_requirements_habilitation_id_habilitations"),
        ),
        sa.ForeignKeyConstraint(
            ["operation_type_id"],
            ["operation_types.id"],
            name=op.f("fk_operation_type_requirements_operation_type_id_operation_types"),
        ),
        sa.PrimaryKeyConstraint(
            "operation_type_id", "habilitation_id", name=op.f("pk_operation_type_requirements")
        ),
    )
    op.create_table(
        "station_requirements",
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("habilitation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["habilitation_id"],
            ["habilitations.id"],
            name=op.f("fk_station_requirements_habilitation_id_habilitations"),
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_station_requirements_station_id_stations"),
        ),
        sa.PrimaryKeyConstraint(
            "station_id", "habilitation_id", name=op.f("pk_station_requirements")
        ),
    )
    op.create_table(
        "student_habilitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("habilitation_id", sa.Integer(), nullable=False),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("medical_until", sa.Date(), nullable=True),
        sa.Column("trained_on", sa.Date(), nullable=True),
        sa.Column("trainer", sa.String(length=80), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_event_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ended_event_id"],
            ["events.id"],
            name=op.f("fk_student_habilitations_ended_event_id_events"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_student_habilitations_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["habilitation_id"],
            ["habilitations.id"],
            name=op.f("fk_student_habilitations_habilitation_id_habilitations"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_student_habilitations_site_id_sites")
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name=op.f("fk_student_habilitations_student_id_students"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_student_habilitations")),
    )
    with op.batch_alter_table("student_habilitations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_student_habilitations_ended_event_id",
            ["ended_event_id"],
            unique=False,
            sqlite_where=sa.text("ended_event_id IS NOT NULL"),
            postgresql_where=sa.text("ended_event_id IS NOT NULL"),
        )
        batch_op.create_index(
            batch_op.f("ix_student_habilitations_event_id"), ["event_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_student_habilitations_habilitation_id"),
            ["habilitation_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_student_habilitations_site_id"), ["site_id"], unique=False
        )
        batch_op.create_index(
            "uq_student_habilitations_held",
            ["student_id", "habilitation_id"],
            unique=True,
            sqlite_where=sa.text("ended_at IS NULL"),
            postgresql_where=sa.text("ended_at IS NULL"),
        )


def downgrade():
    with op.batch_alter_table("student_habilitations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_student_habilitations_held",
            sqlite_where=sa.text("ended_at IS NULL"),
            postgresql_where=sa.text("ended_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_student_habilitations_site_id"))
        batch_op.drop_index(batch_op.f("ix_student_habilitations_habilitation_id"))
        batch_op.drop_index(batch_op.f("ix_student_habilitations_event_id"))
        batch_op.drop_index(
            "ix_student_habilitations_ended_event_id",
            sqlite_where=sa.text("ended_event_id IS NOT NULL"),
            postgresql_where=sa.text("ended_event_id IS NOT NULL"),
        )

    op.drop_table("student_habilitations")
    op.drop_table("station_requirements")
    op.drop_table("operation_type_requirements")
    with op.batch_alter_table("habilitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_habilitations_site_id"))

    op.drop_table("habilitations")
