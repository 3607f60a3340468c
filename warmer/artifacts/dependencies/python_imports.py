"""Python imports: the raw statements of one file (cached by blob), resolved against the commit's modules.

Extraction keeps what the source says (`module`, relative `level`, imported
names) because resolving a relative import needs the file's path, which a
blob does not have. Resolution maps dotted names to files: a file's package
root is the first directory up from it without an `__init__.py`, which covers
flat layouts, `src/` layouts and packages nested anywhere in the tree.
"""

from __future__ import annotations

import ast
import sys
import warnings
from collections import defaultdict
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

NAMESPACE_TOPS = {"google"}  # report `google.protobuf`, not `google`: the distribution is per subpackage
STDLIB = frozenset(sys.stdlib_module_names)


def _statements(tree: ast.Module) -> Iterator[ast.stmt]:
    """Every statement at any depth (function and class bodies, if/try/with/loop/match blocks), without
    visiting expressions: an import is a statement, and expressions are most of a module's nodes."""
    pending: list[ast.stmt] = list(reversed(tree.body))
    while pending:
        node = pending.pop()
        yield node
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            block = getattr(node, field, None)
            if block:
                pending.extend(reversed(block))


def extract_python_imports(text: str) -> dict[str, Any]:
    """Every import statement in the file, including those inside functions and `try` blocks."""
    try:
        with warnings.catch_warnings():  # real code's `"\d"` escapes warn at parse time: not our output
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except SyntaxError as exc:
        return {"imports": [], "error": f"SyntaxError: {exc.msg} (line {exc.lineno})", "line": exc.lineno}
    found: dict[tuple[str, int, tuple[str, ...]], None] = {}
    for node in _statements(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found[(alias.name, 0, ())] = None
        elif isinstance(node, ast.ImportFrom):
            names = tuple(sorted({a.name for a in node.names if a.name != "*"}))
            found[(node.module or "", node.level, names)] = None
    # No line numbers and no order: moving an import, or code around it, changes no edge, so the
    # extract (and the planner's "did the import structure change") stays the same.
    imports = [{"module": m, "level": level, "names": list(names)} for m, level, names in sorted(found)]
    return {"imports": imports}


class ModuleIndex:
    """Dotted module names of the commit's Python files, per package root."""

    def __init__(self, paths: list[str]) -> None:
        dirs_with_init = {
            str(PurePosixPath(p).parent) for p in paths if PurePosixPath(p).name == "__init__.py"
        }
        self.by_name: dict[str, list[tuple[str, str]]] = defaultdict(list)  # module → [(root, path)]
        self.of_path: dict[str, tuple[str, str]] = {}  # path → (root, module)
        # PEP 420 namespace packages: `pkg/core.py` without `pkg/__init__.py` is still `pkg.core` when
        # the repository root (or `src/`) is on sys.path. Consulted only when no regular package answers.
        self.namespace: dict[str, str] = {}
        for path in sorted(paths):
            pure = PurePosixPath(path)
            if pure.suffix not in (".py", ".pyi"):
                continue
            for base in ("", "src"):
                inside = pure.relative_to(base) if base and pure.parts[0] == base else pure
                if (base and inside is pure) or not all(part.isidentifier() for part in inside.parent.parts):
                    continue
                dotted = ".".join(
                    [*inside.parent.parts, *([] if inside.stem == "__init__" else [inside.stem])]
                )
                if dotted and not path.endswith(".pyi"):
                    self.namespace.setdefault(dotted, path)
            parts = [] if pure.stem == "__init__" else [pure.stem]
            directory = pure.parent
            while str(directory) in dirs_with_init:
                parts.insert(0, directory.name)
                directory = directory.parent
            if not parts:  # an __init__.py directly in a package root: not importable by name
                continue
            root = "" if str(directory) == "." else str(directory)
            module = ".".join(parts)
            self.of_path[path] = (root, module)
            self.by_name[module].append((root, path))
        self.top_levels = {module.split(".")[0] for module in [*self.by_name, *self.namespace]}

    def lookup(self, module: str, preferred_root: str) -> str | None:
        """The file for a module: the importer's own root first, then the repository root, then `src`."""
        candidates = self.by_name.get(module)
        if not candidates:
            return self.namespace.get(module)
        order = {preferred_root: 0, "": 1, "src": 2}
        # .py before .pyi: the stub describes the module but the source is what runs
        return min(candidates, key=lambda c: (order.get(c[0], 3), c[1].endswith(".pyi"), c[1]))[1]

    def longest(self, module: str, preferred_root: str) -> str | None:
        """The deepest existing module along `a.b.c` (`import a.b.c` binds `a` and loads all three)."""
        parts = module.split(".")
        for end in range(len(parts), 0, -1):
            found = self.lookup(".".join(parts[:end]), preferred_root)
            if found:
                return found
        return None


def external_key(module: str) -> str:
    """What an external import is reported as: its top-level name, or `ns.sub` for namespace packages."""
    parts = module.split(".")
    if parts[0] in NAMESPACE_TOPS and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


def resolve_python(
    path: str, imports: list[dict[str, Any]], index: ModuleIndex
) -> tuple[set[str], set[str], set[str], list[str]]:
    """(internal target files, external module keys, stdlib top-levels, unresolved relative imports)."""
    internal: set[str] = set()
    external: set[str] = set()
    stdlib: set[str] = set()
    unresolved: list[str] = []
    root, own_module = index.of_path.get(path, ("", PurePosixPath(path).stem))
    is_package = PurePosixPath(path).stem == "__init__"
    for item in imports:
        module, level, names = item["module"], item["level"], item["names"]
        if level:
            package = own_module.split(".") if is_package else own_module.split(".")[:-1]
            if level - 1 >= len(package):  # Python: "attempted relative import beyond top-level package"
                unresolved.append(f"from {'.' * level}{module} import {', '.join(names) or '*'}")
                continue
            base = package[: len(package) - (level - 1)]
            absolute = ".".join(base + ([module] if module else []))
            targets = [index.lookup(f"{absolute}.{n}", root) for n in names]
            hits = [t for t in targets if t]
            if len(hits) < len(names) or not names:
                hit = index.longest(absolute, root)
                if hit:
                    hits.append(hit)
            if hits:
                internal.update(hits)
            else:
                unresolved.append(f"from {'.' * level}{module} import {', '.join(names) or '*'}")
            continue
        top = module.split(".")[0]
        if top in index.top_levels and index.longest(module, root):
            targets = [index.lookup(f"{module}.{n}", root) for n in names]
            hits = [t for t in targets if t]
            if len(hits) < len(names) or not names:
                hits.append(index.longest(module, root) or "")
            internal.update(h for h in hits if h)
        elif top in STDLIB:
            stdlib.add(top)
        else:
            external.add(external_key(module))
    internal.discard(path)
    return internal, external, stdlib, unresolved
