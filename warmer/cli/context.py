"""What every command needs: validated settings and the ledger, migrated when embedded."""

from __future__ import annotations

from dataclasses import dataclass

from warmer.ledger import migrate
from warmer.ledger.db import Database
from warmer.settings import Settings, load_settings


@dataclass
class Context:
    settings: Settings
    db: Database


def open_ledger(*, upgrade_embedded: bool = True) -> Context:
    """Settings and database. The embedded SQLite ledger migrates itself (zero setup);
    Postgres must be migrated on purpose with `warmer db upgrade`."""
    settings = load_settings()
    db = Database(settings.database_url)
    if settings.embedded and upgrade_embedded:
        migrate.upgrade(db)
    else:
        migrate.ensure_current(db)
    return Context(settings, db)


def publish_or_explain(ctx: Context, jobs: list[tuple[int, object, int]]) -> str:
    """Publish messages for new jobs; a broker outage leaves them queued for the poller."""
    if not jobs:
        return "nothing new to publish"
    if ctx.settings.embedded:
        return "embedded ledger (DATABASE_URL unset): no broker; `warmer warm PATH` runs jobs in-process"
    from warmer.celery_app import app
    from warmer.publisher import publish

    try:
        sent = publish(app, ctx.db, jobs)  # type: ignore[arg-type]
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"broker unreachable ({first}); the jobs stay queued and a worker will publish them"
    return f"published {sent} messages"
