"""`warmer connect`, `warmer full-warm`, `warmer get`: repositories and their cache entries."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from warmer.cli import cli, user_errors
from warmer.cli.remote import SERVER_ENV, ask_or_none

if TYPE_CHECKING:
    from warmer.triggers.plan import Planned


def _describe(planned: Planned) -> str:
    created = len(planned.created)
    existing = len(planned.jobs) - created
    text = f"{created} job(s) queued at {planned.commit[:12]}"
    return text + (f", {existing} identical job(s) already active" if existing else "")


@cli.command()
@click.argument("source")
@click.option("--name", help="Repository name in the ledger (default: the folder or URL's last part).")
@click.option("--branch", help="Tracked branch (default: the repository's default branch).")
@user_errors
def connect(source: str, name: str | None, branch: str | None) -> None:
    """Mirror a repository (PATH or URL), record it, and enqueue its baseline warming."""
    from warmer.cli.context import open_ledger, publish_or_explain
    from warmer.triggers.connect import connect as connect_repo

    ctx = open_ledger()
    result = connect_repo(ctx.db, ctx.settings, source, name=name, branch=branch)
    click.echo(
        f"{result.repo.name}: {result.reason} (branch {result.repo.branch}, source {result.repo.source})"
    )
    if result.planned is None:
        reason = "connect trigger disabled" if result.reason != "unchanged" else "already connected"
        click.echo(f"no jobs queued ({reason})")
        return
    click.echo(_describe(result.planned))
    click.echo(publish_or_explain(ctx, [(j.job_id, j.trigger, j.priority) for j in result.planned.created]))


@cli.command("full-warm")
@click.argument("repo")
@user_errors
def full_warm(repo: str) -> None:
    """Enqueue every baseline artifact again at the branch head (manual trigger)."""
    from warmer.cli.context import open_ledger, publish_or_explain
    from warmer.triggers.manual import full_warming

    ctx = open_ledger()
    planned = full_warming(ctx.db, ctx.settings, repo, actor="cli")
    click.echo(_describe(planned))
    click.echo(publish_or_explain(ctx, [(j.job_id, j.trigger, j.priority) for j in planned.created]))


@cli.command()
@click.argument("repo")
@click.argument("artifact")
@click.option("--path", default="", help="Per-file entries: the file's path in the repository.")
@click.option(
    "--task-type", required=True, help="What the agent is doing (counted for miss-triggered warming)."
)
@click.option(
    "--server", envvar=SERVER_ENV, metavar="URL",
    help=f"Ask this running `warmer serve` (env {SERVER_ENV}) instead of opening the ledger.",
)  # fmt: skip
@user_errors
def get(repo: str, artifact: str, path: str, task_type: str, server: str | None) -> None:
    """Print a cache entry as JSON; exit 1 on a miss (which is recorded)."""
    answered = ask_or_none(server, repo, f"artifacts/{artifact}", {"path": path, "task_type": task_type})
    if answered is not None:
        hit, found = answered
    else:
        from warmer.cache import agent_api
        from warmer.cli.context import open_ledger

        ctx = open_ledger()
        result = agent_api.get(ctx.db, repo, artifact, task_type=task_type, path=path, settings=ctx.settings)
        hit, found = result.hit, result.as_json()
    if not hit:
        where = f"{found['repo']}{' ' + path if path else ''}"
        warming = f"; job {found['warming_job']} is warming it" if found.get("warming_job") else ""
        click.echo(f"miss: no {artifact} entry for {where} (recorded{warming})", err=True)
        sys.exit(1)
    click.echo(json.dumps(found, indent=2, sort_keys=True))
