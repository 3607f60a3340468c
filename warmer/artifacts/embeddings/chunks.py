"""Splitting one file's content into the chunks embedding_index embeds: pure functions of the content.

Code that tree-sitter parses is cut along its definitions (`extract_symbols` ranges): each top-level
function or class is a chunk, with the decorators and comments right above it. A definition too long
for one chunk becomes its nested definitions (a class: its methods) plus chunks for the lines between
them (the class header, attributes); a long body without nested definitions becomes line windows that
overlap by a couple of lines. Lines between top-level definitions (imports, constants) are `module`
chunks. Everything else (Markdown, reStructuredText, text, configuration, languages without a grammar)
is cut into paragraphs, merged while they fit, and line windows when one does not.

A chunk's size is bounded by an estimate of its BERT word pieces: all-MiniLM-L6-v2 reads at most 256
(including [CLS] and [SEP]) and silently drops the rest. The estimate (`estimate_tokens`) is within
about 10% of the real tokenizer on Python; the budget leaves room for that.

Nothing here depends on the path: the result is cached by blob id and must hold wherever the content
appears. A chunk's hash is the sha256 of exactly the text that is embedded, so the same text anywhere
(another file, commit, branch or repository) has the same hash and is embedded once.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from warmer.artifacts.classify import is_generated, is_lockfile, is_vendored
from warmer.artifacts.languages import language_of
from warmer.artifacts.symbols.extract import extract_symbols, skip_reason, symbol_language

MAX_TOKENS = 224  # estimated word pieces per chunk: 256 minus [CLS]/[SEP], minus the estimate's error
OVERLAP_LINES = 2  # a window repeats the last lines of the one before, so no statement is cut blind
MAX_LINE_CHARS = 10_000  # a line longer than this: minified or generated, not worth embedding
MIN_GAP_TOKENS = 8  # lines between definitions this small (`return wrapper`, `import os`) say nothing
CONFIG_MAX_BYTES = 64_000  # bigger JSON/YAML/XML is data (fixtures, schemas), not configuration

# Kinds of non-code files, by `language_of`; code tree-sitter parses is keyed by its grammar.
_PROSE = {"markdown": "markdown", "restructuredtext": "prose", "text": "prose"}
_CONFIG = frozenset({"json", "yaml", "toml", "ini", "xml"})
_LINES = frozenset(
    {
        "shell",
        "powershell",
        "batch",
        "sql",
        "protobuf",
        "graphql",
        "html",
        "css",
        "scss",
        "less",
        "vue",
        "svelte",
        "kotlin",
        "scala",
        "swift",
        "php",
        "objc",
        "lua",
        "perl",
        "r",
        "julia",
        "elixir",
        "erlang",
        "haskell",
        "ocaml",
        "clojure",
        "dart",
        "zig",
        "cython",
        "groovy",
        "terraform",
        "cmake",
        "make",
        "dockerfile",
        "starlark",
    }
)
_PROSE_NAMES = frozenset({"README", "CHANGES", "CHANGELOG", "CONTRIBUTING", "HISTORY", "NEWS", "AUTHORS"})

_TOKEN = re.compile(r"[A-Za-z0-9]+|[^\sA-Za-z0-9]")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")
_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+<>_:.])\1{2,}\s*$")
_COMMENT_OR_DECORATOR = ("@", "#", "//", "/*", "*", "--", ";")


@dataclass(frozen=True)
class Chunk:
    start_line: int  # 1-based, inclusive
    end_line: int
    symbol: str | None  # qualified name (`Class.method`), a Markdown heading, or None
    kind: str
    text: str

    @property
    def hash(self) -> str:
        return chunk_hash(self.text)

    def meta(self) -> dict[str, Any]:
        return {
            "start_line": self.start_line,
            "end_line": self.end_line,
            "symbol": self.symbol,
            "kind": self.kind,
            "hash": self.hash,
        }


def chunk_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def estimate_tokens(text: str) -> int:
    """Word pieces BERT's uncased tokenizer makes of `text`, roughly: each punctuation mark is one,
    short words one, long words one more per six characters (identifiers split into pieces)."""
    count = 0
    for word in _TOKEN.findall(text):
        count += 1 if len(word) <= 4 or not word[0].isalnum() else 1 + len(word) // 6
    return count


def chunk_kind(path: str) -> str | None:
    """How a file is chunked: its tree-sitter grammar, `markdown`, `prose`, `config`, `lines`,
    or None for files not worth embedding (unknown types, lock files, minified bundles)."""
    # Machine-written or someone else's files: embedding them only adds noise to every search.
    if is_lockfile(path) or is_generated(path) or is_vendored(path):
        return None
    grammar = symbol_language(path)
    if grammar is not None:
        return grammar
    language = language_of(path)
    if language in _PROSE:
        return _PROSE[language]
    if language in _CONFIG:
        return "config"
    if language in _LINES:
        return "lines"
    if language is None and PurePosixPath(path).name.split(".", 1)[0].upper() in _PROSE_NAMES:
        return "prose"
    return None


def split_lines(source: str) -> list[str]:
    """Lines as tree-sitter numbers them (on \\n only, unlike `str.splitlines`), without \\r."""
    lines = source.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def chunk_file(kind: str, data: bytes, max_bytes: int) -> tuple[dict[str, Any], list[Chunk]]:
    """The cached extract of one file (chunk metadata, never text or vectors) and its chunks."""
    base: dict[str, Any] = {"kind": kind, "size": len(data)}
    reason = skip_reason(data, max_bytes)
    if reason is None and kind == "config" and len(data) > CONFIG_MAX_BYTES:
        reason = "data_file"
    if reason is not None:
        return {**base, "skipped": reason, "chunks": []}, []
    source = data.decode("utf-8")
    lines = split_lines(source)
    if any(len(line) > MAX_LINE_CHARS for line in lines):
        return {**base, "skipped": "minified", "chunks": []}, []
    if kind in ("markdown", "prose", "config", "lines"):
        chunks = text_chunks(lines, markdown=kind == "markdown", rst=kind == "prose")
    else:
        extract = extract_symbols("", kind, data, max_bytes)
        chunks = code_chunks(lines, extract["symbols"])
        if extract.get("error"):
            base["error"] = extract["error"]
    return {**base, "chunks": [c.meta() for c in chunks]}, chunks


# --- windows ---------------------------------------------------------------------------------------


def _trimmed(lines: list[str], start: int, end: int) -> tuple[int, int]:
    """[start, end) without blank lines at either end."""
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return start, end


def _make(lines: list[str], start: int, end: int, symbol: str | None, kind: str) -> Chunk | None:
    start, end = _trimmed(lines, start, end)
    if start >= end:
        return None
    return Chunk(start + 1, end, symbol, kind, "\n".join(lines[start:end]))


def _split_line(line: str, number: int, max_tokens: int, symbol: str | None, kind: str) -> list[Chunk]:
    """One line too long for a chunk, cut between tokens into pieces of at most `max_tokens`."""
    cuts = [0]
    total = 0
    for match in _TOKEN.finditer(line):
        word = match.group()
        cost = 1 if len(word) <= 4 or not word[0].isalnum() else 1 + len(word) // 6
        if total + cost > max_tokens and match.start() > cuts[-1]:
            cuts.append(match.start())
            total = 0
        total += cost
    cuts.append(len(line))
    pieces = (line[a:b] for a, b in itertools.pairwise(cuts))
    return [Chunk(number, number, symbol, kind, piece) for piece in pieces if piece.strip()]


def windows(
    lines: list[str],
    start: int,
    end: int,
    symbol: str | None,
    kind: str,
    tokens: list[int],
    max_tokens: int = MAX_TOKENS,
    overlap: int = OVERLAP_LINES,
) -> list[Chunk]:
    """Lines [start, end) (0-based) as windows of at most `max_tokens`, overlapping by `overlap` lines."""
    chunks: list[Chunk] = []
    i = start
    while i < end:
        if tokens[i] > max_tokens:
            chunks.extend(_split_line(lines[i], i + 1, max_tokens, symbol, kind))
            i += 1
            continue
        # Aim at equal windows over what is left, so the last one is not a two-line scrap.
        remaining = sum(tokens[i:end])
        parts = max(1, math.ceil(remaining / max_tokens))
        target = min(max_tokens, math.ceil(remaining / parts) + overlap * 8)  # room for the overlap
        j, total = i, 0
        while j < end and tokens[j] <= max_tokens and (j == i or total + tokens[j] <= target):
            total += tokens[j]
            j += 1
        chunk = _make(lines, i, j, symbol, kind)
        if chunk is not None:
            chunks.append(chunk)
        if j >= end:
            break
        # Overlap only when the window is long enough that stepping back still moves forward,
        # and never into a line too long to share a window.
        i = max(i + 1, j - overlap) if j - i > overlap and tokens[j] <= max_tokens else j
    return chunks


# --- code ------------------------------------------------------------------------------------------


@dataclass
class _Node:
    start: int  # 0-based line, inclusive
    end: int  # exclusive
    name: str
    kind: str
    children: list[_Node]


def _tree(symbols: list[dict[str, Any]], line_count: int) -> list[_Node]:
    """Definitions nested by line ranges (what contains what), outermost first."""
    seen: set[tuple[int, int]] = set()
    roots: list[_Node] = []
    stack: list[_Node] = []
    ordered = sorted(symbols, key=lambda s: (s["start_line"], -s["end_line"]))
    for symbol in ordered:
        start, end = symbol["start_line"] - 1, min(symbol["end_line"], line_count)
        if start < 0 or end <= start or (start, end) in seen:
            continue  # a second symbol on the same lines (a C# namespace, an overloaded name) adds nothing
        seen.add((start, end))
        while stack and not (stack[-1].start <= start and end <= stack[-1].end):
            stack.pop()
        node = _Node(start, end, symbol["name"], symbol["kind"], [])
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)
    return roots


def _attach_leading(lines: list[str], nodes: list[_Node], floor: int) -> None:
    """Decorators and comments right above a definition belong to it (not to the gap before)."""
    for node in nodes:
        while node.start - 1 >= floor and lines[node.start - 1].lstrip().startswith(_COMMENT_OR_DECORATOR):
            node.start -= 1
        floor = node.end
        _attach_leading(lines, node.children, node.start + 1)


def _span(tokens_prefix: list[int], start: int, end: int) -> int:
    return tokens_prefix[end] - tokens_prefix[start]


def code_chunks(lines: list[str], symbols: list[dict[str, Any]], max_tokens: int = MAX_TOKENS) -> list[Chunk]:
    """Chunks of parsed code: definitions whole when they fit, else their parts (module docstring above)."""
    tokens = [estimate_tokens(line) for line in lines]
    prefix = [0]
    for count in tokens:
        prefix.append(prefix[-1] + count)
    roots = _tree(symbols, len(lines))
    _attach_leading(lines, roots, 0)
    chunks: list[Chunk] = []

    def between(start: int, end: int, symbol: str | None, kind: str) -> None:
        if _span(prefix, start, end) >= MIN_GAP_TOKENS:
            chunks.extend(windows(lines, start, end, symbol, kind, tokens, max_tokens))

    def gaps(start: int, end: int, children: list[_Node], symbol: str | None, kind: str) -> None:
        """Lines of [start, end) outside every child as windows, the children on their own."""
        cursor, first = start, True
        for child in children:
            child_start = max(child.start, cursor)
            if child_start > cursor:
                label = kind if symbol is None else f"{kind}_header" if first else f"{kind}_body"
                between(cursor, child_start, symbol, label)
            first = False
            emit(child, symbol)
            cursor = max(cursor, child.end)
        if cursor < end:
            label = kind if symbol is None else f"{kind}_header" if first else f"{kind}_body"
            between(cursor, end, symbol, label)

    def emit(node: _Node, parent: str | None) -> None:
        name = f"{parent}.{node.name}" if parent else node.name
        if _span(prefix, node.start, node.end) <= max_tokens:
            chunk = _make(lines, node.start, node.end, name, node.kind)
            if chunk is not None:
                chunks.append(chunk)
        elif node.children:
            gaps(node.start, node.end, node.children, name, node.kind)
        else:
            chunks.extend(windows(lines, node.start, node.end, name, node.kind, tokens, max_tokens))

    gaps(0, len(lines), roots, None, "module")
    return chunks


# --- prose and configuration -----------------------------------------------------------------------


def _heading(lines: list[str], start: int, end: int, markdown: bool, rst: bool) -> str | None:
    """The paragraph's heading, when it starts with one (Markdown `#`, reStructuredText underline)."""
    if markdown:
        match = _MD_HEADING.match(lines[start])
        if match:
            return match.group(1)[:200]
    if rst and start + 1 < end and _RST_UNDERLINE.match(lines[start + 1]) and lines[start].strip():
        return lines[start].strip()[:200]
    return None


def text_chunks(
    lines: list[str], *, markdown: bool = False, rst: bool = False, max_tokens: int = MAX_TOKENS
) -> list[Chunk]:
    """Paragraphs (blank-line separated) merged while they fit; a heading starts a new chunk and names
    the chunks under it; a paragraph too long for one chunk becomes line windows."""
    tokens = [estimate_tokens(line) for line in lines]
    paragraphs: list[tuple[int, int]] = []
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        j = i
        while j < len(lines) and lines[j].strip():
            j += 1
        paragraphs.append((i, j))
        i = j
    kind = "section" if markdown or rst else "text"
    chunks: list[Chunk] = []
    section: str | None = None
    open_start, open_end, open_tokens = -1, -1, 0

    def close() -> None:
        nonlocal open_start, open_tokens
        if open_start >= 0:
            chunk = _make(lines, open_start, open_end, section, kind)
            if chunk is not None:
                chunks.append(chunk)
        open_start, open_tokens = -1, 0

    for start, end in paragraphs:
        size = sum(tokens[start:end])
        heading = _heading(lines, start, end, markdown, rst)
        if heading is not None or open_tokens + size > max_tokens:
            close()
        if heading is not None:
            section = heading
        if size > max_tokens:
            chunks.extend(windows(lines, start, end, section, kind, tokens, max_tokens))
            continue
        if open_start < 0:
            open_start = start
        open_end, open_tokens = end, open_tokens + size
    close()
    return chunks


__all__ = [
    "MAX_TOKENS",
    "Chunk",
    "chunk_file",
    "chunk_hash",
    "chunk_kind",
    "code_chunks",
    "estimate_tokens",
    "split_lines",
    "text_chunks",
    "windows",
]
