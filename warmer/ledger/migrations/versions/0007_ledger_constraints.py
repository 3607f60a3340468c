"""ledger constraints: a row maintenance cannot handle cannot be written

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 00:30:00

One job row with a priority no queue knows made every leader tick raise, stopping the reaper,
the re-publisher and commit planning for every worker. The schema now refuses such rows: a
priority that matches the trigger, counters that are not negative, a claim (token, worker, time)
on every claimed or running job and none on a queued one, a finish time on every finished job.
Rows already violating them are repaired first, each in the way that loses nothing (a broken
claim is queued again, to be published and run). Postgres gets CHECK constraints; SQLite, which
cannot add a constraint to an existing table without rebuilding it (and a rebuild would cascade
deletes through the events' foreign key), gets triggers that refuse the same rows.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# (table, name, condition); `{r}` is where SQLite triggers put `NEW.`. A frozen copy of the
# CheckConstraints in warmer/ledger/models.py, as migrations are history.
CHECKS = [
    (
        "jobs",
        "ck_jobs_priority_of_trigger",
        "({r}trigger = 'commit' AND {r}priority = 0)"
        " OR ({r}trigger IN ('connect', 'manual') AND {r}priority = 1)"
        " OR ({r}trigger = 'miss' AND {r}priority = 2)",
    ),
    ("jobs", "ck_jobs_counters", "{r}attempts >= 0 AND {r}failures >= 0 AND {r}reclaims >= 0"),
    (
        "jobs",
        "ck_jobs_claim",
        "{r}status NOT IN ('claimed', 'running')"
        " OR ({r}claim_token IS NOT NULL AND {r}worker_id IS NOT NULL AND {r}claimed_at IS NOT NULL)",
    ),
    ("jobs", "ck_jobs_queued_unclaimed", "{r}status <> 'queued' OR {r}claim_token IS NULL"),
    ("jobs", "ck_jobs_finished", "{r}status NOT IN ('completed', 'failed') OR {r}finished_at IS NOT NULL"),
    ("job_events", "ck_job_events_attempt", "{r}attempt >= 0"),
    ("commit_triggers", "ck_commit_triggers_commits_seen", "{r}commits_seen >= 1"),
    ("warmer_instances", "ck_warmer_instances_concurrency", "{r}concurrency >= 1"),
    ("webhook_deliveries", "ck_webhook_deliveries_status_code", "{r}status_code BETWEEN 100 AND 599"),
]
# Postgres enforces these with its enum types already; SQLite stores the enums as text.
SQLITE_ONLY = [
    ("jobs", "ck_jobs_status", "{r}status IN ('queued', 'claimed', 'running', 'completed', 'failed')"),
    ("jobs", "ck_jobs_trigger", "{r}trigger IN ('commit', 'connect', 'manual', 'miss')"),
]

REPAIRS = [
    "UPDATE jobs SET priority = CASE trigger WHEN 'commit' THEN 0 WHEN 'miss' THEN 2 ELSE 1 END"
    " WHERE NOT (" + CHECKS[0][2].format(r="") + ")",
    "UPDATE jobs SET attempts = MAX_(attempts, 0), failures = MAX_(failures, 0), reclaims = MAX_(reclaims, 0)"
    " WHERE attempts < 0 OR failures < 0 OR reclaims < 0",
    # A claimed or running job without its claim can never be completed, and nobody would know it
    # is stuck: it goes back to the queue, without a message, so the leader publishes one.
    "UPDATE jobs SET status = 'queued', claim_token = NULL, worker_id = NULL, published_at = NULL,"
    " error = 'migration 0007: was ' || CAST(status AS TEXT) || ' without a claim; queued again'"
    " WHERE status IN ('claimed', 'running')"
    " AND (claim_token IS NULL OR worker_id IS NULL OR claimed_at IS NULL)",
    "UPDATE jobs SET claim_token = NULL WHERE status = 'queued' AND claim_token IS NOT NULL",
    "UPDATE jobs SET finished_at = COALESCE(heartbeat_at, started_at, claimed_at, queued_at)"
    " WHERE status IN ('completed', 'failed') AND finished_at IS NULL",
    "UPDATE job_events SET attempt = 0 WHERE attempt < 0",
    "UPDATE commit_triggers SET commits_seen = 1 WHERE commits_seen < 1",
    "UPDATE warmer_instances SET concurrency = 1 WHERE concurrency < 1",
    "UPDATE webhook_deliveries SET status_code = 500 WHERE status_code NOT BETWEEN 100 AND 599",
]


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    greatest = "MAX" if sqlite else "GREATEST"
    for statement in REPAIRS:
        op.execute(sa.text(statement.replace("MAX_", greatest)))
    if not sqlite:
        for table, name, condition in CHECKS:
            op.create_check_constraint(name, table, condition.format(r=""))
        return
    for table, name, condition in CHECKS + SQLITE_ONLY:
        for event in ("INSERT", "UPDATE"):
            op.execute(
                sa.text(
                    f"CREATE TRIGGER {name}_{event.lower()} BEFORE {event} ON {table} FOR EACH ROW"
                    f" WHEN NOT ({condition.format(r='NEW.')})"
                    f" BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {name}'); END"
                )
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for _table, name, _condition in CHECKS + SQLITE_ONLY:
            for event in ("insert", "update"):
                op.execute(sa.text(f"DROP TRIGGER IF EXISTS {name}_{event}"))
        return
    for table, name, _condition in reversed(CHECKS):
        op.drop_constraint(name, table, type_="check")
