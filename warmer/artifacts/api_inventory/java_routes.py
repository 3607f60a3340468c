"""HTTP routes declared in one Java file: Spring MVC/WebFlux mapping annotations, read with tree-sitter.

`@GetMapping`... and `@RequestMapping` on methods, joined with the class-level `@RequestMapping`
prefix; the served path is complete within the file (Spring has no cross-file router to join).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from tree_sitter import Node, Query, QueryCursor

from warmer.artifacts.api_inventory.syntax import language, line, parse, text

SPRING_VERBS = {
    "GetMapping": "GET",
    "PostMapping": "POST",
    "PutMapping": "PUT",
    "PatchMapping": "PATCH",
    "DeleteMapping": "DELETE",
    "RequestMapping": None,
}
_ANNOTATIONS = """
[(annotation name: (identifier) @name) (marker_annotation name: (identifier) @name)] @ann
"""


@cache
def _query() -> Query:
    return Query(language("java"), _ANNOTATIONS)


def _unquote(node: Node) -> str:
    return text(node)[1:-1]


def _route(method: str | None, path: str, handler: str | None, node: Node) -> dict[str, Any]:
    return {"method": method, "path": path, "handler": handler, "framework": "spring", "line": line(node)}


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
            return [text(node).rsplit(".", 1)[-1]]
        return []

    for child in arguments.named_children:
        if child.type == "element_value_pair":
            key = text(child.child_by_field_name("key"))
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
            name = text(child.child_by_field_name("name"))
            if name in SPRING_VERBS:
                return name, child
    return None


def _paths(values: dict[str, list[str]]) -> list[str]:
    return values.get("value") or values.get("path") or [""]


def java_routes(source: str) -> list[dict[str, Any]]:
    """Spring MVC/WebFlux `@GetMapping`... and `@RequestMapping` on methods, joined with the class prefix."""
    if "Mapping" not in source:
        return []
    root = parse("java", source.encode())
    routes = []
    for _, captures in QueryCursor(_query()).matches(root):
        name, annotation = text(captures["name"][0]), captures["ann"][0]
        method_node = annotation.parent.parent if annotation.parent is not None else None
        if name not in SPRING_VERBS or method_node is None or method_node.type != "method_declaration":
            continue
        owner = method_node.parent.parent if method_node.parent is not None else None
        prefixes = [""]
        owner_name = None
        if owner is not None and owner.type in ("class_declaration", "interface_declaration"):
            owner_name = text(owner.child_by_field_name("name"))
            owner_mapping = _mapping(owner)
            if owner_mapping is not None:
                prefixes = _paths(_annotation_values(owner_mapping[1]))
        values = _annotation_values(annotation)
        verb = SPRING_VERBS[name]
        methods: list[str | None] = [verb] if verb else list(values.get("method") or [None])
        method_name = text(method_node.child_by_field_name("name"))
        handler = f"{owner_name}.{method_name}" if owner_name else method_name
        for prefix in prefixes:
            for path in _paths(values):
                full = "/" + "/".join(p.strip("/") for p in (prefix, path) if p.strip("/"))
                for method in methods:
                    routes.append(_route(method, full, handler, annotation))
    return routes
