"""staff sessions: revocable server-side sessions and throttled sign-ins

Revision ID: e10c5e551015
Revises: e10a55e55ed1
Create Date: 2026-12-01 17:31:00

"""

# revision identifiers, used by Alembic.
revision = "e10c5e551015"
down_revision = "e10a55e55ed1"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
