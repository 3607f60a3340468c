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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from warmer.ledger import statements
from warmer.ledger.db import utcnow
from warmer.ledger.models import Job, JobEvent, JobStatus, Trigger
from warmer.ledger.statements import Executor
from warmer.queues import priority_for

# Core tables, not ORM entities: the hot transitions skip the ORM's bulk-update machinery,
# and work the same on a Session or on a worker's dedicated Connection.
_JOBS = Job.__table__
_EVENTS = JobEvent.__table__


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


def claim(session: Executor, job_id: int, worker_id: str) -> Claim | None:
    """queued → claimed for `worker_id`, or None if it is not queued or not due.

    Compare-and-set: of two deliveries of the same message, exactly one UPDATE
    finds the row still queued.
    """
    token = str(uuid.uuid4())
    row = statements.CLAIM(session, p_job=job_id, p_actor=worker_id, p_token=token)
    return None if row is None else _claim_from(row, job_id, token, worker_id)


def lock_and_claim(
    session: Executor, job_id: int, worker_id: str, lock_key: int
) -> tuple[bool, Claim | None]:
    """Postgres: take the job's advisory lock for this session and claim the job, in one statement.

    Returns (locked, claim). Not locked: another session runs the job. Locked
    without a claim: the job is not queued, and the caller must release the lock.
    """
    token = str(uuid.uuid4())
    row = statements.PG_LOCK_AND_CLAIM(session, job_id, worker_id, token, lock_key)
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
        return statements.PG_RUNNING(session, claim_.job_id, claim_.token, claim_.worker_id) is not None
    return statements.RUNNING(session, **_claim_params(claim_)) is not None


def heartbeat(session: Executor, claim_: Claim) -> bool:
    """Stamp the job as alive; False tells the worker it no longer owns the job."""
    return bool(
        session.execute(statements.HEARTBEAT, {"p_job": claim_.job_id, "p_token": claim_.token}).rowcount
    )


def mark_completed(session: Executor, claim_: Claim, *, release_lock: int | None = None) -> bool:
    """running → completed; False (and nothing written) if the claim was lost.

    With `release_lock` on Postgres, the job's advisory lock is released by the
    same statement when (and only when) the completion happened.
    """
    if _dialect(session) != "postgresql":
        return statements.COMPLETED(session, **_claim_params(claim_)) is not None
    args = (claim_.job_id, claim_.token, claim_.worker_id)
    if release_lock is not None:
        return statements.PG_COMPLETED_UNLOCK(session, *args, release_lock) is not None
    return statements.PG_COMPLETED(session, *args) is not None


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


def fail_queued(session: Executor, job_id: int, error: str, *, actor: str) -> bool:
    """queued → failed for a job that can never be delivered (e.g. a row written by hand with a
    priority no queue knows): a person sees it among the failed jobs instead of it blocking or
    silently waiting. False if it was no longer queued."""
    row = session.execute(
        update(_JOBS)
        .where(Job.id == job_id, Job.status == JobStatus.QUEUED)
        .values(status=JobStatus.FAILED, error=error, finished_at=utcnow(), published_at=None)
        .returning(Job.attempts)
    ).one_or_none()
    if row is None:
        return False
    _event(session, job_id, JobStatus.QUEUED, JobStatus.FAILED, actor, row.attempts, error)
    return True


def requeue(session: Session, job_id: int, actor: str, detail: str = "re-queued by hand") -> None:
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
    _event(session, job_id, JobStatus.FAILED, JobStatus.QUEUED, actor, job.attempts, detail)
