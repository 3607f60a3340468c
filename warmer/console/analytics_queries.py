"""The Analytics page's reads: hit rate over time, miss patterns, what misses promoted, conversions.

Lookup figures come from the rollups kept as lookups are recorded: hours for windows up to two
days (`lookup_hourly`), days beyond (`lookup_daily`). A window costs its periods times the
(repository, artifact) pairs active in them, never the lookups themselves; it is whole clock
hours (or UTC days), the current one included. Job figures read the miss jobs queued in
the window through their own partial index (the miss trigger caps them per hour).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from warmer.ledger.lookup_stats import day_of, hour_of
from warmer.ledger.models import Job, JobStatus, LookupDaily, LookupHourly, Trigger
from warmer.ledger.queries import miss_conversions

MAX_WINDOW_HOURS = 24 * 90


def _rollup(window_hours: float) -> tuple[Any, Any]:
    """The rollup table and its period column for a window."""
    if bucket_seconds(window_hours) == 3600:
        return LookupHourly, LookupHourly.hour
    return LookupDaily, LookupDaily.day


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def bucket_seconds(window_hours: float) -> int:
    """Hourly points up to two days, daily points beyond: a plot keeps a readable number of points."""
    return 3600 if window_hours <= 48 else 86400


def window_start(now: datetime, window_hours: float) -> datetime:
    """The first whole hour (or day, past two days) of a window that ends with the current one."""
    if bucket_seconds(window_hours) == 3600:
        return hour_of(now) - timedelta(hours=max(round(window_hours), 1) - 1)
    return day_of(now) - timedelta(days=max(round(window_hours / 24), 1) - 1)


def miss_patterns(
    session: Session, since: datetime, window_hours: float, limit: int = 10
) -> list[dict[str, Any]]:
    """Top (repository, artifact type) pairs by misses since `since`, with what share of their
    lookups hit, the stale hits among those, and their last lookup."""
    table, period = _rollup(window_hours)
    misses = func.sum(table.misses)
    rows = session.execute(
        select(
            table.repo_name, table.artifact_type, misses.label("misses"),
            func.sum(table.lookups).label("lookups"), func.sum(table.stale_hits).label("stale_hits"),
            func.max(table.last_at).label("last_at"),
        )
        .where(period >= since)
        .group_by(table.repo_name, table.artifact_type)
        .having(misses > 0)
        .order_by(misses.desc(), table.repo_name, table.artifact_type)
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
    """Lookups, hits and stale hits per hour (or day) from `since` to `now`; empty buckets are
    kept (rate None) so a plot shows gaps as gaps instead of joining distant points."""
    table, period = (LookupHourly, LookupHourly.hour) if seconds == 3600 else (LookupDaily, LookupDaily.day)
    rows = session.execute(
        select(period, func.sum(table.lookups), func.sum(table.hits), func.sum(table.stale_hits))
        .where(period >= since)
        .group_by(period)
    ).all()
    counts = {
        int(at.timestamp()): (int(lookups), int(hits or 0), int(stale or 0))
        for at, lookups, hits, stale in rows
    }
    series = []
    for at in range(int(since.timestamp()), int(now.timestamp()) + 1, seconds):
        lookups, hits, stale = counts.get(at, (0, 0, 0))
        series.append({
            "at": datetime.fromtimestamp(at, since.tzinfo).isoformat(), "lookups": lookups, "hits": hits,
            "stale_hits": stale, "hit_rate": round(hits / lookups, 3) if lookups else None,
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
    stale = sum(point["stale_hits"] for point in series)
    return {
        "window_hours": window_hours,
        "since": _iso(since),
        "now": _iso(now),
        "lookups": lookups,
        "hits": hits,
        "stale_hits": stale,
        "hit_rate": round(hits / lookups, 3) if lookups else None,
        "miss_patterns": miss_patterns(session, since, window_hours, top),
        "promoted_artifacts": promoted_artifacts(session, since, top),
        "conversions": miss_conversions(
            session, since, miss_window_hours=miss_window_hours, limit=top, fold=False
        ),
        "bucket_seconds": seconds,
        "hit_rate_series": series,
    }
