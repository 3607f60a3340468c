"""Tables that read well in a terminal and stay whole in a pipe.

On a terminal, a rich table sized to the window. Anywhere else (a pipe, a file, a test), plain
lines: the title, a header row and one row per item, columns aligned with two spaces and nothing
cut, as `docker ps` or `kubectl get` print; `--json` is there for programs. rich is imported
only for a terminal, so a piped command starts faster too.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click


def is_terminal(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2))


def table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str | None = None, err: bool = False
) -> None:
    """Print `rows` under `columns`: a rich table on a terminal, aligned whole lines elsewhere."""
    cells = [["" if value is None else str(value) for value in row] for row in rows]
    if is_terminal(sys.stderr if err else sys.stdout):
        from rich.console import Console
        from rich.table import Table

        rich_table = Table(*columns, title=title)
        for row in cells:
            rich_table.add_row(*row)
        Console(stderr=err).print(rich_table, markup=False, highlight=False)
        return
    for line in plain_lines(columns, cells, title):
        click.echo(line, err=err)


def plain_lines(columns: Sequence[str], rows: Sequence[Sequence[str]], title: str | None) -> list[str]:
    """The title, then the header and rows with each column as wide as its widest cell; empty
    cells print as "-" so every line has the same number of fields."""
    header = [c.replace(" ", "_") for c in columns]
    rows = [[cell.replace("\n", " ") or "-" for cell in row] for row in rows]
    widths = [max([len(header[i])] + [len(row[i]) for row in rows]) for i in range(len(header))]
    lines = [title] if title else []
    for row in [header, *rows]:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return lines
