"""webhook secrets and deliveries

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 01:23:54.020898
"""

import sqlalchemy as sa
from alembic import op

from warmer.ledger.db import utcnow  # the database clock, compiled per dialect

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "webhook_deliveries",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=utcnow(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("repo_name", sa.String(length=200), nullable=False),
        sa.Column("delivery_id", sa.String(length=100), nullable=True),
        sa.Column("event", sa.String(length=100), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("commit_trigger_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("repositories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("webhook_secret", sa.String(length=200), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("repositories", schema=None) as batch_op:
        batch_op.drop_column("webhook_secret")

    op.drop_table("webhook_deliveries")
