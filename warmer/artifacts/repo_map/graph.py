"""The definition→reference graph PageRank runs on, kept per process and updated by what a commit changed.

Building it walks every reference of every file against the table of who defines each name: the
part of a repo map that grows with the repository. A commit that adds or removes no file changes
few rows: those of the files it changed, and of the files referencing a name whose definers (or
whose definers' family or demotion) it changed. Each row is computed by one function from the same
inputs either way, so an updated graph equals a graph built from scratch, row for row.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections import OrderedDict, defaultdict
from dataclasses import dataclass

from warmer.artifacts.repo_map import weights
from warmer.artifacts.repo_map.weights import FileTags, links, name_weight

# Per file: (name, weight, [(target file, factor)]): what each referenced name contributes, and where.
Contribution = tuple[str, float, list[tuple[int, float]]]
_KEPT = 4  # graphs kept per process, by node set (a worker serves several repositories)


@dataclass
class Graph:
    nodes: list[str]
    versions: dict[str, str]  # path → what its tags were built from (blob, kind, demotion)
    tags: dict[str, FileTags]
    top_level: dict[str, list[int]]  # name → files defining it at top level, ascending
    members_only: dict[str, list[int]]  # name → files defining it only inside a class, ascending
    referrers: dict[str, set[int]]  # name → files referencing it
    contributions: list[list[Contribution]]
    rows: list[list[tuple[int, float]]]  # out-edges (target, weight), by target


def _defined(tags: FileTags) -> tuple[set[str], set[str]]:
    """(names defined at top level, names defined only inside a class)."""
    nested: set[str] = set()
    top: set[str] = set()
    for definition in tags.definitions:
        (nested if definition.get("parent") else top).add(definition["name"])
    return top, nested - top


def _definers(graph: Graph, name: str) -> int:
    return len(graph.top_level.get(name, ())) + len(graph.members_only.get(name, ()))


def _row(graph: Graph, i: int) -> tuple[list[Contribution], list[tuple[int, float]]]:
    source = graph.tags[graph.nodes[i]]
    mine: list[Contribution] = []
    out: dict[int, float] = defaultdict(float)
    member_counts = source.member_references
    for name, count in source.references.items():
        top, members = graph.top_level.get(name), graph.members_only.get(name)
        if top is None and members is None:
            continue
        weight = name_weight(name, _definers(graph, name))
        if top is not None:
            mine.append((name, weight * math.sqrt(count), _targets(graph, i, source, top)))
        if members is not None and member_counts.get(name):
            mine.append(
                (
                    name,
                    weights.MEMBER_WEIGHT * weight * math.sqrt(member_counts[name]),
                    _targets(graph, i, source, members),
                )
            )
    for _name, weight, targets in mine:
        for j, factor in targets:
            out[j] += weight * factor
    return mine, sorted(out.items())


def _targets(graph: Graph, i: int, source: FileTags, definers: list[int]) -> list[tuple[int, float]]:
    found = []
    for j in definers:
        target = graph.tags[graph.nodes[j]]
        if j != i and links(source, target):
            found.append((j, weights.DEMOTED_WEIGHT if target.demoted else 1.0))
    return found


def _index_definitions(graph: Graph, i: int, sign: int) -> set[str]:
    """Add (sign 1) or remove (-1) file i's definitions from the tables; returns the names touched."""
    top, members = _defined(graph.tags[graph.nodes[i]])
    for names, table in ((top, graph.top_level), (members, graph.members_only)):
        for name in names:
            if sign > 0:
                bisect.insort(table.setdefault(name, []), i)
            else:
                table[name].remove(i)
                if not table[name]:
                    del table[name]
    return top | members


def _index_references(graph: Graph, i: int, sign: int) -> None:
    for name in graph.tags[graph.nodes[i]].references:
        if sign > 0:
            graph.referrers.setdefault(name, set()).add(i)
        else:
            graph.referrers[name].discard(i)


def build(tags: dict[str, FileTags], versions: dict[str, str]) -> Graph:
    nodes = sorted(tags)
    graph = Graph(nodes, dict(versions), dict(tags), {}, {}, {}, [], [])
    for i in range(len(nodes)):
        _index_definitions(graph, i, 1)
        _index_references(graph, i, 1)
    for i in range(len(nodes)):
        mine, row = _row(graph, i)
        graph.contributions.append(mine)
        graph.rows.append(row)
    return graph


def update(graph: Graph, tags: dict[str, FileTags], versions: dict[str, str]) -> None:
    """Bring a graph of the same files to these tags, recomputing only the rows that can differ."""
    changed = [i for i, path in enumerate(graph.nodes) if graph.versions[path] != versions[path]]
    touched: set[str] = set()
    for i in changed:
        old = graph.tags[graph.nodes[i]]
        new = tags[graph.nodes[i]]
        before = _index_definitions(graph, i, -1)
        _index_references(graph, i, -1)
        graph.tags[graph.nodes[i]] = new
        after = _index_definitions(graph, i, 1)
        _index_references(graph, i, 1)
        old_top, old_members = _defined(old)
        new_top, new_members = _defined(new)
        if (old.family, old.demoted) != (new.family, new.demoted):
            touched |= before | after  # every reference into the file weighs differently now
        else:
            touched |= (old_top ^ new_top) | (old_members ^ new_members)
        graph.versions[graph.nodes[i]] = versions[graph.nodes[i]]
    redo = set(changed)
    for name in touched:
        redo |= graph.referrers.get(name, set())
    for i in sorted(redo):
        graph.contributions[i], graph.rows[i] = _row(graph, i)


_GRAPHS: OrderedDict[str, Graph] = OrderedDict()


def clear() -> None:
    """Forget every kept graph (and the weights asked before): the rules changed (tests)."""
    _GRAPHS.clear()
    name_weight.cache_clear()


def graph_for(tags: dict[str, FileTags], versions: dict[str, str] | None) -> Graph:
    """The graph of these tags: the kept one of the same files, updated, or a new one."""
    if versions is None:
        return build(tags, {path: "" for path in tags})
    key = hashlib.sha256("\n".join(sorted(tags)).encode()).hexdigest()
    graph = _GRAPHS.pop(key, None)
    if graph is None:
        graph = build(tags, versions)
    else:
        update(graph, tags, versions)
    _GRAPHS[key] = graph
    while len(_GRAPHS) > _KEPT:
        _GRAPHS.popitem(last=False)
    return graph
