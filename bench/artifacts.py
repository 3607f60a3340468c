"""Generators used only by benchmarks (WARMER_ARTIFACT_MODULES=bench.artifacts)."""

from __future__ import annotations

import time

from warmer.artifacts.base import ArtifactResult, GenerationContext
from warmer.artifacts.registry import register


@register
class BenchNoop:
    """Does nothing: what is left is the cost of the ledger and the queue."""

    artifact_type = "bench_noop"
    version = "1"

    def generate(self, ctx: GenerationContext) -> ArtifactResult:
        return ArtifactResult([])


@register
class BenchSleep:
    artifact_type = "bench_sleep"
    version = "1"

    def generate(self, ctx: GenerationContext) -> ArtifactResult:
        deadline = time.monotonic() + float(ctx.params.get("seconds", 60))
        while time.monotonic() < deadline:
            ctx.checkpoint()
            time.sleep(0.05)
        return ArtifactResult([])
