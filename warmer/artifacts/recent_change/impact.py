"""Which tests a change reaches through imports: the reverse import graph, walked from the changed files.

A test that imports `a.py`, which imports the changed `b.py`, is affected as surely as one importing
`b.py` itself, so the walk is transitive and each test keeps its shortest chain as evidence. The
per-file import extracts are dependency_graph's (same parser, same resolvers), cached per blob
under their own kinds (`imports:python`, `imports:js`), so on a commit only changed files are read.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable
from typing import Any

from warmer.artifacts.base import GenerationContext
from warmer.artifacts.dependencies import DEFAULT_MAX_FILE_BYTES
from warmer.artifacts.dependencies import extract as extract_imports
from warmer.artifacts.dependencies import kind_of as dependency_kind
from warmer.artifacts.dependencies.js_imports import resolve_js
from warmer.artifacts.dependencies.python_imports import ModuleIndex, resolve_python
from warmer.artifacts.extracting import extract_files

PREFIX = "imports:"


def import_kind(path: str) -> str | None:
    """The files the reverse import graph reads (Python and JS/TS sources), under their own kinds."""
    kind = dependency_kind(path)
    return PREFIX + kind if kind in ("python", "js") else None


def read_imports(kind: str, data: bytes) -> dict[str, Any]:
    """The extract of one of `import_kind`'s kinds (for planning: compare two versions of a file)."""
    return extract_imports(kind[len(PREFIX) :], data, DEFAULT_MAX_FILE_BYTES)


def reverse_imports(ctx: GenerationContext, max_bytes: int, also_modules: set[str]) -> dict[str, set[str]]:
    """imported file → the files importing it. `also_modules` (deleted sources) stay resolvable, so a
    test still importing a module the commit removed is found."""
    done = extract_files(
        ctx,
        import_kind,
        lambda _path, kind, data: extract_imports(kind[len(PREFIX) :], data, max_bytes),
        max_bytes,
    )
    files = done.all_paths | also_modules
    modules = sorted(
        {w.path for w in done.wanted if w.kind == PREFIX + "python"}
        | {p for p in also_modules if p.endswith(".py")}
    )
    resolved = _resolved_for(files, modules)
    index: ModuleIndex | None = None
    importers: dict[str, set[str]] = defaultdict(set)
    for item in done.wanted:
        result = done.payload(item)
        if result.get("skipped"):
            continue
        key = (item.path, item.blob, item.kind)
        internal = resolved.get(key)
        if internal is None:
            if item.kind == PREFIX + "python":
                index = index or ModuleIndex(modules)
                internal = resolve_python(item.path, result["imports"], index)[0]
            else:
                internal = resolve_js(item.path, result["imports"], files, {})[0]
            resolved[key] = internal
        for target in internal:
            if target != item.path:
                importers[target].add(item.path)
    return importers


# A file's resolved imports depend on its path, its content and the set of paths they may name. One
# commit's jobs, and the next commits that add or remove no file, resolve against the same set: kept
# per process by that set, only the changed files are resolved again.
_RESOLVED: OrderedDict[str, dict[tuple[str, str, str], Any]] = OrderedDict()
_RESOLVED_SETS = 4


def _resolved_for(files: set[str], modules: list[str]) -> dict[tuple[str, str, str], Any]:
    signature = hashlib.sha256("\n".join([*sorted(files), "", *modules]).encode()).hexdigest()
    if signature not in _RESOLVED:
        _RESOLVED[signature] = {}
        while len(_RESOLVED) > _RESOLVED_SETS:
            _RESOLVED.popitem(last=False)
    _RESOLVED.move_to_end(signature)
    return _RESOLVED[signature]


def tests_reached(
    importers: dict[str, set[str]], changed: set[str], is_test: Callable[[str], bool]
) -> dict[str, list[str]]:
    """test → its shortest import chain [test, ..., changed file], by breadth-first search from the
    changed files over reversed import edges (ties broken by path, so the answer is stable)."""
    parent: dict[str, str | None] = {path: None for path in changed}
    queue = deque(sorted(changed))
    reached: dict[str, list[str]] = {}
    while queue:
        current = queue.popleft()
        for importer in sorted(importers.get(current, ())):
            if importer in parent:
                continue
            parent[importer] = current
            queue.append(importer)
            if is_test(importer):
                chain, node = [importer], current
                while node is not None:
                    chain.append(node)
                    node = parent[node]
                reached[importer] = chain
    return reached
