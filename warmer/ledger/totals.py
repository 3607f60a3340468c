"""Running totals for the Prometheus counters: folded in increments, kept through retention.

A counter must never go down, and a scrape must not read history. So each total is a small
`ledger_totals` row (or `job_duration_totals` per artifact type) plus a watermark, and each fold
adds only what happened since: jobs completed after the watermark (ix_jobs_finished_status),
lookup days closed since (lookup_daily). Folds run at scrape time under the watermark row's
lock, so two consoles scraping at once fold each increment once. Retention adds what it prunes
to `pruned:*` totals, so live counts plus pruned totals stay whole.

Only settled rows are folded: a job whose completion committed more than SETTLE_SECS ago (no
transaction stays open that long: the server ends idle ones after 15 s), a day that ended more
than SETTLE_SECS ago. The open remainder is counted live, and it is small.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Float, case, cast, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from warmer.ledger.lookup_stats import day_of
from warmer.ledger.models import Job, JobDurationTotal, JobStatus, LedgerTotal, LookupDaily

SETTLE_SECS = 60
_D = LookupDaily
DURATION_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
DURATIONS_MARK = "mark:durations"
PRUNED_RECLAIMS = "pruned:reclaims"
PRUNED_RETRIES = "pruned:retries"
PRUNED_COMPLETED = "pruned:completed"  # completed jobs retention deleted (the jobs gauge subtracts them)
LOOKUPS_MARK = "mark:lookups"


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def locked_mark(session: Session, name: str) -> datetime | None:
    """The watermark `name`, its row locked until the transaction ends (created if missing)."""
    session.execute(
        _insert(session)(LedgerTotal).values(name=name, value=0, at=None).on_conflict_do_nothing()
    )
    query = select(LedgerTotal.at).where(LedgerTotal.name == name)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.execute(query).scalar_one()


def add(session: Session, name: str, amount: int) -> None:
    """Add `amount` to the total `name` (retention's pruned counts)."""
    if not amount:
        return
    statement = _insert(session)(LedgerTotal).values(name=name, value=amount)
    session.execute(
        statement.on_conflict_do_update(index_elements=["name"], set_={"value": LedgerTotal.value + amount})
    )


def get(session: Session, names: list[str]) -> dict[str, int]:
    rows = session.execute(select(LedgerTotal.name, LedgerTotal.value).where(LedgerTotal.name.in_(names)))
    return {name: 0 for name in names} | {name: int(value) for name, value in rows}


def _seconds(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", Job.finished_at - Job.started_at)
    return (func.julianday(Job.finished_at) - func.julianday(Job.started_at)) * 86400.0


def fold_durations(session: Session, now: datetime) -> int:
    """Add jobs completed since the watermark to the run-time histograms; returns how many."""
    mark = locked_mark(session, DURATIONS_MARK)
    until = now - timedelta(seconds=SETTLE_SECS)
    if mark is not None and mark >= until:
        return 0
    seconds = _seconds(session)
    where = [Job.finished_at.is_not(None), Job.finished_at <= until, Job.status == JobStatus.COMPLETED,
             Job.started_at.is_not(None)]  # fmt: skip
    if mark is not None:
        where.append(Job.finished_at > mark)
    rows = session.execute(
        select(Job.artifact_type, func.count(), func.sum(cast(seconds, Float)),
               *[func.sum(case((seconds <= bound, 1), else_=0)) for bound in DURATION_BUCKETS])
        .where(*where)
        .group_by(Job.artifact_type)
    ).all()  # fmt: skip
    folded = 0
    for artifact, count, total, *buckets in rows:
        current = session.get(JobDurationTotal, artifact)
        added = [int(n or 0) for n in buckets]
        if current is None:
            session.add(JobDurationTotal(artifact_type=artifact, count=count, sum_seconds=float(total or 0),
                                         buckets=added))  # fmt: skip
        else:
            current.count += count
            current.sum_seconds += float(total or 0)
            current.buckets = [a + b for a, b in zip(current.buckets, added, strict=True)]
        folded += count
    session.execute(update(LedgerTotal).where(LedgerTotal.name == DURATIONS_MARK).values(at=until))
    return folded


def durations(session: Session, now: datetime) -> list[tuple[str, int, float, list[int]]]:
    """(artifact type, count, sum of seconds, cumulative bucket counts) of every completed job:
    the folded totals plus the few completions not settled yet."""
    fold_durations(session, now)
    out = {row.artifact_type: [row.count, row.sum_seconds, list(row.buckets)]
           for row in session.execute(select(JobDurationTotal)).scalars()}  # fmt: skip
    mark = session.execute(select(LedgerTotal.at).where(LedgerTotal.name == DURATIONS_MARK)).scalar_one()
    seconds = _seconds(session)
    recent = session.execute(
        select(Job.artifact_type, func.count(), func.sum(cast(seconds, Float)),
               *[func.sum(case((seconds <= bound, 1), else_=0)) for bound in DURATION_BUCKETS])
        .where(Job.finished_at.is_not(None), Job.finished_at > mark, Job.status == JobStatus.COMPLETED,
               Job.started_at.is_not(None))
        .group_by(Job.artifact_type)
    ).all() if mark is not None else []  # fmt: skip
    for artifact, count, total, *buckets in recent:
        entry = out.setdefault(artifact, [0, 0.0, [0] * len(DURATION_BUCKETS)])
        entry[0] += count
        entry[1] += float(total or 0)
        entry[2] = [a + int(b or 0) for a, b in zip(entry[2], buckets, strict=True)]
    return [(artifact, int(c), float(s), b) for artifact, (c, s, b) in sorted(out.items())]


def lookup_totals(session: Session, now: datetime) -> dict[tuple[str, str], int]:
    """Lookups ever recorded per (artifact type, "hit" | "miss"): closed days folded into totals
    (`lookups:<artifact>:<result>`), the open day summed from the daily rollup."""
    mark = locked_mark(session, LOOKUPS_MARK)
    until = day_of(now - timedelta(seconds=SETTLE_SECS))  # days before this one are closed
    if mark is None or mark < until:
        where = [_D.day < until] + ([_D.day >= mark] if mark is not None else [])
        for artifact, hits, misses in session.execute(
            select(_D.artifact_type, func.sum(_D.hits), func.sum(_D.misses))
            .where(*where)
            .group_by(_D.artifact_type)
        ).all():
            add(session, f"lookups:{artifact}:hit", int(hits or 0))
            add(session, f"lookups:{artifact}:miss", int(misses or 0))
        session.execute(update(LedgerTotal).where(LedgerTotal.name == LOOKUPS_MARK).values(at=until))
        mark = until
    out: dict[tuple[str, str], int] = {}
    for name, value in session.execute(
        select(LedgerTotal.name, LedgerTotal.value).where(LedgerTotal.name.like("lookups:%"))
    ).all():
        _, artifact, result = name.split(":", 2)
        out[(artifact, result)] = int(value)
    for artifact, hits, misses in session.execute(
        select(_D.artifact_type, func.sum(_D.hits), func.sum(_D.misses))
        .where(_D.day >= mark)
        .group_by(_D.artifact_type)
    ).all():
        out[(artifact, "hit")] = out.get((artifact, "hit"), 0) + int(hits or 0)
        out[(artifact, "miss")] = out.get((artifact, "miss"), 0) + int(misses or 0)
    return out
