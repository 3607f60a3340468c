"""known_failure_fingerprint: how a repository's tests are run, and how they are known to fail.

Extract (per blob, cached through `extract_files`): the jobs and commands of each CI file
(`ci_config.py`). Reduce: one whole-repository entry with the jobs per CI system, the test commands,
the files that did not parse, and the failure fingerprints ingested from JUnit reports
(`ingest.py`), read from the ledger.

The fingerprints live beside the commit, not in it: the entry's source hash covers the tree and a
digest of the fingerprints served, so a new count makes a new entry even at the same commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from warmer.artifacts.base import ArtifactResult, Entry, GenerationContext
from warmer.artifacts.classify import is_test_file
from warmer.artifacts.extracting import extract_files
from warmer.artifacts.failures.ci_config import ci_kind, extract_ci
from warmer.artifacts.failures.ingest import fingerprints
from warmer.artifacts.failures.normalize import FINGERPRINT_VERSION
from warmer.artifacts.relevance import ReadBlob, Refresh, changed_inputs, summarize
from warmer.git.diff import PathChange

DEFAULT_MAX_FILE_BYTES = 1_000_000
DEFAULT_MAX_FINGERPRINTS = 100

__all__ = ["KnownFailureFingerprint"]


def _extract(kind: str, data: bytes, max_bytes: int) -> dict[str, Any]:
    if len(data) > max_bytes:
        return {"skipped": "too_large", "size": len(data)}
    return {"size": len(data), **extract_ci(kind, data)}


class KnownFailureFingerprint:
    artifact_type = "known_failure_fingerprint"
    version = "1"

    def kind_of(self, path: str) -> str | None:
        return ci_kind(path)

    def refresh(self, changes: Sequence[PathChange], read_blob: ReadBlob) -> Refresh | None:
        """The product page's "test files or CI configuration changed"; test files are not read here,
        but fingerprints name tests, so a change to one is worth a fresh look."""
        touched = sorted({p for c in changes if not c.is_submodule for p in c.paths if is_test_file(p)})
        seen = changed_inputs(self.kind_of, changes)
        if not touched and not seen:
            return None
        ci = sorted({p for c in seen for p in c.paths})
        groups = {"tests": touched, "ci": ci}
        return Refresh(None, "; ".join(f"{k}: {summarize(v)}" for k, v in groups.items() if v))

    def generate(self, ctx: GenerationContext) -> ArtifactResult:
        # Always the whole repository: one entry, rebuilt from cached extracts whatever the scope.
        max_bytes = int(ctx.params.get("max_file_bytes", DEFAULT_MAX_FILE_BYTES))
        done = extract_files(
            ctx, self.kind_of, lambda _path, kind, data: _extract(kind, data, max_bytes), max_bytes
        )
        systems: dict[str, list[dict[str, Any]]] = {}
        test_commands: list[dict[str, str]] = []
        errors: list[dict[str, str]] = []
        skipped = [s for s in done.skipped if ci_kind(s["path"]) is not None]
        for item in sorted(done.wanted, key=lambda w: w.path):
            extract = done.payload(item)
            if extract.get("skipped") or extract["size"] > max_bytes:
                skipped.append({"path": item.path, "reason": extract.get("skipped") or "too_large"})
                continue
            if extract["error"]:
                errors.append({"file": item.path, "system": item.kind, "error": extract["error"]})
                continue
            for job in extract["jobs"]:
                systems.setdefault(item.kind, []).append({"file": item.path, **job})
                test_commands += [
                    {"system": item.kind, "file": item.path, "job": job["name"], "command": c["command"]}
                    for c in job["commands"]
                    if c["is_test"]
                ]
        ctx.checkpoint()
        if ctx.ledger is None:
            found: list[dict[str, Any]] = []
            source = "unavailable"
        else:
            limit = int(ctx.params.get("max_fingerprints", DEFAULT_MAX_FINGERPRINTS))
            found, source = fingerprints(ctx.ledger, ctx.repo_name, limit=limit), "ledger"
        digest = hashlib.sha256(json.dumps([source, found], sort_keys=True).encode()).hexdigest()
        payload = {
            "artifact_type": self.artifact_type,
            "generator_version": self.version,
            "fingerprint_version": FINGERPRINT_VERSION,
            "tree": ctx.snapshot.tree_id,
            "ci": systems,
            "test_commands": test_commands,
            "errors": errors,
            "skipped": sorted(skipped, key=lambda s: s["path"]),
            "fingerprints": found,
            "fingerprints_source": source,
            "fingerprints_digest": digest,
        }
        source_hash = hashlib.sha256(f"{ctx.snapshot.tree_id}:{digest}".encode()).hexdigest()
        return ArtifactResult([Entry("", source_hash, payload)], calls=done.calls)
