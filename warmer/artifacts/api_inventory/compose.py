"""The per-commit join: full served paths from the facts each file recorded about its routers.

A file's extract names routers by *local references* (`bp`, `syncApp.handlers`, `Routes.v1`) and
records three kinds of fact about them: routes declared on a router, mounts (a router attached to
another under a prefix: `register_blueprint`, `include_router`, `app.use`, `Group`, `nest`,
`include()`), and the imports/exports that let one file name another's router. Here each reference
becomes a global node (file or Go package, name), mounts become edges child → parent, and every
route gets one served path per chain of mounts from a root (a router nobody mounts) down to it.

What cannot be joined is said in the entry: a mount whose router is not found in the commit, a
prefix that is not a literal, a cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from warmer.artifacts.api_inventory.modules import Resolver
from warmer.artifacts.api_inventory.python_views import lookup_field, view_methods, viewset_routes

MAX_CHAINS = 16  # one router mounted in many places: enough served paths to be useful, bounded

Node = tuple[str, str]  # (file or package key, local name)


@dataclass
class Edge:
    parent: Node
    prefix: str  # what this mount adds between the parent's path and the child's own
    replace: bool  # Flask: a url_prefix given at registration replaces the blueprint's own
    dynamic: str | None  # the source text of a prefix that is not a literal


@dataclass
class Graph:
    own_prefix: dict[Node, str] = field(default_factory=dict)
    parents: dict[Node, list[Edge]] = field(default_factory=dict)
    unresolved: list[dict[str, Any]] = field(default_factory=list)


def join(prefix: str, path: str) -> str:
    """`/api` + `/users` → `/api/users`; `` + `x` → `x`; `/api/` + `` → `/api/`."""
    if not prefix:
        return path
    if not path:
        return prefix
    return prefix.rstrip("/") + "/" + path.lstrip("/")


def build(extracts: list[tuple[str, dict[str, Any]]], resolver: Resolver) -> Graph:
    """The router graph of a commit from each file's (path, extract)."""
    graph = Graph()
    for path, extract in extracts:
        for name, router in extract.get("routers", {}).items():
            if router.get("prefix"):
                graph.own_prefix[resolver.node(path, name)] = router["prefix"]
    for path, extract in extracts:
        for mount in extract.get("mounts", []):
            parent = resolver.node(path, mount["parent"])
            children = [c for c in resolver.targets(path, mount["child"]) if c != parent]
            if not children and mount.get("quiet"):
                continue  # `app.use(name)` with no prefix: most often a middleware, not a router
            if not children:
                graph.unresolved.append(
                    {
                        "file": path,
                        "line": mount["line"],
                        "reason": f"mounted router not found in this commit: {_describe(mount['child'])}",
                    }
                )
                continue
            if mount.get("dynamic"):
                graph.unresolved.append(
                    {
                        "file": path,
                        "line": mount["line"],
                        "reason": f"prefix is not a literal: {mount['dynamic']}",
                    }
                )
            for child in children:
                graph.parents.setdefault(child, []).append(
                    Edge(parent, mount.get("prefix") or "", bool(mount.get("replace")), mount.get("dynamic"))
                )
    return graph


def _describe(ref: Any) -> str:
    if isinstance(ref, str):
        return ref
    if "call" in ref:
        return (ref.get("pkg") + "." if ref.get("pkg") else "") + ref["call"] + "(…)"
    return str(ref)


def served_prefixes(graph: Graph, node: Node, concat: bool = False) -> list[tuple[str, list[str]]]:
    """Every (prefix, unresolved prefix expressions) a router's routes are served under; Django
    patterns compose by plain concatenation (`concat`), the others as path segments."""
    found: set[tuple[str, tuple[str, ...]]] = set()
    glue = (lambda a, b: a + b) if concat else join

    def walk(current: Node, below: str, dynamic: tuple[str, ...], seen: frozenset[Node]) -> None:
        if len(found) >= MAX_CHAINS:
            return
        own = graph.own_prefix.get(current, "")
        edges = [e for e in graph.parents.get(current, []) if e.parent not in seen]
        if not edges:
            found.add((glue(own, below), dynamic))
            return
        for edge in edges:
            segment = edge.prefix if edge.replace else glue(edge.prefix, own)
            more = (*dynamic, edge.dynamic) if edge.dynamic else dynamic
            walk(edge.parent, glue(segment, below), more, seen | {current})

    walk(node, "", (), frozenset())
    return [(prefix, list(dynamic)) for prefix, dynamic in sorted(found)]


def _expand(
    resolver: Resolver, path: str, route: dict[str, Any], routers: dict[Node, dict[str, Any]]
) -> list[dict[str, Any]]:
    """A route whose methods come from its view (Django, DRF, Flask-RESTful): one per method."""
    if route.get("method") is not None:
        return [route]
    if "view" not in route:  # a view this reader cannot name (`feeds.Latest()`): every method
        return [{**route, "method": "ANY"}]
    if route.get("drf"):
        return _viewset(resolver, path, route, routers)
    methods = view_methods(resolver.view, path, route["view"]) or ["ANY"]
    return [{**route, "method": method} for method in methods]


def _viewset(
    resolver: Resolver, path: str, route: dict[str, Any], routers: dict[Node, dict[str, Any]]
) -> list[dict[str, Any]]:
    """`router.register("tickets", TicketViewSet)` → `tickets/` and `tickets/{pk}/` (DRF's list and
    detail routes) with the methods of the actions the ViewSet has, and its `@action`s."""
    router = routers.get(resolver.node(path, route["router"]), {})
    slash = router.get("trailing_slash", "/")
    prefix = route["path"]
    lookup = lookup_field(resolver.view, path, route["view"])
    served = viewset_routes(resolver.view, path, route["view"])
    if served is None:  # a plain APIView registered on a router: DRF serves it as a list route
        methods = view_methods(resolver.view, path, route["view"]) or ["ANY"]
        served = [("list", m, "") for m in methods]
    found = []
    for kind, method, _action in served:
        where, _, extra = kind.partition(":")
        text = prefix if where == "list" else f"{prefix}/{{{lookup}}}"
        text = text + "/" + extra if extra else text
        found.append({**route, "method": method, "path": text + slash})
    return found


def compose(
    extracts: list[tuple[str, dict[str, Any]]],
    resolver: Resolver,
    normalize: Callable[[str, str], str],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every route with its full served path (one entry per path), and what could not be joined."""
    graph = build(extracts, resolver)
    routers: dict[Node, dict[str, Any]] = {}
    for path, extract in extracts:
        for name, router in extract.get("routers", {}).items():
            routers[resolver.node(path, name)] = router
    routes: list[dict[str, Any]] = []
    for path, extract in extracts:
        declared_routes = list(extract.get("routes", []))
        for name, router in extract.get("routers", {}).items():
            if router.get("drf") == "DefaultRouter":
                declared_routes.append(
                    {
                        "method": "GET",
                        "path": "",
                        "handler": "api-root",
                        "framework": "django",
                        "line": router.get("line", 0),
                        "router": name,
                    }
                )
        for declared_route in declared_routes:
            node = (
                resolver.node(path, declared_route["router"])
                if declared_route.get("router") is not None
                else None
            )
            framework = declared_route["framework"] or (
                routers.get(node, {}).get("framework") if node else None
            )
            if framework is None:
                continue  # a decorator on something that is no router in this commit
            for route in _expand(resolver, path, {**declared_route, "framework": framework}, routers):
                routes += _served(graph, path, route, node, normalize)
    return routes, graph.unresolved


def _served(
    graph: Graph, path: str, route: dict[str, Any], node: Node | None, normalize: Callable[[str, str], str]
) -> list[dict[str, Any]]:
    declared = route["path"]
    base = {k: v for k, v in route.items() if k not in ("router", "view", "drf")}
    base["file"] = path
    framework = route["framework"]
    if node is None:
        return [{**base, "path": normalize(framework, declared)}]
    found = []
    concat = framework == "django"
    for prefix, dynamic in served_prefixes(graph, node, concat):
        full = prefix + declared if concat else join(prefix, declared)
        entry = {**base, "path": normalize(framework, full)}
        if entry["path"] != declared:
            entry["declared_path"] = declared
        if dynamic:
            entry["unresolved_prefix"] = dynamic
        found.append(entry)
    return found
