"""repo_map: the repository's structure at a commit, its key files, and a rendering that fits a token budget.

Extract (per blob, cached; `extract.py`): size, line count, whether it is text;
for code tree-sitter parses, the definitions and the identifiers referenced.
Reduce (per commit): the file tree with languages, directory totals and top
modules; the key files, ranked by personalized PageRank over the
definition→reference graph as Aider's repo map does (`rank.py`); and a text
map an agent can paste into a prompt (`render.py`): important files, then the
ranked files with their most referenced definitions, then the directory tree,
as much as fits the budget.

Parameters: `token_budget`, `max_file_bytes` (lines are counted below it),
`max_parse_bytes` (parsed below it), `focus` (paths whose neighbourhood the
rank should favour, e.g. the files a change touched).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from warmer.artifacts.base import (
    ArtifactResult,
    Entry,
    GenerationContext,
    PermanentError,
    whole_repository_header,
)
from warmer.artifacts.classify import is_generated, is_migration, is_vendored
from warmer.artifacts.languages import language_of
from warmer.artifacts.relevance import ReadBlob, Refresh, whole_refresh
from warmer.artifacts.repo_map import rank, weights
from warmer.artifacts.repo_map.extract import TEXT_KIND, extract_blob, extract_tags
from warmer.artifacts.repo_map.rank import (
    Ranking,
    important_files,
    is_important,
    rank_files,
    top_definitions,
)
from warmer.artifacts.repo_map.render import (
    CHARS_PER_TOKEN,
    directories,
    estimate_tokens,
    human,
    render_map,
    render_tree,
)
from warmer.artifacts.repo_map.weights import FileTags, family_of
from warmer.artifacts.symbols.extract import symbol_language
from warmer.git.diff import PathChange
from warmer.git.snapshot import FileEntry

DEFAULT_TOKEN_BUDGET = 1024
DEFAULT_MAX_FILE_BYTES = 5 * 1024 * 1024  # above this, lines are not counted (Continue skips ~5 MB)
DEFAULT_MAX_PARSE_BYTES = 1_000_000  # generated or minified beyond this; parsing it helps nobody
KEY_FILES = 50
KEY_DEFINITIONS = 10  # per key file
MAX_IMPORTANT = 10  # a monorepo's hundred `main.go` are not all first
CHECKPOINT_EVERY = 64

__all__ = ["CHARS_PER_TOKEN", "DEFAULT_TOKEN_BUDGET", "RepoMap", "extract_blob"]


FILE_KIND = "file"  # read for its size and line count only


def tag_kind(path: str) -> str | None:
    """How a path's content is read for the graph: its grammar, as text (README, manifests), or not."""
    grammar = symbol_language(path)
    if grammar is not None:
        return grammar
    return TEXT_KIND if is_important(path) else None


def _stale(payload: dict[str, Any] | None, cap: int) -> bool:
    """Missing, or skipped as too large under a smaller cap than this job's."""
    if payload is None:
        return True
    too_large = payload.get("kind") == "too_large" or payload.get("skipped") == "too_large"
    return too_large and payload.get("size", 0) <= cap


def _focus(params: dict[str, Any]) -> list[str]:
    focus = params.get("focus") or []
    if not isinstance(focus, list) or not all(isinstance(p, str) for p in focus):
        raise PermanentError("repo_map: `focus` must be a list of paths")
    return focus


class RepoMap:
    artifact_type = "repo_map"
    version = "4"

    def kind_of(self, path: str) -> str | None:
        """Every file: its size and line count are in the tree; code and key texts are also tagged."""
        return tag_kind(path) or FILE_KIND

    def refresh(self, changes: Sequence[PathChange], read_blob: ReadBlob) -> Refresh | None:
        return whole_refresh(self.kind_of, changes)  # the ranking spans the whole repository

    def generate(self, ctx: GenerationContext) -> ArtifactResult:
        max_bytes = int(ctx.params.get("max_file_bytes", DEFAULT_MAX_FILE_BYTES))
        parse_bytes = int(ctx.params.get("max_parse_bytes", DEFAULT_MAX_PARSE_BYTES))
        budget = int(ctx.params.get("token_budget", DEFAULT_TOKEN_BUDGET))
        focus = _focus(ctx.params)
        entries, skipped = ctx.snapshot.entries()
        extracts, extracted = self._extract(ctx, entries, max_bytes, parse_bytes)
        files = [self._file(e, extracts) for e in entries]
        tags: dict[str, FileTags] = {}
        versions: dict[str, str] = {}  # what each file's tags were built from, for the kept graph
        for entry in entries:
            kind = None if entry.is_symlink else tag_kind(entry.path)
            found = extracts[entry.blob_id].get("tags", {}).get(kind) if kind else None
            if found is not None and not found.get("skipped"):
                demoted = bool(found.get("generated")) or is_generated(entry.path) or is_vendored(entry.path)
                tags[entry.path] = FileTags(
                    found["definitions"],
                    found["references"],
                    found.get("member_references", {}),
                    family=family_of(kind),
                    demoted=demoted or is_migration(entry.path),
                )
                versions[entry.path] = f"{entry.blob_id}:{kind}:{tags[entry.path].demoted}"
        payload = self._reduce(ctx, files, tags, versions, skipped, budget, focus)
        return ArtifactResult(
            [Entry("", ctx.snapshot.tree_id, payload)],
            calls={"extracted": extracted, "reused": len(extracts) - extracted},
        )

    @staticmethod
    def _extract(
        ctx: GenerationContext, entries: list[FileEntry], max_bytes: int, parse_bytes: int
    ) -> tuple[dict[str, dict[str, Any]], int]:
        """Every blob's extract, `{size, lines, kind, tags: {grammar: ...}}`, computing only what the
        cache lacks: a blob shared by a `.py` and a `.txt` path is read for the tags once."""
        needs: dict[str, set[str]] = defaultdict(set)
        where: dict[str, str] = {}
        for entry in entries:
            if entry.is_symlink:
                continue
            where.setdefault(entry.blob_id, entry.path)
            kind = tag_kind(entry.path)
            needs[entry.blob_id].update([kind] if kind else [])
        blob_ids = sorted(needs)
        known = ctx.extracts.get_many(blob_ids)
        extracts: dict[str, dict[str, Any]] = {}
        fresh: dict[str, dict[str, Any]] = {}
        ctx.checkpoint()
        for blob_id in blob_ids:
            payload = known.get(blob_id)
            stats_stale = _stale(payload, max_bytes)
            have = (payload or {}).get("tags", {})
            missing = sorted(k for k in needs[blob_id] if _stale(have.get(k), parse_bytes))
            if payload is not None and not stats_stale and not missing:
                extracts[blob_id] = payload
                continue
            if len(fresh) % CHECKPOINT_EVERY == 0:
                ctx.checkpoint()
            data = ctx.snapshot.read(blob_id)
            updated = extract_blob(data, max_bytes) if stats_stale or payload is None else dict(payload)
            all_tags = dict(have)
            for kind in missing:
                all_tags[kind] = extract_tags(where[blob_id], kind, data, parse_bytes)
            if all_tags:
                updated["tags"] = all_tags
            extracts[blob_id] = fresh[blob_id] = updated
        ctx.extracts.put_many(fresh)
        return extracts, len(fresh)

    @staticmethod
    def _file(entry: FileEntry, extracts: dict[str, dict[str, Any]]) -> dict[str, Any]:
        if entry.is_symlink:
            facts = {"size": 0, "lines": None, "kind": "symlink"}
        else:
            found = extracts[entry.blob_id]
            facts = {"size": found["size"], "lines": found["lines"], "kind": found["kind"]}
        return {"path": entry.path, "language": language_of(entry.path), "blob": entry.blob_id, **facts}

    def _reduce(
        self,
        ctx: GenerationContext,
        files: list[dict[str, Any]],
        tags: dict[str, FileTags],
        versions: dict[str, str],
        skipped: list[Any],
        budget: int,
        focus: list[str],
    ) -> dict[str, Any]:
        dirs = directories(files)
        languages: dict[str, dict[str, int]] = defaultdict(lambda: {"files": 0, "lines": 0, "bytes": 0})
        for f in files:
            if f["language"]:
                totals = languages[f["language"]]
                totals["files"] += 1
                totals["lines"] += f["lines"] or 0
                totals["bytes"] += f["size"]
        root = dirs[""]
        top_modules = sorted(
            (d for d in dirs.values() if d.path and d.path.count("/") <= 1),
            key=lambda d: (-d.lines, d.path),
        )[:15]
        # No repository, branch or commit here: the entry is shared by every one with this tree
        # (a revert, a merge keeping a parent's tree, a fork), and the lookup says which was asked.
        header = f"{root.files} files, {human(root.lines)} lines"
        ranking = rank_files(tags, focus, versions)
        important = important_files(f["path"] for f in files if f["kind"] != "symlink")[:MAX_IMPORTANT]
        by_rank = sorted(ranking.ranks, key=lambda p: (-ranking.ranks[p], p))
        ranked_definitions = sorted(
            (
                (path, definition)
                for path, scores in ranking.definition_scores.items()
                for definition in top_definitions(tags[path], scores, len(tags[path].definitions))
            ),
            key=lambda pd: (
                -ranking.definition_scores[pd[0]][pd[1]["name"]],
                -ranking.ranks[pd[0]],
                pd[0],
                pd[1]["line"],
            ),
        )
        shown = render_map(
            header,
            important,
            by_rank,
            ranked_definitions,
            {path: t.definitions for path, t in tags.items()},
            lambda room: render_tree("tree:", files, dirs, room),
            budget,
        )
        return {
            **whole_repository_header(self, ctx),
            "summary": {"files": root.files, "lines": root.lines, "bytes": root.size},
            "languages": [
                {"language": name, **totals}
                for name, totals in sorted(languages.items(), key=lambda kv: (-kv[1]["lines"], kv[0]))
            ],
            "top_modules": [
                {"path": d.path, "files": d.files, "lines": d.lines, "bytes": d.size} for d in top_modules
            ],
            "directories": [
                {"path": d.path, "files": d.files, "lines": d.lines, "bytes": d.size}
                for d in sorted(dirs.values(), key=lambda d: d.path)
                if d.path
            ],
            "files": sorted(files, key=lambda f: f["path"]),
            "skipped": [{"path": s.path, "reason": s.reason} for s in skipped],
            "key_files": self._key_files(important, by_rank, ranking, tags),
            "rank_method": self._rank_method(ranking),
            "rendering": {
                "token_budget": budget,
                "estimated_tokens": estimate_tokens(shown.text),
                "files_shown": len(shown.files),
                "definitions_shown": shown.definitions,
                "text": shown.text,
            },
        }

    @staticmethod
    def _key_files(
        important: list[str], by_rank: list[str], ranking: Ranking, tags: dict[str, FileTags]
    ) -> list[dict[str, Any]]:
        """Important files first, then the highest ranked, each with its most referenced definitions."""
        chosen = [(p, "important file") for p in important]
        chosen += [(p, "graph rank") for p in by_rank if p not in set(important)]
        result = []
        for path, reason in chosen[:KEY_FILES]:
            found = tags.get(path)
            top = (
                top_definitions(found, ranking.definition_scores.get(path, {}), KEY_DEFINITIONS)
                if found is not None
                else []
            )
            result.append(
                {
                    "path": path,
                    "rank": round(ranking.ranks.get(path, 0.0), 6),
                    "reason": reason,
                    "top_definitions": [
                        {"name": d["name"], "kind": d["kind"], "line": d["line"]} for d in top
                    ],
                }
            )
        return result

    @staticmethod
    def _rank_method(ranking: Ranking) -> dict[str, Any]:
        return {
            "algorithm": "personalized PageRank, power iteration",
            "graph": "file → file when the first references a name the second defines",
            "edge_weight": (
                f"sqrt(references) x {weights.LONG_NAME_WEIGHT:g} for snake/camel names of "
                f">= {weights.LONG_NAME} chars x {weights.PRIVATE_WEIGHT:g} for _private names x "
                f"{weights.MANY_DEFINERS_WEIGHT:g} for names defined in > {weights.MANY_DEFINERS} files; "
                f"x {weights.DEMOTED_WEIGHT:g} into generated, vendored and migration files; "
                "references link within one language family (JS/TS, C/C++, JVM, each other language); "
                f"a method (defined only in a class) counts member accesses only, x {weights.MEMBER_WEIGHT:g}"
            ),
            "nodes": ranking.nodes,
            "edges": ranking.edges,
            "iterations": ranking.iterations,
            "converged": ranking.converged,
            "damping": rank.DAMPING,
            "personalization": ranking.personalized,
            "definition_score": "the rank flowing into a definition's file along references to its name",
        }
