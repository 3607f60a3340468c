"""The Analytics page's reads: miss patterns, what misses promoted, conversions, hit rate over time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, case, cast, func, select
from sqlalchemy.orm import Session

from warmer.ledger.models import CacheLookup, Job, JobStatus, Trigger
from warmer.ledger.queries import miss_conversions

MAX_WINDOW_HOURS = 24 * 90


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def bucket_seconds(window_hours: float) -> int:
    """Hourly points up to two days, daily points beyond: a plot keeps a readable number of points."""
    return 3600 if window_hours <= 48 else 86400


def _bucket(session: Session, seconds: int) -> ColumnElement[Any]:
    """Lookup time floored to the bucket, as epoch seconds (the same on Postgres and SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        epoch = func.extract("epoch", CacheLookup.at)
        return func.floor(epoch / seconds) * seconds
    epoch = cast(func.strftime("%s", CacheLookup.at), Integer)  # integer division floors
    return (epoch / seconds) * seconds


def miss_patterns(session: Session, since: datetime, limit: int = 10) -> list[dict[str, Any]]:
    """Top (repository, artifact type) pairs by misses since `since`, with how many distinct paths
    and task types missed and what share of their lookups hit."""
    misses = func.sum(case((CacheLookup.hit.is_(False), 1), else_=0))
    rows = session.execute(
        select(
            CacheLookup.repo_name, CacheLookup.artifact_type, misses.label("misses"),
            func.count().label("lookups"),
            func.count(func.distinct(CacheLookup.path)).label("paths"),
            func.count(func.distinct(CacheLookup.task_type)).label("task_types"),
            func.max(CacheLookup.at).label("last_at"),
        )
        .where(CacheLookup.at >= since)
        .group_by(CacheLookup.repo_name, CacheLookup.artifact_type)
        .having(misses > 0)
        .order_by(misses.desc(), CacheLookup.repo_name, CacheLookup.artifact_type)
        .limit(limit)
    ).all()  # fmt: skip
    return [
        {
            "repo": row.repo_name,
            "artifact_type": row.artifact_type,
            "misses": int(row.misses),
            "lookups": row.lookups,
            "hit_rate": round(1 - int(row.misses) / row.lookups, 3),
            "paths": row.paths,
            "task_types": row.task_types,
            "last_at": _iso(row.last_at),
        }
        for row in rows
    ]


def promoted_artifacts(session: Session, since: datetime, limit: int = 10) -> list[dict[str, Any]]:
    """Artifact types the miss trigger promoted most often into jobs since `since`, by outcome."""
    rows = session.execute(
        select(
            Job.artifact_type, func.count().label("jobs"),
            func.sum(case((Job.status == JobStatus.COMPLETED, 1), else_=0)).label("completed"),
            func.sum(case((Job.status == JobStatus.FAILED, 1), else_=0)).label("failed"),
            func.count(func.distinct(Job.repo_id)).label("repos"),
        )
        .where(Job.trigger == Trigger.MISS, Job.queued_at >= since)
        .group_by(Job.artifact_type)
        .order_by(func.count().desc(), Job.artifact_type)
        .limit(limit)
    ).all()  # fmt: skip
    return [
        {
            "artifact_type": row.artifact_type,
            "jobs": row.jobs,
            "completed": int(row.completed or 0),
            "failed": int(row.failed or 0),
            "repos": row.repos,
        }
        for row in rows
    ]


def hit_rate_series(session: Session, since: datetime, now: datetime, seconds: int) -> list[dict[str, Any]]:
    """Lookups, hits and hit rate per time bucket from `since` to `now`; empty buckets are kept
    (rate None) so a plot shows gaps as gaps instead of joining distant points."""
    bucket = _bucket(session, seconds).label("bucket")
    rows = session.execute(
        select(bucket, func.count().label("lookups"),
               func.sum(case((CacheLookup.hit.is_(True), 1), else_=0)).label("hits"))
        .where(CacheLookup.at >= since)
        .group_by(bucket)
    ).all()  # fmt: skip
    counts = {int(row.bucket): (row.lookups, int(row.hits or 0)) for row in rows}
    start = int(since.timestamp()) // seconds * seconds
    series = []
    for at in range(start, int(now.timestamp()) + 1, seconds):
        lookups, hits = counts.get(at, (0, 0))
        series.append({
            "at": datetime.fromtimestamp(at, since.tzinfo).isoformat(), "lookups": lookups, "hits": hits,
            "hit_rate": round(hits / lookups, 3) if lookups else None,
        })  # fmt: skip
    return series


def analytics(session: Session, now: datetime, window_hours: float, top: int = 10) -> dict[str, Any]:
    """Everything the Analytics page plots, over the last `window_hours`."""
    since = now - timedelta(hours=window_hours)
    totals = session.execute(
        select(func.count(), func.sum(case((CacheLookup.hit.is_(True), 1), else_=0))).where(
            CacheLookup.at >= since
        )
    ).one()
    lookups, hits = totals[0], int(totals[1] or 0)
    conversions = miss_conversions(session, since)
    seconds = bucket_seconds(window_hours)
    return {
        "window_hours": window_hours,
        "since": _iso(since),
        "now": _iso(now),
        "lookups": lookups,
        "hits": hits,
        "hit_rate": round(hits / lookups, 3) if lookups else None,
        "miss_patterns": miss_patterns(session, since, top),
        "promoted_artifacts": promoted_artifacts(session, since, top),
        "conversions": conversions,
        "bucket_seconds": seconds,
        "hit_rate_series": hit_rate_series(session, since, now, seconds),
    }
