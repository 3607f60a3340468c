"""Symbol look-ups for a branch: exact name, prefix, and fuzzy, through the `symbols` table's indexes.

Nothing loads the whole index: an exact name and a prefix are btree look-ups; fuzzy gathers
candidates through indexes (trigram similarity and substrings: pg_trgm on Postgres, an FTS5 trigram
table on SQLite; prefixes; word initials such as `qs` for QuerySet), then ranks the few hundred
candidate names like an editor's file finder (fzf, VS Code): a match at the start of a word or right
after the previous one is worth more, gaps cost, shorter names win ties; a name the query is not a
subsequence of still ranks when it is within a small edit distance (typos, swapped letters).
Every ordering ends in (name, file, line): the same index and query always give the same answer,
which keeps agent prompts and caches stable.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Select, and_, func, literal_column, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from warmer.ledger.models import CacheRef, SymbolRow

DEFAULT_LIMIT = 20
# Distinct names each way of finding them may add, per name asked for (ranking is Python, so this
# bounds a query's cost), within [MIN_CANDIDATES, MAX_CANDIDATES].
CANDIDATES_PER_RESULT = 5
MIN_CANDIDATES = 50
MAX_CANDIDATES = 400
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
Executor = Connection | Session


def _served(repo_id: int, branch: str) -> Any:
    """The join that keeps only symbols of entries this branch serves now."""
    return and_(
        CacheRef.entry_key == SymbolRow.entry_key,
        CacheRef.repo_id == repo_id,
        CacheRef.branch == branch,
        CacheRef.artifact_type == "symbol_index",
    )


def _symbols(conn: Executor, repo_id: int, branch: str, *where: Any) -> Select[Any]:
    return (
        select(SymbolRow.symbol, SymbolRow.name, SymbolRow.path, SymbolRow.start_line)
        .join(CacheRef, _served(repo_id, branch))
        .where(*where)
    )


def _order(row: Any) -> tuple[str, str, int]:
    return (row.name, row.path, row.start_line)


def exact(conn: Executor, repo_id: int, branch: str, name: str, limit: int) -> list[dict[str, Any]]:
    """Symbols called exactly `name`; `Parent.name` or `Parent::name` narrows to one parent."""
    rows = conn.execute(_symbols(conn, repo_id, branch, SymbolRow.name == name)).all()
    found = [{**row.symbol, "match": "exact"} for row in sorted(rows, key=_order)]
    if not found:
        for separator in ("::", "."):
            parent, _, short = name.rpartition(separator)
            if parent and short:
                rows = conn.execute(_symbols(conn, repo_id, branch, SymbolRow.name == short)).all()
                found = [
                    {**row.symbol, "match": "exact"}
                    for row in sorted(rows, key=_order)
                    if row.symbol.get("parent") == parent
                ]
                if found:
                    break
    return found[:limit]


def _postgres(conn: Executor) -> bool:
    return (conn.dialect if isinstance(conn, Connection) else conn.get_bind().dialect).name == "postgresql"


def _prefix_range(conn: Executor, column: Any, text_: str) -> Any:
    """`column` starts with `text_`, in the form each database answers from its btree index:
    Postgres's text_pattern_ops index serves LIKE 'x%' (with its default backslash escape: an
    ESCAPE clause hides the prefix from the planner), not a range; SQLite's serves the range."""
    if _postgres(conn):
        return column.like(_escape_like(text_) + "%")
    return and_(column >= text_, column < text_ + "\U0010ffff")


def prefix(conn: Executor, repo_id: int, branch: str, text_: str, limit: int) -> list[dict[str, Any]]:
    """Symbols whose name starts with `text_`: case-sensitive hits, then case-insensitive; shortest first."""
    folded = text_.casefold()
    sensitive = func.substr(SymbolRow.name, 1, len(text_)) == text_
    query = (
        _symbols(conn, repo_id, branch, _prefix_range(conn, SymbolRow.folded, folded))
        .order_by(
            sensitive.desc(),
            func.length(SymbolRow.name),
            SymbolRow.name,
            SymbolRow.path,
            SymbolRow.start_line,
        )
        .limit(limit)
    )
    return [
        {**row.symbol, "match": "prefix" if row.name.startswith(text_) else "prefix (any case)"}
        for row in conn.execute(query)
    ]


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

    Dynamic programming over the positions where each query character occurs in the name (sparse:
    a row holds only the matches of its character), O(sum of |matches(q[i-1])| * |matches(q[i])|).
    A match right after the previous one earns the consecutive bonus; a gap of g characters costs
    _GAP_OPEN + _GAP_EXTEND * (g - 1).
    """
    q, n = query.casefold(), name.casefold()
    if not q or len(q) > len(n):
        return None
    remaining = iter(n)
    if not all(char in remaining for char in q):  # cheap rejection before the DP
        return None
    same_length = len(n) == len(name) and len(q) == len(query)  # casefold can lengthen (ß → ss)
    bonuses = _bonuses(name if same_length else n)
    where: dict[str, list[int]] = {}
    for j, char in enumerate(n):
        where.setdefault(char, []).append(j)
    previous: list[tuple[int, float]] = []
    for i, char in enumerate(q):
        current: list[tuple[int, float]] = []
        for j in where[char]:
            gain = _MATCH + bonuses[j] + (1 if same_length and name[j] == query[i] else 0)
            if i == 0:
                current.append((j, gain - min(j, 5)))  # starting late costs a little
                continue
            best = _NEG
            for k, score in previous:
                if k >= j:
                    break
                if k == j - 1:
                    candidate = score + _CONSECUTIVE_BONUS
                else:
                    candidate = score - _GAP_OPEN - _GAP_EXTEND * (j - 2 - k)
                if candidate > best:
                    best = candidate
            if best != _NEG:
                current.append((j, best + gain))
        if not current:
            return None
        previous = current
    best = max(score for _, score in previous)
    return best - _LENGTH_PENALTY * (len(n) - len(q))


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


_SUBSTRING_STAGE = 2  # the batches before it: prefixes (0), initials (1), substrings (2)


def _candidate_batches(
    conn: Executor, repo_id: int, branch: str, folded: str, limit: int
) -> Iterator[list[str]]:
    """Names worth ranking for a fuzzy query, in batches, each way through an index, cheapest first:
    prefixes and word initials (btree ranges), substrings (trigram indexes), trigram similarity for
    typos, then a scan for scattered abbreviations. The caller stops asking once it has ranked
    `limit` names: the first ways give subsequence matches, which outrank any typo, and a prefix
    outranks the same letters inside a longer word, so later ways could only add names below them.
    The typo and scan ways run only when the first three matched nothing at all: on Django a
    trigram-similarity pass costs ~60 ms to add a tail of typos below the clean matches."""
    candidates = min(MAX_CANDIDATES, max(MIN_CANDIDATES, CANDIDATES_PER_RESULT * limit))

    def take(*where: Any, order: Any = None, distinct_only: bool = False) -> list[str]:
        query = select(SymbolRow.name).join(CacheRef, _served(repo_id, branch)).where(*where)
        if distinct_only:  # no ordering: stop at the first names met
            query = query.distinct().limit(candidates)
        else:
            query = query.group_by(SymbolRow.name)
            query = query.order_by(order if order is not None else SymbolRow.name).limit(candidates)
        return list(conn.execute(query).scalars())

    shortest = func.length(SymbolRow.name)
    yield take(_prefix_range(conn, SymbolRow.folded, folded), order=shortest)
    yield take(_prefix_range(conn, SymbolRow.initials, folded), order=shortest)
    postgres = _postgres(conn)
    if len(folded) >= 3:
        if postgres:
            yield take(SymbolRow.folded.contains(folded, autoescape=True), order=shortest)
        else:  # FTS5's trigram tokenizer: a quoted phrase is a substring
            yield take(SymbolRow.id.in_(_fts('"' + folded.replace('"', '""') + '"')), order=shortest)
    if postgres:
        similarity = func.similarity(SymbolRow.folded, folded)
        yield take(SymbolRow.folded.op("%")(folded), order=func.max(similarity).desc())
    elif len(folded) >= 3:  # any one trigram in common finds typo candidates
        trigrams = sorted({folded[i : i + 3] for i in range(len(folded) - 2)})
        yield take(SymbolRow.id.in_(_fts(" OR ".join('"' + t.replace('"', '""') + '"' for t in trigrams))))
    # An abbreviation with no shared trigram (`cmnd` for Command): names it is a subsequence of.
    # No index answers this; it runs only when the indexed ways found too few names.
    pattern = "%" + "%".join(_escape_like(char) for char in folded) + "%"
    yield take(SymbolRow.folded.like(pattern, escape="\\"), distinct_only=True)


def _fts(expression: str) -> Any:
    matching = text("SELECT rowid FROM symbols_trigram WHERE symbols_trigram MATCH :q LIMIT 5000")
    return matching.bindparams(q=expression).columns(literal_column("rowid"))


def _escape_like(text_: str) -> str:
    """`text_` taken literally in a LIKE pattern (backslash, the default escape of both databases)."""
    return "".join("\\" + char if char in "%_\\" else char for char in text_)


def _label(text_: str, folded: str, name: str) -> str:
    if name == text_:
        return "exact"
    if name.casefold() == folded:
        return "exact-ignoring-case"
    return "prefix" if name.casefold().startswith(folded) else "subsequence"


def fuzzy(conn: Executor, repo_id: int, branch: str, text_: str, limit: int) -> list[dict[str, Any]]:
    """The best `limit` symbols for a half-remembered name, each with `score` and `match`.

    `match` is "exact" (the name itself), "exact-ignoring-case", "prefix" (the name starts with the
    query, ignoring case), "subsequence", or "typo" (within max(1, len(text) // 3) edits).
    A typo scores what the query would score against itself, less `_EDIT_PENALTY` per edit: one
    slip in a whole name beats a scattered subsequence, while a clean subsequence still beats any typo.
    """
    if not text_:
        return []
    folded = text_.casefold()
    cutoff = max(1, len(text_) // 3)
    perfect = subsequence_score(text_, text_) or 0.0
    ranked: list[tuple[float, int, str, dict[str, Any]]] = []
    seen: set[str] = set()
    for stage, batch in enumerate(_candidate_batches(conn, repo_id, branch, folded, limit)):
        for name in sorted(set(batch) - seen):
            seen.add(name)
            score = subsequence_score(text_, name)
            match = _label(text_, folded, name)
            if score is None:
                distance = edit_distance(folded, name.casefold(), cutoff)
                if distance is None:
                    continue
                score = perfect - _EDIT_PENALTY * distance - _LENGTH_PENALTY * abs(len(name) - len(text_))
                match = "typo"
            ranked.append((-round(score, 2), len(name), name, {"score": round(score, 2), "match": match}))
        if len(ranked) >= limit or (ranked and stage >= _SUBSTRING_STAGE):
            break
    ranked.sort(key=lambda r: r[:3])
    chosen = ranked[:limit]
    if not chosen:
        return []
    rows = conn.execute(_symbols(conn, repo_id, branch, SymbolRow.name.in_([r[2] for r in chosen]))).all()
    by_name: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_name[row.name].append(row)
    results: list[dict[str, Any]] = []
    for *_key, name, extra in chosen:
        for row in sorted(by_name[name], key=_order):
            if len(results) == limit:
                return results
            results.append({**row.symbol, **extra})
    return results
