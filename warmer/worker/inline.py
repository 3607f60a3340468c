"""Running jobs in this process, without a broker: the embedded `warmer warm` path.

The same runner and ledger transitions as a Celery worker; only the delivery
differs. Retries wait for their backoff like anywhere else.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from sqlalchemy import select

from warmer.ledger.db import Database
from warmer.ledger.models import Job, JobStatus
from warmer.settings import Settings
from warmer.worker.runner import JobRunner, Outcome, RunReport


def run_jobs(
    db: Database,
    settings: Settings,
    job_ids: Iterable[int],
    worker_id: str,
    on_report: Callable[[RunReport], None] = lambda report: None,
    progress: Callable[[str, int, int], None] | None = None,
) -> None:
    """Run the given jobs, highest priority first, until each is completed or failed; `progress`
    hears each generator's (unit, done, total)."""
    pending = set(job_ids)
    runner = JobRunner(db, settings, worker_id, progress)
    while pending:
        now = db.now()
        with db.session() as session:
            rows = session.execute(
                select(Job.id, Job.status, Job.available_at)
                .where(Job.id.in_(pending))
                .order_by(Job.priority, Job.id)
            ).all()
        for row in rows:
            if row.status in (JobStatus.COMPLETED, JobStatus.FAILED):
                pending.discard(row.id)
        due = [row.id for row in rows if row.status == JobStatus.QUEUED and row.available_at <= now]
        if not due:
            waits = [
                (row.available_at - now).total_seconds() for row in rows if row.status == JobStatus.QUEUED
            ]
            if not waits:  # claimed or running elsewhere: let that worker finish it
                time.sleep(0.2)
                continue
            time.sleep(min(max(min(waits), 0.05), 5))
            continue
        report = runner.run(due[0])
        on_report(report)
        if report.outcome in (Outcome.COMPLETED, Outcome.FAILED):
            pending.discard(report.job_id)
