"""Recording agent lookups, and the hourly rollup kept as they are recorded.

Every lookup is a `cache_lookups` row (the miss trigger counts recent misses there, retention
prunes it by age) and a +1 on its hour's `lookup_hourly` row, in the same statement on Postgres
(a data-modifying CTE: one round trip, as before). Analytics and the metrics read hours, so
their cost follows the hours shown, not the lookups recorded, and outlives the pruned rows.

A stale hit (an entry served while files it depends on changed) counts as a hit and as a
`stale_hit`; the miss trigger treats it as a miss. `cache_lookups` stores `stale` once the column
exists; until then the rollup's stale column stays 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, case, func, insert, literal, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from warmer.ledger.models import CacheLookup, LookupHourly

_LOOKUPS = CacheLookup.__table__
_HOURLY = LookupHourly.__table__
_COLUMNS = ("repo_id", "repo_name", "artifact_type", "path", "task_type", "hit")
SQLITE_HOUR = "%Y-%m-%d %H:00:00.000000"  # SQLAlchemy's SQLite datetime format, floored to the hour


def hour_of(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _stored(row: dict[str, Any]) -> dict[str, Any]:
    values = {key: row[key] for key in _COLUMNS}
    values.setdefault("path", "")
    if "stale" in _LOOKUPS.c:
        values["stale"] = bool(row.get("stale", False))
    if row.get("at") is not None:  # tests and the benchmark record history; agents never pass it
        values["at"] = row["at"]
    return values


def record_lookups(conn: Session | Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert lookups (dicts of repo_id, repo_name, artifact_type, path, task_type, hit and
    optionally stale) at the database's clock, and add them to their hour's counters.

    A row may carry its own `at` (then every row must): tests and the benchmark record history."""
    if not rows:
        return
    values = [_stored(row) for row in rows]
    bind = conn if isinstance(conn, Connection) else conn.get_bind()
    if bind.dialect.name == "postgresql":
        _record_postgres(conn, values)
    else:
        _record_portable(conn, values)


def _upsert_postgres(source: Any) -> Any:
    statement = postgresql.insert(_HOURLY).from_select(
        ["hour", "repo_id", "artifact_type", "task_type", "repo_name", "lookups", "hits", "misses",
         "stale_hits", "last_at"],
        source,
    )  # fmt: skip
    added = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["hour", "repo_id", "artifact_type", "task_type"],
        set_={
            "lookups": _HOURLY.c.lookups + added.lookups,
            "hits": _HOURLY.c.hits + added.hits,
            "misses": _HOURLY.c.misses + added.misses,
            "stale_hits": _HOURLY.c.stale_hits + added.stale_hits,
            "last_at": func.greatest(_HOURLY.c.last_at, added.last_at),
        },
    )


def _grouped(source: Any, hour: Any) -> Any:
    """(hour, repo, artifact, task type) counters from a selectable of lookup rows."""
    stale = source.c.stale if "stale" in source.c else None
    one = literal(1, Integer)
    return (
        select(
            hour.label("hour"), source.c.repo_id, source.c.artifact_type, source.c.task_type,
            func.max(source.c.repo_name), func.count(),
            func.sum(case((source.c.hit, one), else_=0)),
            func.sum(case((source.c.hit, 0), else_=one)),
            func.sum(case((stale, one), else_=0)) if stale is not None else literal(0, Integer),
            func.max(source.c.at),
        )
        .where(source.c.repo_id.is_not(None))
        .group_by(hour, source.c.repo_id, source.c.artifact_type, source.c.task_type)
    )  # fmt: skip


def _record_postgres(conn: Session | Connection, values: list[dict[str, Any]]) -> None:
    columns = [_LOOKUPS.c[name] for name in values[0] if name != "at"] + [_LOOKUPS.c.at]
    inserted = insert(_LOOKUPS).values(values).returning(*columns).cte("inserted")
    hour = func.date_trunc("hour", inserted.c.at, "UTC")
    conn.execute(_upsert_postgres(_grouped(inserted, hour)))


def _record_portable(conn: Session | Connection, values: list[dict[str, Any]]) -> None:
    """SQLite (the embedded, single-machine ledger): the rows at one clock reading, then their hour."""
    now = conn.execute(text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")).scalar_one()
    clock = datetime.fromisoformat(now).replace(tzinfo=UTC)
    values = [{**row, "at": row.get("at") or clock} for row in values]
    conn.execute(insert(_LOOKUPS), values)
    counters: dict[tuple[datetime, int, str, str], dict[str, Any]] = {}
    for row in values:
        key = (hour_of(row["at"]), row["repo_id"], row["artifact_type"], row["task_type"])
        entry = counters.setdefault(key, {"repo_name": row["repo_name"], "lookups": 0, "hits": 0,
                                          "misses": 0, "stale_hits": 0, "last_at": row["at"]})  # fmt: skip
        entry["last_at"] = max(entry["last_at"], row["at"])
        entry["lookups"] += 1
        entry["hits" if row["hit"] else "misses"] += 1
        entry["stale_hits"] += int(bool(row.get("stale")))
    statement = sqlite.insert(_HOURLY)
    added = statement.excluded
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["hour", "repo_id", "artifact_type", "task_type"],
            set_={
                "lookups": _HOURLY.c.lookups + added.lookups,
                "hits": _HOURLY.c.hits + added.hits,
                "misses": _HOURLY.c.misses + added.misses,
                "stale_hits": _HOURLY.c.stale_hits + added.stale_hits,
                "last_at": func.max(_HOURLY.c.last_at, added.last_at),
            },
        ),
        [
            {"hour": hour, "repo_id": repo_id, "artifact_type": artifact, "task_type": task, **entry}
            for (hour, repo_id, artifact, task), entry in counters.items()
        ],
    )


def backfill_sql(dialect: str) -> str:
    """Fill the rollup from every lookup already recorded (migration 0006; the benchmark's ledger)."""
    hour = "date_trunc('hour', at, 'UTC')" if dialect == "postgresql" else f"strftime('{SQLITE_HOUR}', at)"
    return (
        "INSERT INTO lookup_hourly (hour, repo_id, artifact_type, task_type, repo_name, lookups, hits,"
        " misses, stale_hits, last_at) "
        f"SELECT {hour}, repo_id, artifact_type, task_type, max(repo_name), count(*),"
        " sum(CASE WHEN hit THEN 1 ELSE 0 END), sum(CASE WHEN hit THEN 0 ELSE 1 END), 0, max(at)"
        " FROM cache_lookups WHERE repo_id IS NOT NULL"
        f" GROUP BY {hour}, repo_id, artifact_type, task_type"
    )
