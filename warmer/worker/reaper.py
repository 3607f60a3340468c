"""StaleJobReaper brings back jobs whose worker died or went silent.

A claimed/running job is reclaimed when its heartbeat is older than
STALE_THRESHOLD_SECS (if a hung worker still holds the job's lock, its database
session is ended, fencing it off), or much sooner when no database session has held its
advisory lock for LOCK_GRACE_SECS, seen by two reaper passes (the worker's
connection closed, e.g. after kill -9). A live worker whose connection merely
dropped re-takes its lock within a second (see JobHeartbeat), so an absence
that lasts across passes is a dead worker, not a blip. Run by the elected
leader only; a new leader starts its observations afresh.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from warmer.ledger import transitions
from warmer.ledger.db import Database
from warmer.ledger.locks import held_job_locks, terminate_holder
from warmer.ledger.models import Job, JobStatus

log = logging.getLogger("worker_cache_warmer")

# How long a job's lock must be seen absent (and its heartbeat quiet) before the job is reclaimed.
LOCK_GRACE_SECS = 3.0


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
        # (job id, claim token) -> when this leader first saw no session holding the job's lock.
        self._absent_since: dict[tuple[int, str], datetime] = {}
        self._bad_rows: dict[int, str] = {}  # job id -> the problem already reported

    def run_once(self, now: datetime) -> list[Reclaimed]:
        stale_before = now - timedelta(seconds=self.stale_threshold_secs)
        quiet_before = now - timedelta(seconds=LOCK_GRACE_SECS)
        last_sign = func.coalesce(Job.heartbeat_at, Job.claimed_at)
        with self.db.engine.connect() as conn:
            rows = conn.execute(
                select(Job.id, Job.claim_token, Job.worker_id, last_sign.label("last_sign"))
                .where(Job.status.in_([JobStatus.CLAIMED, JobStatus.RUNNING]))
                .order_by(Job.id)
                .limit(5000)
            ).all()
            held = held_job_locks(conn, [row.id for row in rows])
        # Forget observations of jobs that finished, changed hands, or whose lock came back.
        current = {(row.id, row.claim_token) for row in rows}
        self._absent_since = {
            key: seen for key, seen in self._absent_since.items() if key in current and key[0] not in held
        }
        reclaimed: list[Reclaimed] = []
        for row in rows:
            try:
                done = self._consider(row, now, held, stale_before, quiet_before)
            except OperationalError:  # the database went away: not this row's fault, the tick stops
                raise
            except Exception as exc:  # one row it cannot handle must not stop the others: report it
                self._report_bad_row(row.id, exc)
                continue
            self._bad_rows.pop(row.id, None)
            if done is not None:
                reclaimed.append(done)
        return reclaimed

    def _consider(
        self, row: Any, now: datetime, held: set[int], stale_before: datetime, quiet_before: datetime
    ) -> Reclaimed | None:
        silent = (now - row.last_sign).total_seconds()
        key = (row.id, row.claim_token)
        if row.id not in held:
            first_seen = self._absent_since.setdefault(key, now)
            gone_for = (now - first_seen).total_seconds()
            if gone_for < LOCK_GRACE_SECS or row.last_sign >= quiet_before:
                return None
            reason = (
                f"worker {row.worker_id} is gone: no session has held the job's lock for {gone_for:.0f}s "
                f"(last heartbeat {silent:.0f}s ago)"
            )
        elif row.last_sign < stale_before:
            reason = f"heartbeat stale for {silent:.0f}s (STALE_THRESHOLD_SECS={self.stale_threshold_secs:g})"
        else:
            return None
        with self.db.session() as session:
            status = transitions.reclaim(
                session, row.id, row.claim_token, reason, max_retries=self.max_retries, actor=self.actor
            )
            if status is not None and row.id in held:
                # A hung worker still holds the job's lock: end its session, or nobody can claim the job.
                pid = terminate_holder(session.connection(), row.id)
                if pid is not None:
                    log.warning("job_id=%s: ended database session %s of its hung worker", row.id, pid)
        self._absent_since.pop(key, None)
        if status is None:
            return None
        log.warning("reclaimed job job_id=%s -> %s: %s", row.id, status.value, reason)
        return Reclaimed(row.id, status, reason)

    def _report_bad_row(self, job_id: int, exc: Exception) -> None:
        """Say once per distinct problem which row the reaper skips, and why."""
        problem = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        if self._bad_rows.get(job_id) != problem:
            log.error(
                "reaper: job_id=%s cannot be handled, skipped (the other jobs go on): %s", job_id, problem
            )
        self._bad_rows[job_id] = problem
