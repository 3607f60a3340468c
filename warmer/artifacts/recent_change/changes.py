"""The pieces of one commit's change summary: line counts, symbol diffs, manifest diffs.

Each works on the old and new content of one changed path, so the cost follows
the size of the change, never the size of the repository.
"""

from __future__ import annotations

import difflib
from typing import Any

from warmer.artifacts.classify import manifest_kind
from warmer.artifacts.dependencies.manifests import has_parser, normalize_python_name, parse_manifest

BINARY_SNIFF = 8000  # git's own heuristic: a NUL in the first 8000 bytes makes a file binary


def is_binary(data: bytes | None) -> bool:
    return data is not None and b"\0" in data[:BINARY_SNIFF]


def line_counts(old: bytes | None, new: bytes | None) -> tuple[int, int]:
    """(added, removed) lines as `git diff --numstat` counts them for text content.

    Lines keep their endings so a changed final newline counts, as it does for git.
    """
    a = old.decode("utf-8", "surrogateescape").splitlines(keepends=True) if old else []
    b = new.decode("utf-8", "surrogateescape").splitlines(keepends=True) if new else []
    # The common head and tail are equal lines in any diff (git's xdiff trims them first too): only
    # the middle is matched, so a one-function edit costs its lines, not the file's squared.
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    a, b = a[head : len(a) - tail], b[head : len(b) - tail]
    if not a or not b:
        return len(b), len(a)
    added = removed = 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            removed += i2 - i1
            added += j2 - j1
    return added, removed


def _keyed(symbols: list[dict[str, Any]]) -> dict[tuple[str, str, str, int], dict[str, Any]]:
    """Symbols by (parent, name, kind, n): the n-th of overloads or redefinitions stays distinct."""
    seen: dict[tuple[str, str, str], int] = {}
    out: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    for symbol in symbols:
        base = (symbol.get("parent") or "", symbol["name"], symbol["kind"])
        n = seen.get(base, 0)
        seen[base] = n + 1
        out[(*base, n)] = symbol
    return out


def _body(lines: list[bytes], symbol: dict[str, Any]) -> list[bytes]:
    return [line.rstrip() for line in lines[symbol["start_line"] - 1 : symbol["end_line"]]]


def _ref(path: str, symbol: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "file": path,
        "name": symbol["name"],
        "kind": symbol["kind"],
        "parent": symbol.get("parent"),
        "line": symbol["start_line"],
        **extra,
    }


def symbol_diff(
    old_path: str,
    old_symbols: list[dict[str, Any]],
    old_data: bytes | None,
    new_path: str,
    new_symbols: list[dict[str, Any]],
    new_data: bytes | None,
) -> dict[str, list[dict[str, Any]]]:
    """Symbols added, removed and changed between two versions of one file.

    A symbol is the same across versions when (parent, name, kind) match. It
    changed when its signature or the text of its lines did; a symbol that only
    moved because code above it grew is not a change.
    """
    old, new = _keyed(old_symbols), _keyed(new_symbols)
    old_lines = (old_data or b"").splitlines()
    new_lines = (new_data or b"").splitlines()
    added = [_ref(new_path, new[k]) for k in new if k not in old]
    removed = [_ref(old_path, old[k]) for k in old if k not in new]
    changed: list[dict[str, Any]] = []
    for key in new.keys() & old.keys():
        before, after = old[key], new[key]
        if before.get("signature") != after.get("signature"):
            changed.append(_ref(new_path, after, change="signature", was=before.get("signature"),
                                now=after.get("signature")))  # fmt: skip
        elif _body(old_lines, before) != _body(new_lines, after):
            changed.append(_ref(new_path, after, change="body"))
    return {"added": added, "removed": removed, "changed": changed}


def _declared(parsed: dict[str, Any]) -> dict[tuple[str, str], str | None]:
    """(name, group) → spec for a manifest, or name → locked versions for a lockfile."""
    out: dict[tuple[str, str], str | None] = {}
    for item in parsed.get("dependencies") or []:
        name = item["name"]
        if item.get("ecosystem") == "pypi":
            name = normalize_python_name(name)
        out[(name, item.get("group") or "")] = item.get("spec")
    locked = (parsed.get("locked") or {}).get("by_name") or {}
    for name, versions in locked.items():
        value = versions if isinstance(versions, str) else ", ".join(sorted(map(str, versions)))
        out[(name, "locked")] = value
    return out


def _parse(kind: str, data: bytes | None) -> dict[str, Any]:
    if data is None:
        return {}
    try:
        return parse_manifest(kind, data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return {"error": "not UTF-8"}


def manifest_change(path: str, old: bytes | None, new: bytes | None) -> dict[str, Any]:
    """Dependencies added, removed and re-specified between two versions of one manifest."""
    entry: dict[str, Any] = {"manifest": path, "added": [], "removed": [], "changed": []}
    kind = manifest_kind(path)
    if kind is None or not has_parser(kind):
        return {**entry, "parsed": False}
    before, after = _parse(kind, old), _parse(kind, new)
    errors = sorted({e for e in (before.get("error"), after.get("error")) if e})
    if errors:
        entry["errors"] = errors
    a, b = _declared(before), _declared(after)
    entry["added"] = [{"name": n, "group": g, "spec": b[(n, g)]} for n, g in sorted(b.keys() - a.keys())]
    entry["removed"] = [{"name": n, "group": g, "spec": a[(n, g)]} for n, g in sorted(a.keys() - b.keys())]
    entry["changed"] = [
        {"name": n, "group": g, "from": a[(n, g)], "to": b[(n, g)]}
        for n, g in sorted(a.keys() & b.keys())
        if a[(n, g)] != b[(n, g)]
    ]
    return {**entry, "parsed": True}
