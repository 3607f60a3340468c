"""symbol_index: the functions, classes, methods, types and constants of a commit, searchable by name.

Extract (per blob, cached): the symbols tree-sitter finds in one file's content (`extract.py`).
Entries: one per file (`path` = the file: its symbols, keyed by its blob, so a commit writes only
the files it changed and identical files anywhere share one entry), and the whole-repository
manifest (`path` ""): languages, per-file counts, and what could not be indexed and why. The
per-file entries' symbols are also rows of the `symbols` table (`table.py`), which `search.py`
queries by exact name, prefix and fuzzy match through database indexes, never by loading the lot.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from warmer.artifacts.base import ArtifactResult, Entry, GenerationContext, whole_repository_header
from warmer.artifacts.extracting import extract_files
from warmer.artifacts.languages import language_of
from warmer.artifacts.relevance import ReadBlob, Refresh, per_file_refresh
from warmer.artifacts.symbols.extract import extract_symbols, symbol_language
from warmer.artifacts.symbols.table import index_entries
from warmer.git.diff import PathChange

DEFAULT_MAX_FILE_BYTES = 1_000_000  # generated or minified beyond this; parsing it helps nobody


class SymbolIndex:
    artifact_type = "symbol_index"
    version = "3"
    index_entries = staticmethod(index_entries)  # the store calls it for each entry it writes first

    def kind_of(self, path: str) -> str | None:
        return symbol_language(path)

    def refresh(self, changes: Sequence[PathChange], read_blob: ReadBlob) -> Refresh | None:
        return per_file_refresh(self.kind_of, changes)

    def generate(self, ctx: GenerationContext) -> ArtifactResult:
        max_bytes = int(ctx.params.get("max_file_bytes", DEFAULT_MAX_FILE_BYTES))
        done = extract_files(
            ctx,
            self.kind_of,
            lambda path, grammar, data: extract_symbols(path, grammar, data, max_bytes),
            max_bytes,
        )
        manifest, per_file = self._reduce(ctx, done.wanted, done.results, done.skipped, max_bytes)
        if ctx.scope is None:
            emit, deleted = sorted(per_file), []
        else:  # a commit: the files it changed; those gone or no longer indexable lose their entry
            emit = sorted(path for path in ctx.scope if path in per_file)
            deleted = sorted(path for path in ctx.scope if path not in per_file)
        entries = [Entry(path, per_file[path][0], per_file[path][1]) for path in emit]
        entries.append(Entry("", ctx.snapshot.tree_id, manifest))
        return ArtifactResult(entries, deleted_paths=deleted, calls=done.calls)

    def _reduce(
        self,
        ctx: GenerationContext,
        wanted: Sequence[Any],
        results: dict[tuple[str, str], dict[str, Any]],
        skipped: list[dict[str, str]],
        max_bytes: int,
    ) -> tuple[dict[str, Any], dict[str, tuple[str, dict[str, Any]]]]:
        """The manifest, and path → (blob, the file's entry) for every indexed file."""
        files: dict[str, dict[str, Any]] = {}
        per_file: dict[str, tuple[str, dict[str, Any]]] = {}
        languages: Counter[str] = Counter()
        errors: list[dict[str, str]] = []
        total = 0
        for item in sorted(wanted, key=lambda w: w.path):
            extract = results[(item.blob, item.kind)]
            reason = extract.get("skipped") or ("too_large" if extract["size"] > max_bytes else None)
            if reason:
                skipped.append({"path": item.path, "reason": reason})
                continue
            language = language_of(item.path) or item.kind
            languages[language] += 1
            summary: dict[str, Any] = {
                "blob": item.blob,
                "language": language,
                "symbols": len(extract["symbols"]),
            }
            if extract.get("grammar"):  # a C++ header named .h
                summary["grammar"] = extract["grammar"]
            if extract.get("error"):
                summary["error"] = extract["error"]
                errors.append({"path": item.path, "error": extract["error"]})
            files[item.path] = summary
            total += len(extract["symbols"])
            entry = {
                "artifact_type": self.artifact_type,
                "generator_version": self.version,
                "path": item.path,
                **summary,
                "symbols": [{**symbol, "file": item.path} for symbol in extract["symbols"]],
            }
            per_file[item.path] = (item.blob, entry)
        manifest = {
            **whole_repository_header(self, ctx),
            "languages": dict(sorted(languages.items())),
            "counts": {"files": len(files), "symbols": total},
            "files": files,
            "errors": errors,
            "skipped": sorted(skipped, key=lambda s: (s["path"], s["reason"])),
            "served_per_file": "each file's symbols: ?path=<file>; search: /symbols?q=",
        }
        return manifest, per_file


def symbols_of(result: ArtifactResult) -> list[dict[str, Any]]:
    """Every symbol of a generated result, by file and line (the per-file entries, joined)."""
    found = [s for entry in result.entries if entry.path for s in entry.payload["symbols"]]
    return sorted(found, key=lambda s: (s["file"], s["start_line"]))


__all__ = ["SymbolIndex", "symbols_of"]
