"""`warmer webhook-secret` and `warmer webhooks`: receiving pushes from GitHub and GitLab."""

from __future__ import annotations

import click

from warmer.cli import cli, user_errors
from warmer.cli.context import open_ledger
from warmer.triggers import webhooks
from warmer.triggers.webhook_server import make_server


@cli.command("webhook-secret")
@click.argument("repo")
@user_errors
def webhook_secret(repo: str) -> None:
    """Set a new webhook secret for REPO and print it once (the old one stops working)."""
    ctx = open_ledger()
    click.echo(webhooks.new_secret(ctx.db, repo))


@cli.command("webhooks")
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8090, show_default=True)
@user_errors
def serve_webhooks(host: str, port: int) -> None:
    """Serve POST /webhooks/{github|gitlab}/{repo} for push events."""
    ctx = open_ledger()
    server = make_server(ctx.db, ctx.settings, host, port)
    click.echo(f"receiving push webhooks on http://{host}:{port}/webhooks/{{github|gitlab}}/{{repo}}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
