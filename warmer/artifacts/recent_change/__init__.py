"""recent_change_summary: what one commit changed, for an agent picking up the branch.

Per commit (keyed by the commit, its parents and the base, never by its tree): message and
author, the commits it covers since the base, each changed file with its ± lines, symbols
added/removed/changed (both sides' symbols, cached per blob), the tests the
change affects, and dependency changes in manifests. The diff is against
`params["base_commit"]` (the commit the branch was last planned from) when
given, else the first parent, else the empty tree (a root commit).

Affected tests come from three kinds of evidence: the changed test files
themselves, file-name conventions (test_map's `NameIndex`), and imports: tests
that reach a changed file through the import graph, directly or through other
modules, with the shortest chain as proof (`impact.py`).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dulwich.objects import Commit
from dulwich.repo import Repo

from warmer.artifacts.base import ArtifactResult, Entry, GenerationContext, PermanentError
from warmer.artifacts.classify import is_manifest, is_test_file
from warmer.artifacts.recent_change.changes import is_binary, line_counts, manifest_change, symbol_diff
from warmer.artifacts.recent_change.impact import reverse_imports, tests_reached
from warmer.artifacts.relevance import ReadBlob, Refresh
from warmer.artifacts.secrets import redact
from warmer.artifacts.symbols.extract import extract_symbols, symbol_language
from warmer.artifacts.test_map import is_subject
from warmer.artifacts.test_map.naming import NameIndex, test_name
from warmer.git import mirror
from warmer.git.diff import ChangeKind, PathChange, tree_diff

DEFAULT_MAX_FILES = 500
MAX_SPAN_COMMITS = 50
DEFAULT_MAX_FILE_BYTES = 1_000_000
CHECKPOINT_EVERY = 50
TEXT_SYMBOLS = 5


def _person(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _tree_of(repo: Repo, commit: str) -> str:
    """The tree of the base commit; a base that is not a commit here cannot be retried into one."""
    try:
        obj = repo[commit.encode()]
    except (KeyError, ValueError) as exc:
        raise PermanentError(f"base_commit {commit} is not in the repository") from exc
    if not isinstance(obj, Commit):
        raise PermanentError(f"base_commit {commit} is not a commit")
    return obj.tree.decode()


def _span(ctx: GenerationContext, commit: Commit, base: str | None) -> dict[str, Any]:
    """The commits the summary covers: from `base` (the last commit the branch was refreshed at)
    to this one along first parents, and whether the branch moved forward (`fast_forward` false:
    history was rewritten, e.g. a force-push, and the diff is against what the cache held)."""
    first_parent = commit.parents[0].decode() if commit.parents else None
    if base is None or base == first_parent:
        return {"fast_forward": True, "commits": [_brief(ctx.commit, commit)]}
    repo = ctx.snapshot.repo
    chain, current = [], ctx.commit
    while current != base and len(chain) < MAX_SPAN_COMMITS:
        obj = repo[current.encode()]
        assert isinstance(obj, Commit)
        chain.append(_brief(current, obj))
        if not obj.parents:
            break
        current = obj.parents[0].decode()
    if current == base:
        return {"fast_forward": True, "commits": chain}
    if mirror.is_ancestor(ctx.snapshot.path, base, ctx.commit):  # reached through a merge, or too far
        return {"fast_forward": True, "commits": chain, "commits_truncated": len(chain) >= MAX_SPAN_COMMITS}
    return {"fast_forward": False, "commits": chain[:1]}  # a rewrite: what it replaced is not listed


def _brief(sha: str, commit: Commit) -> dict[str, str]:
    return {
        "commit": sha,
        "subject": redact(commit.message.decode("utf-8", "replace").strip().split("\n", 1)[0].strip()),
        "author": _person(commit.author),
    }


def _order(symbol: dict[str, Any]) -> tuple[str, int, str, str]:
    return (symbol["file"], symbol["line"], symbol["name"], symbol["kind"])


class _SymbolCache:
    """Symbols per (blob, language) for one job, read from and written back to the extract cache."""

    def __init__(self, ctx: GenerationContext, max_bytes: int) -> None:
        self.ctx, self.max_bytes = ctx, max_bytes
        self.by_blob: dict[str, dict[str, Any]] = {}
        self.dirty: set[str] = set()
        self.reused = self.computed = 0

    def symbols(self, path: str, language: str | None, blob: str | None, data: bytes | None) -> list[Any]:
        if language is None or blob is None or data is None:
            return []
        cached = self.by_blob.get(blob)
        if cached is None:
            cached = self.by_blob[blob] = self.ctx.extracts.get_many([blob]).get(blob) or {}
        if language in cached:
            self.reused += 1
            return list(cached[language].get("symbols") or [])
        result = extract_symbols(path, language, data, self.max_bytes)
        self.by_blob[blob] = {**cached, language: result}
        self.dirty.add(blob)
        self.computed += 1
        return list(result.get("symbols") or [])

    def flush(self) -> None:
        if self.dirty:
            self.ctx.extracts.put_many({blob: self.by_blob[blob] for blob in sorted(self.dirty)})


class RecentChangeSummary:
    artifact_type = "recent_change_summary"
    version = "2"

    def kind_of(self, path: str) -> str | None:
        return path  # any file: the summary is of the commit itself

    def refresh(self, changes: Sequence[PathChange], read_blob: ReadBlob) -> Refresh | None:
        return Refresh(None, "always")  # even an empty commit is a new commit to summarize

    def generate(self, ctx: GenerationContext) -> ArtifactResult:
        repo = ctx.snapshot.repo
        commit = repo[ctx.commit.encode()]
        assert isinstance(commit, Commit)
        base = ctx.params.get("base_commit") or (commit.parents[0].decode() if commit.parents else None)
        base_tree = _tree_of(repo, base) if base else None
        changes = tree_diff(repo, base_tree, ctx.snapshot.tree_id)
        cap = int(ctx.params.get("max_files", DEFAULT_MAX_FILES))
        max_bytes = int(ctx.params.get("max_file_bytes", DEFAULT_MAX_FILE_BYTES))
        work, truncated = changes[:cap], max(0, len(changes) - cap)
        cache = _SymbolCache(ctx, max_bytes)

        files: list[dict[str, Any]] = []
        symbols: dict[str, list[dict[str, Any]]] = {"added": [], "removed": [], "changed": []}
        manifests: list[dict[str, Any]] = []
        for i, change in enumerate(work):
            if i and i % CHECKPOINT_EVERY == 0:
                ctx.checkpoint()
            old = ctx.snapshot.read(change.old_blob) if change.old_blob and not change.is_submodule else None
            new = ctx.snapshot.read(change.new_blob) if change.new_blob and not change.is_submodule else None
            files.append(self._file(change, old, new))
            if files[-1]["binary"] or change.is_submodule:
                continue
            for side, found in self._symbols(cache, change, old, new).items():
                symbols[side].extend(found)
            if any(is_manifest(p) for p in change.paths):
                manifests.append(manifest_change(change.path, old, new))
        cache.flush()
        parents = [parent.decode() for parent in commit.parents]
        payload: dict[str, Any] = {
            "artifact_type": self.artifact_type,
            "generator_version": self.version,
            "commit": ctx.commit,
            "parents": parents,
            "base_commit": base,
            **_span(ctx, commit, base),
            "message": redact(ctx.snapshot.message),  # commit messages quote settings too
            "subject": redact(ctx.snapshot.message.strip().split("\n", 1)[0].strip()),
            "author": _person(commit.author),
            "authored_at": datetime.fromtimestamp(commit.author_time, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "files": files,
            "truncated": truncated,
            "totals": {
                "files": len(changes),
                "added_lines": sum(f["added_lines"] or 0 for f in files),
                "removed_lines": sum(f["removed_lines"] or 0 for f in files),
            },
            "symbols": {side: sorted(found, key=_order) for side, found in symbols.items()},
            "affected_tests": self._affected_tests(ctx, changes, max_bytes),
            "manifest_changes": sorted(manifests, key=lambda m: m["manifest"]),
        }
        payload["text"] = summary_text(payload)
        # Keyed by the commit, never its tree: a revert, an empty commit or a merge that keeps its
        # first parent's tree is a new commit with a summary of its own.
        source = hashlib.sha256(json.dumps([ctx.commit, parents, base]).encode()).hexdigest()
        return ArtifactResult(
            [Entry("", source, payload)],
            calls={"extracted": cache.computed, "reused": cache.reused},
        )

    def _file(self, change: PathChange, old: bytes | None, new: bytes | None) -> dict[str, Any]:
        binary = is_binary(old) or is_binary(new)
        added, removed = (None, None) if binary or change.is_submodule else line_counts(old, new)
        entry = {
            "path": change.path,
            "old_path": change.old_path,
            "change": str(change.kind),
            "added_lines": added,
            "removed_lines": removed,
            "binary": binary,
        }
        if change.is_submodule:
            entry["submodule"] = True
        return entry

    def _symbols(
        self, cache: _SymbolCache, change: PathChange, old: bytes | None, new: bytes | None
    ) -> dict[str, list[dict[str, Any]]]:
        """Both sides' symbols (per blob, through the extract cache), diffed."""
        old_path = change.old_path or change.path
        old_lang, new_lang = symbol_language(old_path), symbol_language(change.path)
        if old_lang is None and new_lang is None:
            return {}
        before = cache.symbols(old_path, old_lang, change.old_blob, old)
        after = cache.symbols(change.path, new_lang, change.new_blob, new)
        return symbol_diff(old_path, before, old, change.path, after, new)

    def _affected_tests(
        self, ctx: GenerationContext, changes: list[PathChange], max_bytes: int
    ) -> list[dict[str, Any]]:
        """Tests still present that a change reaches: changed themselves, named after a changed source,
        or importing one (transitively). One row per (test, changed file), with every kind of evidence."""
        entries, _ = ctx.snapshot.entries()
        present = [e.path for e in entries]
        present_set = set(present)
        changed_sources = {p for c in changes for p in c.paths if is_subject(p)}
        evidence: dict[tuple[str, str], set[str]] = defaultdict(set)
        via: dict[tuple[str, str], list[str]] = {}
        for change in changes:
            if change.kind != ChangeKind.DELETED and is_test_file(change.path):
                evidence[(change.path, change.path)].add("changed")
        if changed_sources:
            # Deleted and renamed-away sources stay in the index: their tests are affected too.
            index = NameIndex(sorted({p for p in present if is_subject(p)} | changed_sources))
            for path in present:
                name = test_name(path)
                if name is None:
                    continue
                for source in index.subjects(path, name):
                    if source in changed_sources:
                        evidence[(path, source)].add("naming")
            ctx.checkpoint()
            importers = reverse_imports(ctx, max_bytes, changed_sources - present_set)
            for test, chain in tests_reached(importers, changed_sources, is_test_file).items():
                evidence[(test, chain[-1])].add("imports")
                via[(test, chain[-1])] = chain[1:-1]
        return [
            {"test": test, "because": source, "evidence": sorted(kinds), "via": via.get((test, source), [])}
            for (test, source), kinds in sorted(evidence.items())
            if test in present_set
        ]


def summary_text(payload: dict[str, Any]) -> str:
    """A few lines an agent (or a person) can read before deciding to open the details."""
    totals = payload["totals"]
    lines = [
        payload["subject"] or "(no message)",
        f"{totals['files']} file(s) changed, +{totals['added_lines']} -{totals['removed_lines']}"
        + (f" ({payload['truncated']} not analysed)" if payload["truncated"] else ""),
    ]
    symbols = payload["symbols"]
    for side, mark in (("added", "+"), ("removed", "-"), ("changed", "~")):
        names = [(f"{s['parent']}." if s["parent"] else "") + s["name"] for s in symbols[side]]
        if names:
            more = f" (+{len(names) - TEXT_SYMBOLS} more)" if len(names) > TEXT_SYMBOLS else ""
            lines.append(f"{side} {mark}: {', '.join(names[:TEXT_SYMBOLS])}{more}")
    tests = sorted({t["test"] for t in payload["affected_tests"]})
    if tests:
        lines.append(f"{len(tests)} affected test file(s): {', '.join(tests[:TEXT_SYMBOLS])}")
    for manifest in payload["manifest_changes"]:
        parts = [f"+{d['name']}" for d in manifest["added"]] + [f"-{d['name']}" for d in manifest["removed"]]
        parts += [f"{d['name']} {d['from']} → {d['to']}" for d in manifest["changed"]]
        if parts:
            lines.append(f"{manifest['manifest']}: {', '.join(parts)}")
    return "\n".join(lines)
