"""Run one job: lock, claim, run with heartbeats, then complete or fail, all through the ledger.

The same runner serves Celery workers (Postgres, advisory locks) and the
embedded `warmer warm` (SQLite, one process). The message only carries the
job id; the ledger decides whether it runs, so a duplicate delivery is a no-op.

Every transition of a job goes over the process's own JobConnection, which
also holds the job's advisory lock: a job costs a handful of statements and
three commits (claimed, running, finished), no pool checkouts.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from warmer.artifacts import registry
from warmer.artifacts.base import GenerationContext, JobLost, JobTimedOut, PermanentError
from warmer.cache import freshness
from warmer.cache.extracts import MEMO, DbExtractCache
from warmer.cache.store import write_result
from warmer.git import mirror
from warmer.git.snapshot import Snapshot
from warmer.ledger import outbox, transitions
from warmer.ledger.db import Database
from warmer.ledger.locks import JobConnection
from warmer.ledger.models import JobStatus, Repository
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
    LOST = "lost"  # the ledger gave the job to another worker, or went away, while we ran it


@dataclass(frozen=True)
class RunReport:
    job_id: int
    outcome: Outcome
    error: str | None = None
    calls: dict[str, int] | None = None  # on completion: the generator's counts (extracted, reused …)


@dataclass(frozen=True)
class _Source:
    name: str
    url: str


class JobRunner:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        worker_id: str,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.db = db
        self.progress = progress  # handed to each GenerationContext (see GenerationContext.report)
        self.settings = settings
        self.worker_id = worker_id
        self.connection = JobConnection(db.engine)
        self.heartbeat = JobHeartbeat(self.connection, settings.worker.heartbeat_secs)
        MEMO.resize(settings.extract_memo_mb * 1024 * 1024)
        self._sources: dict[int, _Source] = {}  # a repository's name and source never change
        self._present: set[tuple[Path, str]] = set()  # (mirror, commit) pairs known to be there

    def run(self, job_id: int) -> RunReport:
        locked = False
        try:
            with self.connection.transaction() as conn:
                locked, claim = self.connection.lock_and_claim(conn, job_id, self.worker_id)
        except DBAPIError as exc:
            self.connection.unlock()
            raise LedgerUnavailable(str(exc).splitlines()[0]) from exc
        if not locked:
            log.info("job_id=%s is locked by another worker; skipping this delivery", job_id)
            with self.connection.transaction() as conn:  # if it is queued, it needs another message
                outbox.forget(conn, job_id)
            return RunReport(job_id, Outcome.SKIPPED)
        if claim is None:
            self.connection.unlock()
            log.info("job_id=%s is not queued or not due; skipping this delivery", job_id)
            with self.connection.transaction() as conn:  # not due yet: the poller publishes it when it is
                outbox.forget(conn, job_id)
            return RunReport(job_id, Outcome.SKIPPED)
        log.info("claimed job job_id=%s artifact_type=%s", job_id, claim.artifact_type)
        try:
            return self._run_claimed(claim)
        finally:
            self.connection.unlock()  # a no-op when completion already released it

    def _run_claimed(self, claim: transitions.Claim) -> RunReport:
        try:
            with self.connection.transaction() as conn:
                if not transitions.mark_running(conn, claim):
                    return RunReport(claim.job_id, Outcome.LOST)
        except DBAPIError as exc:
            return self._ledger_lost(claim, exc)
        lost = self.heartbeat.watch(claim)
        try:
            return self._generate(claim, lost)
        except JobLost:
            log.warning("job_id=%s lost its claim while running; its result is discarded", claim.job_id)
            return RunReport(claim.job_id, Outcome.LOST)
        except JobTimedOut:
            error = f"timed out after {self.settings.worker.job_timeout_secs:g}s (JOB_TIMEOUT_SECS)"
            return self._fail(claim, error, permanent=False)
        except PermanentError as exc:
            return self._fail(claim, str(exc), permanent=True)
        except DBAPIError as exc:
            return self._ledger_lost(claim, exc)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"
            return self._fail(claim, error, permanent=False)
        finally:
            self.heartbeat.unwatch()

    def _generate(self, claim: transitions.Claim, lost: threading.Event) -> RunReport:
        generator = registry.get(claim.artifact_type)
        source = self._source(claim.repo_id)

        deadline = time.monotonic() + self.settings.worker.job_timeout_secs

        def checkpoint() -> None:
            if lost.is_set():
                raise JobLost(claim.job_id)
            if time.monotonic() > deadline:
                raise JobTimedOut(claim.job_id)

        snapshot = Snapshot(self.repository_path(source, claim.commit), claim.commit, shared=True)
        try:
            ctx = GenerationContext(
                repo_name=source.name,
                branch=claim.branch,
                snapshot=snapshot,
                scope=claim.scope,
                params=claim.params,
                extracts=DbExtractCache(self.db, generator.artifact_type, generator.version),
                checkpoint=checkpoint,
                ledger=self.db,
                progress=self.progress,
            )
            result = generator.generate(ctx)
        finally:
            snapshot.close()
        checkpoint()
        # Entries and completion commit together, entries first: if the completion finds the claim
        # lost, JobLost rolls the entries back. The completing statement also releases the lock.
        with self.connection.transaction() as conn:
            write_result(
                conn,
                repo_id=claim.repo_id,
                branch=claim.branch,
                commit=claim.commit,
                artifact_type=generator.artifact_type,
                version=generator.version,
                result=result,
                job_id=claim.job_id,
                complete=claim.scope is None,
                indexer=getattr(generator, "index_entries", None),
            )
            if not transitions.mark_completed(conn, claim, release_lock=self.connection.key):
                raise JobLost(claim.job_id)
            self.connection.forget_lock()
        log.info("completed job job_id=%s artifact_type=%s", claim.job_id, claim.artifact_type)
        self._catch_up(claim, snapshot)
        return RunReport(claim.job_id, Outcome.COMPLETED, calls=dict(result.calls))

    def _catch_up(self, claim: transitions.Claim, snapshot: Snapshot) -> None:
        """Pushes may have moved the head while the job ran: carry its refs forward where nothing
        they read changed since. Best effort: the leader's sweep retries what fails here."""
        try:
            with self.connection.transaction() as conn:
                freshness.advance(conn, snapshot.repo, claim.repo_id, claim.branch, [claim.artifact_type])
        except Exception:
            log.exception("job_id=%s: cannot carry its refs to the branch head", claim.job_id)

    def _source(self, repo_id: int) -> _Source:
        if repo_id not in self._sources:
            with self.connection.transaction() as conn:
                row = conn.execute(
                    select(Repository.name, Repository.source).where(Repository.id == repo_id)
                ).one()
            self._sources[repo_id] = _Source(row.name, row.source)
        return self._sources[repo_id]

    def repository_path(self, source: _Source, commit: str) -> Path:
        """This host's mirror of the repository, cloned or fetched as needed to hold `commit`."""
        path = mirror.mirror_path(self.settings.data_dir, source.name, source.url)
        if (path, commit) not in self._present:  # a fetched commit stays in the mirror
            mirror.ensure_mirror(source.url, path)
            mirror.resolve_commit(path, commit)  # fetches once when the commit is new to this mirror
            self._present.add((path, commit))
        return path

    def _ledger_lost(self, claim: transitions.Claim, exc: DBAPIError) -> RunReport:
        # The ledger went away mid-job: not the generator's fault. The job stays running with a
        # dead lock; the reaper brings it back when the ledger returns.
        log.warning("job_id=%s lost the ledger while running: %s", claim.job_id, str(exc).splitlines()[0])
        return RunReport(claim.job_id, Outcome.LOST, str(exc))

    def _fail(self, claim: transitions.Claim, error: str, *, permanent: bool) -> RunReport:
        try:
            with self.connection.transaction() as conn:
                status = transitions.record_failure(
                    conn,
                    claim,
                    error,
                    max_retries=self.settings.worker.max_retries,
                    backoff_secs=self.settings.worker.retry_backoff_secs,
                    now=self.db.now(),
                    permanent=permanent,
                )
        except DBAPIError as exc:
            return self._ledger_lost(claim, exc)
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
