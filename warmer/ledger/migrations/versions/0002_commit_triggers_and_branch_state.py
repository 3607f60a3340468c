"""commit triggers and branch state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 01:13:13.981388
"""

import sqlalchemy as sa
from alembic import op

from warmer.ledger.db import utcnow  # the database clock, compiled per dialect

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "branch_state",
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("branch", sa.String(length=255), nullable=False),
        sa.Column("commit", sa.String(length=64), nullable=False),
        sa.Column("tree", sa.String(length=64), nullable=False),
        sa.Column("planned_at", sa.DateTime(timezone=True), server_default=utcnow(), nullable=False),
        sa.ForeignKeyConstraint(["repo_id"], ["repositories.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repo_id", "branch"),
    )
    op.create_table(
        "commit_triggers",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("branch", sa.String(length=255), nullable=False),
        sa.Column("commit", sa.String(length=64), nullable=False),
        sa.Column("commits_seen", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=50), nullable=False),
        sa.Column(
            "status", sa.Enum("pending", "planned", "ignored", name="commit_trigger_status"), nullable=False
        ),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), server_default=utcnow(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), server_default=utcnow(), nullable=False),
        sa.Column("planned_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["repo_id"], ["repositories.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("commit_triggers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_commit_triggers_due",
            ["due_at"],
            unique=False,
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )
        batch_op.create_index(
            "ux_commit_triggers_pending",
            ["repo_id", "branch"],
            unique=True,
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )


def downgrade() -> None:

    with op.batch_alter_table("commit_triggers", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_commit_triggers_pending",
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )
        batch_op.drop_index(
            "ix_commit_triggers_due",
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )

    op.drop_table("commit_triggers")
    op.drop_table("branch_state")

    sa.Enum(name="commit_trigger_status").drop(op.get_bind(), checkfirst=True)
