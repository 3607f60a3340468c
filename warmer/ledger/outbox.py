"""Which queued jobs have a message on the broker: the ledger's outbox.

A job row is written first and its message published after; `published_at`
NULL means no message is known to exist, and the leader's poller publishes one.
`published_at` set is a claim the leader checks against the broker (see
worker/redelivery.py): a job whose message is gone is forgotten here and
published again. These writes touch only `published_at` of queued jobs, never
a job's state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update

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
    """A delivery could not run a queued job (its lock was still held by a fenced worker, or it is
    not due yet): let the poller publish it again, or it would wait for a message that was already
    consumed. A job no longer queued is left alone."""
    session.execute(
        update(_JOBS).where(Job.id == job_id, Job.status == JobStatus.QUEUED).values(published_at=None)
    )


@dataclass(frozen=True)
class Published:
    """A queued job the ledger believes has a message on the broker."""

    job_id: int
    trigger: Trigger
    priority: int
    published_at: datetime


def published_queued(session: Executor) -> list[Published]:
    """Every queued job marked published (its message was sent before the mark was written)."""
    rows = session.execute(
        select(Job.id, Job.trigger, Job.priority, Job.published_at).where(
            Job.status == JobStatus.QUEUED, Job.published_at.is_not(None)
        )
    ).all()
    return [Published(row.id, row.trigger, row.priority, row.published_at) for row in rows]


_FORGET_SEEN = (
    update(_JOBS)
    .where(
        Job.id == bindparam("p_job"),
        Job.status == JobStatus.QUEUED,
        Job.published_at == bindparam("p_seen"),
    )
    .values(published_at=None)
)


def forget_lost(session: Executor, lost: Iterable[Published]) -> int:
    """These jobs' messages are gone from the broker: publish them again. Guarded by the
    publication the leader looked at, so a job claimed, re-queued or re-published meanwhile keeps
    its newer state. Returns how many were forgotten."""
    params = [{"p_job": job.job_id, "p_seen": job.published_at} for job in lost]
    if not params:
        return 0
    forgotten = 0
    for start in range(0, len(params), 1000):
        forgotten += session.execute(_FORGET_SEEN, params[start : start + 1000]).rowcount
    return forgotten


def statuses(session: Executor, job_ids: Iterable[int]) -> dict[int, JobStatus]:
    """The current state of each of these jobs that exists."""
    ids = sorted(set(job_ids))
    found: dict[int, JobStatus] = {}
    for start in range(0, len(ids), 1000):
        rows = session.execute(select(Job.id, Job.status).where(Job.id.in_(ids[start : start + 1000])))
        found.update({row.id: row.status for row in rows})
    return found
