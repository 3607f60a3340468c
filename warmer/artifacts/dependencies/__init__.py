"""dependency_graph: what a commit declares it depends on, and what its code actually imports.

Extract (per blob, cached): a manifest's or lockfile's parsed dependencies
(`manifests.py`, `manifests_native.py`), or a source file's raw import
statements (`python_imports.py`, `js_imports.py`). The cache holds one dict per
blob keyed by extract kind, since the same content can sit at two kinds of path.
Reduce (per commit): declared dependencies joined with the nearest lockfile,
the internal import graph (file → file), external imports mapped to declared
packages, standard-library imports, and everything that could not be read.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

from warmer.artifacts.base import ArtifactResult, Entry, GenerationContext, whole_repository_header
from warmer.artifacts.classify import manifest_kind
from warmer.artifacts.dependencies import graph
from warmer.artifacts.dependencies.c_includes import extract_includes
from warmer.artifacts.dependencies.go_imports import extract_go_imports
from warmer.artifacts.dependencies.gradle import substitute_gradle
from warmer.artifacts.dependencies.js_imports import extract_js_imports
from warmer.artifacts.dependencies.jvm_imports import extract_java_imports, extract_kotlin_imports
from warmer.artifacts.dependencies.manifests import (
    has_parser,
    normalize_python_name,
    parse_manifest,
    requirements_group,
)
from warmer.artifacts.dependencies.planning import dependency_refresh
from warmer.artifacts.dependencies.python_imports import extract_python_imports
from warmer.artifacts.dependencies.rust_imports import extract_rust_imports
from warmer.artifacts.dependencies.tsconfig import extract_tsconfig
from warmer.artifacts.dependencies.versions import pick_locked
from warmer.artifacts.extracting import extract_files
from warmer.artifacts.languages import language_of
from warmer.artifacts.relevance import ReadBlob, Refresh
from warmer.git.diff import PathChange

DEFAULT_MAX_FILE_BYTES = 2_000_000
_BINARY_SNIFF = 8192
# Source language → the extract kind that reads its imports.
_SOURCE_KIND = {
    "javascript": "js",
    "typescript": "js",
    "go": "go",
    "java": "java",
    "kotlin": "kotlin",
    "rust": "rust",
    "c": "c",
    "cpp": "c",
}
_EXTRACTORS = {
    "python": extract_python_imports,
    "js": extract_js_imports,
    "go": extract_go_imports,
    "java": extract_java_imports,
    "kotlin": extract_kotlin_imports,
    "rust": extract_rust_imports,
    "c": extract_includes,
    "tsconfig": extract_tsconfig,
}


def kind_of(path: str) -> str | None:
    """The extract a path needs: a manifest format, `tsconfig`, a source language's imports, or nothing.

    A manifest format without a parser is still read, so the entry says it was left out."""
    kind = manifest_kind(path)
    if kind:
        return kind
    language = language_of(path)
    if language == "python" and PurePosixPath(path).suffix in (".py", ".pyi"):
        return "python"
    if language == "kotlin" and path.endswith(".kts"):
        return None  # build and other scripts: nothing imports them
    return _SOURCE_KIND.get(language or "")


# The same content is read by several askers within moments: the planner (a file's two versions),
# then dependency_graph's and the reverse-import jobs of the same commit. Keyed by the content's
# hash; the few most recent answers are kept.
_RECENT: OrderedDict[tuple[str, int, str], dict[str, Any]] = OrderedDict()
_RECENT_KEPT = 64


def extract(kind: str, data: bytes, max_bytes: int) -> dict[str, Any]:
    """One blob's extract for one kind; unreadable content is marked skipped with the reason."""
    key = (kind, max_bytes, hashlib.sha1(data).hexdigest())
    found = _RECENT.get(key)
    if found is None:
        found = _RECENT[key] = _extract(kind, data, max_bytes)
        while len(_RECENT) > _RECENT_KEPT:
            _RECENT.popitem(last=False)
    return found


def _extract(kind: str, data: bytes, max_bytes: int) -> dict[str, Any]:
    size = len(data)
    if b"\0" in data[:_BINARY_SNIFF]:
        return {"skipped": "binary", "size": size}
    if size > max_bytes:
        return {"skipped": "too_large", "size": size}
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return {"skipped": "non_utf8", "size": size}
    if kind in _EXTRACTORS:
        result = _EXTRACTORS[kind](text)
    elif not has_parser(kind):
        return {"skipped": f"{kind} files are not parsed yet", "size": size}
    else:
        result = parse_manifest(kind, text)
    return {**result, "size": size}


def planning_extract(kind: str, data: bytes) -> dict[str, Any]:
    """The extract the planner compares between a file's two versions (the default size bound)."""
    return extract(kind, data, DEFAULT_MAX_FILE_BYTES)


def _dir(path: str) -> str:
    parent = str(PurePosixPath(path).parent)
    return "" if parent == "." else parent


def _find_lock(
    directory: PurePosixPath, ecosystem: str, locks: dict[tuple[str, str], dict[str, Any]]
) -> tuple[str, dict[str, Any]] | None:
    """(its directory, the lockfile) of this ecosystem in the manifest's directory or the nearest one
    above (a workspace's root lock)."""
    for candidate in [directory, *directory.parents]:
        key = (str(candidate), ecosystem)
        if key in locks:
            return ("" if str(candidate) == "." else str(candidate)), locks[key]
    return None


def _locked_version(
    lock: dict[str, Any], importer: str, ecosystem: str, name: str, spec: str | None
) -> str | None:
    """The locked version of a declared dependency: the lock's own answer for this manifest (pnpm's
    importers) or requirement (yarn), else the one locked version, else the highest locked version
    the requirement accepts (two majors of one crate in Cargo.lock)."""
    own = lock.get("by_importer", {}).get(importer, {})
    answer = own.get(f"{name}@{spec}") or own.get(name) or lock["by_spec"].get(f"{name}@{spec}")
    if answer:
        return str(answer)
    versions = lock["by_name"].get(name) or lock["by_name"].get(normalize_python_name(name), [])
    if len(versions) == 1:
        return versions[0]
    return pick_locked(ecosystem, spec, versions)


class DependencyGraph:
    artifact_type = "dependency_graph"
    version = "1"

    def kind_of(self, path: str) -> str | None:
        return kind_of(path)

    def refresh(self, changes: Sequence[PathChange], read_blob: ReadBlob) -> Refresh | None:
        return dependency_refresh(self.kind_of, changes, read_blob, planning_extract)

    def slices(self, payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """One module's neighbourhood (`?path=`): what it imports, who imports it, what did not resolve."""
        found: dict[str, dict[str, Any]] = {}
        for edge in payload["internal_edges"]:
            found.setdefault(edge["from"], self.empty_slice())["imports"].append(edge["to"])
            found.setdefault(edge["to"], self.empty_slice())["imported_by"].append(edge["from"])
        for item in payload["unresolved_imports"]:
            found.setdefault(item["path"], self.empty_slice())["unresolved_imports"].append(item["import"])
        return found

    @staticmethod
    def empty_slice() -> dict[str, Any]:
        return {"imports": [], "imported_by": [], "unresolved_imports": []}

    def generate(self, ctx: GenerationContext) -> ArtifactResult:
        max_bytes = int(ctx.params.get("max_file_bytes", DEFAULT_MAX_FILE_BYTES))
        done = extract_files(
            ctx, self.kind_of, lambda _path, kind, data: extract(kind, data, max_bytes), max_bytes
        )
        wanted = [(item.path, item.blob, item.kind) for item in done.wanted]
        by_blob: dict[str, dict[str, Any]] = {}
        for (blob, kind), payload in done.results.items():
            by_blob.setdefault(blob, {})[kind] = payload
        payload = self._reduce(ctx, wanted, by_blob, done.skipped, done.all_paths)
        return ArtifactResult(
            [Entry("", ctx.snapshot.tree_id, payload)],
            calls=done.calls,
        )

    def _reduce(
        self,
        ctx: GenerationContext,
        wanted: list[tuple[str, str, str]],
        stored: dict[str, dict[str, Any]],
        skipped: list[dict[str, str]],
        all_paths: set[str],
    ) -> dict[str, Any]:
        errors: list[dict[str, Any]] = []
        manifests: list[dict[str, Any]] = []
        dependencies: list[dict[str, Any]] = []
        locks: dict[tuple[str, str], dict[str, Any]] = {}
        inputs = graph.Inputs(sources=[], all_paths=all_paths)
        parsed: list[tuple[str, str, dict[str, Any]]] = []
        properties: dict[str, dict[str, str]] = {}  # directory → gradle.properties
        for path, blob, kind in sorted(wanted):
            result = stored[blob][kind]
            if result.get("skipped"):
                skipped.append({"path": path, "reason": result["skipped"]})
                continue
            if result.get("error"):
                error = {"path": path, "kind": kind, "error": result["error"]}
                errors.append({**error, "line": result["line"]} if result.get("line") else error)
            if kind in graph.SOURCE_KINDS:
                inputs.sources.append((path, kind, result))
            elif kind == "tsconfig":
                inputs.tsconfigs[path] = result
            elif result.get("error"):
                continue
            elif "locked" in result:
                locks[(str(PurePosixPath(path).parent), result["ecosystem"])] = result["locked"]
            elif "properties" in result:
                properties[_dir(path)] = result["properties"]
            else:
                parsed.append((path, kind, result))

        for path, kind, result in parsed:
            found_lock = _find_lock(PurePosixPath(path).parent, result["ecosystem"], locks)
            variables = _gradle_variables(path, parsed, properties) if kind == "gradle" else {}
            for item in result["dependencies"]:
                item = {**item, "manifest": path}
                if kind == "requirements":
                    item["group"] = requirements_group(path)
                if variables and item["spec"]:
                    item["spec"] = substitute_gradle(item["spec"], variables)
                    item["resolved"] = item["resolved"] or _exact(item["spec"])
                if item["resolved"] is None and found_lock is not None:
                    lock_dir, lock = found_lock
                    importer = _dir(path)[len(lock_dir) :].strip("/") if lock_dir else _dir(path)
                    item["resolved"] = _locked_version(
                        lock, importer, item["ecosystem"], item["name"], item["spec"]
                    )
                dependencies.append(item)
            for message in result.get("line_errors", []):
                errors.append({"path": path, "kind": kind, "error": message})
            entry: dict[str, Any] = {
                "path": path,
                "ecosystem": result["ecosystem"],
                "dependencies": len(result["dependencies"]),
            }
            if result.get("main"):
                inputs.mains[_dir(path)] = result["main"]
            if kind == "package_json" and result.get("name"):
                inputs.packages[result["name"]] = _dir(path)
            if kind == "go_mod":
                inputs.go_mods[path] = result
            if kind == "cargo_toml":
                inputs.cargo[path] = result
            if result.get("options"):
                entry["options"] = result["options"]
            manifests.append(entry)

        inputs.declared_python = {
            normalize_python_name(d["name"]): d["name"] for d in dependencies if d["ecosystem"] == "pypi"
        }
        inputs.declared_npm = {d["name"] for d in dependencies if d["ecosystem"] == "npm"}
        imports = graph.build(inputs)
        dependencies.sort(key=lambda d: (d["ecosystem"], d["manifest"], d["group"], d["name"].lower()))
        return {
            **whole_repository_header(self, ctx),
            "manifests": manifests,
            "dependencies": dependencies,
            **imports,
            "errors": sorted(errors, key=lambda e: (e["path"], e["kind"], e["error"])),
            "skipped": sorted(skipped, key=lambda s: (s["path"], s["reason"])),
        }


def _exact(spec: str) -> str | None:
    """A Gradle/Maven version written out in full (no range, no variable left) is also the resolution."""
    return (
        spec if spec and not any(c in spec for c in "[]()$,+*") and not spec.startswith("latest.") else None
    )


def _gradle_variables(
    path: str, parsed: list[tuple[str, str, dict[str, Any]]], properties: dict[str, dict[str, str]]
) -> dict[str, str]:
    """Variables a Gradle build script sees: its own `ext`, then its directory's and each parent
    directory's `ext` and gradle.properties (a subproject sees the root project's)."""
    scripts = {_dir(p): r.get("variables", {}) for p, k, r in parsed if k == "gradle"}
    seen: dict[str, str] = {}
    directory: str | None = _dir(path)
    while directory is not None:
        for source in (scripts.get(directory, {}), properties.get(directory, {})):
            for key, value in source.items():
                seen.setdefault(key, value)
        directory = _dir(directory) if directory else None
    return seen


__all__ = ["DependencyGraph", "extract", "kind_of"]
