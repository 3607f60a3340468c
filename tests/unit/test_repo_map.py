"""repo_map read from git objects: real facts about real code, odd files, budgets, reuse by blob."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
import pytest

from tests.support.extracts import CountingCache, generation_context
from tests.support.gitrepo import commit, git, make_repo, write
from warmer.artifacts.repo_map import CHARS_PER_TOKEN, RepoMap
from warmer.cache.extracts import DbExtractCache
from warmer.ledger.db import Database


def generate(
    repo: Path, cache: Any = None, params: dict[str, Any] | None = None, rev: str = "HEAD"
) -> dict[str, Any]:
    ctx = generation_context(repo, rev=rev, cache=cache, params=params)
    result = RepoMap().generate(ctx)
    assert len(result.entries) == 1 and result.entries[0].source_hash == ctx.snapshot.tree_id
    return result.entries[0].payload


def test_facts_about_a_real_package(click_corpus: Path) -> None:
    payload = generate(click_corpus)
    files = {f["path"]: f for f in payload["files"]}
    source = Path(click.__file__).parent / "core.py"
    core = files["click/core.py"]
    assert core["language"] == "python"
    assert core["size"] == source.stat().st_size
    assert core["lines"] == len(source.read_bytes().splitlines())
    assert core["blob"] == git(click_corpus, "rev-parse", "HEAD:click/core.py").strip()
    python = next(lang for lang in payload["languages"] if lang["language"] == "python")
    assert python["files"] == sum(1 for p in files if p.endswith(".py"))
    assert payload["top_modules"][0]["path"] == "click"
    assert payload["summary"]["files"] == len(files)
    assert payload["tree"] == git(click_corpus, "rev-parse", "HEAD^{tree}").strip()


def test_reads_the_commit_not_the_dirty_work_tree(small_repo: Path) -> None:
    (small_repo / "app/main.py").write_text("dirty\n" * 50)
    (small_repo / "untracked.py").write_text("x = 1\n")
    files = {f["path"]: f for f in generate(small_repo)["files"]}
    assert files["app/main.py"]["lines"] == 2
    assert "untracked.py" not in files


def test_odd_files_are_reported_and_the_rest_still_produced(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "odd",
        {
            "image.png": b"\x89PNG\r\n\x1a\n\0\0\0binary",
            "latin1.txt": "caf\xe9\n".encode("latin-1"),
            "minified.js": "var a=1;" * 130_000,  # ~1 MB on one line
            "big.txt": "line\n" * 300_000,  # 1.5 MB, over the cap given below
            "ok.py": "print('ok')\n",
        },
    )
    os.symlink("ok.py", repo / "link.py")
    git(
        repo,
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "--quiet",
        str(make_repo(tmp_path / "sub", {"s.txt": "s\n"})),
        "vendor/sub",
    )
    commit(repo, "odd files")
    payload = generate(repo, params={"max_file_bytes": 1_200_000})
    files = {f["path"]: f for f in payload["files"]}
    assert files["image.png"]["kind"] == "binary" and files["image.png"]["lines"] is None
    assert files["latin1.txt"]["kind"] == "non_utf8" and files["latin1.txt"]["lines"] == 1
    assert files["minified.js"]["lines"] == 1 and files["minified.js"]["kind"] == "text"
    assert files["big.txt"]["kind"] == "too_large" and files["big.txt"]["size"] == 1_500_000
    assert files["link.py"]["kind"] == "symlink"
    assert files["ok.py"]["lines"] == 1
    assert {"path": "vendor/sub", "reason": "submodule (content lives in another repository)"} in payload[
        "skipped"
    ]


def test_rendering_fits_its_token_budget_and_grows_with_it(click_corpus: Path) -> None:
    small = generate(click_corpus, params={"token_budget": 80})["rendering"]
    large = generate(click_corpus, params={"token_budget": 4000})["rendering"]
    for rendering in (small, large):
        assert len(rendering["text"]) <= rendering["token_budget"] * CHARS_PER_TOKEN
        assert rendering["estimated_tokens"] <= rendering["token_budget"]
    assert small["files_shown"] < large["files_shown"]
    assert "core.py" in large["text"]  # the biggest file makes any map that shows files
    assert large["text"].splitlines()[0].startswith(f"{click_corpus.name} @ ")


def test_deterministic(click_corpus: Path) -> None:
    assert generate(click_corpus) == generate(click_corpus)


def test_unchanged_blobs_are_not_recomputed_across_commits_and_repos(
    small_repo: Path, tmp_path: Path
) -> None:
    cache = CountingCache()
    generate(small_repo, cache)
    assert cache.computed == 4
    write(small_repo, {"app/main.py": "def main():\n    return 2\n"})
    commit(small_repo, "change one file")
    payload = generate(small_repo, cache)
    assert cache.computed == 5  # only the changed file's new blob
    assert {f["path"]: f["lines"] for f in payload["files"]}["app/main.py"] == 2
    # Identical content in another repository is reused as well.
    other = make_repo(tmp_path / "other", {"README.md": "# small\n\nA tiny project.\n", "new.py": "x = 1\n"})
    generate(other, cache)
    assert cache.computed == 6


@pytest.mark.parametrize("backend", ["sqlite"])
def test_extracts_persist_in_the_ledger(small_repo: Path, sqlite_db: Database, backend: str) -> None:
    cache = DbExtractCache(sqlite_db, "repo_map", RepoMap.version)
    first = generate(small_repo, cache)
    again = DbExtractCache(sqlite_db, "repo_map", RepoMap.version)
    assert len(again.get_many([f["blob"] for f in first["files"]])) == 4
    assert generate(small_repo, again) == first
