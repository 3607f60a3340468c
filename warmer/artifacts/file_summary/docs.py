"""What a file says it is for, read where each language writes it, licence headers never.

    Python      the module docstring
    Go          the package doc: the comment group right above `package` (`//` lines or `/* */`)
    Java        package-info's doc above `package`; else the Javadoc of the file's top-level type
    JS / TS     a file-level JSDoc/TSDoc block (`@file`, `@fileoverview`, `@module`, or the first block
                that is not a licence); else the doc of the first documented top-level export
    Rust        the `//!` (or `/*! */`) inner doc; else the `///` doc of the first documented item
    C / C++     the first comment block at the top that is not a licence; else the main symbol's doc
A `/** */` header block must stand apart (a blank line below it) or carry a file tag: one right above
a statement is that statement's doc. JavaScript's file overview comes before `'use strict'`; a block
after it documents what follows (express's `/** Module dependencies. */`).
    Ruby, C#    the leading comment (not a magic comment or licence); else the main type's doc
                (C#'s `/// <summary>` with the XML stripped)

A comment block is a licence when it says so (SPDX identifiers, "Licensed under", "Copyright (c)",
"All rights reserved", the Apache, MIT, BSD, GPL/LGPL, MPL texts): such a block is skipped, never
quoted. Markup is stripped: reStructuredText underlines, roles (:class:`Foo` → Foo), ``literals``,
Javadoc `{@link Foo}` / `{@code x}`, HTML tags, Markdown emphasis and links. The result is the first
sentence, redacted like every stored text (`warmer.artifacts.secrets`).
"""

from __future__ import annotations

import ast
import inspect
import io
import re
import tokenize
from typing import Any

from warmer.artifacts.secrets import redact

PURPOSE_MAX = 200
_SCAN_LINES = 200  # a file's header never runs longer; a purpose is not hunted for in the body

_LICENCE = re.compile(
    r"SPDX-License-Identifier|Licen[cs]ed under|Copyright\s*(?:\(c\)|©|\d{4})|\(c\)\s*\d{4}"
    r"|All rights reserved"
    r"|Permission is hereby granted|Redistribution and use in source|GNU (?:Lesser |Library |Affero )?General"
    r"|Public License|Apache License|MIT License|BSD[- ]\d-Clause|Mozilla Public|THIS SOFTWARE IS PROVIDED"
    r"|DO NOT ALTER OR REMOVE COPYRIGHT|WITHOUT WARRANTIES OR CONDITIONS|licen[cs]e agreements?",
    re.IGNORECASE,
)
_NOISE = re.compile(
    r"^(?:-\*-.*-\*-|eslint\b|@ts-|prettier|noqa|type:|frozen_string_literal|encoding[:=]|vim?:|jshint|global\s"
    r"|@flow\b|use strict|#\s*pylint|pragma\b|@(?:jsx|format|license|preserve)\b)",
    re.IGNORECASE,
)
_TAG_LINE = re.compile(r"^@(?:file|fileoverview|overview|module|packageDocumentation|description)\b\s*", re.I)
_BLOCK_TAG = re.compile(r"^@\w+")  # `@param`, `@author` ... end the prose of a doc comment
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'`])")


def first_sentence(text: str) -> str | None:
    """The first sentence of a paragraph, markup stripped and whitespace collapsed."""
    flat = " ".join(strip_markup(text).split())
    if not flat:
        return None
    sentence = _SENTENCE_END.split(flat, maxsplit=1)[0]
    sentence = redact(sentence)
    return sentence if len(sentence) <= PURPOSE_MAX else sentence[: PURPOSE_MAX - 1].rstrip() + "…"


def strip_markup(text: str) -> str:
    """reStructuredText, Markdown, Javadoc and XML-doc markup out of prose."""
    lines = [line for line in text.splitlines() if not re.fullmatch(r"\s*([=\-~^*#+`'\"])\1{2,}\s*", line)]
    text = "\n".join(lines)
    text = re.sub(r"\{@(?:link|linkplain|code|literal|value)\s+([^}]*)\}", r"\1", text)
    text = re.sub(r":[\w:.-]+:`~?([^`<]*?)(?:\s*<[^>]*>)?`", r"\1", text)  # :class:`Foo` / :ref:`t <x>`
    text = re.sub(r"``([^`]*)``", r"\1", text)
    text = re.sub(r"`([^`<]+?)\s*<[^>]+>`_+", r"\1", text)  # `text <url>`_
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # [text](url)
    text = re.sub(r"`([^`]*)`_*", r"\1", text)
    text = re.sub(r"</?[A-Za-z][^>]*>", " ", text)  # HTML and C# XML doc tags
    text = re.sub(r"(\*\*|__|\*)(\S[^*_]*?\S|\S)\1", r"\2", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def is_licence(text: str) -> bool:
    return bool(_LICENCE.search(text))


# --- comment blocks --------------------------------------------------------------------------------


_HASH_COMMENTS = frozenset({"python", "ruby"})
# Build constraints and attributes a header may sit among (`'use strict'` is code: a JS file's overview
# comes before it, and a block after it documents what follows).
_DIRECTIVE = re.compile(r"^\s*(?://go:|// \+build|#!\[)")


def _comment_blocks(
    lines: list[str], stop_at_code: bool = True, hash_comments: bool = True
) -> list[tuple[int, int, str, str]]:
    """The comment blocks from the top of a file: (first line, last line, style, text without markers).
    `//`, `#`, `--` runs and `/* */` blocks; a blank line ends a run. With `stop_at_code`, the scan
    ends at the first line of code."""
    blocks: list[tuple[int, int, str, str]] = []
    i = 0
    while i < min(len(lines), _SCAN_LINES):
        stripped = lines[i].strip()
        if not stripped or (i == 0 and stripped.startswith("#!")) or _DIRECTIVE.match(stripped):
            i += 1
            continue
        if stripped.startswith("/*"):
            start, body = i, []
            style = "/*!" if stripped.startswith("/*!") else "/**" if stripped.startswith("/**") else "/*"
            while i < len(lines):
                body.append(lines[i])
                if "*/" in lines[i] and (i > start or lines[i].strip().find("*/") > 1):
                    break
                i += 1
            text = "\n".join(body)
            text = re.sub(r"^\s*/\*+!?", "", text)
            text = re.sub(r"\*+/\s*$", "", text)
            text = "\n".join(re.sub(r"^\s*\*+ ?", "", line) for line in text.splitlines())
            blocks.append((start, i, style, text))
            i += 1
            continue
        marker = re.match(r"(//[/!]?|#+|--)" if hash_comments else r"(//[/!]?)", stripped)
        if marker:
            style, start, body = marker.group(1), i, []
            while i < len(lines) and lines[i].strip().startswith(style) and lines[i].strip():
                after = lines[i].strip()[len(style) :]
                if style.startswith("//") and after.startswith(("/", "!")) and style == "//":
                    break  # `///` or `//!` begins a different block
                body.append(after[1:] if after.startswith(" ") else after)
                i += 1
            blocks.append((start, i - 1, style, "\n".join(body)))
            continue
        if stop_at_code:
            break
        i += 1
    return blocks


def _prose(text: str) -> str:
    """A doc comment's prose: up to its first block tag (`@param`), noise lines dropped."""
    kept = []
    for line in text.splitlines():
        line = line.strip()
        tag = _TAG_LINE.match(line)
        if tag:
            line = line[tag.end() :]
        elif _BLOCK_TAG.match(line):
            break
        if _NOISE.match(line):
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def _paragraph(text: str) -> str:
    return re.split(r"\n\s*\n", text.strip(), maxsplit=1)[0]


def _usable(text: str) -> str | None:
    prose = _prose(text)
    if not prose or is_licence(prose):
        return None
    return first_sentence(_paragraph(prose))


def _doc_above(lines: list[str], line: int) -> str | None:
    """The comment block that ends right above 0-based `line` (its annotations already skipped)."""
    end = line - 1
    if end < 0 or end >= len(lines) or not lines[end].strip():
        return None  # nothing, or a blank line, above it: no doc of its own
    stripped = lines[end].strip()
    if stripped.endswith("*/"):
        start = end
        while start > 0 and "/*" not in lines[start]:
            start -= 1
        blocks = _comment_blocks(lines[start : end + 1])
        return _usable(blocks[0][3]) if blocks else None
    marker = re.match(r"(///?|#+)", stripped)
    if not marker:
        return None
    start = end
    while start > 0 and lines[start - 1].strip().startswith(marker.group(1)):
        start -= 1
    blocks = _comment_blocks(lines[start : end + 1])
    return _usable(blocks[0][3]) if blocks else None


# --- per language ----------------------------------------------------------------------------------


def _python_docstring(text: str) -> str | None:
    """The module docstring's first sentence, read from the first tokens only."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.ENCODING):
                continue
            if token.type != tokenize.STRING:
                return None
            value = ast.literal_eval(token.string)
            break
        else:
            return None
    except (SyntaxError, ValueError, tokenize.TokenError, RecursionError, MemoryError):
        return None
    if not isinstance(value, str):
        return None
    for paragraph in re.split(r"\n\s*\n", inspect.cleandoc(value)):
        if paragraph.strip() and not is_licence(paragraph):
            return first_sentence(paragraph)
    return None


def _package_doc(lines: list[str]) -> str | None:
    """Go and Java: the comment group that ends right above the `package` clause."""
    for number, line in enumerate(lines[:_SCAN_LINES]):
        if re.match(r"\s*package\s+[\w.]+", line):
            return _doc_above(lines, number)
    return None


def _header(lines: list[str], grammar: str) -> str | None:
    """The first comment block at the top that is prose and not a licence."""
    for _start, end, style, text in _comment_blocks(lines, hash_comments=grammar in _HASH_COMMENTS):
        if style in ("///", "//!", "/*!"):
            continue  # item docs and inner docs are read by their own rules
        attached = end + 1 < len(lines) and lines[end + 1].strip() and not _DIRECTIVE.match(lines[end + 1])
        if (
            attached
            and style == "/**"
            and not any(_TAG_LINE.match(line.strip()) for line in text.splitlines())
        ):
            continue  # the doc of the statement right below it (`/** Module dependencies. */ var …`)
        found = _usable(text)
        if found:
            return found
    return None


def _rust_inner_doc(lines: list[str]) -> str | None:
    for _start, _end, style, text in _comment_blocks(lines):
        if style in ("//!", "/*!"):
            found = _usable(text)
            if found:
                return found
    return None


_NOT_DOCUMENTING = frozenset({"namespace", "module", "constant"})
_EXPORTS = frozenset({"exports", "module.exports"})
_TYPES = frozenset({"class", "interface", "struct", "enum", "trait", "record"})


def _first_symbol_doc(
    lines: list[str], symbols: list[dict[str, Any]], exported_only: bool = False
) -> str | None:
    """The doc above the first top-level definition that has one (types before functions)."""
    scopes = {
        s["name"] for s in symbols if s["kind"] in ("namespace", "module")
    }  # C# namespaces, Ruby modules
    top = [
        s for s in symbols
        if (s.get("parent") is None or s.get("parent") in scopes) and s["kind"] not in _NOT_DOCUMENTING
    ]  # fmt: skip
    if exported_only:  # ES `export`, Java `public`, CommonJS `exports.x = …`
        top = [
            s for s in top
            if str(s.get("signature", "")).startswith(("export ", "public ")) or s.get("parent") in _EXPORTS
        ]  # fmt: skip
    top.sort(key=lambda s: (s["kind"] not in _TYPES, s["start_line"]))
    for symbol in top:
        line = symbol.get("annotations_line") or symbol["start_line"]
        found = _doc_above(lines, line - 1)
        if found:
            return found
    return None


def purpose_from_code(grammar: str, text: str, symbols: list[dict[str, Any]]) -> str | None:
    """What a source file says it is for (see the module docstring for where each language says it)."""
    lines = text.splitlines()
    if grammar == "python":
        return _python_docstring(text) or _header(lines, grammar)
    if grammar == "go":
        return _package_doc(lines) or _first_symbol_doc(lines, symbols)
    if grammar == "java":
        return _package_doc(lines) or _first_symbol_doc(lines, symbols, exported_only=True)
    if grammar == "rust":
        return _rust_inner_doc(lines) or _header(lines, grammar) or _first_symbol_doc(lines, symbols)
    if grammar in ("javascript", "typescript", "tsx"):
        return _header(lines, grammar) or _first_symbol_doc(lines, symbols, exported_only=True)
    return _header(lines, grammar) or _first_symbol_doc(lines, symbols)
