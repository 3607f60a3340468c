"""symbol_index: the functions, classes, methods, types and constants of a commit, searchable by name.

Extract (per blob, cached): the symbols tree-sitter finds in one file's content
(see `extract.py`). Reduce (per commit): every symbol with the path it lives in,
sorted by file and line, plus per-file counts and what could not be indexed and
why. `search.py` answers exact, prefix and fuzzy look-ups over the result.
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
from warmer.git.diff import PathChange

DEFAULT_MAX_FILE_BYTES = 1_000_000  # generated or minified beyond this; parsing it helps nobody


class SymbolIndex:
    artifact_type = "symbol_index"
    version = "2"

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
        wanted = [(item.path, item.blob, item.kind) for item in done.wanted]
        payload = self._reduce(ctx, wanted, done.results, done.skipped, max_bytes)
        return ArtifactResult(
            [Entry("", ctx.snapshot.tree_id, payload)],
            calls=done.calls,
        )

    def _reduce(
        self,
        ctx: GenerationContext,
        wanted: list[tuple[str, str, str]],
        results: dict[tuple[str, str], dict[str, Any]],
        skipped: list[dict[str, str]],
        max_bytes: int,
    ) -> dict[str, Any]:
        files: dict[str, dict[str, Any]] = {}
        symbols: list[dict[str, Any]] = []
        languages: Counter[str] = Counter()
        errors: list[dict[str, str]] = []
        for path, blob, grammar in sorted(wanted):
            extract = results[(blob, grammar)]
            reason = extract.get("skipped") or ("too_large" if extract["size"] > max_bytes else None)
            if reason:
                skipped.append({"path": path, "reason": reason})
                continue
            language = language_of(path) or grammar
            languages[language] += 1
            files[path] = {"blob": blob, "language": language, "symbols": len(extract["symbols"])}
            if extract.get("grammar"):  # a C++ header named .h
                files[path]["grammar"] = extract["grammar"]
            if extract.get("error"):
                files[path]["error"] = extract["error"]
                errors.append({"path": path, "error": extract["error"]})
            symbols.extend({**symbol, "file": path} for symbol in extract["symbols"])
        symbols.sort(key=lambda s: (s["file"], s["start_line"]))  # stable: keeps each file's own order
        return {
            **whole_repository_header(self, ctx),
            "languages": dict(sorted(languages.items())),
            "files": files,
            "symbols": symbols,
            "errors": errors,
            "skipped": sorted(skipped, key=lambda s: (s["path"], s["reason"])),
        }


__all__ = ["SymbolIndex"]
