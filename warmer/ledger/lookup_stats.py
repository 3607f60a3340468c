"""Recording agent lookups, and the hourly and daily rollups kept as they are recorded.

Every lookup is a `cache_lookups` row (the miss trigger counts recent misses there, retention
prunes it by age) and a +1 on its hour's `lookup_hourly` and its day's `lookup_daily` row of
(repository, artifact type), in one statement on Postgres (data-modifying CTEs: one round trip,
as before). Analytics and the metrics read periods, so their cost follows the periods and
patterns shown, not the lookups recorded, and outlives the pruned rows.

A stale hit (an entry served while files it depends on changed) counts as a hit and as a
`stale_hit`; the miss trigger treats it as a miss (it counts `cache_lookups` rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, case, func, insert, literal, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from warmer.ledger.models import CacheLookup, LookupDaily, LookupHourly

_LOOKUPS = CacheLookup.__table__
ROLLUPS = ((LookupHourly.__table__, "hour"), (LookupDaily.__table__, "day"))
_COLUMNS = ("repo_id", "repo_name", "artifact_type", "path", "task_type", "hit")
_COUNTERS = ("lookups", "hits", "misses", "stale_hits")
SQLITE_FORMAT = {"hour": "%Y-%m-%d %H:00:00.000000", "day": "%Y-%m-%d 00:00:00.000000"}


def hour_of(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_of(at: datetime) -> datetime:
    return hour_of(at).replace(hour=0)


def _stored(row: dict[str, Any]) -> dict[str, Any]:
    values = {key: row.get(key, "") if key == "path" else row[key] for key in _COLUMNS}
    values["stale"] = bool(row.get("stale", False))
    if row.get("at") is not None:  # tests and the benchmark record history; agents never pass it
        values["at"] = row["at"]
    return values


def record_lookups(conn: Session | Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert lookups (dicts of repo_id, repo_name, artifact_type, path, task_type, hit and
    optionally stale) at the database's clock, and add them to their hour's and day's counters.

    A row may carry its own `at` (then every row must): tests and the benchmark record history."""
    if not rows:
        return
    values = [_stored(row) for row in rows]
    bind = conn if isinstance(conn, Connection) else conn.get_bind()
    if bind.dialect.name == "postgresql":
        _record_postgres(conn, values)
    else:
        _record_portable(conn, values)


def _upsert(builder: Any, table: Any, rows: Any) -> Any:
    statement = builder(table) if rows is None else builder(table).from_select(rows[0], rows[1])
    added = statement.excluded
    latest = func.greatest if builder is postgresql.insert else func.max
    return statement.on_conflict_do_update(
        index_elements=[c.name for c in table.primary_key.columns],
        set_={
            **{name: table.c[name] + added[name] for name in _COUNTERS},
            "last_at": latest(table.c.last_at, added.last_at),
        },
    )


def _grouped(source: Any, period: Any) -> tuple[list[str], Any]:
    """(period, repo, artifact) counters from a selectable of lookup rows."""
    one = literal(1, Integer)
    query = (
        select(
            period, source.c.repo_id, source.c.artifact_type, func.max(source.c.repo_name), func.count(),
            func.sum(case((source.c.hit, one), else_=0)), func.sum(case((source.c.hit, 0), else_=one)),
            func.sum(case((source.c.stale, one), else_=0)),
            func.max(source.c.at),
        )
        .where(source.c.repo_id.is_not(None))
        .group_by(period, source.c.repo_id, source.c.artifact_type)
    )  # fmt: skip
    return ["", "repo_id", "artifact_type", "repo_name", *_COUNTERS, "last_at"], query


def _record_postgres(conn: Session | Connection, values: list[dict[str, Any]]) -> None:
    columns = [_LOOKUPS.c[name] for name in values[0] if name != "at"] + [_LOOKUPS.c.at]
    inserted = insert(_LOOKUPS).values(values).returning(*columns).cte("inserted")
    statements = []
    for table, unit in ROLLUPS:
        names, query = _grouped(inserted, func.date_trunc(unit, inserted.c.at, "UTC"))
        statements.append(_upsert(postgresql.insert, table, ([unit, *names[1:]], query)))
    hourly = statements[0].cte("hourly")
    # Both rollups in the statement that inserts: the CTE's rows feed two upserts.
    conn.execute(statements[1].add_cte(hourly))


def _record_portable(conn: Session | Connection, values: list[dict[str, Any]]) -> None:
    """SQLite (the embedded, single-machine ledger): the rows at one clock reading, then their periods."""
    now = conn.execute(text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")).scalar_one()
    clock = datetime.fromisoformat(now).replace(tzinfo=UTC)
    values = [{**row, "at": row.get("at") or clock} for row in values]
    conn.execute(insert(_LOOKUPS), values)
    for table, unit in ROLLUPS:
        floor = hour_of if unit == "hour" else day_of
        counters: dict[tuple[datetime, int, str], dict[str, Any]] = {}
        for row in values:
            key = (floor(row["at"]), row["repo_id"], row["artifact_type"])
            entry = counters.setdefault(key, {"repo_name": row["repo_name"], "last_at": row["at"],
                                              **dict.fromkeys(_COUNTERS, 0)})  # fmt: skip
            entry["last_at"] = max(entry["last_at"], row["at"])
            entry["lookups"] += 1
            entry["hits" if row["hit"] else "misses"] += 1
            entry["stale_hits"] += int(bool(row.get("stale")))
        conn.execute(
            _upsert(sqlite.insert, table, None),
            [{unit: period, "repo_id": repo_id, "artifact_type": artifact, **entry}
             for (period, repo_id, artifact), entry in counters.items()],
        )  # fmt: skip


def backfill_sql(dialect: str) -> list[str]:
    """Fill the rollups from every lookup already recorded (migration 0008; the benchmark's ledger)."""
    statements = []
    for table, unit in ROLLUPS:
        period = f"date_trunc('{unit}', at, 'UTC')" if dialect == "postgresql" else (
            f"strftime('{SQLITE_FORMAT[unit]}', at)")  # fmt: skip
        statements.append(
            f"INSERT INTO {table.name} ({unit}, repo_id, artifact_type, repo_name, lookups, hits, misses,"
            " stale_hits, last_at) "
            f"SELECT {period}, repo_id, artifact_type, max(repo_name), count(*),"
            " sum(CASE WHEN hit THEN 1 ELSE 0 END), sum(CASE WHEN hit THEN 0 ELSE 1 END),"
            " sum(CASE WHEN stale THEN 1 ELSE 0 END), max(at)"
            f" FROM cache_lookups WHERE repo_id IS NOT NULL GROUP BY {period}, repo_id, artifact_type"
        )
    return statements
