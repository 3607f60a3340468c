"""The Analytics page's reads: hit rate over time, miss patterns, what misses promoted, conversions.

Lookup figures come from the hourly rollup (`lookup_hourly`, kept as lookups are recorded), so
a window costs its hours times the patterns active in them, never the lookups themselves; the
window is whole clock hours, the current one included. Job figures read the miss jobs queued in
the window through their own partial index (the miss trigger caps them per hour).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from warmer.ledger.lookup_stats import hour_of
from warmer.ledger.models import Job, JobStatus, LookupHourly, Trigger
from warmer.ledger.queries import miss_conversions

MAX_WINDOW_HOURS = 24 * 90
_H = LookupHourly


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def bucket_seconds(window_hours: float) -> int:
    """Hourly points up to two days, daily points beyond: a plot keeps a readable number of points."""
    return 3600 if window_hours <= 48 else 86400


def window_start(now: datetime, window_hours: float) -> datetime:
    """The first whole hour of a window of `window_hours` that ends with the current hour."""
    hours = max(round(window_hours), 1)
    return hour_of(now) - timedelta(hours=hours - 1)


def miss_patterns(session: Session, since: datetime, limit: int = 10) -> list[dict[str, Any]]:
    """Top (repository, artifact type) pairs by misses since `since`, with how many task types
    missed, what share of their lookups hit, and the stale hits among those."""
    misses = func.sum(_H.misses)
    rows = session.execute(
        select(
            _H.repo_name, _H.artifact_type, misses.label("misses"), func.sum(_H.lookups).label("lookups"),
            func.sum(_H.stale_hits).label("stale_hits"),
            func.count(func.distinct(_H.task_type)).label("task_types"),
            func.max(_H.last_at).label("last_at"),
        )
        .where(_H.hour >= since)
        .group_by(_H.repo_name, _H.artifact_type)
        .having(misses > 0)
        .order_by(misses.desc(), _H.repo_name, _H.artifact_type)
        .limit(limit)
    ).all()  # fmt: skip
    return [
        {
            "repo": row.repo_name,
            "artifact_type": row.artifact_type,
            "misses": int(row.misses),
            "lookups": int(row.lookups),
            "hit_rate": round(1 - int(row.misses) / int(row.lookups), 3),
            "stale_hits": int(row.stale_hits or 0),
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
    """Lookups, hits and hit rate per hour (or day) from `since` to `now`; empty buckets are kept
    (rate None) so a plot shows gaps as gaps instead of joining distant points."""
    rows = session.execute(
        select(_H.hour, func.sum(_H.lookups), func.sum(_H.hits)).where(_H.hour >= since).group_by(_H.hour)
    ).all()
    counts: dict[int, tuple[int, int]] = {}
    for hour, lookups, hits in rows:
        at = int(hour.timestamp()) // seconds * seconds
        before = counts.get(at, (0, 0))
        counts[at] = (before[0] + int(lookups), before[1] + int(hits or 0))
    start = int(since.timestamp()) // seconds * seconds
    series = []
    for at in range(start, int(now.timestamp()) + 1, seconds):
        lookups, hits = counts.get(at, (0, 0))
        series.append({
            "at": datetime.fromtimestamp(at, since.tzinfo).isoformat(), "lookups": lookups, "hits": hits,
            "hit_rate": round(hits / lookups, 3) if lookups else None,
        })  # fmt: skip
    return series


def analytics(
    session: Session, now: datetime, window_hours: float, top: int = 10, miss_window_hours: float = 24
) -> dict[str, Any]:
    """Everything the Analytics page plots, over the whole hours of the last `window_hours`."""
    since = window_start(now, window_hours)
    seconds = bucket_seconds(window_hours)
    series = hit_rate_series(session, since, now, seconds)
    lookups = sum(point["lookups"] for point in series)
    hits = sum(point["hits"] for point in series)
    stale = session.execute(select(func.sum(_H.stale_hits)).where(_H.hour >= since)).scalar_one()
    return {
        "window_hours": window_hours,
        "since": _iso(since),
        "now": _iso(now),
        "lookups": lookups,
        "hits": hits,
        "stale_hits": int(stale or 0),
        "hit_rate": round(hits / lookups, 3) if lookups else None,
        "miss_patterns": miss_patterns(session, since, top),
        "promoted_artifacts": promoted_artifacts(session, since, top),
        "conversions": miss_conversions(session, since, miss_window_hours=miss_window_hours, limit=top),
        "bucket_seconds": seconds,
        "hit_rate_series": series,
    }
