"""Read-only views of the ledger: job JSON, per-phase timings, the queue overview, instances."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, true
from sqlalchemy.orm import Session

from warmer.ledger import conversions
from warmer.ledger.db import utcnow
from warmer.ledger.models import (
    BranchState,
    CacheRef,
    Job,
    JobEvent,
    JobStatus,
    Repository,
    WarmerInstance,
)

JOB_FIELDS = (
    "id", "repo", "branch", "commit", "artifact_type", "scope", "trigger", "priority", "status",
    "attempts", "worker_id", "error", "queued_at", "claimed_at", "started_at", "heartbeat_at",
    "finished_at",
)  # fmt: skip


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def job_json(job: Job, repo_name: str) -> dict[str, Any]:
    """The public job contract (see DESIGN.md), plus failure and reclaim counts."""
    return {
        "id": job.id,
        "repo": repo_name,
        "branch": job.branch,
        "commit": job.commit,
        "artifact_type": job.artifact_type,
        "scope": job.scope,
        "trigger": job.trigger.value,
        "priority": job.priority,
        "status": job.status.value,
        "attempts": job.attempts,
        "worker_id": job.worker_id,
        "error": job.error,
        "queued_at": _iso(job.queued_at),
        "claimed_at": _iso(job.claimed_at),
        "started_at": _iso(job.started_at),
        "heartbeat_at": _iso(job.heartbeat_at),
        "finished_at": _iso(job.finished_at),
        "failures": job.failures,
        "reclaims": job.reclaims,
    }


def list_jobs(
    session: Session,
    *,
    status: JobStatus | None = None,
    repo_id: int | None = None,
    artifact_type: str | None = None,
    trigger: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    query = select(Job, Repository.name).join(Repository, Repository.id == Job.repo_id)
    if status is not None:
        query = query.where(Job.status == status)
    if repo_id is not None:
        query = query.where(Job.repo_id == repo_id)
    if artifact_type is not None:
        query = query.where(Job.artifact_type == artifact_type)
    if trigger is not None:
        query = query.where(Job.trigger == trigger)
    rows = session.execute(query.order_by(Job.id.desc()).limit(limit)).all()
    return [job_json(job, name) for job, name in rows]


def events(session: Session, job_id: int) -> list[JobEvent]:
    return list(
        session.execute(
            select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.at, JobEvent.id)
        ).scalars()
    )


def phase_seconds(history: list[JobEvent], now: datetime) -> dict[str, float]:
    """Time spent in each lifecycle state, summed over retries; the current state runs to `now`."""
    spent = {status.value: 0.0 for status in JobStatus.active()}
    for event, following in zip(history, [*history[1:], None], strict=True):
        state = event.to_status
        if state in JobStatus.active():
            end = following.at if following is not None else now
            spent[state.value] += max((end - event.at).total_seconds(), 0.0)
    return spent


def job_detail(session: Session, job_id: int, now: datetime) -> dict[str, Any] | None:
    row = session.execute(
        select(Job, Repository.name).join(Repository, Repository.id == Job.repo_id).where(Job.id == job_id)
    ).one_or_none()
    if row is None:
        return None
    job, name = row
    history = events(session, job_id)
    detail = job_json(job, name)
    detail["phases_seconds"] = phase_seconds(history, now)
    detail["events"] = [
        {
            "at": _iso(e.at),
            "from": e.from_status.value if e.from_status else None,
            "to": e.to_status.value,
            "actor": e.actor,
            "attempt": e.attempt,
            "detail": e.detail,
        }
        for e in history
    ]
    return detail


@dataclass(frozen=True)
class InstanceView:
    id: str
    hostname: str
    pid: int
    concurrency: int
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    active_jobs: int
    jobs_processed: int
    stale: bool

    def as_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        for key in ("started_at", "heartbeat_at", "stopped_at"):
            data[key] = _iso(data[key])
        data["utilization"] = round(self.active_jobs / self.concurrency, 3) if self.concurrency else 0.0
        return data


INSTANCE_AGE_OUT_SECS = 3600  # a stopped instance stays listed this long after it stopped


def instances(
    session: Session,
    now: datetime,
    stale_after_secs: float,
    include_stopped: bool = False,
    stopped_within_secs: float | None = None,
) -> list[InstanceView]:
    """Worker instances with figures derived from the jobs and events they own: the running ones,
    plus stopped ones (all, or those stopped within `stopped_within_secs`)."""
    query = select(WarmerInstance).order_by(WarmerInstance.started_at.desc())
    if stopped_within_secs is not None and not include_stopped:
        recent = now - timedelta(seconds=stopped_within_secs)
        query = query.where(WarmerInstance.stopped_at.is_(None) | (WarmerInstance.stopped_at >= recent))
    elif not include_stopped:
        query = query.where(WarmerInstance.stopped_at.is_(None))
    rows = list(session.execute(query).scalars())
    ids = [row.id for row in rows]
    active = dict(
        session.execute(
            select(Job.worker_id, func.count())
            .where(Job.worker_id.in_(ids), Job.status.in_([JobStatus.CLAIMED, JobStatus.RUNNING]))
            .group_by(Job.worker_id)
        ).all()
    )
    # ix_job_events_finished_by: what each listed instance finished, never the whole history.
    processed = dict(
        session.execute(
            select(JobEvent.actor, func.count())
            .where(JobEvent.actor.in_(ids), JobEvent.to_status.in_([JobStatus.COMPLETED, JobStatus.FAILED]))
            .group_by(JobEvent.actor)
        ).all()
    )
    cutoff = now - timedelta(seconds=stale_after_secs)
    return [
        InstanceView(
            id=row.id,
            hostname=row.hostname,
            pid=row.pid,
            concurrency=row.concurrency,
            started_at=row.started_at,
            heartbeat_at=row.heartbeat_at,
            stopped_at=row.stopped_at,
            active_jobs=active.get(row.id, 0),
            jobs_processed=processed.get(row.id, 0),
            stale=row.stopped_at is None and row.heartbeat_at < cutoff,
        )
        for row in rows
    ]


def overview(session: Session, now: datetime, stale_after_secs: float) -> dict[str, Any]:
    """The console's queue overview: queued, in progress, completed and failed in the last 24h.

    Each count reads one index range: the active states (ix_jobs_status_id) and the last 24 hours
    of finished jobs (ix_jobs_finished_status, index-only); nothing scans the job history."""
    since = now - timedelta(hours=24)
    active = dict(
        session.execute(
            select(Job.status, func.count())
            .where(Job.status.in_([JobStatus.QUEUED, JobStatus.CLAIMED, JobStatus.RUNNING]))
            .group_by(Job.status)
        ).all()
    )
    finished = dict(
        session.execute(
            select(Job.status, func.count())
            .where(Job.finished_at.is_not(None), Job.finished_at >= since)
            .group_by(Job.status)
        ).all()
    )
    queued_by_trigger = dict(
        session.execute(
            select(Job.trigger, func.count()).where(Job.status == JobStatus.QUEUED).group_by(Job.trigger)
        ).all()
    )
    return {
        "total_queued": active.get(JobStatus.QUEUED, 0),
        "in_progress": active.get(JobStatus.CLAIMED, 0) + active.get(JobStatus.RUNNING, 0),
        "completed_24h": finished.get(JobStatus.COMPLETED, 0),
        "failed_24h": finished.get(JobStatus.FAILED, 0),
        "queued_by_trigger": {trigger.value: count for trigger, count in queued_by_trigger.items()},
        "instances": [
            view.as_json()
            for view in instances(session, now, stale_after_secs, stopped_within_secs=INSTANCE_AGE_OUT_SECS)
        ],
    }


def miss_conversions(
    session: Session, since: datetime, *, miss_window_hours: float = 24, limit: int = 10, fold: bool = True
) -> dict[str, Any]:
    """Miss-triggered jobs queued since `since` that completed, and how many were followed by a hit
    (ledger/conversions.py). With `fold`, conversions since the last fold are recorded first (a
    write: the console folds in its own transaction and reads in a read-only snapshot)."""
    if fold:
        conversions.fold(session, session.execute(select(utcnow())).scalar_one())
    return conversions.report(session, since, miss_window_hours=miss_window_hours, limit=limit)


def jobs_in_progress(session: Session, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
    """Claimed and running jobs, oldest claim first, each with the seconds since its claim."""
    rows = session.execute(
        select(Job, Repository.name)
        .join(Repository, Repository.id == Job.repo_id)
        .where(Job.status.in_([JobStatus.CLAIMED, JobStatus.RUNNING]))
        .order_by(Job.claimed_at, Job.id)
        .limit(limit)
    ).all()
    out = []
    for job, name in rows:
        data = job_json(job, name)
        since = job.claimed_at or job.queued_at
        data["elapsed_seconds"] = round(max((now - since).total_seconds(), 0.0), 3)
        out.append(data)
    return out


def _last_completions(session: Session, ids: list[int]) -> dict[int, Any]:
    """Each repository's newest completed job: one probe of ix_jobs_repo_completed per repository,
    in one LATERAL query on Postgres (one query per repository on SQLite, which lacks LATERAL)."""

    def newest(repo_id: Any) -> Any:
        return (
            select(Job.commit, Job.finished_at, Job.branch)
            .where(Job.repo_id == repo_id, Job.status == JobStatus.COMPLETED, Job.finished_at.is_not(None))
            .order_by(Job.finished_at.desc())
            .limit(1)
        )

    if not ids:
        return {}
    if session.get_bind().dialect.name != "postgresql":
        return {repo_id: session.execute(newest(repo_id)).one_or_none() for repo_id in ids}
    repos = select(Repository.id).where(Repository.id.in_(ids)).subquery()
    latest = newest(repos.c.id).lateral()
    rows = session.execute(
        select(repos.c.id, latest.c.commit, latest.c.finished_at, latest.c.branch).select_from(
            repos.join(latest, true())
        )
    ).all()
    return {row.id: row for row in rows}


def repository_views(
    session: Session, artifact_types: list[str], names: list[str] | None = None
) -> list[dict[str, Any]]:
    """Each repository with its tracked branch, baseline and last warmed commits, and its cache
    coverage per artifact type. Coverage is "current" when the branch serves an entry built at the
    baseline commit, "behind" when it serves an older one, "warming" when a job for it is active
    and nothing is served yet, "missing" otherwise. Sources come back as stored (they may hold
    credentials: redact before showing); webhook secrets are never read."""
    query = select(Repository).order_by(Repository.name)
    if names is not None:
        query = query.where(Repository.name.in_(names))
    repos = list(session.execute(query).scalars())
    ids = [repo.id for repo in repos]
    baselines = {
        (row.repo_id, row.branch): row
        for row in session.execute(select(BranchState).where(BranchState.repo_id.in_(ids))).scalars()
    }  # fmt: skip
    refs: dict[tuple[int, str, str], Any] = {}
    at_baseline = case((CacheRef.commit == BranchState.commit, 1), else_=0)
    for row in session.execute(
        select(
            CacheRef.repo_id, CacheRef.branch, CacheRef.artifact_type,
            func.count().label("entries"), func.max(CacheRef.updated_at).label("updated_at"),
            func.max(case((CacheRef.path == "", CacheRef.commit))).label("whole_commit"),
            func.max(CacheRef.commit).label("any_commit"),
            func.sum(at_baseline).label("at_baseline"),
        )
        .outerjoin(
            BranchState, (BranchState.repo_id == CacheRef.repo_id) & (BranchState.branch == CacheRef.branch)
        )
        .where(CacheRef.repo_id.in_(ids))
        .group_by(CacheRef.repo_id, CacheRef.branch, CacheRef.artifact_type)
    ).all():  # fmt: skip
        refs[(row.repo_id, row.branch, row.artifact_type)] = row
    active = {
        (row.repo_id, row.artifact_type)
        for row in session.execute(
            select(Job.repo_id, Job.artifact_type).where(Job.status.in_(JobStatus.active())).distinct()
        ).all()
    }  # by state alone (ix_jobs_status_id): a repository filter would read all its history
    last_done = _last_completions(session, ids)
    out = []
    for repo in repos:
        baseline = baselines.get((repo.id, repo.branch))
        coverage = []
        served = [key[2] for key in refs if key[:2] == (repo.id, repo.branch)]
        for artifact in dict.fromkeys([*artifact_types, *served]):
            ref = refs.get((repo.id, repo.branch, artifact))
            commit = (ref.whole_commit or ref.any_commit) if ref is not None else None
            if ref is not None and ref.at_baseline:
                commit = baseline.commit if baseline is not None else commit
                state = "current"
            elif ref is not None:
                state = "behind"
            elif (repo.id, artifact) in active:
                state = "warming"
            else:
                state = "missing"
            coverage.append({
                "artifact_type": artifact, "state": state, "entries": ref.entries if ref is not None else 0,
                "commit": commit, "updated_at": _iso(ref.updated_at) if ref is not None else None,
                "warming": (repo.id, artifact) in active,
            })  # fmt: skip
        done = last_done.get(repo.id)
        covered = sum(1 for c in coverage if c["state"] in ("current", "behind"))
        out.append({
            "name": repo.name, "source": repo.source, "branch": repo.branch, "connected": repo.connected,
            "connected_at": _iso(repo.connected_at), "disconnected_at": _iso(repo.disconnected_at),
            "baseline_commit": baseline.commit if baseline is not None else None,
            "last_warmed_commit": done.commit if done is not None else None,
            "last_warmed_at": _iso(done.finished_at) if done is not None else None,
            "coverage": coverage,
            "coverage_ratio": round(covered / len(coverage), 3) if coverage else None,
        })  # fmt: skip
    return out
