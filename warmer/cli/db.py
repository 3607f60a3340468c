"""`warmer db upgrade`."""

from __future__ import annotations

import click

from warmer.cli import cli, user_errors
from warmer.ledger import migrate
from warmer.ledger.db import Database
from warmer.settings import load_settings


@cli.group()
def db() -> None:
    """The ledger database's schema."""


@db.command()
@user_errors
def upgrade() -> None:
    """Create or migrate the ledger schema to this version's head."""
    settings = load_settings()
    database = Database(settings.database_url)
    migrate.upgrade(database)
    click.echo(f"ledger schema at {migrate.current_revision(database)} ({_redact(settings.database_url)})")


def _redact(url: str) -> str:
    """Never print a password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}" if ":" in credentials else url
    return url
