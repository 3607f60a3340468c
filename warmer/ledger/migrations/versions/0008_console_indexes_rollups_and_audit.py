"""console indexes, lookup rollup, audit and totals

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 10:00:00

The console reads O(what it shows): an index for each of its queries, the hourly lookup rollup
(backfilled here from the lookups already recorded), the audit trail of bulk actions and retention
runs, and the totals that survive retention.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from warmer.ledger.db import utcnow  # the database clock, compiled per dialect

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
FINISHED = sa.text("finished_at IS NOT NULL")
COMPLETED = sa.text("status = 'completed'")
MISS = sa.text("trigger = 'miss'")
RECLAIM = sa.text("detail LIKE 'reclaim %'")
RETRY = sa.text("to_status = 'queued' AND detail LIKE 'failure %'")


def _partial(name: str, table: str, columns: list[str], where: sa.TextClause) -> None:
    op.create_index(name, table, columns, postgresql_where=where, sqlite_where=where)


def upgrade() -> None:
    op.create_index("ix_jobs_status_id", "jobs", ["status", "id"])
    op.create_index("ix_jobs_repo_id", "jobs", ["repo_id", "id"])
    op.create_index("ix_jobs_trigger_id", "jobs", ["trigger", "id"])
    _partial("ix_jobs_finished_status", "jobs", ["finished_at", "status"], FINISHED)
    _partial("ix_jobs_repo_completed", "jobs", ["repo_id", "finished_at"], COMPLETED)
    _partial("ix_jobs_miss_queued", "jobs", ["queued_at", "status"], MISS)
    _partial("ix_jobs_miss_available", "jobs", ["available_at"], MISS)
    op.create_index("ix_jobs_commit", "jobs", ["commit"], postgresql_ops={"commit": "varchar_pattern_ops"})
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_jobs_error_trgm", "jobs", ["error"], postgresql_using="gin",
            postgresql_ops={"error": "gin_trgm_ops"}, postgresql_where=sa.text("error IS NOT NULL"),
        )  # fmt: skip
    _partial("ix_job_events_reclaims", "job_events", ["id"], RECLAIM)
    _partial("ix_job_events_retries", "job_events", ["id"], RETRY)
    op.create_index(
        "ix_cache_lookups_path", "cache_lookups", ["repo_id", "artifact_type", "path", "hit", "at"]
    )
    op.create_index("ix_cache_lookups_at", "cache_lookups", ["at"])

    for table, period in (("lookup_hourly", "hour"), ("lookup_daily", "day")):
        op.create_table(
            table,
            sa.Column("repo_id", sa.Integer(), nullable=False),
            sa.Column("artifact_type", sa.String(length=100), nullable=False),
            sa.Column("repo_name", sa.String(length=200), nullable=False),
            sa.Column("lookups", sa.BigInteger(), nullable=False),
            sa.Column("hits", sa.BigInteger(), nullable=False),
            sa.Column("misses", sa.BigInteger(), nullable=False),
            sa.Column("stale_hits", sa.BigInteger(), nullable=False),
            sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column(period, sa.DateTime(timezone=True), nullable=False),
            sa.ForeignKeyConstraint(["repo_id"], ["repositories.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint(period, "repo_id", "artifact_type"),
        )
    op.create_table(
        "miss_conversions",
        sa.Column("job_id", BIG_ID, nullable=False),
        sa.Column("converted_at", sa.DateTime(timezone=True), server_default=utcnow(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id"),
    )
    op.create_table(
        "ledger_audit",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=utcnow(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("detail", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ledger_audit_action", "ledger_audit", ["action", "id"])
    op.create_table(
        "ledger_totals",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "job_duration_totals",
        sa.Column("artifact_type", sa.String(length=100), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("sum_seconds", sa.Float(), nullable=False),
        sa.Column("buckets", JSON, nullable=False),
        sa.PrimaryKeyConstraint("artifact_type"),
    )
    from warmer.ledger.lookup_stats import backfill_sql

    for statement in backfill_sql(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("job_duration_totals")
    op.drop_table("ledger_totals")
    op.drop_table("miss_conversions")
    op.drop_index("ix_ledger_audit_action", table_name="ledger_audit")
    op.drop_table("ledger_audit")
    op.drop_table("lookup_daily")
    op.drop_table("lookup_hourly")
    for name, table in (
        ("ix_cache_lookups_at", "cache_lookups"), ("ix_cache_lookups_path", "cache_lookups"),
        ("ix_job_events_retries", "job_events"), ("ix_job_events_reclaims", "job_events"),
        ("ix_jobs_commit", "jobs"), ("ix_jobs_miss_available", "jobs"), ("ix_jobs_miss_queued", "jobs"),
        ("ix_jobs_repo_completed", "jobs"), ("ix_jobs_finished_status", "jobs"),
        ("ix_jobs_trigger_id", "jobs"), ("ix_jobs_repo_id", "jobs"), ("ix_jobs_status_id", "jobs"),
    ):  # fmt: skip
        op.drop_index(name, table_name=table)
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_jobs_error_trgm", table_name="jobs")
