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

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from warmer.artifacts.classify import is_lockfile, is_manifest
from warmer.artifacts.languages import language_of

DAMPING = 0.85
MAX_ITERATIONS = 100
TOLERANCE = 1e-6  # per node, on the L1 change between iterations (as networkx)
LONG_NAME = 8  # snake_case or camelCase names at least this long are specific
MANY_DEFINERS = 5
LONG_NAME_WEIGHT = 10.0
PRIVATE_WEIGHT = 0.1
# A method reached as `x.name` could be any type's `name` (a file's `.write`, a dict's `.get`): such a
# reference says less about which file is meant than a top-level name imported and used by name.
MEMBER_WEIGHT = 0.5
MANY_DEFINERS_WEIGHT = 0.1
# Generated, vendored and migration files: references into them count this much, and so does their
# share of the teleport mass. A Django migration names every model; that makes the models important,
# not the migration; a generated `types.gen.ts` is referenced everywhere and read by nobody.
DEMOTED_WEIGHT = 0.05
_FAMILIES = {"javascript": "js", "typescript": "js", "tsx": "js", "c": "c", "cpp": "c", "java": "jvm",
             "kotlin": "jvm", "scala": "jvm"}  # fmt: skip


def family_of(kind: str) -> str | None:
    """The family a file's references link within: JS with TS, C with C++, Java with Kotlin; prose none."""
    return None if kind == "text" else _FAMILIES.get(kind, kind)


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


def name_weight(name: str, definers: int) -> float:
    """Aider's multipliers: how much one reference to `name` says about the files defining it."""
    weight = 1.0
    snake = "_" in name.strip("_") and any(c.isalpha() for c in name)
    camel = any(c.isupper() for c in name) and any(c.islower() for c in name)
    if (snake or camel) and len(name) >= LONG_NAME:
        weight *= LONG_NAME_WEIGHT
    if name.startswith("_"):
        weight *= PRIVATE_WEIGHT
    if definers > MANY_DEFINERS:
        weight *= MANY_DEFINERS_WEIGHT
    return weight


@dataclass
class FileTags:
    definitions: list[dict[str, Any]]  # name, kind, line, signature, parent
    references: dict[str, int]  # identifier → count
    member_references: dict[str, int] = field(default_factory=dict)  # of those, after `.`, `->`, `::`
    # The language family a reference links within (a TS type and a Python class of one name are not one
    # thing); None for prose (README, manifests), whose mentions may name anything.
    family: str | None = None
    # Generated, vendored or a migration: not where a reader starts (see `DEMOTED_WEIGHT`).
    demoted: bool = False


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


def _links(source: FileTags, target: FileTags) -> bool:
    return source.family is None or target.family is None or source.family == target.family


def rank_files(tags: dict[str, FileTags], focus: Iterable[str] = ()) -> Ranking:
    """Rank every file in `tags` and score the definitions others reference."""
    nodes = sorted(tags)
    index = {path: i for i, path in enumerate(nodes)}
    # A file defining a name at top level is reached by any reference to it; one defining it only
    # inside a class (a method) by member accesses (`x.name`), not by a local variable called `name`.
    top_level: dict[str, list[int]] = defaultdict(list)
    members_only: dict[str, list[int]] = defaultdict(list)
    for path in nodes:
        nested: set[str] = set()
        top: set[str] = set()
        for definition in tags[path].definitions:
            (nested if definition.get("parent") else top).add(definition["name"])
        for name in sorted(top):
            top_level[name].append(index[path])
        for name in sorted(nested - top):
            members_only[name].append(index[path])
    weights = {
        name: name_weight(name, len(top_level.get(name, ())) + len(members_only.get(name, ())))
        for name in top_level.keys() | members_only.keys()
    }

    # One pass over references: each (referencing file, name) contributes to every other definer.
    contributions: list[list[tuple[str, float, list[int]]]] = []
    rows: list[list[tuple[int, float]]] = []
    for path in nodes:
        i = index[path]
        mine: list[tuple[str, float, list[int]]] = []
        member_counts = tags[path].member_references
        for name, count in tags[path].references.items():
            weight = weights.get(name)
            if weight is None:
                continue
            if name in top_level:
                mine.append((name, weight * math.sqrt(count), top_level[name]))
            if name in members_only and member_counts.get(name):
                mine.append(
                    (name, MEMBER_WEIGHT * weight * math.sqrt(member_counts[name]), members_only[name])
                )
        out: dict[int, float] = defaultdict(float)
        for _name, weight, targets in mine:
            for j in targets:
                if j != i and _links(tags[path], tags[nodes[j]]):
                    out[j] += weight * (DEMOTED_WEIGHT if tags[nodes[j]].demoted else 1.0)
        contributions.append(mine)
        rows.append(sorted(out.items()))

    important = {p for p in nodes if is_important(p)}
    focused = {p for p in focus if p in index}
    teleport = _teleport(nodes, important, focused)
    demoted = [DEMOTED_WEIGHT if tags[path].demoted else 1.0 for path in nodes]
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
            for j in targets:
                if j != i and _links(tags[nodes[i]], tags[nodes[j]]):
                    scores[j][name] += share * (DEMOTED_WEIGHT if tags[nodes[j]].demoted else 1.0)
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
