"""embedding vectors and failure fingerprints

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 02:14:02.358434
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from warmer.ledger.db import utcnow  # the database clock, compiled per dialect

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "embedding_vectors",
        sa.Column("model_id", sa.String(length=200), nullable=False),
        sa.Column("chunk_hash", sa.String(length=64), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=utcnow(), nullable=False),
        sa.PrimaryKeyConstraint("model_id", "chunk_hash"),
    )
    op.create_table(
        "failure_fingerprints",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("exception_type", sa.String(length=300), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column(
            "frames",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("test_name", sa.Text(), nullable=False),
        sa.Column("sample", sa.Text(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), server_default=utcnow(), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), server_default=utcnow(), nullable=False),
        sa.ForeignKeyConstraint(["repo_id"], ["repositories.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("repo_id", "fingerprint", name="ux_failure_fingerprints"),
    )
    op.create_table(
        "junit_reports",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("commit", sa.String(length=64), nullable=True),
        sa.Column("tests", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=utcnow(), nullable=False),
        sa.ForeignKeyConstraint(["repo_id"], ["repositories.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("repo_id", "sha256", name="ux_junit_reports_file"),
    )


def downgrade() -> None:
    op.drop_table("junit_reports")
    op.drop_table("failure_fingerprints")
    op.drop_table("embedding_vectors")
