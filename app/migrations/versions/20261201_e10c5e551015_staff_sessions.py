"""staff sessions: revocable server-side sessions and throttled sign-ins

A staff member's sign-in cookie names a row of ``staff_sessions`` by a random secret, of
which only the SHA-256 is kept; ending the row (sign-out, password change, an
administrator) ends the session at once. ``sign_in_failures`` counts failed sign-ins per
account (the e-mail's SHA-256) and per address, for every worker process alike.

Sessions of the previous scheme ("id:version" cookies) are not carried over: everyone
signs in again once.

Revision ID: e10c5e551015
Revises: e10a55e55ed1
Create Date: 2026-12-01 17:31:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e10c5e551015"
down_revision = "e10a55e55ed1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=10), nullable=True),
        sa.Column("user_agent", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_staff_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
        sa.UniqueConstraint("secret_sha256", name=op.f("uq_staff_sessions_secret_sha256")),
    )
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_staff_sessions_user_open", ["user_id", "revoked_at"])

    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("email_sha256", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=45), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failures")),
    )
    with op.batch_alter_table("sign_in_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_in_failures_at"), ["at"], unique=False)
        batch_op.create_index("ix_sign_in_failures_email_at", ["email_sha256", "at"])
        batch_op.create_index("ix_sign_in_failures_address_at", ["address", "at"])


def downgrade():
    with op.batch_alter_table("sign_in_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_sign_in_failures_address_at")
        batch_op.drop_index("ix_sign_in_failures_email_at")
        batch_op.drop_index(batch_op.f("ix_sign_in_failures_at"))

    op.drop_table("sign_in_failures")

    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_staff_sessions_user_open")

    op.drop_table("staff_sessions")
