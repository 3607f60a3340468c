"""The `symbols` table: one row per symbol of each per-file symbol_index entry, written with the entry.

Rows hang off the entry's key, so identical content in another commit, branch or repository is
indexed once; `cache_refs` says which branch serves which entry, and searches join the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.engine import Connection

from warmer.artifacts.base import Entry
from warmer.ledger.models import SymbolRow

_CHUNK = 1000
_ANALYZE_AFTER = 5000
_SEPARATORS = frozenset("_.-:/$#~ ")
_MAX_NAME = 300


def initials(name: str) -> str:
    """The letters that start each word of an identifier, lower-cased: QuerySet → qs,
    get_queryset → gq, HTTPResponse → hr (a run of capitals is one word)."""
    found = []
    for j, char in enumerate(name):
        before = name[j - 1] if j else ""
        after = name[j + 1] if j + 1 < len(name) else ""
        starts = (
            (j == 0 and char.isalnum())
            or (before in _SEPARATORS and char.isalnum())
            or (before.islower() and char.isupper())
            or (before.isupper() and char.isupper() and after.islower() and found)
            or (before.isalpha() and char.isdigit())
        )
        if starts:
            found.append(char.lower())
    return "".join(found)[:100]


def rows_of(key: str, entry: Entry) -> list[dict[str, Any]]:
    return [
        {
            "entry_key": key,
            "path": entry.path,
            "name": symbol["name"][:_MAX_NAME],
            "folded": symbol["name"][:_MAX_NAME].casefold(),
            "initials": initials(symbol["name"]),
            "kind": symbol["kind"],
            "start_line": symbol["start_line"],
            "symbol": symbol,
        }
        for symbol in entry.payload.get("symbols", [])
    ]


def index_entries(conn: Connection, entries: Sequence[tuple[str, Entry]]) -> None:
    """Index the symbols of entries just stored for the first time (the manifest has none)."""
    rows = [row for key, entry in entries if entry.path for row in rows_of(key, entry)]
    for start in range(0, len(rows), _CHUNK):
        conn.execute(insert(SymbolRow), rows[start : start + _CHUNK])
    if len(rows) >= _ANALYZE_AFTER:
        # A first warming fills the table in one go; until autovacuum gets to it the planner has no
        # statistics and picks sequential scans (Django: a name look-up took 7 ms instead of 0.03).
        conn.execute(text("ANALYZE symbols"))
