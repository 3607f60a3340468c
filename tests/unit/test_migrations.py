"""The Alembic migrations build exactly the schema the models describe, and go down and up again."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from warmer.ledger import migrate
from warmer.ledger.db import Database
from warmer.ledger.models import Base


def test_migrations_match_the_models_and_round_trip(pg_url: str) -> None:
    db = Database(pg_url)
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    config = migrate.alembic_config(db)
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert migrate.current_revision(db) is None
    migrate.upgrade(db)
    assert migrate.current_revision(db) == migrate.head_revision() == migrate.alembic_head_revision()
    migrate.ensure_current(db)
    db.dispose()
