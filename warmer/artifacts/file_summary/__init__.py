"""file_summary: per key file (connect) or per changed file (commit), what it is for and what it holds.

Extract (per blob, cached through `extract_files`): line count, purpose, ranked top-level symbols,
route count and content markers (`facts.py`). Reduce (per path): the role from explicit rules and a
1-3 sentence summary (`roles.py`). One entry per file, keyed by its blob; both modes also write the
whole-repository index of the key files summarized and how many the `max_files` cap left out.

The summary is deterministic unless an LLM is configured (`llm.py`: any OpenAI-compatible endpoint,
WARMER_LLM_URL/MODEL/API_KEY); then the model writes it from the same facts, the deterministic text is
the fallback for any file the model cannot answer, and each entry says which wrote it
(`summary_source`). The model's id is part of the generator version, so entries never mix models.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from warmer.artifacts.base import ArtifactResult, Entry, GenerationContext, PermanentError
from warmer.artifacts.classify import is_test_file
from warmer.artifacts.dependencies.planning import dependency_refresh
from warmer.artifacts.extracting import extract_files
from warmer.artifacts.file_summary.facts import extract_facts
from warmer.artifacts.file_summary.llm import summarizer_from_env
from warmer.artifacts.file_summary.roles import (
    DeterministicSummarizer,
    Summarizer,
    extract_kind,
    is_key_file,
    key_file_priority,
    language_label,
    role_of,
)
from warmer.artifacts.recent_change.impact import import_kind, read_imports, reverse_imports, tests_reached
from warmer.artifacts.relevance import ReadBlob, Refresh, per_file_refresh
from warmer.git.diff import PathChange, tree_diff

DEFAULT_MAX_FILE_BYTES = 1_000_000
DEFAULT_MAX_FILES = 2000
LLM_ANSWER_KIND = "llm_answer"
IMPORTERS_KEPT = 10
TESTS_KEPT = 5

__all__ = ["DeterministicSummarizer", "FileSummary", "Summarizer"]


class FileSummary:
    artifact_type = "file_summary"
    version = "4"  # 4: a capped connect keeps the project's own source first

    def __init__(self, summarizer: Summarizer | None = None) -> None:
        self.summarizer: Summarizer = summarizer or summarizer_from_env() or DeterministicSummarizer()
        model = getattr(self.summarizer, "id", None)
        if model:
            self.version = f"{type(self).version}+{model}"

    def kind_of(self, path: str) -> str | None:
        return extract_kind(path)

    def refresh(self, changes: Sequence[PathChange], read_blob: ReadBlob) -> Refresh | None:
        """The product page's rule: only for the files the commit added, modified, renamed or removed;
        every key file when the import structure changed, since each summary says who uses the file
        and which tests reach it (only summaries that came out different are written)."""
        usage = dependency_refresh(import_kind, changes, read_blob, read_imports)
        if usage is not None:
            return Refresh(None, f"who imports what changed ({usage.reason})")
        return per_file_refresh(self.kind_of, changes)

    def generate(self, ctx: GenerationContext) -> ArtifactResult:
        max_bytes = int(ctx.params.get("max_file_bytes", DEFAULT_MAX_FILE_BYTES))
        entries, _ = ctx.snapshot.entries()
        existing = {entry.path for entry in entries}
        # The key files are chosen by path alone, so both modes know them; a commit also re-checks them,
        # which costs one cache read (their blobs are extracted already) and keeps the index exact.
        keys = sorted((e.path for e in entries if is_key_file(e.path)), key=key_file_priority)
        cap = int(ctx.params.get("max_files", DEFAULT_MAX_FILES))
        key_set, truncated = set(keys[:cap]), max(0, len(keys) - cap)
        if ctx.scope is None:
            # Every key file; on a commit also the files it wrote, as the product page's rule has it.
            emit, deleted = key_set | _written_since_base(ctx, existing), []
        else:
            emit = {path for path in ctx.scope if path in existing}
            deleted = sorted({path for path in ctx.scope if path not in existing})

        done = extract_files(
            ctx,
            lambda path: extract_kind(path) if path in key_set or path in emit else None,
            lambda _path, kind, data: extract_facts(kind, data, max_bytes),
            max_bytes,
        )
        # Who uses each file and which tests reach it: the reverse import graph recent_change_summary
        # walks (dependency_graph's parsers and resolvers, Python and JavaScript/TypeScript).
        importers = reverse_imports(ctx, max_bytes, set())
        skipped = list(done.skipped)
        summarized: list[str] = []
        results: list[Entry] = []
        for item in sorted(done.wanted, key=lambda w: w.path):
            facts = done.payload(item)
            reason = facts.get("skipped") or ("too_large" if facts["size"] > max_bytes else None)
            if reason:
                skipped.append({"path": item.path, "reason": reason})
                continue
            if item.path in key_set:
                summarized.append(item.path)
            if item.path in emit:
                usage = _usage(item.path, importers)
                # Who uses the file is an input as much as its content: both are in the key.
                source = item.blob if not usage else _hash(item.blob, usage)
                summary = self._described(item.path, item.blob, item.kind, {**facts, **usage})
                results.append(Entry(item.path, source, summary))
        self._summarize([entry.payload for entry in results], ctx)
        index = {
            "artifact_type": self.artifact_type,
            "generator_version": self.version,
            "tree": ctx.snapshot.tree_id,
            "files": summarized,
            "truncated": truncated,
            "skipped": sorted((s for s in skipped if s["path"] in key_set), key=lambda s: s["path"]),
        }
        results.append(Entry("", ctx.snapshot.tree_id, index))
        if ctx.scope is not None:
            # A scope file that can no longer be summarized (now binary, too large, a symlink) must not
            # keep serving the summary of its old content.
            deleted = sorted({*deleted, *(s["path"] for s in skipped if s["path"] in emit)})
        return ArtifactResult(results, deleted_paths=deleted, calls=done.calls)

    def _described(self, path: str, blob: str, kind: str, facts: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "artifact_type": self.artifact_type,
            "generator_version": self.version,
            "path": path,
            "blob": blob,
            "language": language_label(path, kind),
            "role": role_of(path, facts),
            "purpose": facts["purpose"],
            "main_symbols": facts["main_symbols"],
            "routes": facts["routes"],
            "frameworks": facts["frameworks"],
            "lines": facts["lines"],
        }
        if "imported_by" in facts:
            payload.update({key: facts[key] for key in ("imported_by", "imported_by_count", "tested_by")})
        payload["summary_source"] = "deterministic"
        return payload

    def _summarize(self, payloads: list[dict[str, Any]], ctx: GenerationContext) -> None:
        """Write each payload's summary. A model's answers are kept by the hash of what it was asked
        (in the extract cache), so a refresh that rebuilds every summary asks it only about files
        whose facts changed."""
        model = getattr(self.summarizer, "id", None)
        if model is None:
            for payload in payloads:
                payload["summary"] = self.summarizer.summarize(payload)
            return
        asked = {_hash(model, payload): payload for payload in payloads}
        known = ctx.extracts.get_many(sorted(asked))
        answered: dict[str, dict[str, Any]] = {}
        for key, payload in asked.items():
            cached = (known.get(key) or {}).get(LLM_ANSWER_KIND)
            if cached is not None:
                payload.update(cached)
                continue
            payload["summary"] = self.summarizer.summarize(payload)
            if payload["summary_source"] == model:  # a fallback is not an answer worth keeping
                answered[key] = {LLM_ANSWER_KIND: {"summary": payload["summary"], "summary_source": model}}
        ctx.extracts.put_many(answered)


def _written_since_base(ctx: GenerationContext, existing: set[str]) -> set[str]:
    base = ctx.params.get("base_commit")
    if not base:
        return set()
    try:
        base_tree = ctx.snapshot.repo[str(base).encode()].tree.decode()  # type: ignore[attr-defined]
    except KeyError as exc:
        raise PermanentError(f"base_commit {base} is not in the repository") from exc
    changes = tree_diff(ctx.snapshot.repo, base_tree, ctx.snapshot.tree_id, renames=False)
    return {c.path for c in changes if c.path in existing and not c.is_submodule}


def _hash(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


_IMPORT_LANGUAGES = (".py", ".pyi", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts")


def _usage(path: str, importers: dict[str, set[str]]) -> dict[str, Any]:
    """The files importing `path` and the tests reaching it through imports (shortest chains first), for
    the languages whose imports are resolved; other files get no such fields (not an empty list that
    would look like "nobody uses it")."""
    if not path.endswith(_IMPORT_LANGUAGES):
        return {}
    users = sorted(importers.get(path, ()), key=lambda p: (is_test_file(p), p))
    reached = tests_reached(importers, {path}, is_test_file)
    tests = sorted(reached, key=lambda test: (len(reached[test]), test))
    return {
        "imported_by": [p for p in users if not is_test_file(p)][:IMPORTERS_KEPT],
        "imported_by_count": sum(1 for p in users if not is_test_file(p)),
        "tested_by": tests[:TESTS_KEPT],
    }
