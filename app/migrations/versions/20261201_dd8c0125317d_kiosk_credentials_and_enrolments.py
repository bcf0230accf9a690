"""kiosks get a credential of their own, given by a one-time enrolment link

A kiosk's credential is a device credential like a bearer token (stored hashed, revocable,
bound to its station), of kind ``kiosk``; an enrolment link is kept only as its hash.

Revision ID: dd8c0125317d
Revises: c41f0a9e7d23
Create Date: 2026-12-01 14:08:49.850666

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "dd8c0125317d"
down_revision = "c41f0a9e7d23"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "kiosk_enrolments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("code_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("device_token_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_token_id"],
            ["device_tokens.id"],
            name=op.f("fk_kiosk_enrolments_device_token_id_device_tokens"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_kiosk_enrolments_site_id_sites")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_kiosk_enrolments_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosk_enrolments")),
        sa.UniqueConstraint("code_sha256", name=op.f("uq_kiosk_enrolments_code_sha256")),
    )
    with op.batch_alter_table("kiosk_enrolments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kiosk_enrolments_site_id"), ["site_id"], unique=False)

    with op.batch_alter_table("device_tokens", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=10), server_default="token", nullable=False)
        )
        batch_op.create_check_constraint("kind", "kind IN ('token', 'kiosk')")


def downgrade():
    with op.batch_alter_table("device_tokens", schema=None) as batch_op:
        batch_op.drop_constraint("kind", type_="check")
        batch_op.drop_column("kind")

    with op.batch_alter_table("kiosk_enrolments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kiosk_enrolments_site_id"))

    op.drop_table("kiosk_enrolments")
