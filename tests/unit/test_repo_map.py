"""repo_map read from git objects: real facts about real code, odd files, budgets, reuse by blob."""

from __future__ import annotations

import itertools
import os
import random
import re
from pathlib import Path
from typing import Any

import click
import pytest

from tests.support.extracts import CountingCache, generation_context
from tests.support.gitrepo import commit, git, make_repo, write
from warmer.artifacts.base import PermanentError
from warmer.artifacts.repo_map import CHARS_PER_TOKEN, RepoMap, graph, rank, weights
from warmer.artifacts.repo_map.extract import MAX_DEFINITIONS, MAX_REFERENCES, extract_tags
from warmer.artifacts.repo_map.weights import FileTags
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
    # The heading names no repository, branch or commit: the entry is shared by all with this tree.
    assert re.fullmatch(r"\d+ files, [\d.]+K? lines", large["text"].splitlines()[0])


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


# Key files: the definition→reference graph and its personalized PageRank.


def ranked(payload: dict[str, Any]) -> list[str]:
    return [k["path"] for k in payload["key_files"]]


def rank_of(payload: dict[str, Any], path: str) -> float:
    return next(k["rank"] for k in payload["key_files"] if k["path"] == path)


def top_names(payload: dict[str, Any], path: str) -> list[str]:
    return [d["name"] for d in next(k for k in payload["key_files"] if k["path"] == path)["top_definitions"]]


def test_key_files_of_a_real_package(click_corpus: Path) -> None:
    payload = generate(click_corpus)
    python_files = [f["path"] for f in payload["files"] if f["path"].endswith(".py")]
    method = payload["rank_method"]
    assert method["nodes"] == len(python_files) and method["converged"] and method["damping"] == 0.85
    assert 0 < method["edges"] <= len(python_files) * (len(python_files) - 1)
    # core.py, where Context, Command and Group live, is among the most central files...
    assert "click/core.py" in ranked(payload)[:3]
    core = top_names(payload, "click/core.py")
    assert {"Context", "Command"} <= set(core) and "Context" in core[:3]
    # ...exceptions.py's top definitions are the exception classes others raise.
    assert {"ClickException", "BadParameter", "UsageError"} <= set(top_names(payload, "click/exceptions.py"))
    ranks = [k["rank"] for k in payload["key_files"]]
    assert ranks == sorted(ranks, reverse=True) and abs(sum(ranks) - 1) < 1e-3
    assert {k["reason"] for k in payload["key_files"]} == {"graph rank"}  # click ships no README
    # Every top definition's line is where the real source defines that name.
    source = Path(click.__file__).parent
    for key in payload["key_files"]:
        lines = (source / key["path"].removeprefix("click/")).read_text().splitlines()
        for definition in key["top_definitions"]:
            assert definition["name"] in lines[definition["line"] - 1], (key["path"], definition)


def test_a_file_nobody_references_ranks_below_one_referenced_everywhere(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "everywhere",
        {
            "lib/money.py": "def total(items):\n    return sum(items)\n\n\ndef unused():\n    pass\n",
            "orders.py": "from lib.money import total\n\n\ndef order_total(o):\n    return total(o)\n",
            "invoices.py": "from lib.money import total\n\nGRAND = total([1, 2])\n",
            "report.py": "from lib.money import total\n\n\ndef show(x):\n    print(total(x))\n",
            "lonely.py": "def hermit():\n    return 42\n",
        },
    )
    payload = generate(repo)
    assert ranked(payload)[0] == "lib/money.py"
    assert rank_of(payload, "lib/money.py") > rank_of(payload, "lonely.py")
    assert top_names(payload, "lib/money.py") == ["total"]  # `unused` is referenced by no other file
    assert top_names(payload, "lonely.py") == []
    text = payload["rendering"]["text"]
    assert "lib/money.py:\n│def total(items)" in text and "hermit" not in text


def test_comments_strings_and_a_files_own_definitions_are_not_references(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "quiet",
        {
            "a.py": "def target():\n    return target\n",  # its own use: no edge to itself
            "b.py": '# target target target\nNOTE = "call target() first"\n\n\ndef b():\n    """target"""\n',
        },
    )
    payload = generate(repo)
    assert payload["rank_method"]["edges"] == 0
    assert top_names(payload, "a.py") == []


@pytest.mark.parametrize(
    ("weight", "loser", "winner", "files"),
    [
        # `_hide` is referenced 9 times and `show` 4 (sqrt: 3 against 2), but private names count x0.1.
        (
            "PRIVATE_WEIGHT",
            "hidden.py",
            "shown.py",
            {
                "hidden.py": "def _hide():\n    pass\n",
                "shown.py": "def show():\n    pass\n",
                "user.py": "from hidden import _hide\nfrom shown import show\n"
                + "_hide()\n" * 8
                + "show()\n" * 3,
            },
        ),
        # `run` is defined in six files, so a reference to it says little about any one of them.
        (
            "MANY_DEFINERS_WEIGHT",
            "m1.py",
            "core.py",
            {
                **{f"m{i}.py": "def run():\n    pass\n" for i in range(1, 7)},
                "core.py": "def go():\n    pass\n",
                "user.py": "run()\n" * 9 + "go()\n" * 4,
            },
        ),
    ],
)
def test_aiders_multipliers_change_the_outcome(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    weight: str,
    loser: str,
    winner: str,
    files: dict[str, str],
) -> None:
    repo = make_repo(tmp_path / "weights", files)
    payload = generate(repo)
    assert rank_of(payload, winner) > rank_of(payload, loser)
    monkeypatch.setattr(weights, weight, 1.0)  # without the multiplier, raw counts decide the other way
    graph.clear()
    payload = generate(repo)
    graph.clear()
    assert rank_of(payload, loser) > rank_of(payload, winner)


def test_long_specific_names_outweigh_short_ones(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "long",
        {
            "short.py": "def go():\n    pass\n",
            "specific.py": "def parse_config_file():\n    pass\n",
            "user.py": "go()\n" * 25 + "parse_config_file()\n",  # sqrt 5 x1 against sqrt 1 x10
        },
    )
    payload = generate(repo)
    assert rank_of(payload, "specific.py") > rank_of(payload, "short.py")


def test_important_files_come_first_and_lead_the_rank(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "project",
        {
            "README.md": "# project\n\nStart with `launch_rocket()`.\n",
            "pyproject.toml": '[project]\nname = "project"\n[project.scripts]\nproject = "pkg.cli:main"\n',
            "poetry.lock": "# lock files are manifests, yet nothing to read first\n",
            "pkg/__init__.py": "",
            "pkg/cli.py": "def main():\n    pass\n",
            "pkg/rocket.py": "def launch_rocket():\n    pass\n",
            "pkg/boat.py": "def launch_boats():\n    pass\n",
        },
    )
    payload = generate(repo)
    keys = payload["key_files"]
    assert [(k["path"], k["reason"]) for k in keys[:3]] == [
        ("README.md", "important file"),
        ("pyproject.toml", "important file"),
        ("pkg/cli.py", "important file"),
    ]
    assert all(k["reason"] == "graph rank" for k in keys[3:])
    assert "poetry.lock" not in ranked(payload)
    # The README names launch_rocket and the manifest's entry point names main: rank flows to them.
    assert rank_of(payload, "pkg/rocket.py") > rank_of(payload, "pkg/boat.py")
    assert top_names(payload, "pkg/cli.py") == ["main"]
    assert payload["rank_method"]["personalization"] == {"important": 3, "focus": 0}
    text = payload["rendering"]["text"]
    assert text.index("important files:\nREADME.md:\npyproject.toml:\npkg/cli.py:\n│def main()") < text.index(
        "ranked files:\npkg/rocket.py:\n│def launch_rocket()"
    )


def test_other_languages_are_ranked_too(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "web",
        {
            "src/widget.ts": "export class Widget {\n  render(): string { return 'w'; }\n}\n",
            "src/app.ts": "import { Widget } from './widget';\nconst w = new Widget();\nw.render();\n",
            "src/page.ts": "import { Widget } from './widget';\nexport const page = new Widget();\n",
            "server/main.go": "package main\n\nfunc Serve() {}\n\nfunc main() { Serve() }\n",
            "server/handler.go": "package main\n\nfunc Handle() { Serve(); Serve() }\n",
        },
    )
    payload = generate(repo)
    assert top_names(payload, "src/widget.ts") == ["Widget", "render"]
    assert top_names(payload, "server/main.go") == ["Serve"]
    assert rank_of(payload, "src/widget.ts") > rank_of(payload, "src/app.ts")


def test_rendering_fits_every_budget_and_grows_with_it(click_corpus: Path) -> None:
    budgets = [0, 5, 20, 60, 200, 600, 2000, 6000, 20_000, 100_000]
    cache = CountingCache()  # the extracts once; each budget is only a reduce
    renderings = [generate(click_corpus, cache, params={"token_budget": b})["rendering"] for b in budgets]
    for budget, rendering in zip(budgets, renderings, strict=True):
        assert rendering["token_budget"] == budget
        assert len(rendering["text"]) <= budget * CHARS_PER_TOKEN
        assert rendering["estimated_tokens"] <= budget
    for smaller, larger in itertools.pairwise(renderings):
        assert len(smaller["text"]) <= len(larger["text"])
        assert smaller["definitions_shown"] <= larger["definitions_shown"]
        assert smaller["files_shown"] <= larger["files_shown"]
    assert renderings[0]["definitions_shown"] == 0 and renderings[-1]["definitions_shown"] > 100
    # Ranked definitions first; the directory tree only once they all fit.
    assert "tree:" not in renderings[5]["text"] and "\ntree:\n" in renderings[-1]["text"]
    payload = generate(click_corpus, cache)
    assert renderings[-1]["files_shown"] == len(payload["files"])
    lines = renderings[5]["text"].splitlines()
    assert lines[1] == "ranked files:" and lines[2] == f"{payload['key_files'][0]['path']}:"
    assert all(line.endswith(".py:") or line.startswith("│") for line in lines[2:])


def test_focus_moves_a_file_and_its_neighbours_up(click_corpus: Path) -> None:
    before = generate(click_corpus)
    after = generate(click_corpus, params={"focus": ["click/parser.py", "not/in/the/tree.py"]})
    assert ranked(after).index("click/parser.py") < ranked(before).index("click/parser.py")
    assert rank_of(after, "click/parser.py") > rank_of(before, "click/parser.py")
    # parser.py raises click's exceptions: the file it references gains rank as well.
    assert rank_of(after, "click/exceptions.py") > rank_of(before, "click/exceptions.py")
    assert after["rank_method"]["personalization"]["focus"] == 1


def test_a_repository_without_code_still_gets_its_tree(tmp_path: Path) -> None:
    payload = generate(
        make_repo(tmp_path / "docs", {"notes.txt": "plain words\n", "docs/guide.txt": "more\n"})
    )
    assert payload["key_files"] == [] and payload["rank_method"]["nodes"] == 0
    assert payload["rendering"]["definitions_shown"] == 0 and "notes.txt" in payload["rendering"]["text"]


def test_focus_must_be_a_list_of_paths(small_repo: Path) -> None:
    with pytest.raises(PermanentError):
        generate(small_repo, params={"focus": "app/main.py"})


def test_a_one_file_commit_reads_only_that_blob_and_the_rank_follows(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "grow",
        {
            "alpha.py": "def alpha():\n    pass\n",
            "beta.py": "def beta():\n    pass\n",
            "user.py": "from alpha import alpha\nfrom beta import beta\n\nalpha()\nbeta()\nbeta()\nbeta()\n",
        },
    )
    cache = CountingCache()
    before = generate(repo, cache)
    assert cache.computed == 3
    assert rank_of(before, "beta.py") > rank_of(before, "alpha.py")
    write(repo, {"caller.py": "from alpha import alpha\n\n" + "alpha()\n" * 30})
    commit(repo, "call alpha a lot")
    ctx = generation_context(repo, cache=cache)
    result = RepoMap().generate(ctx)
    after = result.entries[0].payload
    assert cache.computed == 4 and result.calls == {"extracted": 1, "reused": 3}
    assert rank_of(after, "alpha.py") > rank_of(before, "alpha.py")
    assert rank_of(after, "alpha.py") > rank_of(after, "beta.py")


def test_what_one_file_stores_is_capped(tmp_path: Path) -> None:
    generated = "".join(f"def f{i}():\n    return g{i} + h{i}\n" for i in range(3000))
    repo = make_repo(tmp_path / "generated", {"gen.py": generated, "use.py": "f1()\nf2()\n"})
    cache = CountingCache()
    payload = generate(repo, cache)
    blob = git(repo, "rev-parse", "HEAD:gen.py").strip()
    stored = cache.store[blob]["tags"]["python"]
    assert len(stored["definitions"]) == MAX_DEFINITIONS and stored["distinct_definitions"] == 3000
    assert len(stored["references"]) == MAX_REFERENCES and stored["distinct_references"] == 6000
    assert top_names(payload, "gen.py") == ["f1", "f2"]


# --- the kept reference graph ---------------------------------------------------------------------


def _tags_of(path: str, source: str, demoted: bool = False) -> FileTags:
    found = extract_tags(path, "python", source.encode(), 1_000_000)
    return FileTags(found["definitions"], found["references"], found.get("member_references", {}),
                    family="python", demoted=demoted)  # fmt: skip


def _same_graph(updated: graph.Graph, fresh: graph.Graph) -> None:
    assert updated.nodes == fresh.nodes
    assert updated.rows == fresh.rows
    assert updated.contributions == fresh.contributions
    assert updated.top_level == fresh.top_level and updated.members_only == fresh.members_only


def test_a_kept_graph_updated_by_edits_equals_one_built_from_scratch() -> None:
    """Click's real modules edited at random as commits do (a function dropped, one added that calls
    others, a method renamed, a file demoted, a class body moved to top level): after each edit the
    graph updated in place has exactly the rows of a graph built from the edited files."""
    rng = random.Random(7)
    root = Path(click.__file__).parent
    sources = {f"click/{p.name}": p.read_text() for p in sorted(root.glob("*.py"))}
    demoted = dict.fromkeys(sources, False)
    tags = {path: _tags_of(path, text) for path, text in sources.items()}
    versions = {path: "0" for path in sources}
    kept = graph.build(tags, versions)
    for step in range(1, 31):
        path = rng.choice(sorted(sources))
        text = sources[path]
        defs = re.findall(r"^(?:def|class) (\w+)", text, flags=re.M)
        action = step % 5
        if action == 0 and defs:  # drop a top-level definition's first line: its name is gone
            victim = rng.choice(defs)
            text = re.sub(rf"^(def|class) {victim}\b", rf"\1 {victim}_gone", text, count=1, flags=re.M)
        elif action == 1:  # a new function referring to names defined elsewhere
            others = [n for p, t in tags.items() if p != path for n in (d["name"] for d in t.definitions)]
            called = ", ".join(f"{n}()" for n in rng.sample(others, 3))
            text += f"\n\ndef added_in_step_{step}():\n    return [{called}]\n"
        elif action == 2:
            methods = re.findall(r"^    def (\w+)", text, flags=re.M)
            if methods:
                name = rng.choice(methods)
                text = re.sub(rf"^    def {name}\b", f"    def {name}_renamed", text, count=1, flags=re.M)
        elif action == 3:
            demoted[path] = not demoted[path]
        else:  # a name another module defines, now defined here too (more definers, lower weight)
            other = rng.choice([p for p in sources if p != path])
            names = [d["name"] for d in tags[other].definitions if not d.get("parent")]
            if names:
                text += f"\n\ndef {rng.choice(names)}():\n    pass\n"
        sources[path] = text
        tags[path] = _tags_of(path, text, demoted[path])
        versions[path] = str(step)
        graph.update(kept, tags, versions)
        _same_graph(kept, graph.build(tags, versions))
    assert kept.rows  # not vacuous: a graph with edges


def test_rank_files_through_the_kept_graph_equals_a_fresh_ranking() -> None:
    root = Path(click.__file__).parent
    tags = {f"click/{p.name}": _tags_of(p.name, p.read_text()) for p in sorted(root.glob("*.py"))}
    versions = dict.fromkeys(tags, "a")
    rank.rank_files(tags, versions=versions)  # kept
    edited = "click/core.py"
    tags[edited] = _tags_of(edited, (root / "core.py").read_text() + "\n\ndef echo_twice():\n    echo()\n")
    versions[edited] = "b"
    assert rank.rank_files(tags, versions=versions) == rank.rank_files(tags)
