"""The commit's import graph across languages: each language's resolver over its files' extracts.

Every resolver answers the same four things for one file: the repository files it imports, the
external packages, the standard-library modules, and what it could not resolve. This module builds
each language's index from the commit (Python modules, JS files and tsconfig aliases, Go modules
from go.mod, Java/Kotlin packages, Rust crates from Cargo.toml, C headers), runs the resolvers, and
says per language how many files it read and what it could not do, so an empty list is never
mistaken for a fact: a language it has no resolver for is listed as unsupported.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import PurePosixPath
from typing import Any

from warmer.artifacts.classify import CODE_LANGUAGES
from warmer.artifacts.dependencies import distributions
from warmer.artifacts.dependencies.c_includes import HeaderIndex, resolve_includes
from warmer.artifacts.dependencies.go_imports import GoIndex, GoModule, resolve_go
from warmer.artifacts.dependencies.js_imports import resolve_js
from warmer.artifacts.dependencies.jvm_imports import JvmIndex, resolve_jvm
from warmer.artifacts.dependencies.manifests import normalize_python_name
from warmer.artifacts.dependencies.python_imports import ModuleIndex, resolve_python
from warmer.artifacts.dependencies.rust_imports import Crate, RustIndex, crate_roots, resolve_rust
from warmer.artifacts.dependencies.tsconfig import TsConfigs
from warmer.artifacts.languages import language_of

# Source kinds read for imports, and the language each reports under.
SOURCE_KINDS = {
    "python": "python",
    "js": "javascript",
    "go": "go",
    "java": "java",
    "kotlin": "kotlin",
    "rust": "rust",
    "c": "c",
}
# Languages whose source files are code but whose imports are not read (yet): said so in the entry.
_COVERED_LANGUAGES = {"python", "javascript", "typescript", "go", "java", "kotlin", "rust", "c", "cpp"}


@dataclass
class Inputs:
    """What the reduce hands the graph: source extracts and the manifests that shape resolution."""

    sources: list[tuple[str, str, dict[str, Any]]]  # (path, kind, extract)
    all_paths: set[str]
    go_mods: dict[str, dict[str, Any]] = field(default_factory=dict)  # path → parsed go.mod
    cargo: dict[str, dict[str, Any]] = field(default_factory=dict)  # path → parsed Cargo.toml
    tsconfigs: dict[str, dict[str, Any]] = field(default_factory=dict)
    mains: dict[str, str] = field(default_factory=dict)  # directory → package.json `main`
    packages: dict[str, str] = field(default_factory=dict)  # npm package name → its directory
    declared_python: dict[str, str] = field(default_factory=dict)  # normalised → declared name
    declared_npm: set[str] = field(default_factory=set)


def _dir(path: str) -> str:
    parent = str(PurePosixPath(path).parent)
    return "" if parent == "." else parent


def go_index(inputs: Inputs) -> GoIndex:
    modules = [
        GoModule(_dir(path), parsed["module"], tuple(d["name"] for d in parsed.get("dependencies", [])))
        for path, parsed in inputs.go_mods.items()
        if parsed.get("module")
    ]
    files = {p: e for p, k, e in inputs.sources if k == "go"}
    return GoIndex(modules, files)


def _members(root_dir: str, layout: dict[str, Any], package_dirs: set[str]) -> set[str]:
    """Package directories a workspace's `members` globs (minus `exclude`) name."""
    prefix = f"{root_dir}/" if root_dir else ""
    found = set()
    for directory in package_dirs:
        if not directory.startswith(prefix) and root_dir:
            continue
        below = directory[len(prefix) :]
        if any(fnmatch(below, m.rstrip("/")) for m in layout["workspace_members"]) and not any(
            fnmatch(below, e.rstrip("/")) for e in layout["workspace_exclude"]
        ):
            found.add(directory)
    return found


def rust_index(inputs: Inputs) -> RustIndex:
    layouts = {_dir(p): parsed["crate"] for p, parsed in inputs.cargo.items() if parsed.get("crate")}
    package_dirs = {d for d, layout in layouts.items() if layout.get("name")}
    workspace_of: dict[str, dict[str, Any]] = {}
    for root_dir, layout in layouts.items():
        if layout["workspace_members"]:
            for member in _members(root_dir, layout, package_dirs) | ({root_dir} & package_dirs):
                workspace_of[member] = {"dir": root_dir, **layout}
    files = {p: e for p, k, e in inputs.sources if k == "rust"}
    crates = []
    for directory in sorted(package_dirs):
        layout = layouts[directory]
        workspace = workspace_of.get(directory)
        edition = layout["edition"]
        if edition == "workspace":
            edition = (workspace or {}).get("workspace_edition") or "2021"
        local = {n: PurePosixPath(directory, p).as_posix() for n, p in layout["path_dependencies"].items()}
        for key in layout["workspace_dependencies"]:
            code = key.replace("-", "_")
            if workspace and code in workspace["workspace_paths"]:
                local[code] = PurePosixPath(workspace["dir"], workspace["workspace_paths"][code]).as_posix()
        lib_root, others = crate_roots(directory, layout, inputs.all_paths)
        name = (layout["lib_name"] or layout["name"]).replace("-", "_")
        crates.append(
            Crate(
                name=name,
                package_dir=directory,
                edition=str(edition),
                lib_root=lib_root,
                other_roots=others,
                dependencies={n: _normal(p) for n, p in local.items()},
                declared=set(layout["dependency_names"]),
            )
        )
    return RustIndex(crates, files)


def _normal(path: str) -> str:
    parts: list[str] = []
    for part in PurePosixPath(path).parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def build(inputs: Inputs) -> dict[str, Any]:
    """Internal edges, external and standard-library imports, unresolved imports and per-language coverage."""
    by_kind: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for path, kind, extract in inputs.sources:
        by_kind[kind].append((path, extract))
    python_index = ModuleIndex([p for p, _ in by_kind["python"]])
    go = go_index(inputs) if by_kind["go"] else None
    jvm = (
        JvmIndex({p: e for p, e in by_kind["java"] + by_kind["kotlin"]})
        if by_kind["java"] or by_kind["kotlin"]
        else None
    )
    rust = rust_index(inputs) if by_kind["rust"] else None
    headers = HeaderIndex(inputs.all_paths) if by_kind["c"] else None
    tsconfigs = TsConfigs(inputs.tsconfigs)

    edges: set[tuple[str, str]] = set()
    external: dict[tuple[str, str], set[str]] = defaultdict(set)
    stdlib: dict[tuple[str, str], set[str]] = defaultdict(set)
    unresolved: list[dict[str, Any]] = []
    per_language: dict[str, Counter[str]] = defaultdict(Counter)
    for kind, files in sorted(by_kind.items()):
        language = SOURCE_KINDS[kind]
        for path, extract in files:
            per_language[language]["files"] += 1
            if extract.get("error"):
                per_language[language]["parse_errors"] += 1
            if kind == "python":
                found = resolve_python(path, extract.get("imports", []), python_index)
            elif kind == "js":
                found = resolve_js(
                    path,
                    extract.get("imports", []),
                    inputs.all_paths,
                    inputs.mains,
                    tsconfigs,
                    inputs.packages,
                )
            elif kind == "go":
                assert go is not None
                found = resolve_go(path, extract.get("imports", []), go)
            elif kind in ("java", "kotlin"):
                assert jvm is not None
                found = resolve_jvm(path, extract.get("imports", []), jvm)
            elif kind == "rust":
                assert rust is not None
                found = resolve_rust(path, extract, rust)
            else:
                assert headers is not None
                found = resolve_includes(path, extract.get("includes", []), headers)
            internal, ext, std, missing = found
            edges.update((path, target) for target in internal)
            per_language[language]["edges"] += len(internal)
            for module in ext:
                external[(language, module)].add(path)
            for module in std:
                stdlib[(language, module)].add(path)
            for spec in missing:
                unresolved.append({"path": path, "language": language, "import": spec})
            per_language[language]["unresolved"] += len(missing)

    problems = _language_problems(inputs, by_kind, go, tsconfigs)
    return {
        "internal_edges": [{"from": a, "to": b} for a, b in sorted(edges)],
        "external_imports": [
            {"language": lang, "module": mod, "files": len(paths), **_package(lang, mod, inputs)}
            for (lang, mod), paths in sorted(external.items())
        ],
        "stdlib_imports": [
            {"language": lang, "module": mod, "files": len(paths)}
            for (lang, mod), paths in sorted(stdlib.items())
        ],
        "unresolved_imports": sorted(unresolved, key=lambda u: (u["path"], u["import"])),
        "languages": _coverage(per_language, inputs.all_paths, problems),
    }


def _package(language: str, module: str, inputs: Inputs) -> dict[str, Any]:
    """The declared package an external import belongs to and, for Python, the distribution to install."""
    if language == "python":
        return {
            "package": distributions.declared_package(module, inputs.declared_python),
            "distribution": distributions.distribution(module),
        }
    if language == "javascript":
        return {"package": module if module in inputs.declared_npm else None}
    return {"package": None}


def _language_problems(
    inputs: Inputs,
    by_kind: dict[str, list[tuple[str, dict[str, Any]]]],
    go: GoIndex | None,
    tsconfigs: TsConfigs,
) -> dict[str, list[str]]:
    """What kept a language's graph from being whole, beyond single unresolved imports."""
    problems: dict[str, list[str]] = defaultdict(list)
    if by_kind["go"] and go is not None and not go.modules:
        problems["go"].append("no go.mod with a module line: Go import paths cannot be mapped to directories")
    if by_kind["rust"] and not inputs.cargo:
        problems["rust"].append("no Cargo.toml: crate roots unknown, `mod` and `use` paths not resolved")
    for config in sorted(tsconfigs.configs):
        problems["javascript"].extend(tsconfigs.resolution(config).problems)
    return {k: sorted(set(v)) for k, v in problems.items()}


def _coverage(
    per_language: dict[str, Counter[str]], all_paths: set[str], problems: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """One row per code language of the commit: files read, edges, unresolved, or why it was not read."""
    rows: list[dict[str, Any]] = []
    for language, counts in sorted(per_language.items()):
        row: dict[str, Any] = {"language": language, "files": counts["files"], "edges": counts["edges"]}
        row["unresolved"] = counts["unresolved"]
        row["parse_errors"] = counts["parse_errors"]
        if problems.get(language):
            row["problems"] = problems[language]
        rows.append(row)
    untouched = Counter(
        language
        for path in all_paths
        if (language := language_of(path)) in CODE_LANGUAGES and language not in _COVERED_LANGUAGES
    )
    for language, count in sorted(untouched.items()):
        rows.append(
            {
                "language": language,
                "files": count,
                "unsupported": f"{language} imports are not read: no edges",
            }
        )
    return rows


__all__ = ["SOURCE_KINDS", "Inputs", "build", "normalize_python_name"]
