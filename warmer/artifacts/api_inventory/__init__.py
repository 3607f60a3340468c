"""api_inventory: the HTTP routes and API contracts of a commit, with method, path, handler and file:line.

Extract (per blob, cached): the routes or contract operations one file declares (see
`python_routes.py`, `code_routes.py`, `contracts.py`). Files are chosen by extension and then by a
cheap token test on their text, so a large repository parses only the few files that can declare
an API. Reduce (per commit): every route and contract with its path, Django `include()` prefixes
joined across `urls.py` files, counts per framework, and what could not be read and why.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

import yaml

from warmer.artifacts.api_inventory.compose import compose
from warmer.artifacts.api_inventory.contracts import graphql_contracts, openapi_contracts, proto_contracts
from warmer.artifacts.api_inventory.django_routes import django_template
from warmer.artifacts.api_inventory.go_routes import go_facts
from warmer.artifacts.api_inventory.java_routes import java_routes
from warmer.artifacts.api_inventory.js_routes import js_facts
from warmer.artifacts.api_inventory.modules import Resolver
from warmer.artifacts.api_inventory.python_routes import python_facts
from warmer.artifacts.api_inventory.rust_routes import rust_facts
from warmer.artifacts.base import ArtifactResult, Entry, GenerationContext, whole_repository_header
from warmer.artifacts.classify import is_test_file, is_vendored
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
    ".rs": "rust",
    ".yaml": "openapi",
    ".yml": "openapi",
    ".json": "openapi",
    ".graphql": "graphql",
    ".graphqls": "graphql",
    ".gql": "graphql",
    ".proto": "proto",
}
# A file whose text matches none of its kind's markers cannot declare, mount or export a router:
# it is not parsed (a regex search runs in C; most files of a large repository stop here).
_MARKERS = {
    "python": re.compile(
        r"flask|fastapi|django|rest_framework|starlette|Blueprint|APIRouter|add_url_rule|add_resource"
        r"|^\s*@[\w.]+\.(?:route|get|post|put|patch|delete|api_route|websocket)\(",
        re.MULTILINE,
    ),
    "javascript": re.compile(
        r"express|koa|Router|\.(?:get|post|put|patch|delete|del|all|use|route)\(\s*['\"`]|\.routes\(\)"
        r"|export\s*\{[^}]*\}\s*from|module\.exports\s*=\s*require"
    ),
    "go": re.compile(r'"(?:net/http|github\.com/(?:gin-gonic/gin|labstack/echo|go-chi/chi|gorilla/mux))'),
    "java": re.compile(r"Mapping"),
    "rust": re.compile(r"axum|actix_web"),
    "openapi": re.compile(r"openapi|swagger"),
    "graphql": re.compile(r"type |schema"),
    "proto": re.compile(r"service "),
}
_MARKERS["typescript"] = _MARKERS["tsx"] = _MARKERS["javascript"]
# Web frameworks this inventory does not read yet: a file importing one is reported, so an empty
# route list is never mistaken for "this repository serves no HTTP".
_UNSUPPORTED = {
    "python": re.compile(
        r"^\s*(?:from|import)\s+(bottle|tornado|aiohttp|sanic|falcon|pyramid|litestar|quart|cherrypy)\b",
        re.MULTILINE,
    ),
    "javascript": re.compile(
        r"""(?:require\(\s*|from\s+)['"](fastify|@hapi/hapi|hapi|@nestjs/common|restify|hono)['"]"""
    ),
    "go": re.compile(
        r'"(github\.com/gofiber/fiber|github\.com/julienschmidt/httprouter|github\.com/beego/beego)'
    ),
    "java": re.compile(
        r"^import\s+(javax\.ws\.rs|jakarta\.ws\.rs|io\.micronaut\.http|io\.vertx)", re.MULTILINE
    ),
    "rust": re.compile(r"^\s*use\s+(rocket|warp|poem|tide|salvo)\b", re.MULTILINE),
}
_UNSUPPORTED["typescript"] = _UNSUPPORTED["tsx"] = _UNSUPPORTED["javascript"]


def api_kind(path: str) -> str | None:
    """What kind of API declarations a path may hold, by its extension; None for other files."""
    return _KINDS.get(PurePosixPath(path).suffix.lower())


def extract_api(kind: str, data: bytes, max_bytes: int) -> dict[str, Any]:
    """The route facts and contracts one file's content declares (independent of its path).

    `routes` are the file's own declarations (paths as written, on the router they name); the
    reduce joins them with mounts, imports and exports across files into served paths.
    """
    payload: dict[str, Any] = {"kind": kind, "size": len(data), "routes": [], "contracts": []}
    reason = skip_reason(data, max_bytes)
    if reason:
        payload["skipped"] = reason
        return payload
    text = data.decode("utf-8")
    unsupported = _UNSUPPORTED.get(kind)
    found = sorted(set(unsupported.findall(text))) if unsupported else []
    if found:
        payload["unsupported"] = found
    if not _MARKERS[kind].search(text):
        if kind == "python":  # nothing declared here, but a package may re-export a router
            payload.update(python_facts(text, declares=False))
        return payload
    try:
        if kind == "python":
            payload.update(python_facts(text))
        elif kind in ("javascript", "typescript", "tsx"):
            payload.update(js_facts(kind, text))
        elif kind == "go":
            payload.update(go_facts(text))
        elif kind == "rust":
            payload.update(rust_facts(text))
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
        payload["error_line"] = exc.lineno
    except yaml.YAMLError as exc:
        payload["error"] = f"YAMLError: {' '.join(str(exc).split())[:300]}"
    except RecursionError:
        payload["error"] = "RecursionError: nesting too deep to parse"
    if "parse_error_line" in payload:
        line = payload.pop("parse_error_line")
        payload["error"] = f"syntax error at line {line} (parsed around it; routes after it may be missing)"
        payload["error_line"] = line
    return payload


def _openapi(text: str) -> list[dict[str, Any]]:
    """Only documents that name `openapi`/`swagger` at the top level are parsed as YAML/JSON."""
    head = text[:4096]
    if not any(f"{marker}{quote}" in head for marker in ("openapi", "swagger") for quote in ('"', ":")):
        return []
    return openapi_contracts(text) or []


def _normalize(framework: str, path: str) -> str:
    """The served path as one template: Django patterns rewritten, an empty path served at `/`."""
    if framework == "django":
        return django_template(path)
    return path or "/"


def _route_key(route: dict[str, Any]) -> tuple[Any, ...]:
    return (route["file"], route["line"], route["path"], route["method"] or "", route.get("handler") or "")


class ApiInventory:
    artifact_type = "api_inventory"
    version = "2"

    def kind_of(self, path: str) -> str | None:
        """Vendored code is someone else's API, not this repository's: not read."""
        return None if is_vendored(path) else api_kind(path)

    def refresh(self, changes: Sequence[PathChange], read_blob: ReadBlob) -> Refresh | None:
        return whole_refresh(self.kind_of, changes)  # routes compose across files (prefixes, mounts)

    def generate(self, ctx: GenerationContext) -> ArtifactResult:
        max_bytes = int(ctx.params.get("max_file_bytes", DEFAULT_MAX_FILE_BYTES))
        done = extract_files(
            ctx, self.kind_of, lambda _path, kind, data: extract_api(kind, data, max_bytes), max_bytes
        )
        wanted = [(item.path, item.blob, item.kind) for item in done.wanted]
        payload = {
            **whole_repository_header(self, ctx),
            **reduce_api(wanted, done.results, done.skipped, max_bytes, done.all_paths),
        }
        return ArtifactResult([Entry("", ctx.snapshot.tree_id, payload)], calls=done.calls)


def reduce_api(
    wanted: list[tuple[str, str, str]],
    results: dict[tuple[str, str], dict[str, Any]],
    skipped: list[dict[str, str]],
    max_bytes: int,
    all_paths: set[str],
) -> dict[str, Any]:
    """The commit's inventory from its files' extracts: served routes, contracts, and what could not
    be read (errors with file and line, unsupported frameworks, mounts and prefixes not resolved)."""
    extracts: list[tuple[str, dict[str, Any]]] = []
    contracts: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    unsupported: list[dict[str, str]] = []
    skipped = list(skipped)
    for path, blob, kind in sorted(wanted):
        extract = results[(blob, kind)]
        reason = extract.get("skipped") or ("too_large" if extract["size"] > max_bytes else None)
        if reason:
            skipped.append({"path": path, "reason": reason})
            continue
        if extract.get("error"):
            errors.append({"path": path, "line": extract.get("error_line"), "error": extract["error"]})
        unsupported += [{"path": path, "framework": name} for name in extract.get("unsupported", [])]
        extracts.append((path, extract))
        contracts.extend({**contract, "file": path} for contract in extract["contracts"])
    skipped += [{"path": p, "reason": "vendored"} for p in all_paths if api_kind(p) and is_vendored(p)]
    routes, unresolved = compose(extracts, Resolver(extracts, all_paths), _normalize)
    for route in routes:
        route["in_tests"] = is_test_file(route["file"])
    routes = sorted({json_key(r): r for r in routes}.values(), key=_route_key)
    contracts.sort(key=lambda c: (c["file"], c["line"], c["kind"]))
    served = [r for r in routes if not r["in_tests"]]
    frameworks = Counter(r["framework"] for r in served) + Counter(c["kind"] for c in contracts)
    return {
        "routes": routes,
        "contracts": contracts,
        "frameworks": dict(sorted(frameworks.items())),
        "routes_in_tests": len(routes) - len(served),
        "errors": errors,
        "unsupported": sorted(unsupported, key=lambda u: (u["path"], u["framework"])),
        "unresolved": sorted(unresolved, key=lambda u: (u["file"], u["line"], u["reason"])),
        "skipped": sorted(skipped, key=lambda s: (s["path"], s["reason"])),
    }


def json_key(route: dict[str, Any]) -> str:
    """Two declarations that serve the same thing at the same line (one router mounted twice the same
    way) are one route."""
    return json.dumps(route, sort_keys=True, default=str)


__all__ = ["ApiInventory", "api_kind", "extract_api", "reduce_api"]
