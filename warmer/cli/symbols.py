"""`warmer symbols REPO QUERY`: find functions, classes and types in a repository's symbol index."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.table import Table

from warmer.artifacts.symbols import search
from warmer.cache.lookup import lookup
from warmer.cli import cli, fail, user_errors
from warmer.cli.context import open_ledger

MAX_QUERY = 200


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
    if not query.strip() or len(query) > MAX_QUERY:
        fail(f"the query must be 1-{MAX_QUERY} characters")
    ctx = open_ledger()
    result = lookup(ctx.db, repo, "symbol_index", task_type=task_type, settings=ctx.settings)
    if not result.hit or result.payload is None:
        click.echo(f"miss: no symbol_index entry for {result.repo} yet (recorded)", err=True)
        sys.exit(1)
    if mode == "exact":
        matches = search.exact(result.payload, query)[:limit]
    elif mode == "prefix":
        matches = search.prefix(result.payload, query, limit)
    else:
        matches = search.fuzzy(result.payload, query, limit)
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
