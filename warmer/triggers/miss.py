"""The miss trigger: what agents keep asking for and not finding becomes a warmer job.

Every lookup miss is recorded (cache/lookup.py). When one (task type,
repository, artifact) pattern reaches `on_miss.threshold` misses within the last
`window_hours`, one miss-priority job is enqueued for the missed artifact (and
path), at the branch head. A stale hit (built at an older commit whose inputs changed since)
counts like a miss; a job already warming that artifact at the head (say, the commit refresh) is
returned instead of a new one. The ledger's dedupe key
keeps it from being enqueued again while it is queued, claimed or running.

`max_jobs_per_hour` caps how many miss jobs become available in each clock
hour; the excess is enqueued for the first later hour with room, never
dropped. A failed job is not enqueued again by misses: failures are re-queued
by a person (the product page's rule).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from warmer.ledger import transitions
from warmer.ledger.db import Database
from warmer.ledger.models import BranchHead, CacheLookup, Job, JobStatus, Repository, Trigger
from warmer.queues import priority_for
from warmer.settings import Settings

log = logging.getLogger("warmer.triggers")
# Serializes miss planning on Postgres so two lookups cannot both take an hour's last slot.
_PLANNING_LOCK = 0x5741524F << 32  # "WARO", apart from the job locks' namespace
_HOURS_AHEAD = 24 * 7


def observe_miss(
    db: Database, settings: Settings, repo: Repository, artifact_type: str, path: str, task_type: str
) -> transitions.Enqueued | None:
    """Called after a miss is recorded; returns the job this miss enqueued (or found active), if any."""
    on_miss = settings.warmers.on_miss
    if not on_miss.enabled:
        return None
    with db.session() as session:
        if db.is_postgres:
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PLANNING_LOCK})
        now = db.now()
        misses = session.execute(
            select(func.count()).where(
                CacheLookup.task_type == task_type,
                CacheLookup.repo_id == repo.id,
                CacheLookup.artifact_type == artifact_type,
                or_(CacheLookup.hit.is_(False), CacheLookup.stale.is_(True)),  # a stale hit is a miss
                CacheLookup.at >= now - timedelta(hours=on_miss.window_hours),
            )
        ).scalar_one()
        if misses < on_miss.threshold:
            return None
        head = session.get(BranchHead, (repo.id, repo.branch))
        if head is None:
            log.info(
                "miss threshold reached for %s/%s but the branch was never warmed", repo.name, artifact_type
            )
            return None
        warming = _already_warming(session, repo.id, repo.branch, head.commit, artifact_type, path)
        if warming is not None:  # e.g. the commit refresh that will make a stale hit fresh
            return transitions.Enqueued(warming.id, False, warming.trigger, warming.priority)
        spec = transitions.JobSpec(
            repo_id=repo.id,
            branch=repo.branch,
            commit=head.commit,
            artifact_type=artifact_type,
            trigger=Trigger.MISS,
            scope=(path,) if path else None,
        )
        if _failed_before(session, spec.dedupe_key()):
            log.info(
                "miss threshold reached for %s/%s: the same job failed; re-queue it by hand",
                repo.name,
                artifact_type,
            )
            return None
        active = session.execute(
            select(Job.id).where(Job.dedupe_key == spec.dedupe_key(), Job.status.in_(JobStatus.active()))
        ).scalar_one_or_none()
        if active is not None:
            return transitions.Enqueued(active, False, Trigger.MISS, priority_for(Trigger.MISS))
        slot = _first_hour_with_room(session, now, on_miss.max_jobs_per_hour)
        enqueued = transitions.enqueue(
            session, replace(spec, available_at=slot), actor=f"trigger:miss:{task_type}"
        )
    log.info(
        "miss trigger: %d misses of %s/%s by %s in %gh -> job %s available at %s",
        misses, repo.name, artifact_type, task_type, on_miss.window_hours, enqueued.job_id, slot.isoformat(),
    )  # fmt: skip
    return enqueued


def _already_warming(
    session: Session, repo_id: int, branch: str, commit: str, artifact_type: str, path: str
) -> Job | None:
    """An active job (any trigger) that will write this artifact, and this path, at this commit."""
    jobs = session.execute(
        select(Job).where(
            Job.repo_id == repo_id,
            Job.branch == branch,
            Job.commit == commit,
            Job.artifact_type == artifact_type,
            Job.status.in_(JobStatus.active()),
        )
    ).scalars()
    return next((job for job in jobs if job.scope is None or not path or path in job.scope), None)


def _failed_before(session: Session, dedupe_key: str) -> bool:
    return (
        session.execute(
            select(Job.id).where(Job.dedupe_key == dedupe_key, Job.status == JobStatus.FAILED).limit(1)
        ).first()
        is not None
    )


def _first_hour_with_room(session: Session, now: datetime, per_hour: int) -> datetime:
    """Now, if this clock hour has fewer than `per_hour` miss jobs; else the start of the first later
    hour that has. Counted by when jobs become available, so deferred jobs fill later hours."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    for ahead in range(_HOURS_AHEAD):
        start = hour + timedelta(hours=ahead)
        taken = session.execute(
            select(func.count()).where(
                Job.trigger == Trigger.MISS,
                Job.available_at >= start,
                Job.available_at < start + timedelta(hours=1),
            )
        ).scalar_one()
        if taken < per_hour:
            return max(now, start)
    return hour + timedelta(hours=_HOURS_AHEAD)
