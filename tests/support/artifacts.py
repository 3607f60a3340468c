"""Generators for tests and benchmarks only, loaded with WARMER_ARTIFACT_MODULES=tests.support.artifacts.

test_sleep records each run's start and end in a file (params["runs_file"]) so
tests can prove a job never ran twice at once; test_flaky fails until a flag
file exists; test_noop does nothing, for throughput measurements.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from warmer.artifacts.base import ArtifactResult, Entry, GenerationContext
from warmer.artifacts.registry import register


def _record(ctx: GenerationContext, what: str) -> None:
    runs_file = ctx.params.get("runs_file")
    if runs_file:
        line = f"{what} {ctx.params.get('tag', '')} {os.getpid()} {time.time():.6f}\n"
        with open(runs_file, "a") as handle:  # O_APPEND: lines from several processes do not mix
            handle.write(line)


@register
class TestSleep:
    artifact_type = "test_sleep"
    version = "1"

    def generate(self, ctx: GenerationContext) -> ArtifactResult:
        _record(ctx, "start")
        deadline = time.monotonic() + float(ctx.params.get("seconds", 1))
        while time.monotonic() < deadline:
            ctx.checkpoint()
            time.sleep(0.02)
        _record(ctx, "end")
        return ArtifactResult([Entry("", ctx.snapshot.tree_id, {"slept": ctx.params.get("seconds", 1)})])


@register
class TestFlaky:
    artifact_type = "test_flaky"
    version = "1"

    def generate(self, ctx: GenerationContext) -> ArtifactResult:
        _record(ctx, "start")
        if not Path(ctx.params["succeed_when_exists"]).exists():
            raise RuntimeError("flaky generator failed on purpose")
        return ArtifactResult([Entry("", ctx.snapshot.tree_id, {"ok": True})])


@register
class TestNoop:
    artifact_type = "test_noop"
    version = "1"

    def generate(self, ctx: GenerationContext) -> ArtifactResult:
        return ArtifactResult([])
