"""What the console's buttons do: re-queue a failed job, trigger a full warming, connect and
disconnect a repository. Each changes the ledger first and then publishes messages; a broker
outage leaves the jobs queued for the workers' poller, exactly as the CLI does.

Blocking (git fetches, database): handlers run these in a thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from warmer.console.context import ConsoleContext
from warmer.console.data import NotFound
from warmer.console.redact import redact_text, redact_tree
from warmer.ledger import transitions
from warmer.ledger.models import Job, Trigger
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
