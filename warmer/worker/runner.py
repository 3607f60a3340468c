"""Run one job: lock, claim, run with heartbeats, then complete or fail, all through the ledger.

The same runner serves Celery workers (Postgres, advisory locks) and the
embedded `warmer warm` (SQLite, one process). The message only carries the
job id; the ledger decides whether it runs, so a duplicate delivery is a no-op.
"""

from __future__ import annotations

import enum
import logging
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path

from billiard.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import DBAPIError

from warmer.artifacts import registry
from warmer.artifacts.base import GenerationContext, JobLost, PermanentError
from warmer.cache.extracts import DbExtractCache
from warmer.cache.store import write_result
from warmer.git import mirror
from warmer.git.snapshot import Snapshot
from warmer.ledger import transitions
from warmer.ledger.db import Database
from warmer.ledger.locks import SessionLock, job_lock_key
from warmer.ledger.models import Job, JobStatus, Repository
from warmer.settings import Settings
from warmer.worker.heartbeat import JobHeartbeat

log = logging.getLogger("worker_cache_warmer")


class LedgerUnavailable(RuntimeError):
    """The database could not be reached before the job was claimed: safe to try the message later."""


class Outcome(enum.StrEnum):
    COMPLETED = "completed"
    RETRYING = "retrying"
    FAILED = "failed"
    SKIPPED = "skipped"  # not ours to run: duplicate delivery, not due, or already done
    LOST = "lost"  # the ledger gave the job to another worker while we ran it


@dataclass(frozen=True)
class RunReport:
    job_id: int
    outcome: Outcome
    error: str | None = None


class JobRunner:
    def __init__(self, db: Database, settings: Settings, worker_id: str) -> None:
        self.db = db
        self.settings = settings
        self.worker_id = worker_id

    def run(self, job_id: int) -> RunReport:
        lock = SessionLock(self.db.engine, job_lock_key(job_id))
        try:
            locked = lock.acquire()
        except DBAPIError as exc:
            raise LedgerUnavailable(str(exc).splitlines()[0]) from exc
        if not locked:
            log.info("job_id=%s is locked by another worker; skipping this delivery", job_id)
            return RunReport(job_id, Outcome.SKIPPED)
        try:
            try:
                with self.db.session() as session:
                    claim = transitions.claim(session, job_id, self.worker_id)
            except DBAPIError as exc:
                raise LedgerUnavailable(str(exc).splitlines()[0]) from exc
            if claim is None:
                log.info("job_id=%s is not queued or not due; skipping this delivery", job_id)
                return RunReport(job_id, Outcome.SKIPPED)
            log.info("claimed job job_id=%s artifact_type=%s", job_id, claim.artifact_type)
            return self._run_claimed(claim, lock)
        finally:
            lock.release()

    def _run_claimed(self, claim: transitions.Claim, lock: SessionLock) -> RunReport:
        with self.db.session() as session:
            if not transitions.mark_running(session, claim):
                return RunReport(claim.job_id, Outcome.LOST)
        heartbeat = JobHeartbeat(self.db, claim, lock, self.settings.worker.heartbeat_secs).start()
        try:
            return self._generate(claim, heartbeat.lost)
        except JobLost:
            log.warning("job_id=%s lost its claim while running; its result is discarded", claim.job_id)
            return RunReport(claim.job_id, Outcome.LOST)
        except SoftTimeLimitExceeded:
            error = f"timed out after {self.settings.worker.job_timeout_secs:g}s (JOB_TIMEOUT_SECS)"
            return self._fail(claim, error, permanent=False)
        except PermanentError as exc:
            return self._fail(claim, str(exc), permanent=True)
        except DBAPIError as exc:
            # The ledger went away mid-job: not the generator's fault. The job stays
            # running with a dead lock; the reaper brings it back when the ledger returns.
            log.warning("job_id=%s lost the ledger while running: %s", claim.job_id, str(exc).splitlines()[0])
            return RunReport(claim.job_id, Outcome.LOST, str(exc))
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"
            return self._fail(claim, error, permanent=False)
        finally:
            heartbeat.stop()

    def _generate(self, claim: transitions.Claim, lost: threading.Event) -> RunReport:
        generator = registry.get(claim.artifact_type)
        with self.db.session() as session:
            job = session.get(Job, claim.job_id)
            repo = session.get(Repository, job.repo_id)  # type: ignore[union-attr]
            assert job is not None and repo is not None
            session.expunge_all()

        def checkpoint() -> None:
            if lost.is_set():
                raise JobLost(claim.job_id)

        snapshot = Snapshot(self.repository_path(repo, job.commit), job.commit)
        try:
            ctx = GenerationContext(
                repo_name=repo.name,
                branch=job.branch,
                snapshot=snapshot,
                scope=job.scope,
                params=job.params or {},
                extracts=DbExtractCache(self.db, generator.artifact_type, generator.version),
                checkpoint=checkpoint,
            )
            result = generator.generate(ctx)
        finally:
            snapshot.close()
        checkpoint()
        # Completion and the entries commit together: a lost claim writes nothing.
        with self.db.session() as session:
            if not transitions.mark_completed(session, claim):
                raise JobLost(claim.job_id)
            write_result(
                session,
                repo_id=repo.id,
                branch=job.branch,
                commit=job.commit,
                artifact_type=generator.artifact_type,
                version=generator.version,
                result=result,
                job_id=job.id,
            )
        log.info("completed job job_id=%s artifact_type=%s", claim.job_id, claim.artifact_type)
        return RunReport(claim.job_id, Outcome.COMPLETED)

    def repository_path(self, repo: Repository, commit: str) -> Path:
        """This host's mirror of the repository, cloned or fetched as needed to hold `commit`."""
        path = mirror.mirror_path(self.settings.data_dir, repo.name, repo.source)
        mirror.ensure_mirror(repo.source, path)
        mirror.resolve_commit(path, commit)  # fetches once when the commit is new to this mirror
        return path

    def _fail(self, claim: transitions.Claim, error: str, *, permanent: bool) -> RunReport:
        try:
            return self._record_failure(claim, error, permanent=permanent)
        except DBAPIError as exc:
            log.warning("job_id=%s failed and the ledger is away (%s); the reaper will retry it",
                        claim.job_id, str(exc).splitlines()[0])  # fmt: skip
            return RunReport(claim.job_id, Outcome.LOST, error)

    def _record_failure(self, claim: transitions.Claim, error: str, *, permanent: bool) -> RunReport:
        with self.db.session() as session:
            status = transitions.record_failure(
                session,
                claim,
                error,
                max_retries=self.settings.worker.max_retries,
                backoff_secs=self.settings.worker.retry_backoff_secs,
                now=self.db.now(),
                permanent=permanent,
            )
        first_line = error.splitlines()[0] if error else ""
        if status is None:
            return RunReport(claim.job_id, Outcome.LOST, error)
        if status == JobStatus.FAILED:
            log.error(
                "failed job job_id=%s artifact_type=%s error=%s",
                claim.job_id,
                claim.artifact_type,
                first_line,
            )
            return RunReport(claim.job_id, Outcome.FAILED, error)
        log.warning("job_id=%s attempt failed, will retry: %s", claim.job_id, first_line)
        return RunReport(claim.job_id, Outcome.RETRYING, error)
