"""teacher records: self-assessments, levels set by hand, continuity, photos, mastery rule

Students' own feeling about a run (one per student and run, a second answer replaces the
first), competency levels a teacher set by hand with the reason, the 6-monthly ISO 9606-1
continuity confirmations a teacher signed, photos of reviewed pieces (re-encoded JPEG),
each site's rule for a competency's current level (``recent`` over 3 by default), and an
index of the runs each student worked on (their record's hours and photos).

Revision ID: e10a55e55ed1
Revises: 1afd1968e346
Create Date: 2026-12-01 17:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e10a55e55ed1"
down_revision = "1afd1968e346"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "mastery_rule",
                sa.String(length=10),
                server_default=sa.text("'recent'"),
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column("mastery_n", sa.Integer(), server_default=sa.text("3"), nullable=False)
        )

    with op.batch_alter_table("run_participants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_run_participants_student_id"), ["student_id"], unique=False
        )

    op.create_table(
        "self_assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("feeling", sa.String(length=10), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "feeling IN ('difficile', 'moyen', 'facile')",
            name=op.f("ck_self_assessments_feeling"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_self_assessments_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["operation_runs.id"],
            name=op.f("fk_self_assessments_run_id_operation_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["student_id"], ["students.id"], name=op.f("fk_self_assessments_student_id_students")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_self_assessments")),
        sa.UniqueConstraint(
            "student_id", "run_id", name=op.f("uq_self_assessments_student_id_run_id")
        ),
    )
    with op.batch_alter_table("self_assessments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_self_assessments_event_id"), ["event_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_self_assessments_run_id"), ["run_id"], unique=False)

    op.create_table(
        "level_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("competency_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("set_by_id", sa.Integer(), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "level IN ('NE', 'ABS', '1', '2', '3', '4')", name=op.f("ck_level_overrides_level")
        ),
        sa.ForeignKeyConstraint(
            ["competency_id"],
            ["competencies.id"],
            name=op.f("fk_level_overrides_competency_id_competencies"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_level_overrides_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["set_by_id"], ["users.id"], name=op.f("fk_level_overrides_set_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["student_id"], ["students.id"], name=op.f("fk_level_overrides_student_id_students")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_level_overrides")),
    )
    with op.batch_alter_table("level_overrides", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_level_overrides_event_id"), ["event_id"], unique=False)
        batch_op.create_index(
            "ix_level_overrides_student_competency",
            ["student_id", "competency_id", "set_at"],
            unique=False,
        )

    op.create_table(
        "continuity_confirmations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("process", sa.String(length=10), nullable=False),
        sa.Column("position", sa.String(length=10), nullable=False),
        sa.Column("confirmed_by_id", sa.Integer(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["confirmed_by_id"],
            ["users.id"],
            name=op.f("fk_continuity_confirmations_confirmed_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_continuity_confirmations_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name=op.f("fk_continuity_confirmations_student_id_students"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_continuity_confirmations")),
    )
    with op.batch_alter_table("continuity_confirmations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_continuity_confirmations_event_id"), ["event_id"], unique=False
        )
        batch_op.create_index(
            "ix_continuity_confirmations_student",
            ["student_id", "process", "position", "confirmed_at"],
            unique=False,
        )

    op.create_table(
        "review_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("piece_id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=True),
        sa.Column("media_type", sa.String(length=30), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("taken_by_id", sa.Integer(), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_review_photos_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["piece_id"], ["pieces.id"], name=op.f("fk_review_photos_piece_id_pieces")
        ),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["piece_reviews.id"],
            name=op.f("fk_review_photos_review_id_piece_reviews"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_review_photos_site_id_sites")
        ),
        sa.ForeignKeyConstraint(
            ["taken_by_id"], ["users.id"], name=op.f("fk_review_photos_taken_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_photos")),
    )
    with op.batch_alter_table("review_photos", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_photos_event_id"), ["event_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_photos_piece_id"), ["piece_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_photos_review_id"), ["review_id"], unique=False)


def downgrade():
    with op.batch_alter_table("review_photos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_photos_review_id"))
        batch_op.drop_index(batch_op.f("ix_review_photos_piece_id"))
        batch_op.drop_index(batch_op.f("ix_review_photos_event_id"))

    op.drop_table("review_photos")
    with op.batch_alter_table("continuity_confirmations", schema=None) as batch_op:
        batch_op.drop_index("ix_continuity_confirmations_student")
        batch_op.drop_index(batch_op.f("ix_continuity_confirmations_event_id"))

    op.drop_table("continuity_confirmations")
    with op.batch_alter_table("level_overrides", schema=None) as batch_op:
        batch_op.drop_index("ix_level_overrides_student_competency")
        batch_op.drop_index(batch_op.f("ix_level_overrides_event_id"))

    op.drop_table("level_overrides")
    with op.batch_alter_table("self_assessments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_self_assessments_run_id"))
        batch_op.drop_index(batch_op.f("ix_self_assessments_event_id"))

    op.drop_table("self_assessments")
    with op.batch_alter_table("run_participants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_participants_student_id"))

    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("mastery_n")
        batch_op.drop_column("mastery_rule")
