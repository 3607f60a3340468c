"""What the console's buttons do: re-queue a failed job, trigger a full warming, connect and
disconnect a repository. Each changes the ledger first and then publishes messages; a broker
outage leaves the jobs queued for the workers' poller, exactly as the CLI does.

Blocking (git fetches, database): handlers run these in a thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import insert, update

from warmer.console import job_list
from warmer.console.context import ConsoleContext
from warmer.console.data import NotFound
from warmer.console.params import JobFilters
from warmer.console.redact import redact_text, redact_tree
from warmer.ledger import transitions
from warmer.ledger.models import Job, JobStatus, LedgerAudit, Trigger
from warmer.ledger.repositories import UnknownRepository, find
from warmer.publisher import publish
from warmer.triggers.connect import connect, disconnect
from warmer.triggers.manual import full_warming
from warmer.triggers.plan import Planned


def _publish(ctx: ConsoleContext, jobs: Sequence[tuple[int, Trigger, int]]) -> dict[str, Any]:
    if not jobs:
        return {"published": 0, "note": "nothing new to publish"}
    try:
        sent = publish(ctx.capp, ctx.db, jobs)
    except Exception as exc:  # any broker failure: the ledger rows stand, the poller publishes later
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return {
            "published": 0,
            "note": redact_text(f"broker unreachable ({first}); the jobs stay queued for the workers"),
        }
    return {"published": sent, "note": f"published {sent} message(s)"}


def _planned(ctx: ConsoleContext, planned: Planned) -> dict[str, Any]:
    created = planned.created
    return {
        "repo": planned.repo,
        "commit": planned.commit,
        "jobs": [job.job_id for job in planned.jobs],
        "created": [job.job_id for job in created],
        **_publish(ctx, [(job.job_id, job.trigger, job.priority) for job in created]),
    }


def requeue(ctx: ConsoleContext, job_id: int, actor: str) -> dict[str, Any]:
    """failed → queued. Raises NotFound, or TransitionRefused when the job is not failed."""
    with ctx.db.session() as session:
        if session.get(Job, job_id) is None:
            raise NotFound(f"job {job_id} does not exist")
        transitions.requeue(session, job_id, actor=actor)
        row = session.get(Job, job_id)
        assert row is not None
        message = (job_id, row.trigger, row.priority)
    return {"job_id": job_id, "status": "queued", **_publish(ctx, [message])}


BULK_BATCH = 200
BULK_MAX = 10_000


def bulk_requeue(ctx: ConsoleContext, filters: JobFilters, actor: str) -> dict[str, Any]:
    """Re-queue every failed job the filters match (at most BULK_MAX), as one audited action: one
    `ledger_audit` row says who, which filter and how many; each job's own event names the
    action. Batches of BULK_BATCH, each its own transaction, published as they go; a job that
    changed state meanwhile (or whose twin is already active) is skipped and counted."""
    filters = replace(filters, statuses=(JobStatus.FAILED,), after=None, before=None, sort="oldest")
    with ctx.db.session() as session:
        audit = session.execute(
            insert(LedgerAudit).values(actor=actor, action="bulk_requeue",
                                       detail={"filters": filters.filter_query(), "state": "started"})
            .returning(LedgerAudit.id)
        ).scalar_one()  # fmt: skip
    requeued: list[int] = []
    skipped: dict[int, str] = {}
    published, notes, last = 0, [], 0
    while len(requeued) + len(skipped) < BULK_MAX:
        messages = []
        with ctx.db.session() as session:
            room = min(BULK_BATCH, BULK_MAX - len(requeued) - len(skipped))
            batch = job_list.matching_ids(session, filters, ctx.db.now(), last, room)
            for job_id in batch:
                try:
                    with session.begin_nested():
                        transitions.requeue(
                            session, job_id, actor=actor, detail=f"re-queued by hand (bulk #{audit})"
                        )
                except transitions.TransitionRefused as exc:
                    skipped[job_id] = str(exc)
                    continue
                row = session.get(Job, job_id)
                assert row is not None
                messages.append((job_id, row.trigger, row.priority))
                requeued.append(job_id)
        if not batch:
            break
        last = batch[-1]
        sent = _publish(ctx, messages)
        published += sent["published"]
        if sent["note"] not in notes:
            notes.append(sent["note"])
    summary = {"filters": filters.filter_query(), "state": "done", "requeued": len(requeued),
               "skipped": len(skipped), "published": published, "job_ids": requeued[:1000],
               "capped": len(requeued) + len(skipped) >= BULK_MAX}  # fmt: skip
    with ctx.db.session() as session:
        session.execute(update(LedgerAudit).where(LedgerAudit.id == audit).values(detail=summary))
    return redact_tree({"audit_id": audit, **summary, "skipped_reasons": dict(list(skipped.items())[:20]),
                        "note": "; ".join(notes) or "nothing matched"})  # fmt: skip


def _known(ctx: ConsoleContext, name: str) -> str:
    with ctx.db.session() as session:
        try:
            return find(session, name).name
        except UnknownRepository as exc:
            raise NotFound(str(exc)) from None


def trigger_full_warming(ctx: ConsoleContext, repo_name: str, actor: str) -> dict[str, Any]:
    """Every baseline artifact again at the tracked branch head (manual trigger)."""
    name = _known(ctx, repo_name)
    return redact_tree(_planned(ctx, full_warming(ctx.db, ctx.settings, name, actor=actor)))


def connect_repository(
    ctx: ConsoleContext, source: str | None, name: str | None, branch: str | None
) -> dict[str, Any]:
    """Connect a new repository, or re-connect a known one by name (its stored source is reused,
    so a clone URL with a token never has to travel through the browser again)."""
    if not source:
        if not name:
            raise ValueError("give a source (path or clone URL), or the name of a known repository")
        with ctx.db.session() as session:
            try:
                repo = find(session, name)
            except UnknownRepository as exc:
                raise NotFound(str(exc)) from None
            source, name, branch = repo.source, repo.name, branch or repo.branch
    result = connect(ctx.db, ctx.settings, source, name=name, branch=branch)
    out: dict[str, Any] = {
        "repo": result.repo.name,
        "branch": result.repo.branch,
        "reason": result.reason,
        "source": result.repo.source,
    }
    if result.planned is not None:
        out.update(_planned(ctx, result.planned))
    else:
        out.update(jobs=[], created=[], published=0, note="no jobs queued")
    return redact_tree(out)


def disconnect_repository(ctx: ConsoleContext, name: str) -> dict[str, Any]:
    name = _known(ctx, name)
    repo = disconnect(ctx.db, name)
    stopped = repo.disconnected_at.isoformat() if repo.disconnected_at else None
    return {"repo": repo.name, "connected": repo.connected, "disconnected_at": stopped}
