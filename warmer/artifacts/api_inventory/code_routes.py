"""HTTP routes declared in JavaScript/TypeScript (Express, Koa router), Go (net/http, gorilla/mux,
chi, gin, echo) and Java (Spring), found with tree-sitter queries.

A syntax tree rather than regex over text, so commented-out routes, strings that merely look like
calls and multi-line argument lists are handled by the grammar. Queries run in C; the Python side
only looks at the matches. Which framework a file uses is decided by what it imports, so a
`cache.get("/x", ...)` in a file that imports no web framework is not a route.
"""

from __future__ import annotations

import re
import threading
from functools import cache
from typing import Any

from tree_sitter import Language, Node, Parser, Query, QueryCursor
from tree_sitter_language_pack import get_language

JS_VERBS = frozenset({"get", "post", "put", "patch", "delete", "del", "options", "head", "all"})
GO_UPPER_VERBS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "Any"})
GO_CHI_VERBS = frozenset({"Get", "Post", "Put", "Patch", "Delete", "Options", "Head"})
GO_HANDLE = frozenset({"HandleFunc", "Handle"})
SPRING_VERBS = {
    "GetMapping": "GET",
    "PostMapping": "POST",
    "PutMapping": "PUT",
    "PatchMapping": "PATCH",
    "DeleteMapping": "DELETE",
    "RequestMapping": None,
}

_JS_CALLS = """
(call_expression
  function: (member_expression object: (_) @obj property: (property_identifier) @verb)
  arguments: (arguments . (string) @path)) @call
"""
_GO_CALLS = """
(call_expression
  function: (selector_expression operand: (_) @obj field: (field_identifier) @verb)
  arguments: (argument_list . [(interpreted_string_literal) (raw_string_literal)] @path)) @call
"""
_GO_GROUPS = """
[(short_var_declaration
   left: (expression_list . (identifier) @var)
   right: (expression_list . (call_expression
     function: (selector_expression operand: (_) @obj field: (field_identifier) @fn)
     arguments: (argument_list . [(interpreted_string_literal) (raw_string_literal)] @path))))
 (assignment_statement
   left: (expression_list . (identifier) @var)
   right: (expression_list . (call_expression
     function: (selector_expression operand: (_) @obj field: (field_identifier) @fn)
     arguments: (argument_list . [(interpreted_string_literal) (raw_string_literal)] @path))))]
"""
_JAVA_ANNOTATIONS = """
[(annotation name: (identifier) @name) (marker_annotation name: (identifier) @name)] @ann
"""
_QUERIES = {
    "javascript": {"calls": _JS_CALLS},
    "typescript": {"calls": _JS_CALLS},
    "tsx": {"calls": _JS_CALLS},
    "go": {"calls": _GO_CALLS, "groups": _GO_GROUPS},
    "java": {"annotations": _JAVA_ANNOTATIONS},
}
_EXPRESS = re.compile(r"""(?:require\s*\(\s*|from\s+)['"]express['"]""")
_KOA = re.compile(r"""(?:require\s*\(\s*|from\s+)['"](?:@koa/router|koa-router)['"]""")
_GO_VERB_PATTERN = re.compile(r"^([A-Z]+)\s+(/\S*)$")  # Go 1.22 ServeMux: "GET /items/{id}"
_HANDLER_NODES = frozenset(
    {"identifier", "member_expression", "selector_expression", "field_access", "method_reference"}
)

_parsers = threading.local()


@cache
def _query(grammar: str, name: str) -> Query:
    return Query(_language(grammar), _QUERIES[grammar][name])


@cache
def _language(grammar: str) -> Language:
    return get_language(grammar)  # type: ignore[arg-type]


def _parse(grammar: str, source: bytes) -> Node:
    parsers: dict[str, Parser] = _parsers.__dict__.setdefault("by_grammar", {})
    if grammar not in parsers:
        parsers[grammar] = Parser(_language(grammar))
    return parsers[grammar].parse(source).root_node


def _text(node: Node | None) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text is not None else ""


def _unquote(node: Node) -> str:
    return _text(node)[1:-1]


def _matches(grammar: str, name: str, root: Node) -> list[dict[str, Node]]:
    """Each match as {capture: first node}, in source order."""
    found = []
    for _, captures in QueryCursor(_query(grammar, name)).matches(root):
        found.append({key: nodes[0] for key, nodes in captures.items()})
    return found


def _handler(arguments: Node | None) -> str | None:
    """The last argument when it names a function (`ctl.list`); None for an inline closure."""
    last = arguments.named_children[-1] if arguments is not None and arguments.named_children else None
    return _text(last) if last is not None and last.type in _HANDLER_NODES else None


def _route(method: str | None, path: str, handler: str | None, framework: str, node: Node) -> dict[str, Any]:
    return {
        "method": method,
        "path": path,
        "handler": handler,
        "framework": framework,
        "line": node.start_point.row + 1,
    }


def js_routes(grammar: str, text: str) -> list[dict[str, Any]]:
    """`app.get('/x', h)` / `router.post(...)` in files that import express or a Koa router."""
    framework = "express" if _EXPRESS.search(text) else "koa" if _KOA.search(text) else None
    if framework is None:
        return []
    root = _parse(grammar, text.encode())
    routes = []
    for match in _matches(grammar, "calls", root):
        verb, path = _text(match["verb"]), _unquote(match["path"])
        if verb not in JS_VERBS or not path.startswith("/"):
            continue
        method = "ANY" if verb == "all" else "DELETE" if verb == "del" else verb.upper()
        handler = _handler(match["call"].child_by_field_name("arguments"))
        routes.append(_route(method, path, handler, framework, match["call"]))
    return routes


def _go_frameworks(text: str) -> set[str]:
    found = set()
    for name, marker in (
        ("gin", '"github.com/gin-gonic/gin"'),
        ("echo", '"github.com/labstack/echo'),
        ("chi", '"github.com/go-chi/chi'),
        ("gorilla/mux", '"github.com/gorilla/mux"'),
        ("net/http", '"net/http"'),
    ):
        if marker in text:
            found.add(name)
    return found


def _gorilla_methods(call: Node) -> list[str] | None:
    """`r.HandleFunc("/x", h).Methods("GET", "POST")`: the methods chained onto the route."""
    selector = call.parent
    if selector is None or selector.type != "selector_expression":
        return None
    if _text(selector.child_by_field_name("field")) != "Methods" or selector.parent is None:
        return None
    arguments = selector.parent.child_by_field_name("arguments")
    if arguments is None:
        return None
    return [_unquote(a) for a in arguments.named_children if a.type == "interpreted_string_literal"]


def go_routes(text: str) -> list[dict[str, Any]]:
    """Routes of net/http muxes, gorilla/mux, chi, gin and echo, with same-file `Group`/`Route` prefixes."""
    frameworks = _go_frameworks(text)
    if not frameworks:
        return []
    root = _parse("go", text.encode())
    prefixes: dict[str, str] = {}
    for match in _matches("go", "groups", root):
        if _text(match["fn"]) in ("Group", "Subrouter", "PathPrefix"):
            prefixes[_text(match["var"])] = prefixes.get(_text(match["obj"]), "") + _unquote(match["path"])
    verb_framework = next((f for f in ("gin", "echo") if f in frameworks), None)
    handle_framework = next((f for f in ("gorilla/mux", "chi", "net/http") if f in frameworks), None)
    routes = []
    for match in _matches("go", "calls", root):
        verb, path, call = _text(match["verb"]), _unquote(match["path"]), match["call"]
        prefix = prefixes.get(_text(match["obj"]), "")
        handler = _handler(call.child_by_field_name("arguments"))
        if verb in GO_UPPER_VERBS and verb_framework and path.startswith("/"):
            method = "ANY" if verb == "Any" else verb
            routes.append(_route(method, prefix + path, handler, verb_framework, call))
        elif verb in GO_CHI_VERBS and "chi" in frameworks and path.startswith("/"):
            routes.append(_route(verb.upper(), prefix + path, handler, "chi", call))
        elif verb in GO_HANDLE and handle_framework:
            pattern = _GO_VERB_PATTERN.match(path)
            methods: list[str | None] = [pattern.group(1)] if pattern else [None]
            path = pattern.group(2) if pattern else path
            if not path.startswith("/"):
                continue
            methods = list(_gorilla_methods(call) or methods)
            for method in methods:
                routes.append(_route(method, prefix + path, handler, handle_framework, call))
    return routes


def _annotation_values(annotation: Node) -> dict[str, list[str]]:
    """`@RequestMapping(value = {"/a"}, method = RequestMethod.GET)` as {value: [/a], method: [GET]}.

    Spring allows one unnamed argument (the value) or named pairs; both are read the same way.
    """
    arguments = annotation.child_by_field_name("arguments")
    values: dict[str, list[str]] = {}
    if arguments is None:
        return values

    def flatten(node: Node) -> list[str]:
        if node.type == "string_literal":
            return [_unquote(node)]
        if node.type == "element_value_array_initializer":
            return [v for child in node.named_children for v in flatten(child)]
        if node.type in ("field_access", "identifier"):  # RequestMethod.GET, or a constant
            return [_text(node).rsplit(".", 1)[-1]]
        return []

    for child in arguments.named_children:
        if child.type == "element_value_pair":
            key = _text(child.child_by_field_name("key"))
            value = child.child_by_field_name("value")
            values[key] = flatten(value) if value is not None else []
        else:
            values["value"] = flatten(child)
    return values


def _mapping(node: Node) -> tuple[str, Node] | None:
    """The Spring mapping annotation among a declaration's modifiers, with its name."""
    modifiers = next((c for c in node.children if c.type == "modifiers"), None)
    for child in modifiers.children if modifiers is not None else []:
        if child.type in ("annotation", "marker_annotation"):
            name = _text(child.child_by_field_name("name"))
            if name in SPRING_VERBS:
                return name, child
    return None


def _paths(values: dict[str, list[str]]) -> list[str]:
    return values.get("value") or values.get("path") or [""]


def java_routes(text: str) -> list[dict[str, Any]]:
    """Spring MVC/WebFlux `@GetMapping`... and `@RequestMapping` on methods, joined with the class prefix."""
    if "Mapping" not in text:
        return []
    root = _parse("java", text.encode())
    routes = []
    for match in _matches("java", "annotations", root):
        name, annotation = _text(match["name"]), match["ann"]
        method_node = annotation.parent.parent if annotation.parent is not None else None
        if name not in SPRING_VERBS or method_node is None or method_node.type != "method_declaration":
            continue
        owner = method_node.parent.parent if method_node.parent is not None else None
        prefixes = [""]
        owner_name = None
        if owner is not None and owner.type in ("class_declaration", "interface_declaration"):
            owner_name = _text(owner.child_by_field_name("name"))
            owner_mapping = _mapping(owner)
            if owner_mapping is not None:
                prefixes = _paths(_annotation_values(owner_mapping[1]))
        values = _annotation_values(annotation)
        verb = SPRING_VERBS[name]
        methods: list[str | None] = [verb] if verb else list(values.get("method") or [None])
        method_name = _text(method_node.child_by_field_name("name"))
        handler = f"{owner_name}.{method_name}" if owner_name else method_name
        for prefix in prefixes:
            for path in _paths(values):
                full = "/" + "/".join(p.strip("/") for p in (prefix, path) if p.strip("/"))
                for method in methods:
                    routes.append(_route(method, full, handler, "spring", annotation))
    return routes
