"""JobCleaner's counterpart: the leader prunes what has aged out, so the ledger stays the size
of its retention window, not of its history (River's `job_cleaner.go`).

Every RETENTION_INTERVAL_SECS the leader deletes, in batches of BATCH rows, each batch its own
short transaction: completed jobs finished more than RETAIN_COMPLETED_HOURS ago, failed ones
after RETAIN_FAILED_HOURS (a person may still re-queue them until then), their events with them
(the foreign key cascades), and raw lookups older than RETAIN_LOOKUPS_HOURS (never less than the
miss trigger's window: it counts recent misses there), hourly rollup rows after 7 days and daily
ones after 400. Queued, claimed and running jobs are never touched.

What stays: the daily lookup rollup (Analytics' long windows, the lookup counters), one
`ledger_audit` row per run that pruned anything (counts and cutoffs), and the reclaim and retry
events it pruned added to `pruned:*` totals, so the Prometheus counters never go down.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select

from warmer.ledger import totals
from warmer.ledger.db import Database
from warmer.ledger.models import (
    RECLAIM_EVENT,
    RETRY_EVENT,
    CacheLookup,
    Job,
    JobEvent,
    JobStatus,
    LedgerAudit,
    LookupDaily,
    LookupHourly,
)

log = logging.getLogger("worker_cache_warmer")
BATCH = 5000
HOURLY_ROLLUP_HOURS = 24 * 7  # hours serve Analytics windows up to two days
DAILY_ROLLUP_HOURS = 24 * 400  # days serve the longer windows (90 days at most) and the totals


@dataclass(frozen=True)
class RetentionPolicy:
    completed_hours: float
    failed_hours: float
    lookups_hours: float
    interval_secs: float


class JobCleaner:
    def __init__(self, db: Database, policy: RetentionPolicy, actor: str) -> None:
        self.db = db
        self.policy = policy
        self.actor = actor
        self._last_run: float | None = None

    def run_if_due(self, now: datetime) -> dict[str, Any] | None:
        if self._last_run is not None and time.monotonic() - self._last_run < self.policy.interval_secs:
            return None
        self._last_run = time.monotonic()
        return self.run_once(now)

    def run_once(self, now: datetime) -> dict[str, Any]:
        """Prune everything past its cutoff; returns (and audits, if anything went) the counts."""
        cutoffs = {
            "completed_before": now - timedelta(hours=self.policy.completed_hours),
            "failed_before": now - timedelta(hours=self.policy.failed_hours),
            "lookups_before": now - timedelta(hours=self.policy.lookups_hours),
            "hours_before": now - timedelta(hours=HOURLY_ROLLUP_HOURS),
            "days_before": now - timedelta(hours=DAILY_ROLLUP_HOURS),
        }
        summary: dict[str, Any] = {"jobs_completed": 0, "jobs_failed": 0, "events": 0, "lookups": 0,
                                   "lookup_hours": 0, "lookup_days": 0}  # fmt: skip
        for status, key, cutoff in (
            (JobStatus.COMPLETED, "jobs_completed", cutoffs["completed_before"]),
            (JobStatus.FAILED, "jobs_failed", cutoffs["failed_before"]),
        ):
            while True:
                jobs, events = self._prune_jobs(status, cutoff)
                summary[key] += jobs
                summary["events"] += events
                if jobs < BATCH:
                    break
        while (pruned := self._prune_rows(CacheLookup, CacheLookup.at, cutoffs["lookups_before"])) == BATCH:
            summary["lookups"] += pruned
        summary["lookups"] += pruned
        summary["lookup_hours"] = self._prune_rows(
            LookupHourly, LookupHourly.hour, cutoffs["hours_before"], None
        )
        summary["lookup_days"] = self._prune_rows(LookupDaily, LookupDaily.day, cutoffs["days_before"], None)
        if any(summary.values()):
            detail = {**summary, **{k: v.isoformat() for k, v in cutoffs.items()}}
            with self.db.session() as session:
                session.execute(
                    insert(LedgerAudit).values(actor=self.actor, action="retention", detail=detail)
                )
            log.info("retention pruned %s", ", ".join(f"{k}={v}" for k, v in summary.items() if v))
        return summary

    def _prune_jobs(self, status: JobStatus, cutoff: datetime) -> tuple[int, int]:
        """One batch of `status` jobs finished before `cutoff`, oldest first (ix_jobs_finished_status)."""
        with self.db.session() as session:
            query = (
                select(Job.id)
                .where(Job.finished_at.is_not(None), Job.finished_at < cutoff, Job.status == status)
                .order_by(Job.finished_at)
                .limit(BATCH)
            )
            if self.db.is_postgres:  # locked: a person re-queueing one of them waits, or it is skipped
                query = query.with_for_update(skip_locked=True)
            ids = list(session.execute(query).scalars())
            if not ids:
                return 0, 0
            events = session.execute(select(func.count()).where(JobEvent.job_id.in_(ids))).scalar_one()
            reclaims = session.execute(
                select(func.count()).select_from(JobEvent).where(JobEvent.job_id.in_(ids), RECLAIM_EVENT)
            ).scalar_one()
            retries = session.execute(
                select(func.count()).select_from(JobEvent).where(JobEvent.job_id.in_(ids), RETRY_EVENT)
            ).scalar_one()
            totals.add(session, totals.PRUNED_RECLAIMS, reclaims)
            totals.add(session, totals.PRUNED_RETRIES, retries)
            session.execute(delete(JobEvent).where(JobEvent.job_id.in_(ids)))  # also where FKs are off
            # Guarded (SQLite has no row locks): a job whose state changed meanwhile stays.
            deleted = session.execute(delete(Job).where(Job.id.in_(ids), Job.status == status)).rowcount
            if status is JobStatus.COMPLETED:
                totals.add(session, totals.PRUNED_COMPLETED, deleted)
        return deleted, events

    def _prune_rows(self, model: Any, column: Any, cutoff: datetime, batch: int | None = BATCH) -> int:
        with self.db.session() as session:
            if batch is None:
                return session.execute(delete(model).where(column < cutoff)).rowcount
            ids = select(model.id).where(column < cutoff).order_by(column).limit(batch).scalar_subquery()
            return session.execute(delete(model).where(model.id.in_(ids))).rowcount
