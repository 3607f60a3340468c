"""Look-ups over a symbol_index payload: exact name, prefix, and fuzzy.

Pure functions over the stored payload, so a reader needs nothing but the JSON.
Every ordering ends in (name, file, line): the same index and query always give
the same answer, which keeps agent prompts and caches stable.

Fuzzy matching is what an agent needs when it half-remembers a name: first
subsequence matches scored like an editor's file finder (fzf, VS Code) — a
match at the start of a word or right after the previous one is worth more,
gaps cost, shorter names win ties — and, for names the query is not a
subsequence of, those within a small edit distance (typos, swapped letters).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

DEFAULT_LIMIT = 20
_MATCH = 16
_START_BONUS = 10  # the first character of the name
_BOUNDARY_BONUS = 8  # after `_ . - : /` or a lower-to-upper case change
_CONSECUTIVE_BONUS = 6
_GAP_OPEN = 3
_GAP_EXTEND = 1
_LENGTH_PENALTY = 0.25  # per unmatched character: `Command` before `CommandCollection`
_EDIT_PENALTY = 24  # worth a bit more than one matched character with its bonuses
_SEPARATORS = frozenset("_.-:/$#~ ")
_NEG = float("-inf")


def _order(symbol: dict[str, Any]) -> tuple[str, str, int]:
    return (symbol["name"], symbol["file"], symbol["start_line"])


def exact(index: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """Symbols called exactly `name`; `Parent.name` or `Parent::name` narrows to one parent."""
    found = [s for s in index["symbols"] if s["name"] == name]
    if not found:
        for separator in ("::", "."):
            parent, _, short = name.rpartition(separator)
            if parent and short:
                found = [s for s in index["symbols"] if s["name"] == short and s["parent"] == parent]
                if found:
                    break
    return sorted(found, key=_order)


def prefix(index: dict[str, Any], text: str, limit: int = DEFAULT_LIMIT) -> list[dict[str, Any]]:
    """Symbols whose name starts with `text`: case-sensitive hits, then case-insensitive; shortest first."""
    folded = text.casefold()
    hits = []
    for symbol in index["symbols"]:
        name = symbol["name"]
        if name.startswith(text):
            hits.append((0, len(name), *_order(symbol), symbol))
        elif name.casefold().startswith(folded):
            hits.append((1, len(name), *_order(symbol), symbol))
    hits.sort(key=lambda hit: hit[:5])
    return [hit[-1] for hit in hits[:limit]]


def _bonuses(name: str) -> list[int]:
    bonuses = []
    for j, char in enumerate(name):
        before = name[j - 1] if j else ""
        if j == 0:
            bonuses.append(_START_BONUS)
        elif (
            before in _SEPARATORS
            or (before.islower() and char.isupper())
            or (before.isalpha() != char.isalpha() and char.isalnum())
        ):
            bonuses.append(_BOUNDARY_BONUS)
        else:
            bonuses.append(0)
    return bonuses


def subsequence_score(query: str, name: str) -> float | None:
    """Best alignment score of `query` as a case-insensitive subsequence of `name`, or None.

    Dynamic programming over (query char, name position): O(len(query) * len(name)).
    """
    q, n = query.casefold(), name.casefold()
    if not q or len(q) > len(n):
        return None
    remaining = iter(n)
    if not all(char in remaining for char in q):  # cheap rejection before the DP
        return None
    bonuses = _bonuses(name)
    previous: list[float] = []
    for i, char in enumerate(q):
        current = [_NEG] * len(n)
        gapped = _NEG  # best previous[k] minus the gap cost to reach j, over k <= j - 2
        for j, candidate in enumerate(n):
            if i and j >= 2:
                gapped = max(gapped - _GAP_EXTEND, previous[j - 2] - _GAP_OPEN)
            if candidate != char:
                continue
            gain = _MATCH + bonuses[j] + (1 if name[j] == query[i] else 0)
            if i == 0:
                current[j] = gain - min(j, 5)  # starting late costs a little
            else:
                best = max(previous[j - 1] + _CONSECUTIVE_BONUS if j else _NEG, gapped)
                if best != _NEG:
                    current[j] = best + gain
        previous = current
    best = max(previous)
    return None if best == _NEG else best - _LENGTH_PENALTY * (len(n) - len(q))


def edit_distance(a: str, b: str, cutoff: int) -> int | None:
    """Optimal string alignment distance (a swap of neighbours counts 1), or None when above `cutoff`."""
    if abs(len(a) - len(b)) > cutoff:
        return None
    before: list[int] = []
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(current[j - 1] + 1, row[j] + 1, row[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > cutoff:
            return None
        before, row = row, current
    return row[-1] if row[-1] <= cutoff else None


def _label(text: str, folded: str, name: str) -> str:
    if name == text:
        return "exact"
    if name.casefold() == folded:
        return "exact-ignoring-case"
    return "prefix" if name.casefold().startswith(folded) else "subsequence"


def fuzzy(index: dict[str, Any], text: str, limit: int = DEFAULT_LIMIT) -> list[dict[str, Any]]:
    """The best `limit` symbols for a half-remembered name, each with `score` and `match`.

    `match` is "exact" (the name itself), "exact-ignoring-case", "prefix" (the name starts with the
    query, ignoring case), "subsequence", or "typo" (within max(1, len(text) // 3) edits).
    A typo scores what the query would score against itself, less
    `_EDIT_PENALTY` per edit: one slip in a whole name beats a scattered
    subsequence, while a clean subsequence still beats any typo.
    """
    if not text:
        return []
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for symbol in index["symbols"]:
        by_name[symbol["name"]].append(symbol)
    cutoff = max(1, len(text) // 3)
    folded = text.casefold()
    perfect = subsequence_score(text, text) or 0.0
    ranked: list[tuple[float, int, str, dict[str, Any]]] = []
    for name in sorted(by_name):
        score = subsequence_score(text, name)
        match = _label(text, folded, name)
        if score is None:
            distance = edit_distance(folded, name.casefold(), cutoff)
            if distance is None:
                continue
            score = perfect - _EDIT_PENALTY * distance - _LENGTH_PENALTY * abs(len(name) - len(text))
            match = "typo"
        ranked.append((-round(score, 2), len(name), name, {"score": round(score, 2), "match": match}))
    ranked.sort(key=lambda r: r[:3])
    results: list[dict[str, Any]] = []
    for *_key, name, extra in ranked:
        for symbol in sorted(by_name[name], key=_order):
            if len(results) == limit:
                return results
            results.append({**symbol, **extra})
    return results
