"""The truth suite: artifacts checked on real code from the registries against independent oracles.

Each test records its figures with the `truth_table` fixture; the tables are printed at the end of the
run (the README's "Correctness on real code" quotes them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest

_TABLES: dict[str, list[dict[str, Any]]] = defaultdict(list)


@pytest.fixture
def truth_table() -> Callable[[str, dict[str, Any]], None]:
    """`truth_table(title, row)`: one row of a printed table (columns in the row's key order)."""

    def record(title: str, row: dict[str, Any]) -> None:
        _TABLES[title].append(row)

    return record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for title, rows in _TABLES.items():
        columns = list(dict.fromkeys(key for row in rows for key in row))
        cells = [[str(row.get(c, "")) for c in columns] for row in rows]
        widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
        terminalreporter.write_sep("=", title)
        terminalreporter.write_line(" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
        terminalreporter.write_line("-+-".join("-" * w for w in widths))
        for row in cells:
            terminalreporter.write_line(" | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
