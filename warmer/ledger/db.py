"""Engine, sessions and the database clock, for Postgres and the embedded SQLite file."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator


class utcnow(FunctionElement):  # noqa: N801 - reads as SQL
    """The database's clock, so that hosts with skewed clocks agree on staleness."""

    type = DateTime(timezone=True)
    inherit_cache = True


@compiles(utcnow, "postgresql")
def _pg_utcnow(element: Any, compiler: Any, **kw: Any) -> str:
    # clock_timestamp(), not now(): a long transaction must not stamp old times.
    return "clock_timestamp()"


@compiles(utcnow, "sqlite")
def _sqlite_utcnow(element: Any, compiler: Any, **kw: Any) -> str:
    return "strftime('%Y-%m-%d %H:%M:%f', 'now')"


class UTCDateTime(TypeDecorator):
    """Timestamps that always come back timezone-aware in UTC (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


IDLE_IN_TRANSACTION_MS = 15_000


def normalize_database_url(url: str) -> str:
    """Accept the seed's `postgres://` spelling and pin the psycopg2 driver we ship."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the settings each backend needs to be a safe ledger."""
    if url.startswith("sqlite"):
        for server_only in ("connect_timeout", "pool_size", "max_overflow"):
            kwargs.pop(server_only, None)
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    connect_args = {
        # A client that stops in the middle of a transaction (SIGSTOP, a swap storm, a debugger)
        # would hold its row locks forever and stall every other worker: the server ends it.
        # warmer's own transactions are milliseconds long; none waits on anything but the database.
        "options": f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}",
        "connect_timeout": kwargs.pop("connect_timeout", 5),
        "application_name": f"warmer:{os.getpid()}",
        # A silently dead peer must not hold locks and sockets for hours.
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
    }
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 10)
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


class Database:
    """One engine and its session factory; cheap to pass around, one per process."""

    def __init__(self, url: str, **engine_options: Any) -> None:
        url = normalize_database_url(url)
        self.url = url
        self.engine = make_engine(url, **engine_options)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        session = self._sessions()
        try:
            with session.begin():
                yield session
        finally:
            session.close()

    def now(self) -> datetime:
        """The database's current time (UTC, aware)."""
        with self.engine.connect() as conn:
            value = conn.execute(text(_now_sql(self))).scalar_one()
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return UTCDateTime().process_result_value(value, self.engine.dialect)  # type: ignore[return-value]

    def ping(self) -> None:
        """Raise if the database does not answer."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    @property
    def shown(self) -> str:
        """The URL as it may be logged (no password)."""
        return make_url(self.url).render_as_string(hide_password=True)

    def wait_until_reachable(
        self, log: logging.Logger, *, interval: float = 2.0, report_every: float = 30.0
    ) -> None:
        """Block until the database answers, as Celery does for its broker: a worker started before
        Postgres waits for it instead of exiting. Says so at once, every `report_every` seconds
        while it waits, and when the database answers."""
        started: float | None = None
        reported = -math.inf
        while True:
            try:
                self.ping()
            except OperationalError as exc:
                now = time.monotonic()
                started = now if started is None else started
                if now - reported >= report_every:
                    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc).splitlines()[0]
                    log.warning(
                        "waiting for the ledger database %s: %s (trying again every %gs)",
                        self.shown,
                        reason,
                        interval,
                    )
                    reported = now
                time.sleep(interval)
                continue
            if started is not None:
                log.info("the ledger database answers after %.0fs of waiting", time.monotonic() - started)
            return

    def dispose(self) -> None:
        self.engine.dispose()

    def after_fork(self) -> None:
        """Drop pooled connections inherited from the parent; never share a socket."""
        self.engine.dispose(close=False)


def _now_sql(db: Database) -> str:
    if db.is_postgres:
        return "SELECT clock_timestamp()"
    return "SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')"
