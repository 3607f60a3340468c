"""initial ledger

Revision ID: 0001
Revises:
Create Date: 2026-11-21 23:39:40.182653
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from warmer.ledger.db import utcnow  # the database clock, compiled per dialect

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "blob_extracts",
        sa.Column("artifact_type", sa.String(length=100), nullable=False),
        sa.Column("generator_version", sa.String(length=50), nullable=False),
        sa.Column("blob_id", sa.String(length=64), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("artifact_type", "generator_version", "blob_id"),
    )
    op.create_table(
        "cache_entries",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("artifact_type", sa.String(length=100), nullable=False),
        sa.Column("generator_version", sa.String(length=50), nullable=False),
        sa.Column("source_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=utcnow(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "cluster_state",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=utcnow(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "repositories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("branch", sa.String(length=255), nullable=False),
        sa.Column("connected", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=utcnow(), nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), server_default=utcnow(), nullable=False),
        sa.Column("disconnected_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "warmer_instances",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=utcnow(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), server_default=utcnow(), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "cache_lookups",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("repo_id", sa.Integer(), nullable=True),
        sa.Column("repo_name", sa.String(length=200), nullable=False),
        sa.Column("artifact_type", sa.String(length=100), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("task_type", sa.String(length=100), nullable=False),
        sa.Column("hit", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=utcnow(), nullable=False),
        sa.ForeignKeyConstraint(["repo_id"], ["repositories.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("cache_lookups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cache_lookups_pattern", ["task_type", "repo_id", "artifact_type", "at"], unique=False
        )

    op.create_table(
        "cache_refs",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("branch", sa.String(length=255), nullable=False),
        sa.Column("artifact_type", sa.String(length=100), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("commit", sa.String(length=64), nullable=False),
        sa.Column("entry_key", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=utcnow(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_key"],
            ["cache_entries.key"],
        ),
        sa.ForeignKeyConstraint(["repo_id"], ["repositories.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("repo_id", "branch", "artifact_type", "path", name="ux_cache_refs"),
    )
    op.create_table(
        "jobs",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("branch", sa.String(length=255), nullable=False),
        sa.Column("commit", sa.String(length=64), nullable=False),
        sa.Column("artifact_type", sa.String(length=100), nullable=False),
        sa.Column(
            "scope",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "trigger", sa.Enum("commit", "connect", "manual", "miss", name="job_trigger"), nullable=False
        ),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("queued", "claimed", "running", "completed", "failed", name="job_status"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("reclaims", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.String(length=200), nullable=True),
        sa.Column("claim_token", sa.String(length=36), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=64), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), server_default=utcnow(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), server_default=utcnow(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["repo_id"], ["repositories.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        # Partial: a row version enters only the indexes of the states their queries ask about.
        for name, column, where in (
            ("ix_jobs_queued", "available_at", "status = 'queued'"),
            ("ix_jobs_in_flight", "worker_id", "status IN ('claimed', 'running')"),
            ("ix_jobs_finished", "finished_at", "finished_at IS NOT NULL"),
        ):
            batch_op.create_index(
                name, [column], unique=False, postgresql_where=sa.text(where), sqlite_where=sa.text(where)
            )
        batch_op.create_index("ix_jobs_repo", ["repo_id", "artifact_type"], unique=False)
        batch_op.create_index(
            "ux_jobs_active_dedupe",
            ["dedupe_key"],
            unique=True,
            postgresql_where=sa.text("status IN ('queued', 'claimed', 'running')"),
            sqlite_where=sa.text("status IN ('queued', 'claimed', 'running')"),
        )

    op.create_table(
        "job_events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=utcnow(), nullable=False),
        sa.Column(
            "from_status",
            sa.Enum("queued", "claimed", "running", "completed", "failed", name="job_status"),
            nullable=True,
        ),
        sa.Column(
            "to_status",
            sa.Enum("queued", "claimed", "running", "completed", "failed", name="job_status"),
            nullable=False,
        ),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("job_events", schema=None) as batch_op:
        terminal = sa.text("to_status IN ('completed', 'failed')")
        batch_op.create_index(
            "ix_job_events_finished_by",
            ["actor"],
            unique=False,
            postgresql_where=terminal,
            sqlite_where=terminal,
        )
        batch_op.create_index(batch_op.f("ix_job_events_job_id"), ["job_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("job_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_events_job_id"))
        batch_op.drop_index("ix_job_events_finished_by")

    op.drop_table("job_events")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_jobs_active_dedupe",
            postgresql_where=sa.text("status IN ('queued', 'claimed', 'running')"),
            sqlite_where=sa.text("status IN ('queued', 'claimed', 'running')"),
        )
        batch_op.drop_index("ix_jobs_in_flight")
        batch_op.drop_index("ix_jobs_queued")
        batch_op.drop_index("ix_jobs_repo")
        batch_op.drop_index("ix_jobs_finished")

    op.drop_table("jobs")
    op.drop_table("cache_refs")
    with op.batch_alter_table("cache_lookups", schema=None) as batch_op:
        batch_op.drop_index("ix_cache_lookups_pattern")

    op.drop_table("cache_lookups")
    op.drop_table("warmer_instances")
    op.drop_table("repositories")
    op.drop_table("cluster_state")
    op.drop_table("cache_entries")
    op.drop_table("blob_extracts")

    sa.Enum(name="job_status").drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="job_trigger").drop(op.get_bind(), checkfirst=True)
