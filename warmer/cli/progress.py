"""`warmer warm`'s progress: which artifact is being built, how many files or chunks, how fast, ETA.

On a terminal, one live line (rich). Elsewhere (a CI log, a pipe), whole lines on stderr: one when
a job starts, one at most every `EVERY_SECS` while it runs, one when it ends; nothing is redrawn.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from warmer.cli.output import is_terminal

EVERY_SECS = 10.0


def _duration(elapsed: float) -> str:
    seconds = round(elapsed)
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"


class WarmProgress:
    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.index = 0
        self.artifact = ""
        self.started = self.unit_started = time.monotonic()
        self.unit: str | None = None
        self.last_line = 0.0
        self.live: Any = None
        self.task: Any = None

    def __enter__(self) -> WarmProgress:
        if is_terminal(sys.stderr):
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.live = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=Console(stderr=True), transient=False,
            )  # fmt: skip
            self.live.__enter__()
            self.task = self.live.add_task("warming", total=self.jobs)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.update(self.task, description="done")
            self.live.__exit__(*exc)

    def _show(self, text: str, *, force: bool = False) -> None:
        if self.live is not None:
            self.live.update(self.task, description=text)
            return
        now = time.monotonic()
        if force or now - self.last_line >= EVERY_SECS:
            self.last_line = now
            click.echo(text, err=True)

    def start(self, artifact: str) -> None:
        self.index += 1
        self.artifact = artifact
        self.started = time.monotonic()
        self.unit = None
        self._show(f"[{self.index}/{self.jobs}] {artifact}: started", force=True)

    def update(self, unit: str, done: int, total: int) -> None:
        """A generator's count: `done` of `total` files or chunks, with the rate and time left."""
        now = time.monotonic()
        if unit != self.unit:
            self.unit, self.unit_started = unit, now
        elapsed = now - self.unit_started
        text = f"[{self.index}/{self.jobs}] {self.artifact}: {done}/{total} {unit}"
        if done and elapsed > 0.5:
            rate = done / elapsed
            text += f", {rate:.1f} {unit}/s, ETA {_duration((total - done) / rate)}"
        self._show(text)

    def finish(self, outcome: str, detail: str) -> None:
        seconds = time.monotonic() - self.started
        if self.live is not None:
            self.live.advance(self.task)
        text = f"[{self.index}/{self.jobs}] {self.artifact}: {outcome} in {_duration(seconds)}"
        self._show(text + (f" ({detail})" if detail else ""), force=True)
