"""StaleJobReaper brings back jobs whose worker died or went silent.

A claimed/running job is reclaimed when its heartbeat is older than
STALE_THRESHOLD_SECS, or sooner, when it has missed a heartbeat *and* no
database session holds its advisory lock (the worker's connection closed,
e.g. after kill -9). A lock alone is no proof of death (a dropped connection
releases it while the job may still run), hence the missed-heartbeat check.
Run by the elected leader only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from warmer.ledger import transitions
from warmer.ledger.db import Database
from warmer.ledger.locks import held_job_locks
from warmer.ledger.models import Job, JobStatus

log = logging.getLogger("worker_cache_warmer")

# A heartbeat counts as missed once it is this many intervals old.
MISSED_HEARTBEAT_FACTOR = 1.5


@dataclass(frozen=True)
class Reclaimed:
    job_id: int
    new_status: JobStatus
    reason: str


class StaleJobReaper:
    def __init__(
        self,
        db: Database,
        *,
        heartbeat_secs: float,
        stale_threshold_secs: float,
        max_retries: int,
        actor: str,
    ) -> None:
        self.db = db
        self.heartbeat_secs = heartbeat_secs
        self.stale_threshold_secs = stale_threshold_secs
        self.max_retries = max_retries
        self.actor = actor

    def run_once(self, now: datetime) -> list[Reclaimed]:
        missed_before = now - timedelta(seconds=self.heartbeat_secs * MISSED_HEARTBEAT_FACTOR)
        stale_before = now - timedelta(seconds=self.stale_threshold_secs)
        last_sign = func.coalesce(Job.heartbeat_at, Job.claimed_at)
        with self.db.engine.connect() as conn:
            rows = conn.execute(
                select(Job.id, Job.claim_token, Job.worker_id, last_sign.label("last_sign"))
                .where(Job.status.in_([JobStatus.CLAIMED, JobStatus.RUNNING]), last_sign < missed_before)
                .limit(1000)
            ).all()
            held = held_job_locks(conn, [row.id for row in rows])
        reclaimed: list[Reclaimed] = []
        for row in rows:
            last = row.last_sign
            last = last.replace(tzinfo=now.tzinfo) if last.tzinfo is None else last
            silent = (now - last).total_seconds()
            if row.id not in held:
                reason = (
                    f"worker {row.worker_id} is gone: its lock session closed "
                    f"and it missed heartbeats for {silent:.0f}s"
                )
            elif last < stale_before:
                reason = (
                    f"heartbeat stale for {silent:.0f}s (STALE_THRESHOLD_SECS={self.stale_threshold_secs:g})"
                )
            else:
                continue
            with self.db.session() as session:
                status = transitions.reclaim(
                    session, row.id, row.claim_token, reason, max_retries=self.max_retries, actor=self.actor
                )
            if status is not None:
                log.warning("reclaimed job job_id=%s -> %s: %s", row.id, status.value, reason)
                reclaimed.append(Reclaimed(row.id, status, reason))
        return reclaimed
