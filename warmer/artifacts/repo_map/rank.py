"""Which files and definitions matter most: personalized PageRank over a definition→reference graph.

As Aider's repo map does: file A has an edge to file B (B ≠ A) when A
references a name B defines, weighted by sqrt(reference count) times a
multiplier per name (long, specific identifiers x10, `_private` ones x0.1,
names defined in more than 5 files x0.1, as they say little about which one is
meant). A name B defines only inside a class (a method) is matched by member
accesses only (`x.name`, not a local variable `name`), at half weight, since
`x.write` may be any type's `write`. PageRank runs by power iteration in pure
Python, teleporting towards important files (README, manifests, entry points)
and the job's focus paths. Each file's rank then flows out along its edges in
proportion to their weight; what reaches a definition's name in its file is
that definition's score.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from warmer.artifacts.classify import is_lockfile, is_manifest
from warmer.artifacts.languages import language_of
from warmer.artifacts.repo_map import weights
from warmer.artifacts.repo_map.graph import graph_for
from warmer.artifacts.repo_map.weights import FileTags

DAMPING = 0.85
MAX_ITERATIONS = 100
TOLERANCE = 1e-6  # per node, on the L1 change between iterations (as networkx)
# Shares of the teleport mass; a share whose group is empty goes to every file alike.
FOCUS_SHARE = 0.6
IMPORTANT_SHARE = 0.2

_ENTRY_STEMS = frozenset({"__main__", "main", "cli"})


def important_reason(path: str) -> int | None:
    """Why a path is important, as a sort order (README, manifest, entry point), or None."""
    parts = PurePosixPath(path).parts
    name = parts[-1]
    if len(parts) <= 2 and name.lower().startswith("readme"):
        return 0
    if len(parts) <= 2 and is_manifest(path) and not is_lockfile(path):
        return 1
    if PurePosixPath(name).stem in _ENTRY_STEMS and language_of(path) is not None:
        return 2
    return None


def is_important(path: str) -> bool:
    return important_reason(path) is not None


def important_files(paths: Iterable[str]) -> list[str]:
    """Important paths, READMEs first, then manifests, then entry points, shallow before deep."""
    found = [
        (reason, path.count("/"), path) for path in paths if (reason := important_reason(path)) is not None
    ]
    return [path for *_, path in sorted(found)]


@dataclass
class Ranking:
    ranks: dict[str, float]  # path → PageRank, summing to 1 over the nodes
    definition_scores: dict[str, dict[str, float]]  # path → name defined there → rank flowing into it
    nodes: int
    edges: int  # distinct file → file pairs
    iterations: int
    converged: bool
    personalized: dict[str, int] = field(default_factory=dict)


def _teleport(nodes: list[str], important: set[str], focus: set[str]) -> list[float]:
    """The personalization vector: shares for focus and important files, the rest uniform."""
    if not nodes:
        return []
    shares = {"focus": FOCUS_SHARE if focus else 0.0, "important": IMPORTANT_SHARE if important else 0.0}
    uniform = (1.0 - sum(shares.values())) / len(nodes)
    vector = []
    for path in nodes:
        value = uniform
        if path in focus:
            value += shares["focus"] / len(focus)
        if path in important:
            value += shares["important"] / len(important)
        vector.append(value)
    return vector


def pagerank(
    rows: list[list[tuple[int, float]]], teleport: list[float], damping: float = DAMPING
) -> tuple[list[float], int, bool]:
    """Power iteration; `rows[i]` holds (j, weight) out-edges of node i, normalized here.

    Dangling nodes (no out-edges) hand their mass back along the teleport vector,
    as networkx does with personalization. Returns (ranks, iterations, converged).
    """
    count = len(teleport)
    if count == 0:
        return [], 0, True
    normalized: list[list[tuple[int, float]]] = []
    dangling: list[int] = []
    for i, row in enumerate(rows):
        total = sum(w for _, w in row)
        if total > 0:
            normalized.append([(j, w / total) for j, w in row])
        else:
            normalized.append([])
            dangling.append(i)
    ranks = [1.0 / count] * count
    for iteration in range(1, MAX_ITERATIONS + 1):
        lost = damping * sum(ranks[i] for i in dangling) + (1.0 - damping)
        new = [lost * t for t in teleport]
        for i, row in enumerate(normalized):
            if row:
                mass = damping * ranks[i]
                for j, w in row:
                    new[j] += mass * w
        change = sum(abs(a - b) for a, b in zip(new, ranks, strict=True))
        ranks = new
        if change < count * TOLERANCE:
            return ranks, iteration, True
    return ranks, MAX_ITERATIONS, False


def rank_files(
    tags: dict[str, FileTags], focus: Iterable[str] = (), versions: dict[str, str] | None = None
) -> Ranking:
    """Rank every file in `tags` and score the definitions others reference. With `versions` (path →
    what its tags were built from), the reference graph kept from an earlier call on the same files
    is updated rather than rebuilt (`graph.py`)."""
    graph = graph_for(tags, versions)
    nodes, rows, contributions = graph.nodes, graph.rows, graph.contributions
    index = {path: i for i, path in enumerate(nodes)}
    important = {p for p in nodes if is_important(p)}
    focused = {p for p in focus if p in index}
    teleport = _teleport(nodes, important, focused)
    demoted = [weights.DEMOTED_WEIGHT if tags[path].demoted else 1.0 for path in nodes]
    total = sum(t * d for t, d in zip(teleport, demoted, strict=True)) or 1.0
    teleport = [t * d / total for t, d in zip(teleport, demoted, strict=True)]
    ranks, iterations, converged = pagerank(rows, teleport)

    # Distribute each file's rank over its out-edges by weight (Aider's ranked definitions).
    scores: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for i, mine in enumerate(contributions):
        total = sum(w for _, w in rows[i])
        if total <= 0:
            continue
        flow = ranks[i] / total
        for name, weight, targets in mine:
            share = flow * weight
            for j, factor in targets:
                scores[j][name] += share * factor
    return Ranking(
        ranks={path: ranks[index[path]] for path in nodes},
        definition_scores={nodes[j]: dict(by_name) for j, by_name in scores.items()},
        nodes=len(nodes),
        edges=sum(len(row) for row in rows),
        iterations=iterations,
        converged=converged,
        personalized={"important": len(important), "focus": len(focused)},
    )


def top_definitions(tags: FileTags, scores: dict[str, float], limit: int) -> list[dict[str, Any]]:
    """The file's definitions others reference most, best first, one per name (its first by line)."""
    first: dict[str, dict[str, Any]] = {}
    for definition in sorted(tags.definitions, key=lambda d: d["line"]):
        if scores.get(definition["name"], 0.0) > 0:
            first.setdefault(definition["name"], definition)
    return sorted(first.values(), key=lambda d: (-scores[d["name"]], d["line"]))[:limit]
