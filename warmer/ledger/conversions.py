"""Miss-to-hit conversions: did a hit follow the job a miss pattern triggered?

A completed miss-triggered job is converted once a lookup of the same repository, artifact type
and path hits after the job finished. That never becomes false again, so each conversion is
found once and kept (`miss_conversions`): the fold probes only the completed miss jobs not yet
converted that finished within HORIZON (one index probe each on ix_cache_lookups_path, which
holds `hit`), and reads count the converted ones by a join. Folds run at most every
`min_interval` seconds (the console asks on each Analytics read), under a lock row so that two
consoles do not fold the same jobs at once. A hit more than HORIZON after the job finished is
not counted: by then the pattern has aged out of every window the console shows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, insert, literal, select, update
from sqlalchemy.orm import Session

from warmer.ledger.db import UTCDateTime
from warmer.ledger.models import CacheLookup, Job, JobStatus, LedgerTotal, MissConversion, Repository, Trigger
from warmer.ledger.totals import locked_mark

HORIZON = timedelta(days=30)
MARK = "mark:conversions"


def _path() -> Any:
    return func.coalesce(Job.scope[0].as_string(), "")


def _same_target() -> Any:
    return (
        (CacheLookup.repo_id == Job.repo_id) & (CacheLookup.artifact_type == Job.artifact_type)
        & (CacheLookup.path == _path())
    )  # fmt: skip


def fold(session: Session, now: datetime, min_interval: float = 0) -> int:
    """Record the conversions that happened since the last fold; returns how many."""
    mark = locked_mark(session, MARK)
    if mark is not None and (now - mark).total_seconds() < min_interval:
        return 0
    hit_after = select(CacheLookup.id).where(_same_target(), CacheLookup.hit.is_(True),
                                             CacheLookup.at > Job.finished_at)  # fmt: skip
    known = select(MissConversion.job_id).where(MissConversion.job_id == Job.id)
    candidates = select(Job.id, literal(now, UTCDateTime())).where(
        Job.trigger == Trigger.MISS, Job.queued_at >= now - HORIZON, Job.status == JobStatus.COMPLETED,
        Job.finished_at.is_not(None), ~known.exists(), hit_after.exists(),
    )  # fmt: skip
    added = session.execute(
        insert(MissConversion).from_select(["job_id", "converted_at"], candidates)
    ).rowcount
    session.execute(update(LedgerTotal).where(LedgerTotal.name == MARK).values(at=now))
    return added or 0


def report(
    session: Session, since: datetime, *, miss_window_hours: float = 24, limit: int = 10
) -> dict[str, Any]:
    """Miss-triggered jobs queued since `since` that completed, how many converted (as of the last
    fold), and the newest `limit` of them with the misses in the trigger's window before they
    were queued and the hits since they finished."""
    done = (Job.trigger == Trigger.MISS, Job.queued_at >= since, Job.status == JobStatus.COMPLETED)
    totals = session.execute(
        select(func.count(), func.count(MissConversion.job_id))
        .select_from(Job)
        .outerjoin(MissConversion, MissConversion.job_id == Job.id)
        .where(*done)
    ).one()
    earliest = since - timedelta(hours=miss_window_hours)  # the trigger's window before the first job
    misses_before = select(func.count()).where(
        _same_target(), CacheLookup.hit.is_(False), CacheLookup.at <= Job.queued_at,
        CacheLookup.at >= earliest,
    )  # fmt: skip
    hits_after = select(func.count()).where(_same_target(), CacheLookup.hit.is_(True),
                                            CacheLookup.at > Job.finished_at)  # fmt: skip
    rows = session.execute(
        select(Job.id, Repository.name, Job.artifact_type, _path().label("path"), Job.finished_at,
               misses_before.scalar_subquery().label("misses_before"),
               hits_after.scalar_subquery().label("hits_after"),
               case((MissConversion.job_id.is_not(None), True), else_=False).label("converted"))
        .join(Repository, Repository.id == Job.repo_id)
        .outerjoin(MissConversion, MissConversion.job_id == Job.id)
        .where(*done)
        .order_by(Job.queued_at.desc(), Job.id.desc())
        .limit(limit)
    ).all()  # fmt: skip
    warmed, converted = int(totals[0] or 0), int(totals[1] or 0)
    return {
        "warmed_by_misses": warmed,
        "converted": converted,
        "conversion_rate": round(converted / warmed, 3) if warmed else None,
        "patterns": [
            {
                "job_id": row.id,
                "repo": row.name,
                "artifact_type": row.artifact_type,
                "path": row.path,
                "finished_at": row.finished_at.isoformat() if row.finished_at else None,
                "misses_before": row.misses_before,
                "hits_after": row.hits_after,
                "converted": bool(row.converted),
            }
            for row in rows
        ],
    }
