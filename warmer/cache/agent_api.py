"""The Python API agents call: entries, symbol look-ups and semantic search, each a recorded hit or miss.

`warmer get`, `warmer symbols`, `warmer search` and the HTTP API are thin layers over these three
functions, so a hit or miss counts the same whichever door an agent came through.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from warmer.artifacts.symbols import search as symbol_search
from warmer.cache.entry_cache import ENTRIES
from warmer.cache.lookup import InvalidLookup, LookupResult, lookup
from warmer.ledger.db import Database
from warmer.ledger.repositories import find
from warmer.settings import Settings

MAX_SYMBOL_QUERY = 200
MAX_SEARCH_QUERY = 2000
MAX_SYMBOL_LIMIT = 1000
MAX_SEARCH_K = 100
MatchMode = Literal["exact", "prefix", "fuzzy"]


@dataclass(frozen=True)
class Matches:
    """Matches from a cached index, or a recorded miss (`lookup.hit` False, `matches` empty)."""

    lookup: LookupResult
    matches: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        found = self.lookup
        return {
            "hit": found.hit,
            "repo": found.repo,
            "artifact_type": found.artifact_type,
            "branch": found.branch,
            "commit": found.commit,
            "head": found.head,
            "stale": found.stale,
            "warming_job": found.warming_job,
            "matches": self.matches,
        }


def _bounded(name: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise InvalidLookup(f"{name} must be between {low} and {high} (got {value})")
    return value


def _query(text: str, longest: int) -> str:
    if not text.strip() or len(text) > longest or not text.isprintable():
        raise InvalidLookup(f"the query must be 1-{longest} printable characters")
    return text


def get(
    db: Database,
    repo: str,
    artifact_type: str,
    *,
    task_type: str,
    path: str = "",
    settings: Settings | None = None,
) -> LookupResult:
    """The entry the repository's tracked branch serves, or a recorded miss."""
    return lookup(db, repo, artifact_type, task_type=task_type, path=path, settings=settings)


def symbols(
    db: Database,
    repo: str,
    query: str,
    *,
    mode: MatchMode = "fuzzy",
    limit: int = 20,
    task_type: str = "symbol_search",
    settings: Settings | None = None,
) -> Matches:
    """Exact, prefix or fuzzy matches in the cached symbol index."""
    _query(query, MAX_SYMBOL_QUERY)
    _bounded("limit", limit, 1, MAX_SYMBOL_LIMIT)
    if mode not in ("exact", "prefix", "fuzzy"):
        raise InvalidLookup(f"match must be exact, prefix or fuzzy (got {mode!r})")
    found = lookup(db, repo, "symbol_index", task_type=task_type, settings=settings)
    if not found.hit:
        return Matches(found)
    searches = {"exact": symbol_search.exact, "prefix": symbol_search.prefix, "fuzzy": symbol_search.fuzzy}

    def run() -> tuple[list[dict[str, Any]], int]:
        with db.session() as session:
            repo_id = find(session, repo).id
            matches = searches[mode](session, repo_id, found.branch or "", query, limit)
        return matches, len(json.dumps(matches))

    # The index manifest lists every file's blob, so one manifest entry means one set of per-file
    # entries: the same question on it has the same answer, on any branch, until the manifest changes.
    asked = f"symbols:{found.entry_key}:{mode}:{limit}:{query}"
    return Matches(found, copy.deepcopy(ENTRIES.get_or_load(asked, run)))


def search(
    db: Database,
    repo: str,
    query: str,
    *,
    k: int = 10,
    task_type: str = "semantic_search",
    settings: Settings | None = None,
) -> Matches:
    """Top-k chunks of the cached embedding index closest in meaning to `query`."""
    _query(query, MAX_SEARCH_QUERY)
    _bounded("k", k, 1, MAX_SEARCH_K)
    found = lookup(db, repo, "embedding_index", task_type=task_type, settings=settings)
    if not found.hit or found.payload is None:
        return Matches(found)
    from warmer.artifacts.embeddings.search import search_index  # imports the model only when asked
    from warmer.cache.embedding_index import whole_index

    index = whole_index(db, found.payload, found.entry_key or "")
    return Matches(found, search_index(db, index, query, k=k))
