"""Go imports: each file's package clause and import paths, resolved to the files of the imported package.

Go's rules, as `go list` applies them: a package is a directory; its import path is the path of the
nearest enclosing module (`module` in go.mod) joined with the directory below the module root. An
import of a path inside one of the repository's modules is an edge to every file of that package
(its non-test `.go` files with the package's name); a path whose first element has no dot is the
standard library; anything else is an external module, reported under the longest module path the
importing module's go.mod requires. `_test.go` files of an external `foo_test` package import their
package by path like any other importer; directories named `testdata` or starting with `.` or `_`
are not packages (the go command ignores them). Build constraints are not evaluated: a file for
another platform is still one of its package's files.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from warmer.artifacts.dependencies.source_text import without_comments

# Imports come before every other top-level declaration, which gofmt starts at column 0: the scan
# stops there instead of reading the whole file.
_FIRST_DECL = re.compile(r"^(?:func|type|var|const)\b", re.MULTILINE)
_PACKAGE = re.compile(r"^\s*package\s+(\w+)", re.MULTILINE)
_IMPORT = re.compile(
    r"\bimport\s*(?:\((?P<block>[^)]*)\)|(?P<single>(?:[\w.]+\s+)?(?:\"[^\"\n]*\"|`[^`]*`)))"
)
_SPEC = re.compile(r"(?:[\w.]+\s+)?(?:\"(?P<q>[^\"\n]*)\"|`(?P<r>[^`]*)`)")
_BUILD_IGNORE = re.compile(r"^//\s*(?:go:build|\+build)\s+ignore\b", re.MULTILINE)


def extract_go_imports(text: str) -> dict[str, Any]:
    """The file's package name, its import paths (sorted), and whether `//go:build ignore` excludes it."""
    head_end = _FIRST_DECL.search(text)
    head = without_comments(text[: head_end.start()] if head_end else text)
    package = _PACKAGE.search(head)
    if package is None:
        return {"imports": [], "error": "no package clause"}
    paths: set[str] = set()
    for match in _IMPORT.finditer(head, package.end()):
        specs = match.group("block") if match.group("block") is not None else match.group("single")
        for spec in _SPEC.finditer(specs):
            paths.add(spec.group("q") if spec.group("q") is not None else spec.group("r"))
    preamble = text[: package.start()]
    return {
        "package": package.group(1),
        "imports": sorted(paths),
        "build_ignore": bool(_BUILD_IGNORE.search(preamble)),
    }


def is_go_test(path: str) -> bool:
    return path.endswith("_test.go")


def _dir(path: str) -> str:
    parent = str(PurePosixPath(path).parent)
    return "" if parent == "." else parent


def _ignored_by_go(directory: str) -> bool:
    return any(p == "testdata" or p.startswith((".", "_")) for p in PurePosixPath(directory).parts)


@dataclass(frozen=True)
class GoModule:
    root: str  # directory of its go.mod, "" for the repository root
    path: str  # the `module` line
    requires: tuple[str, ...]  # required module paths, for naming external imports


class GoIndex:
    """The repository's Go modules and packages: import path → the package's files."""

    def __init__(self, modules: list[GoModule], files: dict[str, dict[str, Any]]) -> None:
        self.modules = sorted(modules, key=lambda m: len(m.root), reverse=True)  # nearest first
        by_dir: dict[str, list[str]] = defaultdict(list)
        for path, extract in files.items():
            if not is_go_test(path) and not extract.get("build_ignore") and extract.get("package"):
                by_dir[_dir(path)].append(path)
        self.packages: dict[str, list[str]] = {}  # import path → files
        self.path_of_dir: dict[str, str] = {}
        for directory, paths in by_dir.items():
            module = self.module_of(paths[0])
            if module is None or _ignored_by_go(directory):
                continue
            # One package per directory: the name most of its files declare (a stray generator with
            # `package main` beside a library keeps out of the library's files).
            name = Counter(files[p]["package"] for p in paths).most_common(1)[0][0]
            below = directory[len(module.root) :].strip("/") if module.root else directory
            import_path = f"{module.path}/{below}" if below else module.path
            self.packages[import_path] = sorted(p for p in paths if files[p]["package"] == name)
            self.path_of_dir[directory] = import_path

    def module_of(self, path: str) -> GoModule | None:
        for module in self.modules:
            if not module.root or path.startswith(module.root + "/"):
                return module
        return None

    def in_repository(self, import_path: str) -> bool:
        """Whether the path names a package under one of the repository's modules (found or not)."""
        return any(import_path == m.path or import_path.startswith(m.path + "/") for m in self.modules)


def external_module(import_path: str, module: GoModule | None) -> str:
    """The required module an external import belongs to (longest prefix), else its first three elements."""
    if module is not None:
        owners = [r for r in module.requires if import_path == r or import_path.startswith(r + "/")]
        if owners:
            return max(owners, key=len)
    return "/".join(import_path.split("/")[:3])


def resolve_go(
    path: str, imports: list[str], index: GoIndex
) -> tuple[set[str], set[str], set[str], list[str]]:
    """(internal target files, external modules, standard-library packages, unresolved internal paths)."""
    internal: set[str] = set()
    external: set[str] = set()
    stdlib: set[str] = set()
    unresolved: list[str] = []
    module = index.module_of(path)
    for import_path in imports:
        if import_path in index.packages:
            internal.update(index.packages[import_path])
        elif index.in_repository(import_path):
            unresolved.append(import_path)  # under our module path, but no such package directory
        elif import_path == "C" or "." not in import_path.split("/")[0]:
            stdlib.add(import_path)  # `C` is cgo's pseudo-package
        else:
            external.add(external_module(import_path, module))
    internal.discard(path)
    return internal, external, stdlib, unresolved
