"""branch heads and stale lookups

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 23:30:00
"""

import sqlalchemy as sa
from alembic import op

from warmer.ledger.db import utcnow  # the database clock, compiled per dialect

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "branch_heads",
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("branch", sa.String(length=255), nullable=False),
        sa.Column("commit", sa.String(length=64), nullable=False),
        sa.Column("tree", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=utcnow(), nullable=False),
        sa.ForeignKeyConstraint(["repo_id"], ["repositories.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repo_id", "branch"),
    )
    # The planned commit is the newest the ledger knew of before heads were kept.
    op.execute(
        'INSERT INTO branch_heads (repo_id, branch, "commit", tree) '
        'SELECT repo_id, branch, "commit", tree FROM branch_state'
    )
    with op.batch_alter_table("cache_lookups") as batch:
        batch.add_column(sa.Column("stale", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("cache_lookups") as batch:
        batch.drop_column("stale")
    op.drop_table("branch_heads")
