"""`warmer jobs`, `job`, `requeue`, `status`: reading and steering the ledger."""

from __future__ import annotations

import json

import click

from warmer.cli import cli, fail, user_errors
from warmer.cli.context import open_ledger, publish_or_explain
from warmer.cli.output import table
from warmer.ledger import queries, transitions
from warmer.ledger.models import Job, JobStatus
from warmer.ledger.repositories import find

STATUSES = [s.value for s in JobStatus]


def _first_line(text: str | None) -> str:
    return text.splitlines()[0] if text else ""


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
    columns = ("id", "repo", "artifact", "trigger", "status", "attempts", "commit", "queued", "error")
    table(columns, [
        (
            row["id"], row["repo"], row["artifact_type"], row["trigger"], row["status"], row["attempts"],
            row["commit"][:10], _age(row["queued_at"]), _first_line(row["error"]),
        )
        for row in rows
    ])  # fmt: skip


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
    fields = [(key, detail[key]) for key in queries.JOB_FIELDS if key != "error"]
    fields.append(("failures / reclaims", f"{detail['failures']} / {detail['reclaims']}"))
    fields += [(f"time {phase}", f"{seconds:.3f}s") for phase, seconds in detail["phases_seconds"].items()]
    table(("field", "value"), fields)
    table(("at", "from", "to", "actor", "attempt", "detail"), [
        (
            _age(event["at"]), event["from"] or "-", event["to"], event["actor"], event["attempt"],
            (event["detail"] or "").splitlines()[0][:80] if event["detail"] else "",
        )
        for event in detail["events"]
    ], title="history")  # fmt: skip
    if detail["error"]:
        click.echo("error")
        click.echo(detail["error"])


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
    click.echo(
        f"queued {data['total_queued']}  in progress {data['in_progress']}  "
        f"completed (24h) {data['completed_24h']}  failed (24h) {data['failed_24h']}"
    )
    columns = ("instance", "hostname", "last heartbeat", "active/concurrency", "processed", "state")
    table(columns, [
        (
            inst["id"], inst["hostname"], _age(inst["heartbeat_at"]),
            f"{inst['active_jobs']}/{inst['concurrency']}", inst["jobs_processed"],
            "stale" if inst["stale"] else "alive",
        )
        for inst in data["instances"]
    ], title="warmer instances")  # fmt: skip
