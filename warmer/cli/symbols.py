"""`warmer symbols` and `warmer search`: find symbols by name, code by meaning, in a repository's cache."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.table import Table

from warmer.cache import agent_api
from warmer.cli import cli, user_errors
from warmer.cli.context import open_ledger


@cli.command()
@click.argument("repo")
@click.argument("query")
@click.option(
    "--match", "mode", type=click.Choice(["exact", "prefix", "fuzzy"]), default="fuzzy", show_default=True,
    help="exact: the name (Parent.name narrows); prefix: names starting with QUERY; fuzzy: close names.",
)  # fmt: skip
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option(
    "--task-type", default="symbol_search", show_default=True, help="Counted for miss-triggered warming."
)
@click.option("--json", "as_json", is_flag=True, help="Print the matches as a JSON list.")
@user_errors
def symbols(repo: str, query: str, mode: str, limit: int, task_type: str, as_json: bool) -> None:
    """Search the cached symbol index; exit 1 if the repository has none yet (a recorded miss)."""
    ctx = open_ledger()
    found = agent_api.symbols(
        ctx.db,
        repo,
        query,
        mode=mode,
        limit=limit,
        task_type=task_type,
        settings=ctx.settings,  # type: ignore[arg-type]
    )
    result, matches = found.lookup, found.matches
    if not result.hit:
        click.echo(f"miss: no symbol_index entry for {result.repo} yet (recorded)", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(matches, indent=2))
        return
    if not matches:
        click.echo(f"no symbol of {result.repo} matches {query!r} ({mode})")
        return
    title = f"{result.repo} @ {(result.commit or '')[:12]}"
    table = Table("name", "kind", "parent", "file:line", "signature", title=title)
    for symbol in matches:
        table.add_row(
            symbol["name"], symbol["kind"], symbol.get("parent") or "",
            f"{symbol['file']}:{symbol['start_line']}", (symbol.get("signature") or "")[:80],
        )  # fmt: skip
    Console().print(table)


@cli.command()
@click.argument("repo")
@click.argument("query")
@click.option("-k", "k", type=click.IntRange(1, agent_api.MAX_SEARCH_K), default=10, show_default=True)
@click.option(
    "--task-type", default="semantic_search", show_default=True, help="Counted for miss-triggered warming."
)
@click.option("--json", "as_json", is_flag=True, help="Print the matches as a JSON list.")
@user_errors
def search(repo: str, query: str, k: int, task_type: str, as_json: bool) -> None:
    """Semantic search over the cached embedding index; exit 1 on a (recorded) miss."""
    ctx = open_ledger()
    found = agent_api.search(ctx.db, repo, query, k=k, task_type=task_type, settings=ctx.settings)
    if not found.lookup.hit:
        click.echo(f"miss: no embedding_index entry for {found.lookup.repo} yet (recorded)", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(found.matches, indent=2))
        return
    table = Table("score", "file:lines", "symbol", title=f"{found.lookup.repo}: {query}")
    for match in found.matches:
        where = f"{match['path']}:{match['start_line']}-{match['end_line']}"
        table.add_row(f"{match['score']:.3f}", where, match.get("symbol") or "")
    Console().print(table)
