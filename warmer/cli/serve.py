"""`warmer serve`: the agents' HTTP API (entries, symbols, semantic search, JUnit ingestion)."""

from __future__ import annotations

import asyncio
import logging

import click

from warmer.cache.http_api import MAX_REPORT_BYTES, make_app
from warmer.cache.serving import start_serving
from warmer.cli import cli, user_errors
from warmer.cli.context import open_ledger


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8090, show_default=True)
@click.option(
    "--token", envvar="WARMER_API_TOKEN", help="Require `Authorization: Bearer TOKEN` (env WARMER_API_TOKEN)."
)
@user_errors
def serve(host: str, port: int, token: str | None) -> None:
    """Serve GET /v1/repos/{repo}/artifacts/{type}, /symbols, /search and POST /junit."""
    ctx = open_ledger()
    start_serving(ctx.settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def run() -> None:
        app = make_app(ctx.db, ctx.settings, token)
        app.listen(port, host, max_body_size=MAX_REPORT_BYTES)
        click.echo(
            f"warmer API on http://{host}:{port}/v1/repos/{{repo}}/... ({'token' if token else 'no auth'})"
        )
        await asyncio.Event().wait()

    asyncio.run(run())
