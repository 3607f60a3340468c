"""Symbols of one file, found with tree-sitter: the per-blob half of symbol_index.

Each language is a tree-sitter query (`queries.py`) whose patterns capture a
definition node under the name of its kind and, where the grammar has one, its
name node. The code here refines what a query cannot say (a function inside a
class is a method, a Go `type_spec` is a struct or an interface, only `static
final` Java fields are constants) and fills in parent, signature and doc.
Queries run in C, so a big file costs one parse plus work proportional to its
definitions, not to its nodes.

Grammars come from tree-sitter-language-pack 0.13 (C# from tree-sitter-c-sharp,
which it depends on): bundled in the wheels, nothing is downloaded at run time.
The code is written for py-tree-sitter 0.25 (`Query(language, source)` and
`QueryCursor(query).matches(node)`).
"""

from __future__ import annotations

import ast
import inspect
import logging
import re
import threading
from collections.abc import Callable
from functools import cache
from pathlib import PurePosixPath
from typing import Any

from tree_sitter import Language, Node, Parser, Query, QueryCursor
from tree_sitter_language_pack import get_language

from warmer.artifacts.languages import language_of
from warmer.artifacts.secrets import redact
from warmer.artifacts.symbols.queries import QUERIES, SUPPORTED

log = logging.getLogger(__name__)

BINARY_SNIFF = 8192
SIGNATURE_MAX = 200
DOC_MAX = 200

# Kinds whose functions are methods; `impl` is a scope only (Rust), never a symbol of its own.
_CLASS_LIKE = frozenset({"class", "interface", "struct", "enum", "trait", "impl"})
# Wrappers whose text belongs to the declaration inside (`export`, `template <...>`, `type (...)`):
# signature and leading comments are taken from them unless they group several declarations.
_WRAPPERS = frozenset(
    {
        "export_statement",
        "lexical_declaration",
        "variable_declaration",
        "template_declaration",
        "type_declaration",
        "const_declaration",
        "ambient_declaration",
    }
)
_COMMENTS = frozenset({"comment", "line_comment", "block_comment"})
_SKIP_BEFORE_DOC = frozenset({"attribute_item", "decorator", "annotation"})
# What may stand before a declaration inside its own node (Java annotations in `modifiers`, C#
# `[Attribute]` lists, TypeScript decorators): the declaration line is the first line after them, as
# Python's `def` line is after its decorators.
_ANNOTATIONS = frozenset({"annotation", "marker_annotation", "attribute_list", "decorator", *_COMMENTS})
# Bodies whose definitions no name reaches from outside: methods of anonymous classes (Java
# `new Runnable() {...}`), types declared inside a Go function.
_ANONYMOUS_SCOPES = frozenset({"object_creation_expression"})
_GO_FUNCTION_BODIES = frozenset({"function_declaration", "method_declaration", "func_literal"})
# TypeScript overloads: signatures without a body, followed by more of them and the implementation.
_OVERLOAD_SIGNATURES = frozenset({"function_signature", "method_signature"})
_FUNCTION_VALUES = frozenset(
    {
        "arrow_function",
        "function_expression",
        "function",
        "generator_function",
        "generator_function_expression",
    }
)
_DECLARATOR_NAMES = frozenset(
    {
        "identifier",
        "field_identifier",
        "type_identifier",
        "destructor_name",
        "operator_name",
        "template_function",
    }
)
_TYPING_FACTORIES = frozenset({"TypeVar", "NewType", "ParamSpec", "TypeVarTuple", "TypeAliasType"})
_CONSTANT_NAME = re.compile(r"^_*[A-Z][A-Z0-9_]*$")
_COMMENT_MARKS = re.compile(r"^(?:/\*+!?|\*+/?|//[/!]?|#+)\s?")
_XML_TAG = re.compile(r"<[^>]+>")
# `class GTEST_API_ Foo {`: an export macro between the keyword and the name, which the C++ grammar
# reads as the name. Blanking it (same length, so every line and column stays) lets it read the class.
_EXPORT_MACRO = re.compile(
    rb"\b(?:class|struct|union)[ \t]+([A-Z][A-Z0-9_]*)[ \t]+(?=[A-Za-z_]\w*[ \t\r\n]*(?:[:{]|final\b))"
)
_LOOKS_CPP = re.compile(rb"^\s*(?:namespace\b|class\s+\w|template\s*<|public:|private:)|::", re.MULTILINE)


def symbol_language(path: str) -> str | None:
    """The grammar for a path, or None: `language_of`, except that .tsx needs the TSX grammar."""
    language = language_of(path)
    if language == "typescript" and PurePosixPath(path).suffix.lower() == ".tsx":
        return "tsx"
    return language if language in SUPPORTED else None


@cache
def _compiled(language: str) -> tuple[Language, Query]:
    grammar = get_language(language)  # type: ignore[arg-type]
    return grammar, Query(grammar, QUERIES[language])


_parsers = threading.local()  # a Parser is not safe to share between threads


def _parser(language: str) -> Parser:
    cache: dict[str, Parser] = _parsers.__dict__.setdefault("by_language", {})
    if language not in cache:
        cache[language] = Parser(_compiled(language)[0])
    return cache[language]


def _text(node: Node | None) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text is not None else ""


def skip_reason(data: bytes, max_bytes: int) -> str | None:
    """Why a file's content cannot be indexed, or None when it can."""
    if b"\0" in data[:BINARY_SNIFF]:
        return "binary"
    if len(data) > max_bytes:
        return "too_large"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "non_utf8"
    return None


def _declarator(node: Node) -> tuple[Node | None, bool]:
    """The name node at the end of a C/C++ declarator chain, and whether it declares a function."""
    current = node.child_by_field_name("declarator")
    is_function = False
    while (
        current is not None
        and current.type not in _DECLARATOR_NAMES
        and current.type != "qualified_identifier"
    ):
        is_function = is_function or current.type == "function_declarator"
        inner = current.child_by_field_name("declarator")
        current = inner if inner is not None else (current.named_children or [None])[0]
    return current, is_function


def _export_macro_class(node: Node, target: Node | None) -> str | None:
    """`class GTEST_API_ Foo {...}`: an export macro before the name makes the C++ grammar read a
    class as a function `GTEST_API_ Foo {...}` whose declarator is the name; returns its kind."""
    shape = node.child_by_field_name("type")
    if node.type != "function_definition" or target is None or target.type != "identifier" or shape is None:
        return None
    kinds = {"class_specifier": "class", "struct_specifier": "struct", "union_specifier": "struct"}
    macro = _text(shape.child_by_field_name("name"))
    return kinds.get(shape.type) if macro and _CONSTANT_NAME.match(macro) else None


def _base_type_name(node: Node | None) -> str:
    """`Foo` from `Foo<T>`, `&'a Foo`, `fmt::Foo` or `*Foo[T]` (Rust impl targets, Go receivers)."""
    while node is not None and node.type not in ("type_identifier", "identifier"):
        if node.type in ("scoped_type_identifier", "qualified_type"):
            node = node.child_by_field_name("name")
        else:
            inner = node.child_by_field_name("type")
            node = (
                inner
                if inner is not None
                else next(
                    (c for c in node.named_children if "type" in c.type or c.type == "identifier"), None
                )
            )
    return _text(node)


def _declaration_start(node: Node, outer: Node) -> tuple[Node, int | None]:
    """The declaration's first token after its own annotations, and the line (0-based) where those
    annotations start, or None when it has none."""
    if node.parent is not None and node.parent.type == "decorated_definition":  # Python
        return node, node.parent.start_point.row
    decorated_wrapper = outer is not node and outer.children[0].type == "decorator"  # `@D() export class`
    children = outer.children if decorated_wrapper else node.children
    if children and children[0].type == "modifiers":  # Java: annotations mixed with keywords
        children = children[0].children + children[1:]
    if not children or children[0].type not in _ANNOTATIONS or children[0].type in _COMMENTS:
        return outer, None
    first = next((c for c in children if c.type not in _ANNOTATIONS), None)
    return (first, children[0].start_point.row) if first is not None else (outer, None)


def _attributes_above(node: Node) -> int | None:
    """Rust: the first line of the `#[...]` attributes right above an item (they are its siblings)."""
    start = None
    sibling = node.prev_named_sibling
    while sibling is not None and sibling.type in ("attribute_item", *_COMMENTS):
        if sibling.type == "attribute_item":
            start = sibling.start_point.row
        sibling = sibling.prev_named_sibling
    return start


def _member_target(node: Node) -> tuple[str, str | None, str]:
    """`res.send = function` → ("send", "res", "method"); `Foo.prototype.bar` → ("bar", "Foo", "method");
    `exports.x` / `module.exports.x` → ("x", "exports" / "module.exports", "function"); `this.x` has the
    enclosing definition as its parent."""
    left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
    assert left is not None and right is not None
    name = _text(left.child_by_field_name("property"))
    owner = " ".join(_text(left.child_by_field_name("object")).split())
    kind = "class" if right.type == "class" else "method"
    if (owner, name) == ("module", "exports"):  # `module.exports = function query() {...}`
        return (
            _text(right.child_by_field_name("name")),
            None,
            "class" if right.type == "class" else "function",
        )
    if owner.endswith(".prototype"):
        owner = owner[: -len(".prototype")]
    elif owner in ("exports", "module.exports"):
        kind = "class" if kind == "class" else "function"
    if owner == "this":
        return name, None, kind
    return name, owner or None, kind


def _anonymous(node: Node, language: str, kind: str) -> bool:
    """A definition no name reaches from outside its body (see `_ANONYMOUS_SCOPES`), or one that
    another symbol already stands for (`const f = function g()`, `res.send = function send()`)."""
    parent = node.parent
    named_elsewhere = ("variable_declarator", "assignment_expression", "pair", "public_field_definition")
    if node.type == "function_expression" and parent is not None and parent.type in named_elsewhere:
        return True
    grandparent = parent.parent if parent is not None else None
    if kind == "method" and grandparent is not None and grandparent.type in _ANONYMOUS_SCOPES:
        return True
    if language == "go" and node.type == "type_spec":
        ancestor = parent
        while ancestor is not None:
            if ancestor.type in _GO_FUNCTION_BODIES:
                return True
            ancestor = ancestor.parent
    return False


def _outer(node: Node) -> Node:
    """The node whose text starts the declaration: climbs through `export`, `template`, `const` ..."""
    while (
        node.parent is not None
        and node.parent.type in _WRAPPERS
        and sum(1 for c in node.parent.named_children if c.type == node.type) == 1
    ):
        node = node.parent
    return node


def _signature(outer: Node, node: Node, source: bytes) -> str:
    """The declaration from `outer`'s first token up to its body, on one line (or its first line when
    it has no body)."""
    body = node.child_by_field_name("body")
    value = node.child_by_field_name("value") or node.child_by_field_name("right")
    if body is None and value is not None and (value.type in _FUNCTION_VALUES or value.type == "class"):
        body = value.child_by_field_name("body")
    if body is not None and body.start_byte > outer.start_byte:
        # A comment between header and body (Ruby `class A # note`) is not part of the signature.
        stop = min([body.start_byte] + [c.start_byte for c in node.children if c.type in _COMMENTS])
        head = source[outer.start_byte : stop].decode("utf-8", "replace")
    else:
        head = source[outer.start_byte : outer.end_byte].decode("utf-8", "replace").split("\n", 1)[0]
    text = " ".join(head.split()).rstrip("{:").rstrip()
    return redact(text)[:SIGNATURE_MAX]


def _end_line(node: Node) -> int:
    """Last line of a definition, not counting comments that trail its body (as Python's ast does)."""
    while node.children:
        last = next((c for c in reversed(node.children) if c.type not in _COMMENTS), None)
        if last is None:
            break
        node = last
    end = node.end_point
    return end.row + (0 if end.column == 0 and end.row > node.start_point.row else 1)


def _python_docstring(node: Node) -> str | None:
    """First line of the docstring exactly as `ast.get_docstring` would clean it."""
    body = node.child_by_field_name("body")
    first = next((c for c in body.named_children if c.type != "comment"), None) if body else None
    if first is None or first.type not in ("string", "concatenated_string"):
        return None
    try:
        value = ast.literal_eval(_text(first))
    except (ValueError, SyntaxError):  # f-strings are not docstrings
        return None
    if not isinstance(value, str):
        return None
    line = redact(inspect.cleandoc(value).split("\n", 1)[0].strip())
    return line[:DOC_MAX] or None


def _comment_doc(outer: Node) -> str | None:
    """First line of the comments right above a declaration (Javadoc, `///`, `#`, Go doc ...)."""
    block: list[Node] = []
    current = outer
    while outer.prev_named_sibling is None and outer.parent is not None:
        if outer.parent.start_byte != outer.start_byte:
            break
        outer = outer.parent  # Ruby: a body starts at its first `def`; the comment sits before the body
    sibling = outer.prev_named_sibling
    while sibling is not None and (sibling.type in _COMMENTS or sibling.type in _SKIP_BEFORE_DOC):
        if sibling.end_point.row < current.start_point.row - 1:
            break  # a blank line separates it from the declaration
        before = sibling.prev_sibling
        if sibling.type in _COMMENTS:
            if before is not None and before.end_point.row == sibling.start_point.row:
                break  # a trailing comment on the previous statement
            block.append(sibling)
        current, sibling = sibling, sibling.prev_named_sibling
    for comment in reversed(block):
        for raw in _text(comment).splitlines():
            line = _COMMENT_MARKS.sub("", raw.strip()).strip()
            line = re.sub(r"\*+/$", "", line).strip()
            line = " ".join(_XML_TAG.sub(" ", line).split())
            if line:
                return redact(line)[:DOC_MAX]
    return None


def _python_kind(node: Node, name: str) -> str | None:
    """Module-level assignments are indexed only when they look like constants or type aliases."""
    annotation = _text(node.child_by_field_name("type"))
    right = node.child_by_field_name("right")
    if annotation.split(".")[-1] == "TypeAlias":
        return "type"
    if right is not None and right.type == "call":
        factory = _text(right.child_by_field_name("function")).split(".")[-1]
        if factory in _TYPING_FACTORIES:
            return "type"
    return "constant" if _CONSTANT_NAME.match(name) else None


def _refine(language: str, kind: str, node: Node, name: str) -> str | None:
    """What a query pattern cannot say about the kind; None drops the capture."""
    if kind == "constant":
        if language == "python":
            return _python_kind(node, name)
        if language in ("javascript", "typescript", "tsx"):
            value = node.child_by_field_name("value")
            if value is not None and value.type in _FUNCTION_VALUES:
                return "function"
            declaration = node.parent
            const = declaration is not None and _text(declaration.child_by_field_name("kind")) == "const"
            return "constant" if const else None
        if language == "java" and node.type == "field_declaration":
            modifiers = _text(next((c for c in node.named_children if c.type == "modifiers"), None)).split()
            return "constant" if {"static", "final"} <= set(modifiers) else None
        if language == "csharp":
            modifiers = {_text(c) for c in node.named_children if c.type == "modifier"}
            return "constant" if "const" in modifiers else None
    if kind == "type" and language == "go" and node.type == "type_spec":
        shape = node.child_by_field_name("type")
        return {"struct_type": "struct", "interface_type": "interface"}.get(
            shape.type if shape else "", "type"
        )
    return kind


def _parent(node: Node, defs: dict[int, tuple[str, str]]) -> tuple[str, str] | None:
    ancestor = node.parent
    while ancestor is not None:
        if ancestor.id in defs:
            return defs[ancestor.id]
        ancestor = ancestor.parent
    return None


def _first_error_line(root: Node) -> int:
    """Where the first syntax error is: follows only the branches that contain one."""
    node = root
    while not (node.is_error or node.is_missing):
        child = next((c for c in node.children if c.has_error or c.is_missing), None)
        if child is None:
            break
        node = child
    return node.start_point.row


def _next_declaration(node: Node) -> Node | None:
    """The declaration after `node` among its siblings, past comments and `export` wrappers."""
    outer = _outer(node)
    sibling = outer.next_named_sibling
    while sibling is not None and sibling.type in _COMMENTS:
        sibling = sibling.next_named_sibling
    while sibling is not None and sibling.type in _WRAPPERS and sibling.named_children:
        sibling = next((c for c in sibling.named_children if c.type not in _COMMENTS), None)
    return sibling


def _merge_overloads(symbols: list[dict[str, Any]], nodes: list[Node]) -> list[dict[str, Any]]:
    """One symbol per overloaded TypeScript function or method: from its first overload signature to
    its implementation (or last signature), with the implementation's signature and the count of
    overload signatures before it; the doc is the first one written."""
    merged: list[dict[str, Any]] = []
    open_run: tuple[dict[str, Any], Node] | None = None
    for symbol, node in zip(symbols, nodes, strict=True):
        if open_run is not None:
            head, previous = open_run
            same = all(head[key] == symbol[key] for key in ("name", "kind", "parent"))
            if same and _next_declaration(previous) == node:
                head["end_line"], head["signature"] = symbol["end_line"], symbol["signature"]
                head["overloads"] = head.get("overloads", 1) + (1 if node.type in _OVERLOAD_SIGNATURES else 0)
                head["doc"] = head["doc"] or symbol["doc"]
                open_run = (head, node) if node.type in _OVERLOAD_SIGNATURES else None
                continue
        merged.append(symbol)
        open_run = (symbol, node) if node.type in _OVERLOAD_SIGNATURES else None
    return merged


def extract_symbols(
    path: str,
    language: str,
    data: bytes,
    max_bytes: int = 1_000_000,
    on_tree: Callable[[str, Node], None] | None = None,
) -> dict[str, Any]:
    """Symbols of one file's content, keyed by nothing but the content and the grammar.

    `path` is only named in log messages: the payload is cached by blob id and
    must hold for every path with this content and language. `on_tree(grammar, root)` receives the
    parsed tree, so a caller needing more from the same file does not parse it again.
    """
    base: dict[str, Any] = {"language": language, "size": len(data)}
    reason = skip_reason(data, max_bytes)
    if reason is not None:
        return {**base, "symbols": [], "skipped": reason}
    try:
        return {**base, **_extract(language, data, on_tree)}
    except Exception as exc:  # a grammar bug must not sink the whole artifact
        log.warning("symbol extraction failed for %s (%s): %s", path, language, exc)
        return {**base, "symbols": [], "error": f"extraction failed: {type(exc).__name__}: {exc}"}


def _parse(language: str, data: bytes) -> tuple[str, Node]:
    """The grammar used and the tree. `.h` means C to `language_of`, yet many headers are C++:
    content that looks like C++ is C++ unless only the C grammar reads it cleanly (macros that the
    C++ grammar misreads can make both stumble, and C++ misread as C yields nonsense symbols)."""
    if language == "c" and _LOOKS_CPP.search(data):
        cpp = _parser("cpp").parse(data).root_node
        if not cpp.has_error:
            return "cpp", cpp
        c = _parser("c").parse(data).root_node
        return ("c", c) if not c.has_error else ("cpp", cpp)
    return language, _parser(language).parse(data).root_node


def _blank_export_macros(data: bytes) -> bytes:
    return _EXPORT_MACRO.sub(lambda m: m.group(0).replace(m.group(1), b" " * len(m.group(1))), data)


def _extract(
    language: str, data: bytes, on_tree: Callable[[str, Node], None] | None = None
) -> dict[str, Any]:
    if language in ("c", "cpp") and (b"class" in data or b"struct" in data):
        data = _blank_export_macros(data)
    grammar, root = _parse(language, data)
    if on_tree is not None:
        on_tree(grammar, root)
    query = _compiled(grammar)[1]
    found: dict[tuple[int, int], tuple[Node, Node | None, str]] = {}
    for _pattern, captures in QueryCursor(query).matches(root):
        kind = next(k for k in captures if k != "name")
        node = captures[kind][0]
        for name_node in captures.get("name") or [None]:
            key = (node.id, name_node.id if name_node is not None else 0)
            found.setdefault(key, (node, name_node, kind))
    candidates = sorted(found.values(), key=lambda c: (c[0].start_byte, -c[0].end_byte, _text(c[1])))

    # Names and kinds first: parents need every enclosing definition's name.
    named: list[tuple[Node, str, str, str | None]] = []  # node, name, kind, scope from a qualified name
    defs: dict[int, tuple[str, str]] = {}
    for node, name_node, kind in candidates:
        scope = None
        if kind == "impl":
            target = node.child_by_field_name("type")  # `for ()`, `for !`, `for bool` have no type name
            name = _base_type_name(target) or " ".join(_text(target).split())
        elif kind == "assigned":
            name, scope, kind = _member_target(node)
        elif node.type == "construct_signature":  # TypeScript `new (...): T` in an interface
            name = "new"
        elif node.type in ("operator_declaration", "conversion_operator_declaration"):  # C#
            shown = node.child_by_field_name("operator") or node.child_by_field_name("type")
            name = f"operator {_text(shown)}"
        elif name_node is not None and name_node.type == "scope_resolution":  # Ruby `class A::B`
            name = _text(name_node.child_by_field_name("name"))
            scope = _text(name_node.child_by_field_name("scope")) or None
        elif name_node is not None and name_node.type == "template_type":  # `class Foo<T*>` specialization
            name = _text(name_node.child_by_field_name("name"))
        elif name_node is not None:
            name = _text(name_node)
        elif language == "python":  # type X = ... (Python 3.12)
            left = node.child_by_field_name("left")
            name = _text(next((c for c in left.named_children), left)) if left else ""
            name = name.split("[", 1)[0]
        else:  # C and C++ declarators
            target, is_function = _declarator(node)
            if target is None or (kind in ("method", "function") and not is_function):
                exported = _export_macro_class(node, target)
                if exported is None:
                    continue
                kind = exported
            name = _text(target)
            if target.type == "qualified_identifier":  # `void ns::Widget::draw() {...}`
                while target.type == "qualified_identifier" and target.child_by_field_name("name"):
                    target = target.child_by_field_name("name")  # type: ignore[assignment]
                scope = name[: len(name) - len(_text(target))].rstrip(":").strip() or None
                name = _text(target)
        refined = _refine(grammar, kind, node, name)
        if not name or refined is None or _anonymous(node, grammar, refined):
            continue
        named.append((node, name, refined, scope))
        defs.setdefault(node.id, (name, refined))

    symbols: list[dict[str, Any]] = []
    nodes: list[Node] = []
    namespace: tuple[str, int] | None = None  # C# `namespace X;` covers the rest of the file
    for node, name, kind, scope in named:
        if kind == "impl":
            continue
        enclosing = _parent(node, defs)
        parent = scope or (enclosing[0] if enclosing else None)
        assigned = node.type == "assignment_expression"  # its kind was decided by `_member_target`
        if kind == "function" and not assigned and (scope or (enclosing and enclosing[1] in _CLASS_LIKE)):
            kind = "method"
        if kind == "method" and language == "go" and node.type == "method_declaration":
            receiver = node.child_by_field_name("receiver")
            param = receiver.named_children[0] if receiver and receiver.named_children else None
            parent = _base_type_name(param.child_by_field_name("type") if param else None) or None
        if node.type == "file_scoped_namespace_declaration":
            namespace = (name, node.start_byte)
        elif parent is None and namespace is not None and node.start_byte > namespace[1]:
            parent = namespace[0]
        outer = _outer(node)
        first, annotations = _declaration_start(node, outer)
        if grammar == "rust":
            annotations = _attributes_above(node)
        symbol = {
            "name": name,
            "kind": kind,
            "start_line": (node if annotations is None else first).start_point.row + 1,
            "end_line": _end_line(node),
            "signature": _signature(first, node, data),
            "parent": parent,
            "doc": _python_docstring(node) if language == "python" else _comment_doc(outer),
        }
        if annotations is not None:
            symbol["annotations_line"] = annotations + 1
        if node.type == "file_scoped_namespace_declaration":
            symbol["end_line"] = max(1, root.end_point.row + (1 if root.end_point.column else 0))
        symbols.append(symbol)
        nodes.append(node)
    if grammar in ("typescript", "tsx"):
        symbols = _merge_overloads(symbols, nodes)
    result: dict[str, Any] = {"symbols": symbols}
    if grammar != language:
        result["grammar"] = grammar
    if root.has_error:
        result["error"] = f"syntax error near line {_first_error_line(root) + 1}"
    return result
