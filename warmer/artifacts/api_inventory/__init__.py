"""api_inventory: the HTTP routes and API contracts of a commit, with method, path, handler and file:line.

Extract (per blob, cached): the routes or contract operations one file declares (see
`python_routes.py`, `code_routes.py`, `contracts.py`). Files are chosen by extension and then by a
cheap token test on their text, so a large repository parses only the few files that can declare
an API. Reduce (per commit): every route and contract with its path, Django `include()` prefixes
joined across `urls.py` files, counts per framework, and what could not be read and why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

import yaml

from warmer.artifacts.api_inventory.code_routes import go_routes, java_routes, js_routes
from warmer.artifacts.api_inventory.contracts import graphql_contracts, openapi_contracts, proto_contracts
from warmer.artifacts.api_inventory.python_routes import python_routes
from warmer.artifacts.base import ArtifactResult, Entry, GenerationContext, whole_repository_header
from warmer.artifacts.extracting import extract_files
from warmer.artifacts.relevance import ReadBlob, Refresh, whole_refresh
from warmer.artifacts.symbols.extract import skip_reason
from warmer.git.diff import PathChange

DEFAULT_MAX_FILE_BYTES = 1_000_000

_KINDS = {
    ".py": "python",
    ".js": "javascript",
    ".jsx": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".java": "java",
    ".yaml": "openapi",
    ".yml": "openapi",
    ".json": "openapi",
    ".graphql": "graphql",
    ".graphqls": "graphql",
    ".gql": "graphql",
    ".proto": "proto",
}
# A file whose text has none of its kind's tokens cannot declare an API: it is not parsed.
_TOKENS = {
    "python": ("route", "get(", "post(", "put(", "patch(", "delete(", "websocket(", "path(", "url("),
    "javascript": ("express", "koa"),
    "typescript": ("express", "koa"),
    "tsx": ("express", "koa"),
    "go": ("HandleFunc", "Handle(", "GET(", "POST(", "Get(", "Post(", "PUT(", "DELETE(", "Any("),
    "java": ("Mapping",),
    "openapi": ("openapi", "swagger"),
    "graphql": ("type ", "schema"),
    "proto": ("service ",),
}


def api_kind(path: str) -> str | None:
    """What kind of API declarations a path may hold, by its extension; None for other files."""
    return _KINDS.get(PurePosixPath(path).suffix.lower())


def extract_api(kind: str, data: bytes, max_bytes: int) -> dict[str, Any]:
    """The routes and contracts one file's content declares (independent of its path)."""
    payload: dict[str, Any] = {"kind": kind, "size": len(data), "routes": [], "contracts": []}
    reason = skip_reason(data, max_bytes)
    if reason:
        payload["skipped"] = reason
        return payload
    text = data.decode("utf-8")
    if not any(token in text for token in _TOKENS[kind]):
        return payload
    try:
        if kind == "python":
            payload["routes"] = python_routes(text)
        elif kind in ("javascript", "typescript", "tsx"):
            payload["routes"] = js_routes(kind, text)
        elif kind == "go":
            payload["routes"] = go_routes(text)
        elif kind == "java":
            payload["routes"] = java_routes(text)
        elif kind == "openapi":
            payload["contracts"] = _openapi(text)
        elif kind == "graphql":
            payload["contracts"] = graphql_contracts(text)
        elif kind == "proto":
            payload["contracts"] = proto_contracts(text)
    except SyntaxError as exc:
        payload["error"] = f"SyntaxError: {exc.msg} (line {exc.lineno})"
    except yaml.YAMLError as exc:
        payload["error"] = f"YAMLError: {' '.join(str(exc).split())[:300]}"
    except RecursionError:
        payload["error"] = "RecursionError: nesting too deep to parse"
    return payload


def _openapi(text: str) -> list[dict[str, Any]]:
    """Only documents that name `openapi`/`swagger` at the top level are parsed as YAML/JSON."""
    head = text[:4096]
    if not any(f"{marker}{quote}" in head for marker in ("openapi", "swagger") for quote in ('"', ":")):
        return []
    return openapi_contracts(text) or []


def _module_of(path: str) -> str:
    """`blog.urls` for `blog/urls.py` (and for `src/blog/urls.py`, matched by suffix)."""
    return str(PurePosixPath(path).with_suffix("")).replace("/", ".")


def _join_django(routes: list[dict[str, Any]]) -> None:
    """Give routes of an included urls module the prefix of every `include()` leading to it.

    `full_paths` lists the URL prefixes from the root urls (a module nobody includes); a module
    included from two places has two. Cycles and modules not in the commit are left as they are.
    """
    by_module: dict[str, list[dict[str, Any]]] = {}
    for route in routes:
        if route["framework"] == "django":
            by_module.setdefault(_module_of(route["file"]), []).append(route)

    def find(module: str) -> str | None:
        return next((m for m in by_module if m == module or m.endswith("." + module)), None)

    includes: dict[str, list[tuple[str, str]]] = {}  # module -> [(including module, prefix)]
    for module, module_routes in by_module.items():
        for route in module_routes:
            target = find(route["include"]) if route.get("include") else None
            if target is not None:
                includes.setdefault(target, []).append((module, route["path"]))

    def prefixes(module: str, seen: frozenset[str]) -> list[str]:
        if module not in includes:
            return [""]
        found = []
        for parent, prefix in includes[module]:
            if parent not in seen:
                found += [p + prefix for p in prefixes(parent, seen | {module})]
        return found or [""]

    for module, module_routes in by_module.items():
        if module in includes:
            full = sorted(set(prefixes(module, frozenset())))
            for route in module_routes:
                route["full_paths"] = [p + route["path"] for p in full]


class ApiInventory:
    artifact_type = "api_inventory"
    version = "1"

    def kind_of(self, path: str) -> str | None:
        return api_kind(path)

    def refresh(self, changes: Sequence[PathChange], read_blob: ReadBlob) -> Refresh | None:
        return whole_refresh(self.kind_of, changes)  # routes compose across files (prefixes, mounts)

    def generate(self, ctx: GenerationContext) -> ArtifactResult:
        max_bytes = int(ctx.params.get("max_file_bytes", DEFAULT_MAX_FILE_BYTES))
        done = extract_files(
            ctx, self.kind_of, lambda _path, kind, data: extract_api(kind, data, max_bytes), max_bytes
        )
        wanted = [(item.path, item.blob, item.kind) for item in done.wanted]
        payload = self._reduce(ctx, wanted, done.results, done.skipped, max_bytes)
        return ArtifactResult(
            [Entry("", ctx.snapshot.tree_id, payload)],
            calls=done.calls,
        )

    def _reduce(
        self,
        ctx: GenerationContext,
        wanted: list[tuple[str, str, str]],
        results: dict[tuple[str, str], dict[str, Any]],
        skipped: list[dict[str, str]],
        max_bytes: int,
    ) -> dict[str, Any]:
        routes: list[dict[str, Any]] = []
        contracts: list[dict[str, Any]] = []
        errors: list[dict[str, str]] = []
        for path, blob, kind in sorted(wanted):
            extract = results[(blob, kind)]
            reason = extract.get("skipped") or ("too_large" if extract["size"] > max_bytes else None)
            if reason:
                skipped.append({"path": path, "reason": reason})
                continue
            if extract.get("error"):
                errors.append({"path": path, "error": extract["error"]})
            routes.extend({**route, "file": path} for route in extract["routes"])
            contracts.extend({**contract, "file": path} for contract in extract["contracts"])
        _join_django(routes)
        routes.sort(key=lambda r: (r["file"], r["line"], r["path"], r["method"] or ""))
        contracts.sort(key=lambda c: (c["file"], c["line"], c["kind"]))
        frameworks = Counter(r["framework"] for r in routes) + Counter(c["kind"] for c in contracts)
        return {
            **whole_repository_header(self, ctx),
            "routes": routes,
            "contracts": contracts,
            "frameworks": dict(sorted(frameworks.items())),
            "errors": errors,
            "skipped": sorted(skipped, key=lambda s: (s["path"], s["reason"])),
        }


__all__ = ["ApiInventory", "api_kind", "extract_api"]
