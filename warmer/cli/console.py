"""`warmer console`: the Flower-based console, for warmer's Celery app and ledger.

Flower's own options pass through after the known ones (`--auth=... --oauth2_key=...
--url_prefix=...`), and its FLOWER_* environment variables apply as with `celery flower`.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import sys

import click

from warmer.cli import cli, user_errors
from warmer.cli.context import open_ledger

log = logging.getLogger("warmer.console")


def _flower_argv(address: str, port: int, basic_auth: tuple[str, ...], extra: tuple[str, ...]) -> list[str]:
    argv = [f"--address={address}", f"--port={port}"]
    if basic_auth:
        argv.append("--basic_auth=" + ",".join(basic_auth))
    return [*argv, *extra]


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--address", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=5555, show_default=True)
@click.option("--broker", help="Celery broker URL (default: CELERY_BROKER_URL or celeryconfig.py).")
@click.option(
    "--basic-auth",
    multiple=True,
    metavar="USER:PASS",
    help="HTTP basic auth credentials; repeat for more users (or FLOWER_BASIC_AUTH=u1:p1,u2:p2).",
)
@click.option(
    "--unauthenticated-api",
    is_flag=True,
    help="Serve the JSON API without authentication (Flower refuses it otherwise).",
)
@click.option(
    "--open-metrics",
    is_flag=True,
    envvar="WARMER_CONSOLE_OPEN_METRICS",
    help="Serve /metrics without authentication (by default a scraper sends the console's credentials).",
)
@click.argument("flower_options", nargs=-1, type=click.UNPROCESSED)
@user_errors
def console(
    address: str,
    port: int,
    broker: str | None,
    basic_auth: tuple[str, ...],
    unauthenticated_api: bool,
    open_metrics: bool,
    flower_options: tuple[str, ...],
) -> None:
    """Serve the console: Warmers, Jobs, Repositories, Analytics, Flower's pages, the JSON API."""
    for credential in basic_auth:
        if ":" not in credential:
            raise click.BadParameter("expected USER:PASS", param_hint="--basic-auth")
    ctx = open_ledger()
    # Flower's pinned (2.2.0) option helpers: the same parsing `celery flower` does.
    from flower import command as flower_command
    from flower.urls import settings as tornado_settings
    from tornado.options import options

    from warmer.celery_app import app as capp
    from warmer.console.app import make_app
    from warmer.console.redact import redact_url

    if broker:
        capp.conf.broker_url = broker
    if unauthenticated_api:
        os.environ["FLOWER_UNAUTHENTICATED_API"] = "true"
    unknown = [arg for arg in flower_options if not flower_command.is_flower_option(arg)]
    if unknown:
        raise click.UsageError(f"unknown option(s) {' '.join(unknown)} (not a Flower option either)")
    flower_command.apply_env_options()
    flower_command.apply_options("warmer console", _flower_argv(address, port, basic_auth, flower_options))
    flower_command.extract_settings()
    flower_command.setup_logging()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    flower_app = make_app(capp, ctx.db, ctx.settings, options, open_metrics=open_metrics, **tornado_settings)
    atexit.register(flower_app.stop)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    bound = flower_app.start_http_server()
    auth = "basic auth" if options.basic_auth else ("OAuth" if options.auth else "no authentication")
    prefix = "/" + options.url_prefix.strip("/") if (options.url_prefix or "").strip("/") else ""
    log.info(
        "warmer console at http://%s:%s%s/warmer (%s; metrics %s; ledger %s; broker %s)",
        options.address or "127.0.0.1",
        bound,
        prefix,
        auth,
        "open" if open_metrics else "behind the same auth",
        redact_url(ctx.db.url),
        redact_url(str(capp.conf.broker_url)),
    )
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        flower_app.start()
