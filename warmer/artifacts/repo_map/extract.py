"""The per-blob half of repo_map: what one file's content says, independent of where it sits.

Every file gets its size, line count and whether it is text (`extract_blob`).
Files tree-sitter parses also get their definitions (from symbol_index's
extractor) and the identifiers they reference with counts (`extract_tags`):
identifier tokens of the code with comments and strings blanked out by
tree-sitter, minus each definition's own name token at its definition site.
Important text files (README, manifests) get the identifiers they mention, so
personalizing the rank towards them leads to the code they name. What is stored
per file is capped: a generated file must not blow up the payload.
"""

from __future__ import annotations

import keyword
import logging
import re
import threading
from collections import Counter
from functools import cache
from typing import Any

from tree_sitter import Language, Node, Parser, Query, QueryCursor
from tree_sitter_language_pack import get_language

from warmer.artifacts.classify import generated_by_content
from warmer.artifacts.secrets import redact
from warmer.artifacts.symbols.extract import extract_symbols, skip_reason

log = logging.getLogger(__name__)

_BINARY_SNIFF = 8192
TEXT_KIND = "text"  # the tag kind of an important file no grammar parses: identifiers it mentions
MAX_DEFINITIONS = 1000  # per file, in line order
MAX_REFERENCES = 2000  # distinct identifiers per file, the most frequent first
MAX_NAME = 100  # longer tokens are data (hashes, base64), not names anyone defines

# An identifier, and the member access before it if any (`x.name`, `p->name`, `Type::name`).
_IDENTIFIER = re.compile(rb"(\.|->|::)?([A-Za-z_$][A-Za-z0-9_$]*)")
# Tokens that are never defined names: keywords of the supported languages and the receivers.
_NOT_NAMES = frozenset(keyword.kwlist + keyword.softkwlist) | frozenset(
    {
        "self", "cls", "this", "super", "true", "false", "null", "nil", "undefined", "void", "var", "let",
        "const", "function", "func", "fn", "return", "if", "else", "elif", "for", "while", "do", "switch",
        "case", "break", "continue", "new", "delete", "typeof", "instanceof", "in", "of", "is", "not", "and",
        "or", "public", "private", "protected", "static", "final", "abstract", "override", "virtual",
        "readonly", "async", "await", "yield", "import", "export", "from", "package", "module", "use",
        "using", "namespace", "struct", "enum", "interface", "impl", "trait", "type", "typedef", "extern",
        "inline", "int", "long", "short", "char", "float", "double", "bool", "boolean", "string", "byte",
        "unsigned", "signed", "auto", "mut", "ref", "pub", "crate", "def", "class", "end", "begin", "then",
        "unless", "until", "elsif", "rescue", "ensure", "require", "include",
    }
)  # fmt: skip
# Node types whose words are no references: comments, strings, a file's own package clause. Only
# those a grammar has are queried (an unknown one fails to compile).
_NOT_CODE_NODES = (
    "package_clause",
    "package_declaration",
    "comment",
    "line_comment",
    "block_comment",
    "string",
    "string_literal",
    "raw_string_literal",
    "interpreted_string_literal",
    "template_string",
    "char_literal",
    "character_literal",
    "heredoc_body",
    "verbatim_string_literal",
)


def extract_blob(data: bytes, max_bytes: int) -> dict[str, Any]:
    """What repo_map needs from any file's content: size, lines, and whether it is text."""
    size = len(data)
    if b"\0" in data[:_BINARY_SNIFF]:
        return {"size": size, "lines": None, "kind": "binary"}
    if size > max_bytes:
        return {"size": size, "lines": None, "kind": "too_large"}
    lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    try:
        data.decode("utf-8")
        kind = "text"
    except UnicodeDecodeError:
        kind = "non_utf8"
    return {"size": size, "lines": lines, "kind": kind}


@cache
def _not_code_query(grammar: str) -> tuple[Language, Query | None]:
    language = get_language(grammar)  # type: ignore[arg-type]
    kinds = [k for k in _NOT_CODE_NODES if language.id_for_node_kind(k, True) is not None]
    return language, Query(language, " ".join(f"({k}) @x" for k in kinds)) if kinds else None


_parsers = threading.local()  # a Parser is not safe to share between threads


def _parser(grammar: str) -> Parser:
    by_grammar: dict[str, Parser] = _parsers.__dict__.setdefault("by_grammar", {})
    if grammar not in by_grammar:
        by_grammar[grammar] = Parser(_not_code_query(grammar)[0])
    return by_grammar[grammar]


def _code_only(grammar: str, data: bytes, root: Node | None = None) -> bytes:
    """The content with comments and strings blanked out, so their words are not references.
    `root` is the tree symbol extraction already parsed, when there is one."""
    query = _not_code_query(grammar)[1]
    if query is None:
        return data
    if root is None:
        root = _parser(grammar).parse(data).root_node
    blanked = bytearray(data)
    for node in QueryCursor(query).captures(root).get("x", []):
        blanked[node.start_byte : node.end_byte] = b" " * (node.end_byte - node.start_byte)
    return bytes(blanked)


def _identifiers(text: bytes) -> tuple[Counter[str], Counter[str]]:
    """Every identifier's count, and how many of those follow a member access."""
    counts: Counter[str] = Counter()
    members: Counter[str] = Counter()
    for (access, token), count in Counter(_IDENTIFIER.findall(text)).items():
        name = token.decode("ascii")
        if len(name) <= MAX_NAME and name not in _NOT_NAMES:
            counts[name] += count
            if access:
                members[name] += count
    return counts, members


def _capped(counts: Counter[str], members: Counter[str]) -> dict[str, Any]:
    ranked = sorted(((n, c) for n, c in counts.items() if c > 0), key=lambda nc: (-nc[1], nc[0]))
    kept = dict(ranked[:MAX_REFERENCES])
    return {
        "references": kept,
        # Methods are reached through an object: only these references count for them.
        "member_references": {n: members[n] for n in kept if members[n] > 0},
        "distinct_references": len(ranked),
    }


def extract_tags(path: str, kind: str, data: bytes, max_bytes: int) -> dict[str, Any]:
    """Definitions and referenced identifiers of one file's content read as `kind` (a grammar or "text").

    `path` is only named in log messages: the result is cached by blob id.
    """
    reason = skip_reason(data, max_bytes)
    if reason is not None:
        return {"size": len(data), "skipped": reason, "definitions": [], "references": {}}
    if kind == TEXT_KIND:  # secret values in a settings or .env file are no identifiers to keep
        return {"definitions": [], **_capped(*_identifiers(redact(data.decode("utf-8")).encode()))}
    trees: dict[str, Node] = {}
    symbols = extract_symbols(path, kind, data, max_bytes, on_tree=trees.__setitem__)
    definitions = [
        {
            "name": s["name"],
            "kind": s["kind"],
            "line": s["start_line"],
            "signature": s["signature"],
            "parent": s["parent"],
        }
        for s in symbols["symbols"][:MAX_DEFINITIONS]
    ]
    try:
        grammar = symbols.get("grammar", kind)
        counts, members = _identifiers(_code_only(grammar, data, trees.get(grammar)))
    except Exception as exc:  # a grammar bug must not sink the whole artifact
        log.warning("reference extraction failed for %s (%s): %s", path, kind, exc)
        counts, members = Counter(), Counter()
    # A definition's own name token is not a reference to it.
    counts.subtract(Counter(s["name"] for s in symbols["symbols"]))
    result: dict[str, Any] = {"definitions": definitions, **_capped(counts, members)}
    if generated_by_content(data):
        result["generated"] = True
    if len(symbols["symbols"]) > MAX_DEFINITIONS:
        result["distinct_definitions"] = len(symbols["symbols"])
    if symbols.get("error"):
        result["error"] = symbols["error"]
    return result
