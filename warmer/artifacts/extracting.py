"""The per-file half of a generator, shared: which files, which cached extracts still answer, what to compute.

A generator names the kind of each file it reads (a language, a manifest type,
`PATH_ONLY` for a file whose path alone matters, or None to skip it; the commit
planner reads the same function, see relevance.py) and an extract function of (path, kind, content). Results
are cached by blob id as `{kind: payload}`, so identical content anywhere (another
commit, branch or repository) is computed once per kind, and the same blob read
as two kinds (an empty `__init__.py` and an empty `requirements.txt`) keeps both.
A payload skipped as too large is computed again once the job's size cap allows it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from warmer.artifacts.base import GenerationContext
from warmer.artifacts.relevance import PATH_ONLY

CHECKPOINT_EVERY = 100
Payload = dict[str, Any]


@dataclass(frozen=True)
class Wanted:
    path: str
    blob: str
    kind: str


@dataclass
class Extracted:
    wanted: list[Wanted]
    results: dict[tuple[str, str], Payload]  # (blob, kind) → payload
    skipped: list[dict[str, str]]  # path + reason, from the snapshot and symlinks
    extracted: int  # blobs computed in this run
    reused: int  # blobs served entirely from the cache
    all_paths: set[str]  # every file of the commit, read or not (for resolving imports)

    def payload(self, item: Wanted) -> Payload:
        return self.results[(item.blob, item.kind)]

    @property
    def calls(self) -> dict[str, int]:
        """What `ArtifactResult.calls` reports: blobs computed in this run against blobs reused."""
        return {"extracted": self.extracted, "reused": self.reused}


def usable(payload: Payload | None, max_bytes: int) -> bool:
    """A cached extract answers unless it was skipped as too large under a smaller cap than this one."""
    if payload is None:
        return False
    return not (payload.get("skipped") == "too_large" and payload.get("size", 0) <= max_bytes)


def extract_files(
    ctx: GenerationContext,
    kind_of: Callable[[str], str | None],
    extract: Callable[[str, str, bytes], Payload],
    max_bytes: int,
) -> Extracted:
    """Extract every file `kind_of` names, reusing what the cache already holds."""
    entries, snapshot_skipped = ctx.snapshot.entries()
    skipped = [{"path": s.path, "reason": s.reason} for s in snapshot_skipped]
    wanted: list[Wanted] = []
    for entry in entries:
        kind = kind_of(entry.path)
        if kind is None or kind == PATH_ONLY:  # a path-only kind reads no content
            continue
        if entry.is_symlink:
            skipped.append({"path": entry.path, "reason": "symlink"})
        else:
            wanted.append(Wanted(entry.path, entry.blob_id, kind))

    blobs = sorted({item.blob for item in wanted})
    cached = ctx.extracts.get_many(blobs)
    stored: dict[str, dict[str, Payload]] = {blob: dict(cached.get(blob) or {}) for blob in blobs}
    changed: set[str] = set()
    results: dict[tuple[str, str], Payload] = {}
    ctx.checkpoint()
    for index, item in enumerate(sorted(wanted, key=lambda w: (w.blob, w.kind, w.path))):
        ctx.report("files", index, len(wanted))
        if (item.blob, item.kind) in results:
            continue
        payload = stored[item.blob].get(item.kind)
        if not usable(payload, max_bytes):
            if len(changed) % CHECKPOINT_EVERY == 0:
                ctx.checkpoint()
            payload = extract(item.path, item.kind, ctx.snapshot.read(item.blob))
            stored[item.blob][item.kind] = payload
            changed.add(item.blob)
        assert payload is not None
        results[(item.blob, item.kind)] = payload
    ctx.extracts.put_many({blob: stored[blob] for blob in changed})
    ctx.report("files", len(wanted), len(wanted))
    return Extracted(
        wanted,
        results,
        skipped,
        extracted=len(changed),
        reused=len(set(blobs) - changed),
        all_paths={entry.path for entry in entries},
    )
