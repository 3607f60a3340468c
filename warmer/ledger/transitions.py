"""Every job state change, each a named UPDATE guarded by the current state.

No blind updates: a transition names the state (and, after a claim, the claim
token) it expects, and reports whether the row was still in it. A worker whose
job was reclaimed behind its back therefore cannot complete or fail it: its
late UPDATE matches no row. Each transition appends a row to job_events in
the same transaction; the audit trail and phase timings come from there.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from warmer.ledger.db import utcnow
from warmer.ledger.models import Job, JobEvent, JobStatus, Trigger
from warmer.queues import priority_for

# Core tables, not ORM entities: the hot transitions skip the ORM's bulk-update machinery,
# and work the same on a Session or on a worker's dedicated Connection.
_JOBS = Job.__table__
_EVENTS = JobEvent.__table__
Executor = Session | Connection


def _dialect(executor: Executor) -> str:
    bind = executor if isinstance(executor, Connection) else executor.get_bind()
    return bind.dialect.name


@dataclass(frozen=True)
class JobSpec:
    """What a trigger asks for: one artifact of one repository at one commit."""

    repo_id: int
    branch: str
    commit: str
    artifact_type: str
    trigger: Trigger
    scope: tuple[str, ...] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    available_at: datetime | None = None

    def dedupe_key(self) -> str:
        """Identical work has one key; the ledger keeps one active job per key."""
        scope = sorted(self.scope) if self.scope is not None else None
        raw = json.dumps(
            [self.repo_id, self.branch, self.commit, self.artifact_type, scope, self.params],
            sort_keys=True,
        )
        return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class Claim:
    """Proof that one worker owns one job; every later transition presents it.

    It also carries what the job asks for, read in the claiming UPDATE itself,
    so running a job costs no further query."""

    job_id: int
    token: str
    worker_id: str
    attempt: int
    artifact_type: str
    repo_id: int = 0
    branch: str = ""
    commit: str = ""
    scope: list[str] | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Enqueued:
    job_id: int
    created: bool  # False: an identical job was already active, nothing was added
    trigger: Trigger
    priority: int


class TransitionRefused(Exception):
    """A person asked for a transition the job's current state does not allow."""


def _event(
    session: Executor,
    job_id: int,
    from_status: JobStatus | None,
    to_status: JobStatus,
    actor: str,
    attempt: int = 0,
    detail: str | None = None,
) -> None:
    session.execute(
        insert(_EVENTS).values(
            job_id=job_id,
            from_status=from_status,
            to_status=to_status,
            actor=actor,
            attempt=attempt,
            detail=detail,
        )
    )


def enqueue(session: Executor, spec: JobSpec, actor: str) -> Enqueued:
    """Add a queued job, unless an identical one is already queued, claimed or running."""
    priority = priority_for(spec.trigger)
    values: dict[str, Any] = dict(
        repo_id=spec.repo_id,
        branch=spec.branch,
        commit=spec.commit,
        artifact_type=spec.artifact_type,
        scope=list(spec.scope) if spec.scope is not None else None,
        params=spec.params,
        trigger=spec.trigger,
        priority=priority,
        status=JobStatus.QUEUED,
        attempts=0,
        failures=0,
        reclaims=0,
        dedupe_key=spec.dedupe_key(),
    )
    if spec.available_at is not None:
        values["available_at"] = spec.available_at
    dialect = _dialect(session)
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    where = Job.status.in_(JobStatus.active())
    statement = (
        builder(_JOBS)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"], index_where=where)
        .returning(Job.id)
    )
    job_id = session.execute(statement).scalar_one_or_none()
    if job_id is None:
        existing = session.execute(
            select(Job.id, Job.trigger, Job.priority).where(Job.dedupe_key == values["dedupe_key"], where)
        ).one_or_none()
        if existing is not None:
            return Enqueued(existing.id, False, existing.trigger, existing.priority)
        # The active twin finished between our insert and our select: try once more.
        return enqueue(session, spec, actor)
    _event(session, job_id, None, JobStatus.QUEUED, actor, detail=f"trigger={spec.trigger.value}")
    return Enqueued(job_id, True, spec.trigger, priority)


class _Move:
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


class _PreparedMove:
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
_PG_LOCK_AND_CLAIM = _PreparedMove(
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
_PG_RUNNING = _PreparedMove(
    "warmer_running",
    "bigint, text, text",
    _pg_move(
        "claimed", "running", "$3",
        "UPDATE jobs SET status = 'running', started_at = clock_timestamp(), heartbeat_at = clock_timestamp()"
        " WHERE id = $1 AND claim_token = $2 AND status = 'claimed'",
    )
    + "SELECT id FROM moved",
)  # fmt: skip
_PG_COMPLETE = (
    "UPDATE jobs SET status = 'completed', finished_at = clock_timestamp(), error = NULL, claim_token = NULL"
    " WHERE id = $1 AND claim_token = $2 AND status = 'running'"
)
_PG_COMPLETED = _PreparedMove(
    "warmer_completed",
    "bigint, text, text",
    _pg_move("running", "completed", "$3", _PG_COMPLETE) + "SELECT id FROM moved",
)
# The completing statement also releases the job's advisory lock, only if the job completed.
_PG_COMPLETED_UNLOCK = _PreparedMove(
    "warmer_completed_unlock",
    "bigint, text, text, bigint",
    _pg_move("running", "completed", "$3", _PG_COMPLETE) + "SELECT id, pg_advisory_unlock($4) FROM moved",
)


def _owned(*statuses: JobStatus) -> list[Any]:
    """The guard of every transition after a claim: this job, this claim token, an expected state."""
    return [Job.id == bindparam("p_job"), Job.claim_token == bindparam("p_token"), Job.status.in_(statuses)]


_CLAIM = _Move(
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
_RUNNING = _Move(
    JobStatus.CLAIMED,
    JobStatus.RUNNING,
    where=_owned(JobStatus.CLAIMED),
    values=dict(status=JobStatus.RUNNING, started_at=utcnow(), heartbeat_at=utcnow()),
)
_COMPLETED = _Move(
    JobStatus.RUNNING,
    JobStatus.COMPLETED,
    where=_owned(JobStatus.RUNNING),
    values=dict(status=JobStatus.COMPLETED, finished_at=utcnow(), error=None, claim_token=None),
)
_HEARTBEAT = update(_JOBS).where(*_owned(JobStatus.CLAIMED, JobStatus.RUNNING)).values(heartbeat_at=utcnow())


def claim(session: Executor, job_id: int, worker_id: str) -> Claim | None:
    """queued → claimed for `worker_id`, or None if it is not queued or not due.

    Compare-and-set: of two deliveries of the same message, exactly one UPDATE
    finds the row still queued.
    """
    token = str(uuid.uuid4())
    row = _CLAIM(session, p_job=job_id, p_actor=worker_id, p_token=token)
    return None if row is None else _claim_from(row, job_id, token, worker_id)


def lock_and_claim(
    session: Executor, job_id: int, worker_id: str, lock_key: int
) -> tuple[bool, Claim | None]:
    """Postgres: take the job's advisory lock for this session and claim the job, in one statement.

    Returns (locked, claim). Not locked: another session runs the job. Locked
    without a claim: the job is not queued, and the caller must release the lock.
    """
    token = str(uuid.uuid4())
    row = _PG_LOCK_AND_CLAIM(session, job_id, worker_id, token, lock_key)
    if row is None or not row.got:
        return False, None
    return True, (None if row.id is None else _claim_from(row, job_id, token, worker_id))


def _claim_from(row: Any, job_id: int, token: str, worker_id: str) -> Claim:
    return Claim(
        job_id, token, worker_id, row.attempts, row.artifact_type,
        row.repo_id, row.branch, row.commit, row.scope, row.params or {},
    )  # fmt: skip


def _held_by(claim_: Claim, *statuses: JobStatus) -> Any:
    return (Job.id == claim_.job_id) & (Job.claim_token == claim_.token) & Job.status.in_(statuses)


def _claim_params(claim_: Claim) -> dict[str, Any]:
    return {"p_job": claim_.job_id, "p_token": claim_.token, "p_actor": claim_.worker_id}


def mark_running(session: Executor, claim_: Claim) -> bool:
    """claimed → running; False if the claim was lost meanwhile."""
    if _dialect(session) == "postgresql":
        return _PG_RUNNING(session, claim_.job_id, claim_.token, claim_.worker_id) is not None
    return _RUNNING(session, **_claim_params(claim_)) is not None


def heartbeat(session: Executor, claim_: Claim) -> bool:
    """Stamp the job as alive; False tells the worker it no longer owns the job."""
    return bool(session.execute(_HEARTBEAT, {"p_job": claim_.job_id, "p_token": claim_.token}).rowcount)


def mark_completed(session: Executor, claim_: Claim, *, release_lock: int | None = None) -> bool:
    """running → completed; False (and nothing written) if the claim was lost.

    With `release_lock` on Postgres, the job's advisory lock is released by the
    same statement when (and only when) the completion happened.
    """
    if _dialect(session) != "postgresql":
        return _COMPLETED(session, **_claim_params(claim_)) is not None
    args = (claim_.job_id, claim_.token, claim_.worker_id)
    if release_lock is not None:
        return _PG_COMPLETED_UNLOCK(session, *args, release_lock) is not None
    return _PG_COMPLETED(session, *args) is not None


def _retry_at(now: datetime, backoff_secs: float, failures: int) -> datetime:
    return now + timedelta(seconds=min(backoff_secs * (2 ** max(failures - 1, 0)), 3600))


def record_failure(
    session: Executor,
    claim_: Claim,
    error: str,
    *,
    max_retries: int,
    backoff_secs: float,
    now: datetime,
    permanent: bool = False,
) -> JobStatus | None:
    """A generator error: back to queued with backoff while retries remain, else failed.

    `max_retries` is the number of re-runs after the first failure. A permanent
    error (e.g. no generator for the type) fails at once: retrying cannot help.
    Returns the new state, or None if the claim was lost.
    """
    job = session.execute(
        select(Job.failures, Job.status).where(_held_by(claim_, JobStatus.CLAIMED, JobStatus.RUNNING))
    ).one_or_none()
    if job is None:
        return None
    failures = job.failures + 1
    give_up = permanent or failures > max_retries
    values: dict[str, Any] = dict(failures=failures, error=error, claim_token=None)
    if give_up:
        values.update(status=JobStatus.FAILED, finished_at=utcnow())
    else:
        values.update(
            status=JobStatus.QUEUED,
            worker_id=None,
            published_at=None,
            available_at=_retry_at(now, backoff_secs, failures),
        )
    done = session.execute(
        update(_JOBS).where(_held_by(claim_, JobStatus.CLAIMED, JobStatus.RUNNING)).values(**values)
    ).rowcount
    if not done:
        return None
    new = values["status"]
    label = "failed permanently" if permanent else f"failure {failures}/{max_retries + 1}"
    _event(session, claim_.job_id, job.status, new, claim_.worker_id, claim_.attempt, f"{label}: {error}")
    return new


def reclaim(
    session: Executor,
    job_id: int,
    seen_token: str,
    reason: str,
    *,
    max_retries: int,
    actor: str,
) -> JobStatus | None:
    """A dead or silent worker's job: back to queued, or failed past MAX_RETRIES reclaims.

    Guarded by the token the reaper saw: if the worker completed it (or another
    reaper reclaimed it) in the meantime, nothing changes and None is returned.
    """
    job = session.execute(
        select(Job.reclaims, Job.status, Job.attempts).where(
            Job.id == job_id,
            Job.claim_token == seen_token,
            Job.status.in_([JobStatus.CLAIMED, JobStatus.RUNNING]),
        )
    ).one_or_none()
    if job is None:
        return None
    reclaims = job.reclaims + 1
    values: dict[str, Any] = dict(reclaims=reclaims, claim_token=None, error=reason)
    if reclaims > max_retries:
        values.update(status=JobStatus.FAILED, finished_at=utcnow())
    else:
        values.update(status=JobStatus.QUEUED, worker_id=None, published_at=None, available_at=utcnow())
    done = session.execute(
        update(_JOBS)
        .where(Job.id == job_id, Job.claim_token == seen_token, Job.status == job.status)
        .values(**values)
    ).rowcount
    if not done:
        return None
    new = values["status"]
    _event(session, job_id, job.status, new, actor, job.attempts, f"reclaim {reclaims}: {reason}")
    return new


def requeue(session: Session, job_id: int, actor: str) -> None:
    """failed → queued by a person's decision, with a fresh allowance of retries."""
    job = session.get(Job, job_id)
    if job is None:
        raise TransitionRefused(f"job {job_id} does not exist")
    if job.status != JobStatus.FAILED:
        raise TransitionRefused(f"job {job_id} is {job.status.value}; only failed jobs can be re-queued")
    twin = session.execute(
        select(Job.id).where(Job.dedupe_key == job.dedupe_key, Job.status.in_(JobStatus.active()))
    ).scalar_one_or_none()
    if twin is not None:
        raise TransitionRefused(f"job {job_id} is already being redone as job {twin}")
    done = session.execute(
        update(_JOBS)
        .where(Job.id == job_id, Job.status == JobStatus.FAILED)
        .values(
            status=JobStatus.QUEUED,
            failures=0,
            reclaims=0,
            error=None,
            worker_id=None,
            claim_token=None,
            published_at=None,
            available_at=utcnow(),
            queued_at=utcnow(),
            claimed_at=None,
            started_at=None,
            heartbeat_at=None,
            finished_at=None,
        )
    ).rowcount
    if not done:
        raise TransitionRefused(f"job {job_id} changed state meanwhile; try again")
    _event(session, job_id, JobStatus.FAILED, JobStatus.QUEUED, actor, job.attempts, "re-queued by hand")


def mark_published(session: Executor, job_ids: Sequence[int]) -> None:
    """Note that a message for these still-queued jobs is on the broker."""
    if job_ids:
        session.execute(
            update(_JOBS)
            .where(Job.id.in_(job_ids), Job.status == JobStatus.QUEUED)
            .values(published_at=utcnow())
        )


def forget_published(session: Executor) -> int:
    """The broker lost its messages (e.g. Redis restarted empty): every queued job needs a new one."""
    return session.execute(
        update(_JOBS)
        .where(Job.status == JobStatus.QUEUED, Job.published_at.is_not(None))
        .values(published_at=None)
    ).rowcount


def due_unpublished(session: Executor, limit: int = 500) -> list[tuple[int, Trigger, int]]:
    """Queued jobs that are due and have no message on the broker, highest priority first."""
    rows = session.execute(
        select(Job.id, Job.trigger, Job.priority)
        .where(Job.status == JobStatus.QUEUED, Job.published_at.is_(None), Job.available_at <= utcnow())
        .order_by(Job.available_at, Job.id)
        .limit(limit)
    ).all()
    return [(row.id, row.trigger, row.priority) for row in rows]


def count_by_status(session: Executor) -> dict[JobStatus, int]:
    rows = session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    counts = {status: 0 for status in JobStatus}
    counts.update({row[0]: row[1] for row in rows})
    return counts
