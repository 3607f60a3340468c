"""Which queued jobs have a message on the broker: the ledger's outbox.

A job row is written first and its message published after; `published_at`
NULL means no message is known to exist, and the leader's poller publishes one.
These writes touch only `published_at` of queued jobs, never a job's state.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update

from warmer.ledger.db import utcnow
from warmer.ledger.models import Job, JobStatus, Trigger
from warmer.ledger.transitions import Executor

_JOBS = Job.__table__


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


def forget(session: Executor, job_id: int) -> None:
    """A delivery could not run a queued job (its lock was still held by a fenced worker): let the
    poller publish it again, or it would wait for a message that was already consumed."""
    session.execute(
        update(_JOBS).where(Job.id == job_id, Job.status == JobStatus.QUEUED).values(published_at=None)
    )
