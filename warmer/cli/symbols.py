"""`warmer symbols` and `warmer search`: find symbols by name, code by meaning, in a repository's cache.

Exit statuses as rg's: 0 when something matched, 1 when nothing did or the index is not there yet
(a recorded miss), 2 for bad input. With `--server` (or WARMER_SERVER_URL) the question goes to a
running `warmer serve`, whose embedding model stays loaded between questions; without one, to the
CLI's resident server (resident.py) once it runs.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from warmer.cli import cli, user_errors
from warmer.cli.output import print_json, table
from warmer.cli.remote import SERVER_ENV, ask_or_none

SERVER_OPTION = click.option(
    "--server", envvar=SERVER_ENV, metavar="URL",
    help=f"Ask this running `warmer serve` (env {SERVER_ENV}) instead of opening the ledger.",
)  # fmt: skip


def _miss(found: dict[str, Any], artifact: str) -> None:
    warming = f"; job {found['warming_job']} is warming it" if found.get("warming_job") else ""
    click.echo(f"miss: no {artifact} entry for {found['repo']} yet (recorded{warming})", err=True)
    sys.exit(1)


@cli.command()
@click.argument("repo")
@click.argument("query")
@click.option(
    "--match", "mode", type=click.Choice(["exact", "prefix", "fuzzy"]), default="fuzzy", show_default=True,
    help="exact: the name (Parent.name narrows); prefix: names starting with QUERY; fuzzy: close names.",
)  # fmt: skip
@click.option("--limit", type=int, default=20, show_default=True, help="At most this many (1-1000).")
@click.option(
    "--task-type", default="symbol_search", show_default=True, help="Counted for miss-triggered warming."
)
@click.option("--json", "as_json", is_flag=True, help="Print the matches as a JSON list.")
@SERVER_OPTION
@user_errors
def symbols(
    repo: str, query: str, mode: str, limit: int, task_type: str, as_json: bool, server: str | None
) -> None:
    """Search the cached symbol index; exit 1 when nothing matches or on a (recorded) miss."""
    params = {"q": query, "match": mode, "limit": limit, "task_type": task_type}
    found = _remote_or_local(server, repo, "symbols", params)
    if not found["hit"]:
        _miss(found, "symbol_index")
    matches = found["matches"]
    if as_json:
        print_json(matches)
    elif not matches:
        click.echo(f"no symbol of {found['repo']} matches {query!r} ({mode})", err=True)
    else:
        rows = [
            (f"{s['file']}:{s['start_line']}", s["kind"], s["name"], s.get("parent"), s.get("signature"),
             s.get("match") or mode)
            for s in matches
        ]  # fmt: skip
        title = f"{found['repo']} @ {(found.get('commit') or '')[:12]}"
        table(("file:line", "kind", "name", "parent", "signature", "match"), rows, title=title)
    sys.exit(0 if matches else 1)


@cli.command()
@click.argument("repo")
@click.argument("query")
@click.option("-k", "k", type=int, default=10, show_default=True, help="How many chunks (1-100).")
@click.option(
    "--task-type", default="semantic_search", show_default=True, help="Counted for miss-triggered warming."
)
@click.option("--json", "as_json", is_flag=True, help="Print the matches as a JSON list.")
@SERVER_OPTION
@user_errors
def search(repo: str, query: str, k: int, task_type: str, as_json: bool, server: str | None) -> None:
    """Semantic search over the cached embedding index; exit 1 on a (recorded) miss."""
    found = _remote_or_local(server, repo, "search", {"q": query, "k": k, "task_type": task_type})
    if not found["hit"]:
        _miss(found, "embedding_index")
    matches = found["matches"]
    if as_json:
        print_json(matches)
    else:
        rows = [
            (f"{m['score']:.3f}", f"{m['path']}:{m['start_line']}-{m['end_line']}", m.get("symbol"))
            for m in matches
        ]
        table(("score", "file:lines", "symbol"), rows, title=f"{found['repo']}: {query}")
    sys.exit(0 if matches else 1)


def _remote_or_local(server: str | None, repo: str, endpoint: str, params: dict[str, Any]) -> dict[str, Any]:
    """The server's (or the resident's) answer, else the same look-up on this host's ledger."""
    answered = ask_or_none(server, repo, endpoint, params)
    if answered is not None:
        return answered[1]
    from warmer.cache import agent_api
    from warmer.cli.context import open_ledger

    ctx = open_ledger()
    if endpoint == "symbols":
        found = agent_api.symbols(ctx.db, repo, params["q"], mode=params["match"], limit=params["limit"],
                                  task_type=params["task_type"], settings=ctx.settings)  # fmt: skip
    else:
        found = agent_api.search(ctx.db, repo, params["q"], k=params["k"], task_type=params["task_type"],
                                 settings=ctx.settings)  # fmt: skip
    return found.as_json()
