"""`warmer serve`: the agents' HTTP API (entries, symbols, semantic search, JUnit ingestion).

`--resident` is the CLI's own background server (resident.py): 127.0.0.1, a free port, a fresh
token, announced in a file only the user can read, and an exit after WARMER_RESIDENT_IDLE_SECS
without a request.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from pathlib import Path

import click
from tornado.httpserver import HTTPServer
from tornado.ioloop import PeriodicCallback
from tornado.netutil import bind_sockets
from tornado.web import Application

from warmer.cache.http_api import MAX_REPORT_BYTES, make_app
from warmer.cache.serving import start_serving
from warmer.cli import cli, resident, user_errors
from warmer.cli.context import open_ledger


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8090, show_default=True)
@click.option(
    "--token", envvar="WARMER_API_TOKEN", help="Require `Authorization: Bearer TOKEN` (env WARMER_API_TOKEN)."
)
@click.option("--resident", "as_resident", is_flag=True, hidden=True, help="Run as the CLI's resident.")
@user_errors
def serve(host: str, port: int, token: str | None, as_resident: bool) -> None:
    """Serve GET /v1/repos/{repo}/artifacts/{type}, /symbols, /search and POST /junit."""
    if as_resident:
        with resident.hold(os.environ) as state:
            if state is not None:
                _serve_resident(state, resident.idle_secs(os.environ))
        return
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


def _serve_resident(state: Path, idle_secs: float) -> None:
    ctx = open_ledger()
    start_serving(ctx.settings)
    token = secrets.token_urlsafe(32)

    async def run() -> None:
        app: Application = make_app(ctx.db, ctx.settings, token)
        last_request = [time.monotonic()]
        app.settings["log_function"] = lambda _handler: last_request.__setitem__(0, time.monotonic())
        sockets = bind_sockets(0, "127.0.0.1")
        HTTPServer(app, max_body_size=MAX_REPORT_BYTES).add_sockets(sockets)
        resident.announce(state, f"http://127.0.0.1:{sockets[0].getsockname()[1]}", token)
        idle = asyncio.Event()

        def check() -> None:
            if time.monotonic() - last_request[0] > idle_secs:
                idle.set()

        PeriodicCallback(check, min(5.0, idle_secs / 2) * 1000).start()
        await idle.wait()

    asyncio.run(run())
