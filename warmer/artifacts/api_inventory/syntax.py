"""Tree-sitter plumbing the route readers share: a parser per thread and grammar, node text, a walk.

A syntax tree rather than regex over text, so commented-out routes, strings that merely look like
calls and multi-line argument lists are handled by the grammar.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import cache

from tree_sitter import Language, Node, Parser
from tree_sitter_language_pack import get_language

_parsers = threading.local()


@cache
def language(grammar: str) -> Language:
    return get_language(grammar)  # type: ignore[arg-type]


def parse(grammar: str, source: bytes) -> Node:
    parsers: dict[str, Parser] = _parsers.__dict__.setdefault("by_grammar", {})
    if grammar not in parsers:
        parsers[grammar] = Parser(language(grammar))
    return parsers[grammar].parse(source).root_node


def text(node: Node | None) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text is not None else ""


def line(node: Node) -> int:
    return node.start_point.row + 1


def walk(root: Node, types: frozenset[str]) -> Iterator[Node]:
    """Every node of one of `types` under `root`, in source order (an explicit stack: no recursion limit)."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type in types:
            yield node
        stack.extend(reversed(node.named_children))


def string_value(node: Node | None) -> str | None:
    """The value of a plain string literal (JS/TS `'x'`, `"x"`, a template without `${}`; Go
    interpreted or raw strings; Rust string literals); None for anything computed."""
    if node is None:
        return None
    if node.type in ("string", "interpreted_string_literal", "raw_string_literal", "string_literal"):
        raw = text(node)
        if node.type == "raw_string_literal" and raw.startswith("r"):
            return raw.lstrip("r#")[1:].rstrip("#")[:-1]
        if node.type == "interpreted_string_literal":  # Go: `"\\s"` is the two characters `\s`
            return raw[1:-1].replace("\\\\", "\x00").replace('\\"', '"').replace("\x00", "\\")
        return raw[1:-1]
    if node.type == "template_string" and not any(
        c.type == "template_substitution" for c in node.named_children
    ):
        return text(node)[1:-1]
    return None


def first_error_line(root: Node) -> int | None:
    """The line of the first syntax error tree-sitter recovered from, or None for a clean parse."""
    if not root.has_error:
        return None
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            return line(node)
        stack.extend(reversed([c for c in node.children if c.has_error or c.type == "ERROR" or c.is_missing]))
    return line(root)
