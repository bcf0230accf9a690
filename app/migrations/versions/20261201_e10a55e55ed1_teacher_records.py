"""teacher records: self-assessments, level overrides, continuity confirmations, review photos, mastery rule

Revision ID: e10a55e55ed1
Revises: 1afd1968e346
Create Date: 2026-12-01 17:30:00

"""

# revision identifiers, used by Alembic.
revision = "e10a55e55ed1"
down_revision = "1afd1968e346"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
