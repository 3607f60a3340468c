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

from collections import defaultdict
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

from warmer.artifacts.base import ArtifactResult, Entry, GenerationContext, whole_repository_header
from warmer.artifacts.classify import manifest_kind
from warmer.artifacts.dependencies.js_imports import extract_js_imports, resolve_js
from warmer.artifacts.dependencies.manifests import (
    has_parser,
    normalize_python_name,
    parse_manifest,
    requirements_group,
)
from warmer.artifacts.dependencies.planning import dependency_refresh
from warmer.artifacts.dependencies.python_imports import (
    ModuleIndex,
    distribution_for,
    extract_python_imports,
    resolve_python,
)
from warmer.artifacts.extracting import extract_files
from warmer.artifacts.languages import language_of
from warmer.artifacts.relevance import ReadBlob, Refresh
from warmer.git.diff import PathChange

DEFAULT_MAX_FILE_BYTES = 2_000_000
_BINARY_SNIFF = 8192


def kind_of(path: str) -> str | None:
    """The extract a path needs: a manifest format, `python`, `js`, or nothing.

    A manifest format without a parser yet is still read, so the entry says it was left out."""
    kind = manifest_kind(path)
    if kind and has_parser(kind):
        return kind
    language = language_of(path)
    if language == "python" and PurePosixPath(path).suffix in (".py", ".pyi"):
        return "python"
    if language in ("javascript", "typescript"):
        return "js"
    return kind


def extract(kind: str, data: bytes, max_bytes: int) -> dict[str, Any]:
    """One blob's extract for one kind; unreadable content is marked skipped with the reason."""
    size = len(data)
    if b"\0" in data[:_BINARY_SNIFF]:
        return {"skipped": "binary", "size": size}
    if size > max_bytes:
        return {"skipped": "too_large", "size": size}
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return {"skipped": "non_utf8", "size": size}
    if kind == "python":
        result = extract_python_imports(text)
    elif kind == "js":
        result = extract_js_imports(text)
    elif not has_parser(kind):
        return {"skipped": f"{kind} files are not parsed yet", "size": size}
    else:
        result = parse_manifest(kind, text)
    return {**result, "size": size}


def _dir(path: str) -> str:
    parent = str(PurePosixPath(path).parent)
    return "" if parent == "." else parent


def _find_lock(directory: PurePosixPath, ecosystem: str, locks: dict[tuple[str, str], dict[str, Any]]) -> Any:
    """The lockfile of this ecosystem in the manifest's directory or the nearest one above (workspaces)."""
    for candidate in [directory, *directory.parents]:
        key = (str(candidate), ecosystem)
        if key in locks:
            return locks[key]
    return None


def _locked_version(lock: dict[str, Any], name: str, spec: str | None) -> str | None:
    by_spec = lock["by_spec"].get(f"{name}@{spec}")
    if by_spec:
        return str(by_spec)
    versions = lock["by_name"].get(name, [])
    return versions[0] if len(versions) == 1 else None


class DependencyGraph:
    artifact_type = "dependency_graph"
    version = "1"

    def kind_of(self, path: str) -> str | None:
        return kind_of(path)

    def refresh(self, changes: Sequence[PathChange], read_blob: ReadBlob) -> Refresh | None:
        return dependency_refresh(self.kind_of, changes, read_blob)

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
        errors: list[dict[str, str]] = []
        manifests: list[dict[str, Any]] = []
        dependencies: list[dict[str, Any]] = []
        locks: dict[tuple[str, str], dict[str, Any]] = {}
        sources: list[tuple[str, str, dict[str, Any]]] = []  # path, kind, extract
        parsed: list[tuple[str, str, dict[str, Any]]] = []
        mains: dict[str, str] = {}  # directory → package.json `main`, for `require('./dir')`
        for path, blob, kind in sorted(wanted):
            result = stored[blob][kind]
            if result.get("skipped"):
                skipped.append({"path": path, "reason": result["skipped"]})
            elif result.get("error") and kind not in ("python", "js"):
                errors.append({"path": path, "kind": kind, "error": result["error"]})
            elif kind in ("python", "js"):
                sources.append((path, kind, result))
            elif "locked" in result:
                locks[(str(PurePosixPath(path).parent), result["ecosystem"])] = result["locked"]
            else:
                parsed.append((path, kind, result))

        for path, kind, result in parsed:
            lock = _find_lock(PurePosixPath(path).parent, result["ecosystem"], locks)
            for item in result["dependencies"]:
                item = {**item, "manifest": path}
                if kind == "requirements":
                    item["group"] = requirements_group(path)
                if item["resolved"] is None and lock is not None:
                    item["resolved"] = _locked_version(lock, item["name"], item["spec"])
                dependencies.append(item)
            for message in result.get("line_errors", []):
                errors.append({"path": path, "kind": kind, "error": message})
            entry: dict[str, Any] = {
                "path": path,
                "ecosystem": result["ecosystem"],
                "dependencies": len(result["dependencies"]),
            }
            if result.get("main"):
                mains[_dir(path)] = result["main"]
            if result.get("options"):
                entry["options"] = result["options"]
            manifests.append(entry)

        graph = self._imports(sources, dependencies, errors, all_paths, mains)
        dependencies.sort(key=lambda d: (d["ecosystem"], d["manifest"], d["group"], d["name"].lower()))
        return {
            **whole_repository_header(self, ctx),
            "manifests": manifests,
            "dependencies": dependencies,
            **graph,
            "errors": sorted(errors, key=lambda e: (e["path"], e["kind"], e["error"])),
            "skipped": sorted(skipped, key=lambda s: (s["path"], s["reason"])),
        }

    def _imports(
        self,
        sources: list[tuple[str, str, dict[str, Any]]],
        dependencies: list[dict[str, Any]],
        errors: list[dict[str, str]],
        all_paths: set[str],
        mains: dict[str, str],
    ) -> dict[str, Any]:
        """Internal edges, external imports (with the declared package) and stdlib imports."""
        index = ModuleIndex([path for path, kind, _ in sources if kind == "python"])
        declared_py = {
            normalize_python_name(d["name"]): d["name"] for d in dependencies if d["ecosystem"] == "pypi"
        }
        declared_npm = {d["name"] for d in dependencies if d["ecosystem"] == "npm"}
        edges: set[tuple[str, str]] = set()
        external: dict[tuple[str, str], set[str]] = defaultdict(set)
        stdlib: dict[tuple[str, str], set[str]] = defaultdict(set)
        for path, kind, result in sources:
            if result.get("error"):
                errors.append({"path": path, "kind": kind, "error": result["error"]})
            if kind == "python":
                internal, ext, std, unresolved = resolve_python(path, result["imports"], index)
            else:
                internal, ext, std, unresolved = resolve_js(path, result["imports"], all_paths, mains)
            language = "python" if kind == "python" else "javascript"
            edges.update((path, target) for target in internal)
            for module in ext:
                external[(language, module)].add(path)
            for module in std:
                stdlib[(language, module)].add(path)
            for spec in unresolved:
                errors.append({"path": path, "kind": kind, "error": f"unresolved relative import {spec}"})

        def package(language: str, module: str) -> str | None:
            if language == "python":
                return distribution_for(module, declared_py)
            return module if module in declared_npm else None

        return {
            "internal_edges": [{"from": a, "to": b} for a, b in sorted(edges)],
            "external_imports": [
                {"language": lang, "module": mod, "files": len(paths), "package": package(lang, mod)}
                for (lang, mod), paths in sorted(external.items())
            ],
            "stdlib_imports": [
                {"language": lang, "module": mod, "files": len(paths)}
                for (lang, mod), paths in sorted(stdlib.items())
            ],
        }


__all__ = ["DependencyGraph"]
