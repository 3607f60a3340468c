"""Ingesting JUnit reports into a repository's failure fingerprints, and reading them back.

One report is one transaction: the report row (unique per repository and file hash, so the same file
uploaded twice counts once) and every fingerprint it adds to. Counts are added by the database
(`count = count + excluded.count`), never read-modified-written, so concurrent ingests of different
files on Postgres lose nothing. Afterwards a refresh of the `known_failure_fingerprint` artifact is
queued so that the cache serves the new counts.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from warmer.artifacts.failures.junit import MAX_REPORT_BYTES, JunitError, parse_junit
from warmer.artifacts.failures.normalize import Signature, signature
from warmer.ledger import transitions
from warmer.ledger.db import Database, utcnow
from warmer.ledger.models import BranchState, FailureFingerprint, Job, JobStatus, JunitReport, Trigger
from warmer.ledger.repositories import find

log = logging.getLogger("warmer.failures")

ARTIFACT_TYPE = "known_failure_fingerprint"
SAMPLE_CHARS = 2000
_COMMIT = re.compile(r"[0-9a-fA-F]{4,64}")
_MAX_REFRESH_CHAIN = 5
_FINGERPRINTS = FailureFingerprint.__table__


@dataclass(frozen=True)
class Refresh:
    """The job queued to rebuild the artifact, or why none was."""

    job_id: int | None
    created: bool
    commit: str | None
    reason: str
    trigger: Trigger = Trigger.MANUAL
    priority: int = 0


@dataclass
class IngestReport:
    repo: str
    sha256: str
    duplicate: bool
    tests: int
    failures: int
    new_fingerprints: list[str] = field(default_factory=list)
    known_fingerprints: list[str] = field(default_factory=list)
    refresh: Refresh | None = None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.refresh is not None:
            data["refresh"] = {
                "job_id": self.refresh.job_id,
                "created": self.refresh.created,
                "commit": self.refresh.commit,
                "reason": self.refresh.reason,
            }
        return data


@dataclass
class _Group:
    """Every failure of one report that shares a fingerprint."""

    signature: Signature
    count: int
    test_name: str
    sample: str


def _groups(failures: list[Any]) -> dict[str, _Group]:
    groups: dict[str, _Group] = {}
    seen: Counter[str] = Counter()
    for failure in failures:
        sig = signature(failure.kind, failure.exc_type, failure.message, failure.text)
        seen[sig.fingerprint] += 1
        raw = failure.message.strip() or failure.text.strip()
        # The last failure of the report is the "last seen" one.
        groups[sig.fingerprint] = _Group(sig, seen[sig.fingerprint], failure.test_name, raw[:SAMPLE_CHARS])
    return groups


def ingest_junit(
    db: Database, repo_name: str, data: bytes, *, source: str, commit: str | None = None
) -> IngestReport:
    """Count a report's failures into the repository's fingerprints (once per distinct file).

    Raises JunitError before touching the ledger when the file cannot be read, and
    UnknownRepository when the repository is not connected here."""
    if commit is not None and not _COMMIT.fullmatch(commit):
        raise JunitError(f"--commit {commit!r} is not a commit id (4 to 64 hex digits)")
    parsed = parse_junit(data, max_bytes=MAX_REPORT_BYTES)
    digest = hashlib.sha256(data).hexdigest()
    groups = _groups(parsed.failures)
    with db.session() as session:
        repo = find(session, repo_name)
        repo_id, name, branch, connected = repo.id, repo.name, repo.branch, repo.connected
        builder = postgresql.insert if db.is_postgres else sqlite.insert
        # The unique (repo, sha256) index decides duplicates: a concurrent ingest of the same file
        # waits on it and then inserts nothing.
        report_id = session.execute(
            builder(JunitReport.__table__)
            .values(
                repo_id=repo_id,
                sha256=digest,
                source=source[:20],
                commit=commit,
                tests=parsed.tests,
                failures=len(parsed.failures),
            )
            .on_conflict_do_nothing(index_elements=["repo_id", "sha256"])
            .returning(JunitReport.id)
        ).scalar_one_or_none()
        if report_id is None:
            return IngestReport(name, digest, True, parsed.tests, len(parsed.failures))
        new, known = _upsert(session, builder, repo_id, groups)
    report = IngestReport(name, digest, False, parsed.tests, len(parsed.failures), new, known)
    if groups:
        report.refresh = _refresh(db, repo_id, name, branch, connected)
    log.info(
        "ingested junit report repo=%s sha256=%s tests=%d failures=%d new=%d known=%d",
        name, digest[:12], parsed.tests, len(parsed.failures), len(new), len(known),
    )  # fmt: skip
    return report


def _upsert(
    session: Session, builder: Any, repo_id: int, groups: dict[str, _Group]
) -> tuple[list[str], list[str]]:
    """Add each group's count to its fingerprint row; returns (new, known) fingerprints.

    Sorted, so two transactions touching the same rows lock them in the same order (no deadlock).
    A row whose count after the upsert equals what this report added was created by it: that holds
    under concurrency too, unlike reading the table first."""
    new: list[str] = []
    known: list[str] = []
    for fingerprint in sorted(groups):
        group = groups[fingerprint]
        statement = builder(_FINGERPRINTS).values(
            repo_id=repo_id,
            fingerprint=fingerprint,
            exception_type=group.signature.exception_type[:300],
            message=group.signature.message,
            frames=list(group.signature.frames),
            test_name=group.test_name,
            sample=group.sample,
            count=group.count,
        )
        total = session.execute(
            statement.on_conflict_do_update(
                index_elements=["repo_id", "fingerprint"],
                set_={
                    "count": _FINGERPRINTS.c["count"] + statement.excluded["count"],
                    "last_seen": utcnow(),
                    "test_name": statement.excluded.test_name,
                    "sample": statement.excluded.sample,
                },
            ).returning(_FINGERPRINTS.c["count"])
        ).scalar_one()
        (new if total == group.count else known).append(fingerprint)
    return new, known


def _refresh(db: Database, repo_id: int, name: str, branch: str, connected: bool) -> Refresh:
    """Queue the artifact's rebuild at the commit the branch's cache was last planned from.

    An identical queued job will read the new counts when it runs, so it is enough. One already
    claimed or running may have read the table before this commit: the job after it is queued,
    told apart by the running job's id (the ledger keeps one active job per identical request), so
    a burst of ingests queues at most one job behind the running one."""
    if not connected:
        return Refresh(None, False, None, f"repository {name!r} is disconnected: no refresh queued")
    with db.session() as session:
        base = session.get(BranchState, (repo_id, branch))
        if base is None:
            return Refresh(
                None, False, None, f"no commit of branch {branch!r} is known yet (warm the repository first)"
            )
        spec = transitions.JobSpec(
            repo_id=repo_id,
            branch=branch,
            commit=base.commit,
            artifact_type=ARTIFACT_TYPE,
            trigger=Trigger.MANUAL,
        )
        enqueued = transitions.enqueue(session, spec, actor="junit-ingest")
        for _ in range(_MAX_REFRESH_CHAIN):
            if enqueued.created:
                break
            status = session.execute(select(Job.status).where(Job.id == enqueued.job_id)).scalar_one()
            if status == JobStatus.QUEUED:
                break
            # The active twin is past reading the table: queue the job that comes after it.
            spec = replace(spec, params={"refresh_after_job": enqueued.job_id})
            enqueued = transitions.enqueue(session, spec, actor="junit-ingest")
        commit = base.commit
    reason = f"job {enqueued.job_id} {'queued' if enqueued.created else 'already queued'} at {commit[:12]}"
    return Refresh(enqueued.job_id, enqueued.created, commit, reason, enqueued.trigger, enqueued.priority)


def fingerprints(db: Database, repo_name: str, limit: int = 100) -> list[dict[str, Any]]:
    """A repository's fingerprints, most frequent first (then most recent)."""
    with db.session() as session:
        repo_id = find(session, repo_name).id
        rows = session.execute(
            select(FailureFingerprint)
            .where(FailureFingerprint.repo_id == repo_id)
            .order_by(
                FailureFingerprint.count.desc(), FailureFingerprint.last_seen.desc(), FailureFingerprint.id
            )
            .limit(limit)
        ).scalars()
        return [
            {
                "fingerprint": row.fingerprint,
                "exception_type": row.exception_type,
                "message": row.message,
                "frames": list(row.frames),
                "count": int(row.count),
                "first_seen": row.first_seen.isoformat(),
                "last_seen": row.last_seen.isoformat(),
                "test_name": row.test_name,
                "sample": row.sample,
            }
            for row in rows
        ]
