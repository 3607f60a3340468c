"""What a secret is, decided once, and the one function that masks secret values in text an artifact stores.

A secret is any value assigned to a name that looks like one: a name containing SECRET, TOKEN, PASSWORD
(PASSWD, PASSPHRASE), CREDENTIAL or PRIVATE_KEY, or ending in `_KEY` / `Key` (`SECRET_KEY`, `API_KEY`,
`apiKey`), in any case. "Assigned" covers the syntaxes real files use: `NAME = value` (Python, Go, Rust,
JS/TS, Ruby, C#, Java, INI, TOML), `NAME := value`, `NAME: value` (YAML, annotated Python), `"NAME": value`
(JSON, dict literals), `NAME=value` (.env, shell, keyword arguments), `NAME => value` (Ruby, PHP), `#define
NAME value` (C). The name stays, the value becomes `***`: an agent learns that a secret is configured there
without learning it. A false positive (a `CACHE_KEY` that is no secret) costs a constant's value in a
signature; a false negative would put a key into a cache entry every agent reads, so the rule leans wide.

Every artifact that stores text taken from file content passes it through `redact` before storing it:
symbol signatures and doc lines (symbol_index, and through them repo_map's map, file_summary's symbols and
recent_change_summary's symbol changes), repo_map's text identifiers, file_summary's purposes and commit
messages. `redact` is idempotent, so text that was redacted once can be redacted again harmlessly.
"""

from __future__ import annotations

import re

MASK = "***"

# The name rule. `(?<![A-Za-z])` / `(?![a-z])` keep the words whole enough: `TOKEN` in `CSRF_TOKEN` or
# `accessToken` counts, `_KEY`/`Key` only at the end of the name (`PRIMARY_KEY` counts, `KEYBOARD` and
# `monkey` do not).
_SECRET_WORD = re.compile(
    r"secret|token|passw(?:or)?d|passphrase|credential|private_?key|api_?key|access_?key|auth_?key",
    re.IGNORECASE,
)
_KEY_SUFFIX = re.compile(r"(?:_KEY|_key|[a-z0-9]Key|^KEY|^key)$")
_KEY_WORD = re.compile(r"(?:key|Key|KEY)\b")
_NOT_SECRET = re.compile(r"^(?:tokenize|tokenizer|tokens?_?re|password_?(?:field|label|prompt|hint))$", re.I)


def is_secret_name(name: str) -> bool:
    """Whether a value assigned to `name` is treated as a secret (the one rule every artifact uses)."""
    bare = name.strip().strip("\"'`").lstrip("$@:").rsplit(".", 1)[-1]
    if not bare or _NOT_SECRET.match(bare):
        return False
    return bool(_SECRET_WORD.search(bare) or _KEY_SUFFIX.search(bare))


# A name, then an assignment operator, then the value. The name may be quoted (JSON, dict literals) or
# prefixed (`export`, `$`, `@`, `self.`, `#define`). The operator `=` must not be `==`, `=>` is allowed,
# `:` must not be `::` (C++, Rust paths).
_ASSIGNMENT = re.compile(
    r"""(?P<name>(?<![\w.$@])["'`]?[$@]?[A-Za-z_][\w.-]*["'`]?)"""
    r"""(?P<op>\s*(?::=|=>|(?<![=!<>:])=(?![=>~])|(?<!:):(?![:=]))[ \t]*)"""
)
_DEFINE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+(?P<name>[A-Za-z_]\w*)(?P<op>[ \t]+)", re.MULTILINE)
_CLOSERS = {")": "(", "]": "[", "}": "{"}


def _value_end(text: str, start: int) -> int:
    """Where the value starting at `start` ends: the whole string literal (triple quotes included), or
    the expression up to a `,` `;` or unbalanced closing bracket on its line, or the end of the line."""
    for quote in ('"""', "'''"):
        if text.startswith(quote, start):
            end = text.find(quote, start + 3)
            return len(text) if end < 0 else end + 3
    if start < len(text) and text[start] in "\"'`":
        quote, i = text[start], start + 1
        while i < len(text) and text[i] != quote and text[i] != "\n":
            i += 2 if text[i] == "\\" else 1
        return min(i + 1, len(text))
    depth: list[str] = []
    i = start
    while i < len(text) and text[i] != "\n":
        char = text[i]
        if char in "\"'`":
            i = _value_end(text, i)
            continue
        if char in "([{":
            depth.append(char)
        elif char in _CLOSERS:
            if not depth:
                break
            depth.pop()
        elif char in ",;" and not depth:
            break
        elif char == "#" and i > start and text[i - 1] in " \t" and not depth:
            break  # a trailing comment (shell, YAML, INI, Python)
        i += 1
    while i > start and text[i - 1] in " \t\r":
        i -= 1
    return i


def _in_parameters(text: str, at: int) -> bool:
    """Whether position `at` sits inside an unclosed `(` on its line (a parameter list or a call)."""
    depth = 0
    for char in reversed(text[text.rfind("\n", 0, at) + 1 : at]):
        if char in ")]}":
            depth += 1
        elif char in "([{":
            if depth == 0:
                return char == "("
            depth -= 1
    return False


def _mask_from(text: str, pattern: re.Pattern[str]) -> str:
    out: list[str] = []
    position = 0
    for match in pattern.finditer(text):
        if match.start() < position:
            continue
        name, op = match.group("name"), match.group("op")
        if not is_secret_name(name):
            continue
        start = match.end()
        if op.strip() == ":" and _in_parameters(text, match.start()):
            # `password: str` in a signature is an annotation: only a default after `=` is a value.
            default = re.compile(r"[^,()=]*=\s*").match(text, start)
            if default is None:
                continue
            start = default.end()
        end = _value_end(text, start)
        if end <= start or text[start:end] == MASK:
            continue
        out.append(text[position:start])
        out.append(MASK)
        position = end
    out.append(text[position:])
    return "".join(out)


def redact(text: str) -> str:
    """`text` with the value of every assignment to a secret-looking name replaced by `***`."""
    if not text or (not _SECRET_WORD.search(text) and not _KEY_WORD.search(text)):
        return text  # the common case, decided without the assignment scan
    return _mask_from(_mask_from(text, _DEFINE), _ASSIGNMENT)


__all__ = ["MASK", "is_secret_name", "redact"]
