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

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from warmer.cli import cli, user_errors
from warmer.cli.context import Context, open_ledger
from warmer.ledger import queries, transitions
from warmer.ledger.models import Job, JobStatus, Repository
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


@cli.command()
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--name", help="Repository name (default: the folder's name).")
@click.option("--branch", help="Branch to warm (default: the repository's current default branch).")
@user_errors
def warm(path: str, name: str | None, branch: str | None) -> None:
    """Connect a local repository and run all its connect jobs in this process."""
    ctx = open_ledger()
    console = Console(stderr=True)
    # The progress bar and the summary table tell the story; per-job log lines would repeat it.
    logging.getLogger("worker_cache_warmer").setLevel(logging.CRITICAL)
    result = connect(ctx.db, ctx.settings, path, name=name, branch=branch)
    planned = result.planned
    if planned is None:  # already connected: warm it again at the current head
        planned = full_warming(ctx.db, ctx.settings, result.repo.name, actor="warm")
    reclaim_abandoned(ctx, result.repo.id)
    job_ids = [job.job_id for job in planned.jobs]
    console.print(
        f"warming [bold]{result.repo.name}[/bold] ({result.repo.branch} @ {planned.commit[:12]}): "
        f"{len(job_ids)} artifact jobs, ledger {ctx.settings.database_url.split('://')[0]}"
    )
    worker_id = f"{WARM_PREFIX}{socket.gethostname()}:{os.getpid()}"
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=False,
    ) as progress:  # fmt: skip
        bar = progress.add_task("warming", total=len(job_ids))

        def on_report(report: RunReport) -> None:
            if report.outcome.value in ("completed", "failed"):
                progress.advance(bar)
            progress.update(bar, description=f"job {report.job_id}: {report.outcome.value}")

        run_jobs(ctx.db, ctx.settings, job_ids, worker_id, on_report)
        progress.update(bar, description="done")
    sys.exit(_summary(ctx, result.repo, job_ids))


def _summary(ctx: Context, repo: Repository, job_ids: list[int]) -> int:
    """Print one row per artifact; exit 1 if a generator that exists failed."""
    now = ctx.db.now()
    table = Table(
        "job", "artifact", "status", "attempts", "running", "result", title=f"{repo.name}: warming summary"
    )
    failed_real = False
    with ctx.db.session() as session:
        for job_id in job_ids:
            detail = queries.job_detail(session, job_id, now)
            assert detail is not None
            error = (detail["error"] or "").splitlines()[0] if detail["error"] else ""
            unregistered = error.startswith("no generator registered")
            if detail["status"] == JobStatus.FAILED.value and not unregistered:
                failed_real = True
            style = {"completed": "green", "failed": "yellow" if unregistered else "red"}.get(
                detail["status"], ""
            )
            table.add_row(
                str(job_id), detail["artifact_type"], f"[{style}]{detail['status']}[/{style}]",
                str(detail["attempts"]), f"{detail['phases_seconds']['running']:.2f}s",
                "not available in this version" if unregistered else (error[:70] or "cached"),
            )  # fmt: skip
    Console().print(table)
    return 1 if failed_real else 0
