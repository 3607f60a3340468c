"""`warmer jobs`, `job`, `requeue`, `status`: reading and steering the ledger."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from warmer.cli import cli, fail, user_errors
from warmer.cli.context import open_ledger, publish_or_explain
from warmer.ledger import queries, transitions
from warmer.ledger.models import Job, JobStatus
from warmer.ledger.repositories import find

STATUSES = [s.value for s in JobStatus]


def _age(iso: str | None) -> str:
    return iso[:19].replace("T", " ") if iso else "-"


@cli.command()
@click.option("--status", type=click.Choice(STATUSES), help="Only jobs in this state.")
@click.option("--repo", help="Only jobs of this repository.")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of jobs.")
@user_errors
def jobs(status: str | None, repo: str | None, limit: int, as_json: bool) -> None:
    """List jobs, newest first."""
    ctx = open_ledger()
    with ctx.db.session() as session:
        repo_id = find(session, repo).id if repo else None
        rows = queries.list_jobs(
            session, status=JobStatus(status) if status else None, repo_id=repo_id, limit=limit
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table("id", "repo", "artifact", "trigger", "status", "attempts", "commit", "queued", "error")
    for row in rows:
        error = (row["error"] or "").splitlines()[0][:60] if row["error"] else ""
        table.add_row(
            str(row["id"]), row["repo"], row["artifact_type"], row["trigger"], row["status"],
            str(row["attempts"]), row["commit"][:10], _age(row["queued_at"]), error,
        )  # fmt: skip
    Console().print(table)


@cli.command()
@click.argument("job_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@user_errors
def job(job_id: int, as_json: bool) -> None:
    """One job: its fields, time in each phase, its history and full error."""
    ctx = open_ledger()
    with ctx.db.session() as session:
        detail = queries.job_detail(session, job_id, ctx.db.now())
    if detail is None:
        fail(f"job {job_id} does not exist")
        return
    if as_json:
        click.echo(json.dumps(detail, indent=2))
        return
    console = Console()
    table = Table(show_header=False, box=None)
    for key in queries.JOB_FIELDS:
        if key != "error":
            table.add_row(key, str(detail[key]) if detail[key] is not None else "-")
    table.add_row("failures / reclaims", f"{detail['failures']} / {detail['reclaims']}")
    for phase, seconds in detail["phases_seconds"].items():
        table.add_row(f"time {phase}", f"{seconds:.3f}s")
    console.print(table)
    history = Table("at", "from", "to", "actor", "attempt", "detail", title="history")
    for event in detail["events"]:
        history.add_row(
            _age(event["at"]), event["from"] or "-", event["to"], event["actor"], str(event["attempt"]),
            (event["detail"] or "").splitlines()[0][:80] if event["detail"] else "",
        )  # fmt: skip
    console.print(history)
    if detail["error"]:
        console.print("[bold]error[/bold]")
        console.print(detail["error"], markup=False, highlight=False)


@cli.command()
@click.argument("job_id", type=int)
@user_errors
def requeue(job_id: int) -> None:
    """Put a failed job back in the queue with a fresh allowance of retries."""
    ctx = open_ledger()
    with ctx.db.session() as session:
        transitions.requeue(session, job_id, actor="cli")
        job_row = session.get(Job, job_id)
        message = (job_id, job_row.trigger, job_row.priority)  # type: ignore[union-attr]
    click.echo(f"job {job_id} re-queued")
    click.echo(publish_or_explain(ctx, [message]))


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@user_errors
def status(as_json: bool) -> None:
    """Queue overview and the active warmer instances."""
    ctx = open_ledger()
    with ctx.db.session() as session:
        data = queries.overview(session, ctx.db.now(), ctx.settings.worker.stale_threshold_secs)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    console = Console()
    console.print(
        f"queued {data['total_queued']}  in progress {data['in_progress']}  "
        f"completed (24h) {data['completed_24h']}  failed (24h) {data['failed_24h']}"
    )
    table = Table(
        "instance",
        "hostname",
        "last heartbeat",
        "active/concurrency",
        "processed",
        "state",
        title="warmer instances",
    )
    for inst in data["instances"]:
        table.add_row(
            inst["id"], inst["hostname"], _age(inst["heartbeat_at"]),
            f"{inst['active_jobs']}/{inst['concurrency']}", str(inst["jobs_processed"]),
            "stale" if inst["stale"] else "alive",
        )  # fmt: skip
    console.print(table)
