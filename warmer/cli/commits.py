"""`warmer commit` and `warmer disconnect`: the commit trigger by hand, and leaving a repository."""

from __future__ import annotations

import logging
import os
import socket

import click

from warmer.cli import cli, user_errors
from warmer.cli.context import Context, open_ledger, publish_or_explain
from warmer.ledger.models import CommitTriggerStatus
from warmer.triggers import commit as commit_trigger
from warmer.triggers.connect import disconnect as disconnect_repo
from warmer.worker.inline import run_jobs


@cli.command()
@click.argument("repo")
@click.option("--sha", help="The pushed commit (default: fetch and take the branch head).")
@click.option("--branch", help="The branch pushed to (default: the tracked branch).")
@click.option("--now", is_flag=True, help="Plan at once instead of waiting out on_commit.debounce_seconds.")
@user_errors
def commit(repo: str, sha: str | None, branch: str | None, now: bool) -> None:
    """Tell warmer about a push; it refreshes only what the changed paths affect."""
    ctx = open_ledger()
    recorded = commit_trigger.record(ctx.db, ctx.settings, repo, sha=sha, branch=branch, source="cli")
    if recorded.status == CommitTriggerStatus.IGNORED:
        click.echo(f"ignored: {recorded.detail}")
        return
    assert recorded.commit is not None
    click.echo(f"commit {recorded.commit[:12]} noted ({recorded.commits_seen} push(es) in this window)")
    # Without a worker (embedded ledger) nobody would close the window later: plan now.
    if now or ctx.settings.embedded or ctx.settings.warmers.on_commit.debounce_seconds == 0:
        commit_trigger.close_window(ctx.db, recorded.trigger_id)
        _plan_now(ctx)
    else:
        click.echo(f"{recorded.detail}; a worker plans it then (or run again with --now)")


def _plan_now(ctx: Context) -> None:
    for planned in commit_trigger.plan_due(ctx.db, ctx.settings, actor="cli"):
        created = [job for job in planned.jobs if job.created]
        click.echo(f"{planned.repo}/{planned.branch} @ {planned.commit[:12]}: {len(created)} job(s) queued")
        for artifact, reason in planned.reasons.items():
            click.echo(f"  {artifact}: {reason}")
        if ctx.settings.embedded:
            logging.getLogger("worker_cache_warmer").setLevel(logging.CRITICAL)  # one line per job below
            worker = f"warm:{socket.gethostname()}:{os.getpid()}"
            run_jobs(ctx.db, ctx.settings, [job.job_id for job in created], worker,
                     lambda report: click.echo(f"  job {report.job_id}: {report.outcome.value}"))  # fmt: skip
        else:
            click.echo(publish_or_explain(ctx, [(j.job_id, j.trigger, j.priority) for j in created]))


@cli.command()
@click.argument("repo")
@user_errors
def disconnect(repo: str) -> None:
    """Stop warming a repository (pushes are ignored); `warmer connect` brings it back."""
    ctx = open_ledger()
    repository = disconnect_repo(ctx.db, repo)
    click.echo(f"{repository.name}: disconnected")
