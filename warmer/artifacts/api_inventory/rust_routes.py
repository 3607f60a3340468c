"""Facts about HTTP routes in one Rust file: axum and actix-web.

Both build routers as method chains, so each chain is read link by link on one router node:

* axum: `Router::new().route("/x", get(h).post(h2))`, `.nest("/api", api_routes())`,
  `.merge(other())`; a function returning its router (`fn api_routes() -> Router { ... }`) is
  joined wherever it is called;
* actix-web: `#[get("/x")]`/`#[route("/x", method = "GET", ...)]` handlers, `App::new().service(h)`,
  `web::scope("/api").service(...)`, `web::resource("/x").route(web::get().to(h))`,
  `.route("/x", web::post().to(h))`, `.configure(config)` (the `ServiceConfig` parameter of
  `config` is mounted where it is configured).
"""

from __future__ import annotations

import re
from typing import Any

from tree_sitter import Node

from warmer.artifacts.api_inventory.syntax import first_error_line, line, parse, string_value, text

_AXUM_METHODS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "trace", "any"})
_ACTIX_MACROS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "trace", "connect"})
_MACRO = re.compile(r'^\(\s*"([^"]*)"(.*)\)$', re.DOTALL)
_MACRO_METHOD = re.compile(r'method\s*=\s*"(\w+)"')
_ROUTER_TYPE = re.compile(r"\b(Router|ServiceConfig|Scope|App)\b")
_METHOD_FILTER = re.compile(r"(?:MethodFilter|Method)::([A-Z]+)")


def _frameworks(source: str) -> set[str]:
    return {name for name in ("axum", "actix_web") if name in source}


def _link(node: Node) -> tuple[Node | None, str, list[Node]] | None:
    """(receiver, method name, arguments) of `receiver.method(args)`; None for other calls."""
    if node.type != "call_expression":
        return None
    function, arguments = node.child_by_field_name("function"), node.child_by_field_name("arguments")
    if function is None or function.type != "field_expression" or arguments is None:
        return None
    return (
        function.child_by_field_name("value"),
        text(function.child_by_field_name("field")),
        arguments.named_children,
    )


def _callee(node: Node) -> str:
    function = node.child_by_field_name("function") if node.type == "call_expression" else None
    return text(function) if function is not None else ""


def _last(path: str) -> str:
    return path.rsplit("::", 1)[-1]


class _Reader:
    def __init__(self) -> None:
        self.routes: list[dict[str, Any]] = []
        self.mounts: list[dict[str, Any]] = []
        self.routers: dict[str, dict[str, Any]] = {}
        self.functions: dict[str, dict[str, Any]] = {}
        self.seen: set[tuple[int, int]] = set()  # chain links read already (by byte span)
        self.router_vars: set[str] = set()  # `scope.name` bound to a router, or a router parameter

    def function(self, node: Node) -> None:
        name = text(node.child_by_field_name("name"))
        params = node.child_by_field_name("parameters")
        names = [
            text(p.child_by_field_name("pattern")) if p.child_by_field_name("pattern") is not None else None
            for p in (params.named_children if params is not None else [])
            if p.type in ("parameter", "self_parameter")
        ]
        fact = self.functions.setdefault(name, {"params": [f"{name}.{n}" if n else None for n in names]})
        for parameter in params.named_children if params is not None else []:
            kind, pattern = parameter.child_by_field_name("type"), parameter.child_by_field_name("pattern")
            if kind is not None and pattern is not None and _ROUTER_TYPE.search(text(kind)):
                self.router_vars.add(f"{name}.{text(pattern).removeprefix('mut ')}")
        self._macro(node, name, fact)
        body = node.child_by_field_name("body")
        if body is None:
            return
        tail = body.named_children[-1] if body.named_children else None
        stack = list(body.named_children)
        while stack:
            current = stack.pop()
            if current.type == "let_declaration":
                value, pattern = current.child_by_field_name("value"), current.child_by_field_name("pattern")
                if (value is not None and pattern is not None and _link(value)) or (
                    value is not None and self._base(value) is not None
                ):
                    self.chain(value, name, f"{name}.{text(pattern).removeprefix('mut ')}")
                    continue
            if current.type == "return_expression" or current is tail:
                inner = (
                    current.named_children[0]
                    if current.type == "return_expression" and current.named_children
                    else current
                )
                if inner.type == "expression_statement" and inner.named_children:
                    inner = inner.named_children[0]
                if _link(inner) is not None or self._base(inner) is not None:
                    fact["returns"] = self.chain(inner, name, f"{name}.return")
                    continue
                if inner.type == "identifier":
                    fact["returns"] = f"{name}.{text(inner)}"
            if _link(current) is not None and _span(current) not in self.seen:
                self.chain(current, name, None)
            stack.extend(current.named_children)

    def _macro(self, node: Node, name: str, fact: dict[str, Any]) -> None:
        """`#[get("/x")]` / `#[route("/x", method = "GET", method = "POST")]` before a function."""
        sibling = node.prev_named_sibling
        while sibling is not None and sibling.type == "attribute_item":
            attribute = next((c for c in sibling.named_children if c.type == "attribute"), None)
            sibling = sibling.prev_named_sibling
            if attribute is None or not attribute.named_children:
                continue
            macro = _last(text(attribute.named_children[0]))
            arguments = attribute.child_by_field_name("arguments")
            found = _MACRO.match(text(arguments)) if arguments is not None else None
            if found is None or macro not in (*_ACTIX_MACROS, "route"):
                continue
            methods = _MACRO_METHOD.findall(found.group(2)) if macro == "route" else [macro.upper()]
            for method in methods or ["ANY"]:
                self._route(method, found.group(1), name, "actix-web", attribute, f"fn:{name}")
            fact["returns"] = f"fn:{name}"

    def _route(
        self, method: str, path: str, handler: str | None, framework: str, node: Node, router: str
    ) -> None:
        self.routes.append(
            {
                "method": method,
                "path": path,
                "handler": handler,
                "framework": framework,
                "line": line(node),
                "router": router,
            }
        )

    def _base(self, node: Node) -> str | None:
        """What a chain starts from: `Router::new()`, `App::new()`, `web::scope(..)`, `web::resource(..)`."""
        callee = _callee(node)
        if callee.endswith("::new") and ("Router" in callee or "App" in callee):
            return "axum" if "Router" in callee else "actix-web"
        if _last(callee) in ("scope", "resource"):
            return "actix-web"
        return None

    def chain(self, node: Node, scope: str, name: str | None) -> str:
        """Read `base.link(...).link(...)` onto one router node; returns that node's name."""
        links: list[tuple[Node, str, list[Node]]] = []
        current: Node | None = node
        while current is not None:
            self.seen.add(_span(current))
            link = _link(current)
            if link is None:
                break
            links.append((current, link[1], link[2]))
            current = link[0]
        links.reverse()
        base = current
        router = name or f"{scope}@{line(node)}"
        framework = self._base(base) if base is not None else None
        if name and framework:
            self.router_vars.add(name)
        if base is not None and base.type in ("identifier", "field_expression", "self"):
            if f"{scope}.{text(base)}" not in self.router_vars:
                return router  # `builder.body(...)`: a chain on something that is no router
            router = f"{scope}.{text(base)}"
            if name and name != router:
                self.mounts.append({"parent": name, "child": router, "prefix": "", "line": line(node)})
                router = name
        elif base is not None and _last(_callee(base)) in ("scope", "resource"):
            arguments = base.child_by_field_name("arguments")
            first = (
                string_value(arguments.named_children[0])
                if arguments is not None and arguments.named_children
                else None
            )
            if _last(_callee(base)) == "scope" and first is not None:
                self.routers[router] = {"prefix": first, "framework": "actix-web"}
            elif first is not None:
                return self._resource(base, links, first, scope, router)
        for call, method, args in links:
            self._apply(call, method, args, scope, router, framework)
        return router

    def _resource(
        self, base: Node, links: list[tuple[Node, str, list[Node]]], path: str, scope: str, router: str
    ) -> str:
        """`web::resource("/p").route(web::get().to(h)).to(h2)`: routes at one path."""
        for call, method, args in links:
            if method == "route" and args:
                for verb, handler in _actix_methods(args[0]):
                    self._route(verb, path, handler, "actix-web", call, router)
            elif method == "to" and args:
                self._route("ANY", path, text(args[0]), "actix-web", call, router)
        self.routers.setdefault(router, {"framework": "actix-web"})
        return router

    def _apply(
        self, call: Node, method: str, args: list[Node], scope: str, router: str, framework: str | None
    ) -> None:
        if method == "route" and len(args) >= 2:
            path = string_value(args[0])
            if path is None:
                return
            if "web::" in text(args[1]) or text(args[1]).startswith(("get()", "post()", "put()", "delete()")):
                for verb, handler in _actix_methods(args[1]):
                    self._route(verb, path, handler, "actix-web", call, router)
            else:
                for verb, handler in _axum_methods(args[1]):
                    self._route(verb, path, handler, "axum", call, router)
        elif method in ("nest", "merge") and args:
            prefix = string_value(args[0]) if method == "nest" else ""
            child = args[-1]
            if prefix is not None:
                self._mount(call, router, self._child(child, scope), prefix)
        elif method == "service" and args:
            self._mount(call, router, self._child(args[0], scope), "")
        elif method == "configure" and args:
            self._mount(call, router, {"call": _last(text(args[0])), "pkg": text(args[0]), "arg": 0}, "")

    def _child(self, node: Node, scope: str) -> Any:
        if _link(node) is not None or self._base(node) is not None:
            return self.chain(node, scope, None)
        if node.type == "call_expression":
            return {"call": _last(_callee(node)), "pkg": _callee(node), "returns": True}
        if node.type in ("identifier", "scoped_identifier"):
            name = text(node)
            return {"call": _last(name), "pkg": name, "returns": True, "or": f"{scope}.{name}"}
        return None

    def _mount(self, call: Node, parent: str, child: Any, prefix: str) -> None:
        if child is not None:
            self.mounts.append({"parent": parent, "child": child, "prefix": prefix, "line": line(call)})


def _span(node: Node) -> tuple[int, int]:
    return (node.start_byte, node.end_byte)


def _axum_methods(node: Node) -> list[tuple[str, str | None]]:
    """`get(h).post(h2)`, `routing::get(h)`, `on(MethodFilter::GET, h)`, `any(h)`."""
    found: list[tuple[str, str | None]] = []
    current: Node | None = node
    while current is not None and current.type == "call_expression":
        function = current.child_by_field_name("function")
        arguments = current.child_by_field_name("arguments")
        args = arguments.named_children if arguments is not None else []
        if function is not None and function.type == "field_expression":
            verb = text(function.child_by_field_name("field"))
            current = function.child_by_field_name("value")
        else:
            verb, current = _last(text(function)), None
        verb = verb.removesuffix("_service")
        if verb in _AXUM_METHODS:
            found.append(("ANY" if verb == "any" else verb.upper(), text(args[-1]) if args else None))
        elif verb == "on" and len(args) >= 2:
            found += [(m, text(args[-1])) for m in _METHOD_FILTER.findall(text(args[0]))]
    return list(reversed(found))


def _actix_methods(node: Node) -> list[tuple[str, str | None]]:
    """`web::get().to(h)`, `web::method(Method::GET).to(h)`, `web::route().to(h)` (any method)."""
    handler = None
    current: Node | None = node
    while current is not None and current.type == "call_expression":
        link = _link(current)
        if link is None:
            break
        if link[1] == "to" and link[2]:
            handler = text(link[2][0])
        current = link[0]
    verb = _last(_callee(current)) if current is not None else ""
    if verb in _ACTIX_MACROS:
        return [(verb.upper(), handler)]
    if verb == "method" and current is not None:
        return [(m, handler) for m in _METHOD_FILTER.findall(text(current))] or [("ANY", handler)]
    return [("ANY", handler)] if verb == "route" else []


def rust_facts(source: str) -> dict[str, Any]:
    """Routes, routers, mounts and functions of one Rust source that names axum or actix-web."""
    if not _frameworks(source):
        return {}
    root = parse("rust", source.encode())
    reader = _Reader()
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "function_item":
            reader.function(node)
        else:
            stack.extend(node.named_children)
    facts: dict[str, Any] = {}
    error = first_error_line(root)
    if error is not None:
        facts["parse_error_line"] = error
    for key in ("routes", "mounts", "routers"):
        if getattr(reader, key):
            facts[key] = getattr(reader, key)
    functions = {n: f for n, f in reader.functions.items() if f.get("returns") or any(f["params"])}
    if functions:
        facts["functions"] = functions
    return facts
