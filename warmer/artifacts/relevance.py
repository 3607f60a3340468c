"""Which changes an artifact depends on, derived from its generator's own file selection.

Every generator names the files it reads with `kind_of(path)`: the kind it reads the file as, or
None. The same function picks its files in `extract_files`, so the rule "an artifact is refreshed
whenever a file its generator reads changes" cannot drift from what the generator does. A file read
for its path alone (test_map's naming links, repo_map's tree) has the kind PATH_ONLY: editing its
content changes nothing, adding, removing or renaming it does.

`refresh(changes, read_blob)` on a generator answers for one set of tree changes: None (nothing it
reads changed: its entries stay right for the new commit) or a `Refresh` naming the paths to redo
(None: the whole artifact) and why. A generator may narrow the answer where its product rule says
so (dependency_graph: only manifests or import statements), never widen what it reads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from warmer.artifacts import registry
from warmer.artifacts.base import UnknownArtifactType
from warmer.git.diff import ChangeKind, PathChange

PATH_ONLY = "path"  # the kind of a file whose path a generator reads, but not its content
ReadBlob = Callable[[str], bytes]
KindOf = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Refresh:
    """What a set of changes makes an artifact redo: `scope` paths (None: all of it), and why."""

    scope: tuple[str, ...] | None
    reason: str


class Selective(Protocol):
    def kind_of(self, path: str) -> str | None: ...

    def refresh(self, changes: Sequence[PathChange], read_blob: ReadBlob) -> Refresh | None: ...


def reads_change(kind_of: KindOf, change: PathChange) -> bool:
    """Whether a generator reading files through `kind_of` can see this change."""
    if change.is_submodule:
        return False
    kinds = [kind_of(path) for path in change.paths]
    if all(kind is None for kind in kinds):
        return False
    # The same path with new content nobody reads changes nothing.
    return not (change.kind == ChangeKind.MODIFIED and kinds == [PATH_ONLY])


def changed_inputs(kind_of: KindOf, changes: Sequence[PathChange]) -> list[PathChange]:
    return [change for change in changes if reads_change(kind_of, change)]


def summarize(paths: Sequence[str], limit: int = 3) -> str:
    """e.g. "app/main.py, app/util.py, README.md …" for a refresh reason."""
    return ", ".join(paths[:limit]) + (" …" if len(paths) > limit else "")


def whole_refresh(kind_of: KindOf, changes: Sequence[PathChange]) -> Refresh | None:
    """The default rule: redo the whole artifact when any file it reads changed."""
    seen = changed_inputs(kind_of, changes)
    if not seen:
        return None
    return Refresh(None, f"inputs changed: {summarize(sorted({p for c in seen for p in c.paths}))}")


def per_file_refresh(kind_of: KindOf, changes: Sequence[PathChange]) -> Refresh | None:
    """For artifacts kept per file: redo the files whose input changed (both sides of a rename)."""
    seen = sorted({p for c in changed_inputs(kind_of, changes) for p in c.paths})
    return Refresh(tuple(seen), f"files: {summarize(seen)}") if seen else None


def refresh_of(artifact_type: str, changes: Sequence[PathChange], read_blob: ReadBlob) -> Refresh | None:
    """What `changes` make an artifact type redo. An unknown type is planned: its job says why it fails."""
    try:
        generator = registry.get(artifact_type)
    except UnknownArtifactType:
        return Refresh(None, "configured for every commit (no generator is registered for it)")
    return refresh_for(generator, changes, read_blob)


def refresh_for(generator: object, changes: Sequence[PathChange], read_blob: ReadBlob) -> Refresh | None:
    """The generator's own answer; a custom generator that names no files is refreshed on every commit."""
    if hasattr(generator, "refresh"):
        return generator.refresh(changes, read_blob)  # type: ignore[attr-defined, no-any-return]
    if hasattr(generator, "kind_of"):
        return whole_refresh(generator.kind_of, changes)  # type: ignore[attr-defined]
    return Refresh(None, "refreshed on every commit (the generator names no files)")
