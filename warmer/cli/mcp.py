"""`warmer mcp`: the cache for coding agents over the Model Context Protocol."""

from __future__ import annotations

import click

from warmer.cli import cli, user_errors


@cli.command()
@click.option(
    "--transport", type=click.Choice(["stdio", "http"]), default="stdio", show_default=True,
    help="stdio: the agent launches this command; http: streamable HTTP at http://HOST:PORT/mcp.",
)  # fmt: skip
@click.option(
    "--repo", help="The repository tools use when an agent names none (and whose resources are listed)."
)
@click.option(
    "--task-type", default="coding_agent", show_default=True,
    help="Task type recorded for calls that do not pass their own (the miss trigger counts by it).",
)  # fmt: skip
@click.option("--host", default="127.0.0.1", show_default=True, help="HTTP only.")
@click.option("--port", type=click.IntRange(1, 65535), default=8091, show_default=True, help="HTTP only.")
@click.option(
    "--token", envvar="WARMER_API_TOKEN",
    help="HTTP only: require `Authorization: Bearer TOKEN` (env WARMER_API_TOKEN), as `warmer serve` does.",
)  # fmt: skip
@user_errors
def mcp(transport: str, repo: str | None, task_type: str, host: str, port: int, token: str | None) -> None:
    """Serve the cache to coding agents over the Model Context Protocol (stdio or HTTP)."""
    from warmer.cli.context import open_ledger
    from warmer.mcp import server
    from warmer.mcp.tools import Backend

    ctx = open_ledger()
    if repo:  # a typo in a config file should fail here, once, not on every tool call
        from warmer.ledger.repositories import find

        with ctx.db.session() as session:
            find(session, repo)
    from warmer.cache.serving import start_serving

    start_serving(ctx.settings)
    backend = Backend(ctx.db, ctx.settings, repo, task_type)
    if transport == "stdio":
        server.run_stdio(backend)
        return
    auth = "bearer token" if token else "no auth"
    click.echo(f"warmer MCP server on http://{host}:{port}{server.MCP_PATH} ({auth})", err=True)
    server.run_http(backend, host, port, token)
