"""The text an agent pastes into a prompt: as much of the map as fits a token budget.

Sections in order: the header line; the important files (README, manifests,
entry points); the ranked files, each as `path:` followed by `│signature`
lines of its most referenced definitions (Aider's style, a method under its
class's line); and, once every ranked definition fits, the directory tree with
sizes. How much is shown is found by binary search on the number of items
(important files, then definitions best first): the text only grows with that
number, so the largest count that fits is the answer, and the text only grows
with the budget.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, TypeVar

CHARS_PER_TOKEN = 4  # the usual estimate for English and code with BPE tokenizers
SIGNATURE_SHOWN = 120  # characters of a signature line; the rest is elided


def estimate_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


@dataclass
class Dir:
    path: str
    files: int = 0
    lines: int = 0
    size: int = 0


def human(n: int) -> str:
    for unit, step in (("M", 1_000_000), ("K", 1_000)):
        if n >= step:
            return f"{n / step:.1f}{unit}"
    return str(n)


def dir_key(path: PurePosixPath) -> str:
    return "" if str(path) == "." else str(path)


def directories(files: list[dict[str, Any]]) -> dict[str, Dir]:
    dirs: dict[str, Dir] = {"": Dir("")}
    for item in files:
        for parent in PurePosixPath(item["path"]).parents:
            path = dir_key(parent)
            node = dirs.setdefault(path, Dir(path))
            node.files += 1
            node.lines += item["lines"] or 0
            node.size += item["size"]
    return dirs


_T = TypeVar("_T")


def _largest_fitting(build: Callable[[int], _T], text_of: Callable[[_T], str], high: int, budget: int) -> _T:
    """build(n) for the largest n in [0, high] whose text fits; build(0) when none does."""
    low, best = 0, build(0)
    while low <= high:
        middle = (low + high) // 2
        candidate = build(middle)
        if estimate_tokens(text_of(candidate)) <= budget:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


def render_tree(
    header: str, files: list[dict[str, Any]], dirs: dict[str, Dir], budget_tokens: int
) -> tuple[str, set[str]]:
    """The largest tree rendering whose estimated tokens fit the budget; returns (text, shown files)."""
    ranked = sorted(
        [("d", d.path, d.lines or d.size) for d in dirs.values() if d.path]
        + [("f", f["path"], f["lines"] or 0) for f in files],
        key=lambda node: (-node[2], node[1]),
    )
    by_path = {f["path"]: f for f in files}
    direct_files: dict[str, int] = defaultdict(int)
    for f in files:
        direct_files[dir_key(PurePosixPath(f["path"]).parent)] += 1

    def build(count: int) -> tuple[str, set[str]]:
        chosen_dirs = {""}
        chosen_files = set()
        for kind, path, _score in ranked[:count]:
            (chosen_dirs if kind == "d" else chosen_files).add(path)
            chosen_dirs.update(dir_key(p) for p in PurePosixPath(path).parents)
        children: dict[str, list[str]] = defaultdict(list)
        for path in chosen_dirs - {""}:
            children[dir_key(PurePosixPath(path).parent)].append(path + "/")
        for path in chosen_files:
            children[dir_key(PurePosixPath(path).parent)].append(path)
        lines = [header]

        def walk(directory: str, depth: int) -> None:
            entries = sorted(children.get(directory, []), key=lambda p: (not p.endswith("/"), p))
            for entry in entries:
                pad = "  " * depth
                if entry.endswith("/"):
                    node = dirs[entry[:-1]]
                    name = PurePosixPath(entry[:-1]).name
                    lines.append(f"{pad}{name}/  ({node.files} files, {human(node.lines)} lines)")
                    walk(entry[:-1], depth + 1)
                else:
                    f = by_path[entry]
                    detail = f"{f['lines']} lines" if f["lines"] is not None else f["kind"].replace("_", " ")
                    lines.append(f"{pad}{PurePosixPath(entry).name}  {f['language'] or '-'}  {detail}")
            shown_files = sum(1 for e in entries if not e.endswith("/"))
            total_direct = direct_files.get(directory, 0)
            if total_direct > shown_files:
                lines.append(f"{'  ' * depth}… {total_direct - shown_files} more files")

        walk("", 0)
        return "\n".join(lines), chosen_files

    return _largest_fitting(build, lambda c: c[0], len(ranked), budget_tokens)


@dataclass(frozen=True)
class Shown:
    """One rendering and what it holds."""

    text: str
    files: frozenset[str]
    definitions: int


def _signature_line(definition: dict[str, Any]) -> str:
    text = definition.get("signature") or f"{definition['kind']} {definition['name']}"
    if len(text) > SIGNATURE_SHOWN:
        text = text[: SIGNATURE_SHOWN - 1] + "…"
    return f"│{'    ' if definition.get('parent') else ''}{text}"


def _owners(definitions: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """For each definition with a parent (by id), the nearest earlier definition of that name."""
    last: dict[str, dict[str, Any]] = {}
    owners: dict[int, dict[str, Any]] = {}
    for definition in sorted(definitions, key=lambda d: d["line"]):
        parent = definition.get("parent")
        if parent and parent in last:
            owners[id(definition)] = last[parent]
        last[definition["name"]] = definition
    return owners


def _file_lines(path: str, chosen: list[dict[str, Any]], owners: dict[int, dict[str, Any]]) -> list[str]:
    """`path:` then the chosen definitions by line, each method after its class's line."""
    lines = [f"{path}:"]
    printed: set[int] = set()
    for definition in sorted(chosen, key=lambda d: (d["line"], d["name"])):
        owner = owners.get(id(definition))
        if owner is not None and id(owner) not in printed:
            printed.add(id(owner))
            lines.append(_signature_line(owner))
        if id(definition) not in printed:
            printed.add(id(definition))
            lines.append(_signature_line(definition))
    return lines


def render_map(
    header: str,
    important: list[str],
    ranked_files: list[str],
    ranked_definitions: list[tuple[str, dict[str, Any]]],
    definitions_of: dict[str, list[dict[str, Any]]],
    tree: Callable[[int], tuple[str, set[str]]],
    budget_tokens: int,
) -> Shown:
    """The largest rendering that fits: important files, then definitions best first, then the tree.

    `ranked_files` orders the files of the ranked section; `ranked_definitions`
    is (path, definition) best first; `tree(tokens)` renders the directory tree
    within a budget and is asked only once every definition is shown.
    """
    order = {path: i for i, path in enumerate(ranked_files)}
    important_set = set(important)
    owners: dict[int, dict[str, Any]] = {}
    for path in {p for p, _ in ranked_definitions}:
        owners.update(_owners(definitions_of.get(path, [])))

    def build(count: int) -> Shown:
        files = important[:count]
        chosen: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for path, definition in ranked_definitions[: max(0, count - len(important))]:
            chosen[path].append(definition)
        lines = [header]
        if files:
            lines.append("important files:")
            for path in files:
                lines.extend(_file_lines(path, chosen.get(path, []), owners))
        others = sorted(
            (p for p in chosen if p not in important_set), key=lambda p: (order.get(p, len(order)), p)
        )
        if others:
            lines.append("ranked files:")
            for path in others:
                lines.extend(_file_lines(path, chosen[path], owners))
        shown = sum(len(v) for v in chosen.values())
        return Shown("\n".join(lines), frozenset(files) | frozenset(others), shown)

    total = len(important) + len(ranked_definitions)
    best = _largest_fitting(build, lambda s: s.text, total, budget_tokens)
    if estimate_tokens(best.text) > budget_tokens:  # not even the header fits: cut it, keep the promise
        return Shown(header[: max(0, budget_tokens) * CHARS_PER_TOKEN], frozenset(), 0)
    if best.definitions < len(ranked_definitions) or len(best.files & important_set) < len(important):
        return best
    # Every ranked item fits: the directory tree gets what is left (a newline joins the sections).
    room = (budget_tokens * CHARS_PER_TOKEN - len(best.text) - 1) // CHARS_PER_TOKEN
    if room <= 0:
        return best
    text, tree_files = tree(room)
    if estimate_tokens(text) > room:  # not even the tree's first line fits
        return best
    return Shown(f"{best.text}\n{text}", best.files | frozenset(tree_files), best.definitions)
