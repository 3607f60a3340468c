"""Figures of a truth suite, printed as one table at the end of the test module's run.

    def test_x(edge_table): edge_table.add(language="go", corpus="gin", ...)

Rows print through pytest's terminal reporter when the module finishes (with or without `-s`), so
CI's log holds the table the README quotes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, **row: Any) -> None:
        self.rows.append(row)

    def render(self) -> list[str]:
        cells = [[str(row.get(c, "")) for c in self.columns] for row in self.rows]
        widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(self.columns)]

        def line(values: list[str]) -> str:
            return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

        return [self.title, line(self.columns), line(["-" * w for w in widths]), *map(line, cells)]


def printed_table(request: pytest.FixtureRequest, title: str, columns: list[str]) -> Iterator[Table]:
    """A table that prints itself when the fixture (module-scoped by its caller) is torn down."""
    table = Table(title, columns)
    yield table
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or not table.rows:
        return
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        reporter.write_line("")
        for text in table.render():
            reporter.write_line(text)


def ratio(hit: int, total: int) -> float:
    return hit / total if total else 1.0
