"""`warmer warm PATH`: connect a local repository and run its connect jobs right here.

Zero setup: with DATABASE_URL unset the ledger is an embedded SQLite file and
no broker is involved. The jobs go through the same ledger lifecycle as on a
worker, so `warmer jobs`, `warmer job ID` and `warmer get` work afterwards.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from typing import Any

import click
from sqlalchemy import select

from warmer.cli import cli, user_errors
from warmer.cli.context import Context, open_ledger
from warmer.cli.output import print_json, table
from warmer.cli.progress import WarmProgress
from warmer.ledger import queries, transitions
from warmer.ledger.models import Job, JobStatus, Repository
from warmer.settings import Settings
from warmer.triggers.connect import connect
from warmer.triggers.manual import full_warming
from warmer.worker.inline import run_jobs
from warmer.worker.runner import RunReport

WARM_PREFIX = "warm:"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reclaim_abandoned(ctx: Context, repo_id: int) -> int:
    """Jobs left claimed/running by an interrupted `warmer warm` on this host go back to queued.

    The embedded ledger has no reaper and no advisory locks; a dead local pid is proof enough.
    """
    prefix = f"{WARM_PREFIX}{socket.gethostname()}:"
    count = 0
    with ctx.db.session() as session:
        rows = session.execute(
            select(Job.id, Job.claim_token, Job.worker_id).where(
                Job.repo_id == repo_id,
                Job.status.in_([JobStatus.CLAIMED, JobStatus.RUNNING]),
                Job.worker_id.like(prefix + "%"),
            )
        ).all()
        for row in rows:
            pid = int(row.worker_id.rsplit(":", 1)[1])
            if not _pid_alive(pid):
                status = transitions.reclaim(
                    session, row.id, row.claim_token, f"warm process {pid} is gone",
                    max_retries=ctx.settings.worker.max_retries, actor="warm",
                )  # fmt: skip
                count += status is not None
    return count


def choose_artifacts(settings: Settings, only: tuple[str, ...], skip: tuple[str, ...]) -> Settings:
    """The settings with on_connect.artifacts narrowed to `--only` and without `--skip`."""
    if not only and not skip:
        return settings
    from warmer.cache.lookup import known_artifact_types

    known = known_artifact_types()
    for name in (*only, *skip):
        if name not in known:
            raise click.BadParameter(f"unknown artifact type {name!r} (known: {', '.join(sorted(known))})")
    configured = settings.warmers.on_connect.artifacts
    chosen = [a for a in (list(only) if only else configured) if a not in skip]
    if not chosen:
        raise click.UsageError("--only/--skip leave no artifact to warm")
    on_connect = settings.warmers.on_connect.model_copy(update={"artifacts": chosen})
    warmers = settings.warmers.model_copy(update={"on_connect": on_connect})
    engineering_cache = settings.engineering_cache.model_copy(update={"warmers": warmers})
    return settings.model_copy(update={"engineering_cache": engineering_cache})


def describe_calls(calls: dict[str, int] | None) -> str:
    """What a completed job computed and what it reused, in words that do not read as a cache hit."""
    if not calls:
        return "generated"
    parts = []
    if "chunks_embedded" in calls:
        parts.append(f"{calls['chunks_embedded']} chunks embedded, {calls.get('chunks_reused', 0)} reused")
    if "extracted" in calls:
        parts.append(f"{calls['extracted']} files read, {calls.get('reused', 0)} reused from earlier runs")
    computed = calls.get("extracted", 0) + calls.get("chunks_embedded", 0)
    verb = "generated" if computed or not parts else "generated from reused extracts"
    return f"{verb}: {'; '.join(parts)}" if parts else verb


@cli.command()
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--name", help="Repository name (default: the folder's name).")
@click.option("--branch", help="Branch to warm (default: the repository's current default branch).")
@click.option("--only", multiple=True, metavar="ARTIFACT", help="Warm only this artifact type (repeatable).")
@click.option(
    "--skip", multiple=True, metavar="ARTIFACT", help="Do not warm this artifact type (repeatable)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as a JSON list of jobs.")
@user_errors
def warm(
    path: str,
    name: str | None,
    branch: str | None,
    only: tuple[str, ...],
    skip: tuple[str, ...],
    as_json: bool,
) -> None:
    """Connect a local repository and run all its connect jobs in this process."""
    ctx = open_ledger()
    ctx = Context(choose_artifacts(ctx.settings, only, skip), ctx.db)
    # The progress lines and the summary tell the story; per-job log lines would repeat it.
    logging.getLogger("worker_cache_warmer").setLevel(logging.CRITICAL)
    result = connect(ctx.db, ctx.settings, path, name=name, branch=branch)
    planned = result.planned
    if planned is None:  # already connected: warm it again at the current head
        planned = full_warming(ctx.db, ctx.settings, result.repo.name, actor="warm")
    reclaim_abandoned(ctx, result.repo.id)
    jobs = sorted(planned.jobs, key=lambda job: (job.priority, job.job_id))
    with ctx.db.session() as session:
        artifacts = {job.job_id: session.get(Job, job.job_id).artifact_type for job in jobs}  # type: ignore[union-attr]
    click.echo(
        f"warming {result.repo.name} ({result.repo.branch} @ {planned.commit[:12]}): "
        f"{len(jobs)} artifact jobs, ledger {ctx.settings.database_url.split('://')[0]}",
        err=True,
    )
    worker_id = f"{WARM_PREFIX}{socket.gethostname()}:{os.getpid()}"
    calls: dict[int, dict[str, int] | None] = {}
    with WarmProgress(len(jobs)) as progress:
        for job in jobs:
            progress.start(artifacts[job.job_id])

            def on_report(report: RunReport) -> None:
                if report.outcome.value == "completed":
                    calls[report.job_id] = report.calls
                    progress.finish("generated", describe_calls(report.calls).partition(": ")[2])
                elif report.outcome.value == "failed":
                    progress.finish("failed", (report.error or "").splitlines()[0] if report.error else "")
                elif report.outcome.value == "retrying":
                    progress.update("retry", 0, 0)

            run_jobs(ctx.db, ctx.settings, [job.job_id], worker_id, on_report, progress=progress.update)
    sys.exit(_summary(ctx, result.repo, [job.job_id for job in jobs], calls, as_json))


def _summary(
    ctx: Context, repo: Repository, job_ids: list[int], calls: dict[int, dict[str, int] | None], as_json: bool
) -> int:
    """Print one row per artifact (or JSON); exit 1 if a generator that exists failed."""
    now = ctx.db.now()
    rows: list[dict[str, Any]] = []
    with ctx.db.session() as session:
        for job_id in job_ids:
            detail = queries.job_detail(session, job_id, now)
            assert detail is not None
            error = detail["error"] or ""
            unregistered = error.startswith("no generator registered")
            if detail["status"] == JobStatus.COMPLETED.value:
                result = describe_calls(calls.get(job_id))
            elif unregistered:
                result = "not available in this version"
            else:
                result = error.splitlines()[0] if error else detail["status"]
            rows.append({
                "job": job_id, "artifact_type": detail["artifact_type"], "status": detail["status"],
                "attempts": detail["attempts"],
                "running_seconds": round(detail["phases_seconds"]["running"], 3),
                "result": result, "calls": calls.get(job_id), "error": detail["error"],
                "unavailable": unregistered,
            })  # fmt: skip
    if as_json:
        print_json(rows)
    else:
        table(
            ("job", "artifact", "status", "attempts", "running", "result"),
            [(r["job"], r["artifact_type"], r["status"], r["attempts"], f"{r['running_seconds']:.2f}s",
              r["result"]) for r in rows],
            title=f"{repo.name}: warming summary",
        )  # fmt: skip
    failed = any(r["status"] == JobStatus.FAILED.value and not r["unavailable"] for r in rows)
    return 1 if failed else 0
