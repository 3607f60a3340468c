"""repo_map: the repository's structure at a commit, and a rendering that fits a token budget.

Extract (per blob, cached): size, line count, whether it is text. Reduce (per
commit): the file tree with languages, directory totals, the top modules, and
a text map an agent can paste into a prompt. The map keeps the largest
directories and files that fit the budget (binary search on how many nodes to
show, as Aider's repo map does) and says how much it left out.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from warmer.artifacts.base import ArtifactResult, Entry, GenerationContext
from warmer.artifacts.languages import language_of
from warmer.git.snapshot import FileEntry

DEFAULT_TOKEN_BUDGET = 1024
DEFAULT_MAX_FILE_BYTES = 5 * 1024 * 1024  # above this, lines are not counted (Continue skips ~5 MB)
CHARS_PER_TOKEN = 4  # the usual estimate for English and code with BPE tokenizers
_BINARY_SNIFF = 8192


def extract_blob(data: bytes, max_bytes: int) -> dict[str, Any]:
    """What repo_map needs from one file's content, independent of its path."""
    size = len(data)
    if b"\0" in data[:_BINARY_SNIFF]:
        return {"size": size, "lines": None, "kind": "binary"}
    if size > max_bytes:
        return {"size": size, "lines": None, "kind": "too_large"}
    lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    try:
        data.decode("utf-8")
        kind = "text"
    except UnicodeDecodeError:
        kind = "non_utf8"
    return {"size": size, "lines": lines, "kind": kind}


@dataclass
class _Dir:
    path: str
    files: int = 0
    lines: int = 0
    size: int = 0


def _human(n: int) -> str:
    for unit, step in (("M", 1_000_000), ("K", 1_000)):
        if n >= step:
            return f"{n / step:.1f}{unit}"
    return str(n)


def _dir_key(path: PurePosixPath) -> str:
    return "" if str(path) == "." else str(path)


def _directories(files: list[dict[str, Any]]) -> dict[str, _Dir]:
    dirs: dict[str, _Dir] = {"": _Dir("")}
    for item in files:
        for parent in PurePosixPath(item["path"]).parents:
            path = _dir_key(parent)
            node = dirs.setdefault(path, _Dir(path))
            node.files += 1
            node.lines += item["lines"] or 0
            node.size += item["size"]
    return dirs


def render(
    header: str, files: list[dict[str, Any]], dirs: dict[str, _Dir], budget_tokens: int
) -> tuple[str, int]:
    """The largest tree rendering whose estimated tokens fit the budget; returns (text, shown files)."""
    ranked = sorted(
        [("d", d.path, d.lines or d.size) for d in dirs.values() if d.path]
        + [("f", f["path"], f["lines"] or 0) for f in files],
        key=lambda node: (-node[2], node[1]),
    )

    def build(count: int) -> tuple[str, int]:
        chosen_dirs = {""}
        chosen_files = set()
        for kind, path, _score in ranked[:count]:
            (chosen_dirs if kind == "d" else chosen_files).add(path)
            chosen_dirs.update(_dir_key(p) for p in PurePosixPath(path).parents)
        children: dict[str, list[str]] = defaultdict(list)
        for path in chosen_dirs - {""}:
            children[_dir_key(PurePosixPath(path).parent)].append(path + "/")
        for path in chosen_files:
            children[_dir_key(PurePosixPath(path).parent)].append(path)
        by_path = {f["path"]: f for f in files}
        lines = [header]

        def walk(directory: str, depth: int) -> None:
            entries = sorted(children.get(directory, []), key=lambda p: (not p.endswith("/"), p))
            for entry in entries:
                pad = "  " * depth
                if entry.endswith("/"):
                    node = dirs[entry[:-1]]
                    name = PurePosixPath(entry[:-1]).name
                    lines.append(f"{pad}{name}/  ({node.files} files, {_human(node.lines)} lines)")
                    walk(entry[:-1], depth + 1)
                else:
                    f = by_path[entry]
                    detail = f"{f['lines']} lines" if f["lines"] is not None else f["kind"].replace("_", " ")
                    lines.append(f"{pad}{PurePosixPath(entry).name}  {f['language'] or '-'}  {detail}")
            shown_files = sum(1 for e in entries if not e.endswith("/"))
            total_direct = direct_files.get(directory, 0)
            if total_direct > shown_files:
                lines.append(f"{'  ' * depth}… {total_direct - shown_files} more files")

        walk("", 0)
        return "\n".join(lines), len(chosen_files)

    direct_files: dict[str, int] = defaultdict(int)
    for f in files:
        direct_files[_dir_key(PurePosixPath(f["path"]).parent)] += 1

    def tokens(text: str) -> int:
        return -(-len(text) // CHARS_PER_TOKEN)

    low, high = 0, len(ranked)
    best = build(0)
    while low <= high:
        middle = (low + high) // 2
        candidate = build(middle)
        if tokens(candidate[0]) <= budget_tokens:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


class RepoMap:
    artifact_type = "repo_map"
    version = "1"

    def generate(self, ctx: GenerationContext) -> ArtifactResult:
        max_bytes = int(ctx.params.get("max_file_bytes", DEFAULT_MAX_FILE_BYTES))
        budget = int(ctx.params.get("token_budget", DEFAULT_TOKEN_BUDGET))
        entries, skipped = ctx.snapshot.entries()
        regular = [e for e in entries if not e.is_symlink]
        blob_ids = sorted({e.blob_id for e in regular})
        known = ctx.extracts.get_many(blob_ids)
        fresh: dict[str, dict[str, Any]] = {}
        for index, blob_id in enumerate(b for b in blob_ids if b not in known):
            if index % 256 == 0:
                ctx.checkpoint()
            fresh[blob_id] = extract_blob(ctx.snapshot.read(blob_id), max_bytes)
        ctx.extracts.put_many(fresh)
        extracts = {**known, **fresh}
        files = [self._file(e, extracts) for e in entries]
        payload = self._reduce(ctx, files, skipped, budget)
        return ArtifactResult(
            [Entry("", ctx.snapshot.tree_id, payload)],
            calls={"extracted": len(fresh), "reused": len(known)},
        )

    @staticmethod
    def _file(entry: FileEntry, extracts: dict[str, dict[str, Any]]) -> dict[str, Any]:
        facts = {"size": 0, "lines": None, "kind": "symlink"} if entry.is_symlink else extracts[entry.blob_id]
        return {"path": entry.path, "language": language_of(entry.path), "blob": entry.blob_id, **facts}

    def _reduce(
        self, ctx: GenerationContext, files: list[dict[str, Any]], skipped: list[Any], budget: int
    ) -> dict[str, Any]:
        dirs = _directories(files)
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
        header = (
            f"{ctx.repo_name} @ {ctx.commit[:12]} ({ctx.branch}): {root.files} files, "
            f"{_human(root.lines)} lines"
        )
        text, shown = render(header, files, dirs, budget)
        return {
            "artifact_type": self.artifact_type,
            "generator_version": self.version,
            "repo": ctx.repo_name,
            "branch": ctx.branch,
            "commit": ctx.commit,
            "tree": ctx.snapshot.tree_id,
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
            "rendering": {
                "token_budget": budget,
                "estimated_tokens": -(-len(text) // CHARS_PER_TOKEN),
                "files_shown": shown,
                "text": text,
            },
        }
