"""How each hot transition is expressed in SQL: a portable form, and a prepared form for Postgres.

The transitions themselves (their guards, their meaning) are the functions in
transitions.py; this module only holds the statements they execute. Postgres
runs claim, running and completion as server-side prepared statements whose
data-modifying CTE also writes the event row: one round trip, planned once per
connection. SQLite runs the same guarded UPDATE and the event INSERT as two
statements in one transaction. The transition tests run on both.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from warmer.ledger.db import utcnow
from warmer.ledger.models import Job, JobEvent, JobStatus

_JOBS = Job.__table__
_EVENTS = JobEvent.__table__
Executor = Session | Connection


class Move:
    """A guarded UPDATE plus its event row, in one transaction: the portable form (SQLite).

    Built once per dialect and executed with parameters named p_* (SQLAlchemy
    reserves column names for SET clauses).
    """

    def __init__(
        self,
        frm: JobStatus,
        to: JobStatus,
        where: list[Any],
        values: dict[str, Any],
        returning: tuple[Any, ...] = (),
    ) -> None:
        self.statement = (
            update(_JOBS).where(*where).values(**values).returning(Job.id, Job.attempts, *returning)
        )
        self.event = insert(_EVENTS).values(
            job_id=bindparam("p_event_job"),
            from_status=frm,
            to_status=to,
            actor=bindparam("p_actor"),
            attempt=bindparam("p_event_attempt"),
            detail=None,
        )

    def __call__(self, session: Executor, **params: Any) -> Any:
        row = session.execute(self.statement, params).one_or_none()
        if row is not None:
            event = {"p_event_job": row.id, "p_event_attempt": row.attempts, "p_actor": params["p_actor"]}
            session.execute(self.event, event)
        return row


class PreparedMove:
    """The same transition on Postgres, as one server-side prepared statement.

    A data-modifying CTE writes the event from the UPDATE's RETURNING: one round
    trip, planned once per connection. This is the hot path of every job.
    """

    def __init__(self, name: str, types: str, sql: str) -> None:
        self.name, self.types, self.sql = name, types, sql
        self.placeholders = ", ".join(["%s"] * len(types.split(",")))

    def __call__(self, session: Executor, *args: Any) -> Any:
        conn = session if isinstance(session, Connection) else session.connection()
        prepared: set[str] = conn.connection.info.setdefault("warmer_prepared", set())
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            if self.name not in prepared:
                cursor.execute(f"PREPARE {self.name} ({self.types}) AS {self.sql}")
                prepared.add(self.name)  # survives rollbacks: prepared statements live with the session
            cursor.execute(f"EXECUTE {self.name} ({self.placeholders})", args)
            row = cursor.fetchone()
            if row is None:
                return None
            return _Row(**{column.name: value for column, value in zip(cursor.description, row, strict=True)})
        finally:
            cursor.close()


class _Row(dict[str, Any]):
    __getattr__ = dict.__getitem__


def _pg_move(frm: str, to: str, actor: str, update_sql: str, returning: str = "id, attempts") -> str:
    return (
        f"WITH moved AS ({update_sql} RETURNING {returning}), "
        "event AS (INSERT INTO job_events (job_id, from_status, to_status, actor, attempt) "
        f"SELECT id, '{frm}', '{to}', {actor}, attempts FROM moved) "
    )


# Lock and claim in one round trip: the lock CTE takes the job's session advisory lock (and makes
# this transaction's commit durable: a lost claim would leave a queued job with no message); the
# UPDATE only claims if the lock was had. Returns one row: `got`, then the claimed job if any.
PG_LOCK_AND_CLAIM = PreparedMove(
    "warmer_lock_and_claim",
    "bigint, text, text, bigint",
    "WITH lock AS (SELECT pg_try_advisory_lock($4) AS got,"
    " set_config('synchronous_commit', 'on', true) AS durable), "
    + _pg_move(
        "queued", "claimed", "$2",
        "UPDATE jobs SET status = 'claimed', worker_id = $2, claim_token = $3,"
        " claimed_at = clock_timestamp(), heartbeat_at = clock_timestamp(), attempts = jobs.attempts + 1"
        " FROM lock WHERE lock.got AND jobs.id = $1 AND jobs.status = 'queued'"
        " AND jobs.available_at <= clock_timestamp()",
        "jobs.id, jobs.attempts, jobs.artifact_type, jobs.repo_id, jobs.branch, jobs.commit, jobs.scope,"
        " jobs.params",
    )[len("WITH "):]
    + "SELECT lock.got, moved.* FROM lock LEFT JOIN moved ON true",
)  # fmt: skip
PG_RUNNING = PreparedMove(
    "warmer_running",
    "bigint, text, text",
    _pg_move(
        "claimed", "running", "$3",
        "UPDATE jobs SET status = 'running', started_at = clock_timestamp(), heartbeat_at = clock_timestamp()"
        " WHERE id = $1 AND claim_token = $2 AND status = 'claimed'",
    )
    + "SELECT id FROM moved",
)  # fmt: skip
_PG_COMPLETE_UPDATE = (
    "UPDATE jobs SET status = 'completed', finished_at = clock_timestamp(), error = NULL, claim_token = NULL"
    " WHERE id = $1 AND claim_token = $2 AND status = 'running'"
)
PG_COMPLETED = PreparedMove(
    "warmer_completed",
    "bigint, text, text",
    _pg_move("running", "completed", "$3", _PG_COMPLETE_UPDATE) + "SELECT id FROM moved",
)
# The completing statement also releases the job's advisory lock, only if the job completed.
PG_COMPLETED_UNLOCK = PreparedMove(
    "warmer_completed_unlock",
    "bigint, text, text, bigint",
    _pg_move("running", "completed", "$3", _PG_COMPLETE_UPDATE)
    + "SELECT id, pg_advisory_unlock($4) FROM moved",
)


def owned(*statuses: JobStatus) -> list[Any]:
    """The guard of every transition after a claim: this job, this claim token, an expected state."""
    return [Job.id == bindparam("p_job"), Job.claim_token == bindparam("p_token"), Job.status.in_(statuses)]


CLAIM = Move(
    JobStatus.QUEUED,
    JobStatus.CLAIMED,
    where=[Job.id == bindparam("p_job"), Job.status == JobStatus.QUEUED, Job.available_at <= utcnow()],
    values=dict(
        status=JobStatus.CLAIMED,
        worker_id=bindparam("p_actor"),
        claim_token=bindparam("p_token"),
        claimed_at=utcnow(),
        heartbeat_at=utcnow(),
        attempts=Job.attempts + 1,
    ),
    returning=(Job.artifact_type, Job.repo_id, Job.branch, Job.commit, Job.scope, Job.params),
)
RUNNING = Move(
    JobStatus.CLAIMED,
    JobStatus.RUNNING,
    where=owned(JobStatus.CLAIMED),
    values=dict(status=JobStatus.RUNNING, started_at=utcnow(), heartbeat_at=utcnow()),
)
COMPLETED = Move(
    JobStatus.RUNNING,
    JobStatus.COMPLETED,
    where=owned(JobStatus.RUNNING),
    values=dict(status=JobStatus.COMPLETED, finished_at=utcnow(), error=None, claim_token=None),
)
HEARTBEAT = update(_JOBS).where(*owned(JobStatus.CLAIMED, JobStatus.RUNNING)).values(heartbeat_at=utcnow())
