"""Schema migrations (Alembic): `warmer db upgrade`, and a check that workers run on head.

Two processes may create or upgrade the same ledger at once (two `warmer warm` on a fresh data
directory, workers starting together): the migration runs under a lock (a file lock beside the
SQLite file, a transaction-scoped advisory lock on Postgres), so the second one waits and then
finds the schema at head. A schema already at head is recognised with one query, without loading
Alembic, so a command's start stays cheap.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from warmer.ledger.db import Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_LOCK_KEY = 0x7761726D6572  # "warmer": the advisory lock id the Postgres migration holds
_REVISION = re.compile(r"^(down_revision|revision)\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|None)\s*$", re.MULTILINE)


class SchemaOutOfDate(RuntimeError):
    """The database is not at the schema this code was written for."""


def alembic_config(db: Database) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return config


@contextlib.contextmanager
def _sqlite_file_lock(db: Database) -> Iterator[None]:
    """Hold an exclusive lock on `<ledger>.migrate.lock` (SQLite runs DDL outside transactions)."""
    path = db.url.split("///", 1)[-1]
    if db.is_postgres or not path or path == ":memory:":
        yield
        return
    try:
        import fcntl
    except ImportError:  # no POSIX locks (Windows): one process at a time is then the user's rule
        yield
        return
    with open(f"{path}.migrate.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to run again, and from several processes at once."""
    if revision == "head" and current_revision(db) == head_revision():
        return
    from alembic import command

    config = alembic_config(db)
    with _sqlite_file_lock(db), db.engine.begin() as conn:
        if db.is_postgres:  # released at commit; a second upgrader waits here, then finds head
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def current_revision(db: Database) -> str | None:
    """The revision the database is at (None for an empty database), read with one query."""
    with db.engine.connect() as conn:
        try:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        except DatabaseError:  # no alembic_version table: nothing migrated yet
            return None
    if len(rows) > 1:  # branched history: let Alembic describe it
        from alembic.runtime.migration import MigrationContext

        with db.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    return rows[0] if rows else None


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest revision, read from the version files' `revision`/`down_revision` lines; Alembic
    decides when they do not name exactly one head."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        fields = {m.group(1): m.group(2) or m.group(3) for m in _REVISION.finditer(path.read_text())}
        if "revision" not in fields:
            return alembic_head_revision()
        revisions.add(fields["revision"])
        if fields.get("down_revision"):
            parents.add(fields["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else alembic_head_revision()


def alembic_head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head() or ""


def ensure_current(db: Database) -> None:
    """Refuse to run on a schema older or newer than this code's."""
    current, head = current_revision(db), head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"database schema is at {current or 'nothing (empty database)'}, this warmer needs {head}: "
            "run `warmer db upgrade`"
        )
