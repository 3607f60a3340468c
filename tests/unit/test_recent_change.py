"""recent_change_summary on real git repositories: lines, symbols, renames, tests, manifests, bases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.extracts import CountingCache, generation_context
from tests.support.gitrepo import commit, git, make_repo, write
from warmer.artifacts.base import PermanentError
from warmer.artifacts.recent_change import RecentChangeSummary

CORE_V1 = '''"""Core."""


def keep(a):
    return a


def gone(x):
    return x * 2


class Engine:
    def run(self, speed):
        return speed
'''

CORE_V2 = '''"""Core."""


def keep(a):
    return a


class Engine:
    def run(self, speed, *, force=False):
        return speed if not force else 0


def fresh(y):
    return y + 1
'''

UTIL_V1 = "".join(f"def helper_{i}(v):\n    return v + {i}\n\n\n" for i in range(8))
PYPROJECT_V1 = '[project]\nname = "demo"\ndependencies = ["requests>=2.0", "click"]\n'
PYPROJECT_V2 = '[project]\nname = "demo"\ndependencies = ["requests>=2.31", "click", "httpx>=0.27"]\n'


def generate(
    repo: Path, params: dict[str, Any] | None = None, rev: str = "HEAD", cache: Any = None
) -> dict[str, Any]:
    ctx = generation_context(repo, rev=rev, cache=cache, params=params)
    result = RecentChangeSummary().generate(ctx)
    # Keyed by the commit (with its parents and base), never by the tree it shares with others.
    assert len(result.entries) == 1 and result.entries[0].source_hash != ctx.snapshot.tree_id
    assert result.entries[0].path == ""
    return result.entries[0].payload


def numstat(repo: Path, base: str, head: str) -> dict[str, tuple[str, str]]:
    """`git diff --numstat -M` as {new path: (added, removed)}; "-" for binary."""
    out = git(repo, "diff", "--numstat", "-z", "-M", base, head)
    fields = out.split("\0")
    result: dict[str, tuple[str, str]] = {}
    i = 0
    while i < len(fields) and fields[i]:
        added, removed, path = fields[i].split("\t")
        if path == "":  # a rename: old and new path follow
            path = fields[i + 2]
            i += 2
        result[path] = (added, removed)
        i += 1
    return result


def build(tmp_path: Path) -> tuple[Path, str, str]:
    repo = make_repo(
        tmp_path / "demo",
        {
            "pkg/core.py": CORE_V1,
            "pkg/util.py": UTIL_V1,
            "tests/test_core.py": "from pkg.core import keep\n\n\ndef test_keep():\n    assert keep(1) == 1\n",
            "tests/test_other.py": "def test_nothing():\n    pass\n",
            "pyproject.toml": PYPROJECT_V1,
            "logo.png": b"\x89PNG\r\n\x1a\n\0\0\0" + bytes(range(256)),
            "README.md": "# demo\n\nline\n",
        },
    )
    base = git(repo, "rev-parse", "HEAD").strip()
    (repo / "pkg/util.py").unlink()
    write(
        repo,
        {
            "pkg/core.py": CORE_V2,
            "pkg/helpers.py": UTIL_V1.replace("return v + 3", "return v - 3"),
            "pyproject.toml": PYPROJECT_V2,
            "logo.png": b"\x89PNG\r\n\x1a\n\0\0\1" + bytes(range(255, -1, -1)),
            "README.md": "# demo\n\nline changed\nmore\n",
        },
    )
    git(repo, "add", "-A")
    git(
        repo,
        "-c", "user.name=Ada Lovelace", "-c", "user.email=ada@example.com",
        "commit", "--quiet", "--author=Ada Lovelace <ada@example.com>",
        "-m", "Rework the engine\n\nAdds fresh(), drops gone().",
    )  # fmt: skip
    head = git(repo, "rev-parse", "HEAD").strip()
    return repo, base, head


def test_message_author_and_lines_match_git(tmp_path: Path) -> None:
    repo, base, head = build(tmp_path)
    payload = generate(repo)
    assert payload["artifact_type"] == "recent_change_summary" and payload["generator_version"] == "2"
    assert payload["commit"] == head and payload["base_commit"] == base
    assert payload["subject"] == "Rework the engine"
    assert payload["message"] == "Rework the engine\n\nAdds fresh(), drops gone().\n"
    assert payload["author"] == "Ada Lovelace <ada@example.com>"
    assert payload["authored_at"] == "2026-01-01T00:00:00Z"

    expected = numstat(repo, base, head)
    files = {f["path"]: f for f in payload["files"]}
    assert set(files) == set(expected)
    for path, (added, removed) in expected.items():
        entry = files[path]
        if added == "-":
            assert entry["binary"] and entry["added_lines"] is None and entry["removed_lines"] is None
        else:
            assert not entry["binary"]
            assert (entry["added_lines"], entry["removed_lines"]) == (int(added), int(removed)), path
    assert files["logo.png"]["binary"] is True
    assert payload["totals"] == {
        "files": len(expected),
        "added_lines": sum(int(a) for a, _ in expected.values() if a != "-"),
        "removed_lines": sum(int(r) for a, r in expected.values() if a != "-"),
    }
    assert payload["truncated"] == 0


def test_rename_with_edit(tmp_path: Path) -> None:
    repo, _, _ = build(tmp_path)
    files = {f["path"]: f for f in generate(repo)["files"]}
    helpers = files["pkg/helpers.py"]
    assert helpers["change"] == "renamed" and helpers["old_path"] == "pkg/util.py"
    assert (helpers["added_lines"], helpers["removed_lines"]) == (1, 1)
    assert "pkg/util.py" not in files


def test_symbols_added_removed_and_changed(tmp_path: Path) -> None:
    repo, _, _ = build(tmp_path)
    symbols = generate(repo)["symbols"]
    added = {(s["file"], s["parent"], s["name"], s["kind"]) for s in symbols["added"]}
    removed = {(s["file"], s["parent"], s["name"], s["kind"]) for s in symbols["removed"]}
    changed = {(s["file"], s["parent"], s["name"], s["kind"]): s for s in symbols["changed"]}
    assert ("pkg/core.py", None, "fresh", "function") in added
    assert ("pkg/core.py", None, "gone", "function") in removed
    run = changed[("pkg/core.py", "Engine", "run", "method")]
    assert run["change"] == "signature" and "force" in run["now"]
    assert ("pkg/core.py", None, "keep", "function") not in changed  # moved down, body unchanged
    # The renamed file: only the edited helper changed, nothing added or removed.
    assert [s["name"] for s in symbols["changed"] if s["file"] == "pkg/helpers.py"] == ["helper_3"]
    assert not [s for s in symbols["added"] + symbols["removed"] if "helper" in s["name"]]
    fresh = next(s for s in symbols["added"] if s["name"] == "fresh")
    assert fresh["line"] == CORE_V2.splitlines().index("def fresh(y):") + 1


def test_affected_tests_and_manifest_changes(tmp_path: Path) -> None:
    repo, _, _ = build(tmp_path)
    payload = generate(repo)
    assert {"test": "tests/test_core.py", "because": "pkg/core.py", "evidence": ["imports", "naming"],
            "via": []} in payload["affected_tests"]  # fmt: skip
    assert all(t["test"] != "tests/test_other.py" for t in payload["affected_tests"])
    (manifest,) = payload["manifest_changes"]
    assert manifest["manifest"] == "pyproject.toml"
    assert [d["name"] for d in manifest["added"]] == ["httpx"]
    assert manifest["removed"] == []
    assert manifest["changed"] == [{"name": "requests", "group": "runtime", "from": ">=2.0", "to": ">=2.31"}]
    text = payload["text"]
    assert text.startswith("Rework the engine\n")
    assert "fresh" in text and "tests/test_core.py" in text and "requests >=2.0 → >=2.31" in text


def test_base_commit_param_vs_first_parent(tmp_path: Path) -> None:
    repo, base, _ = build(tmp_path)
    write(repo, {"pkg/core.py": CORE_V2 + "\n\ndef later():\n    return 3\n"})
    commit(repo, "later")
    default = generate(repo)
    assert default["base_commit"] == git(repo, "rev-parse", "HEAD~1").strip()
    assert [f["path"] for f in default["files"]] == ["pkg/core.py"]
    planned = generate(repo, {"base_commit": base})
    assert planned["base_commit"] == base
    assert "pyproject.toml" in {f["path"] for f in planned["files"]}
    assert set(numstat(repo, base, "HEAD")) == {f["path"] for f in planned["files"]}
    assert {s["name"] for s in planned["symbols"]["added"]} >= {"fresh", "later"}


def test_root_commit_against_empty_tree(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "root", {"a.py": "def one():\n    return 1\n", "b.txt": "x\ny\nz\n"})
    payload = generate(repo)
    assert payload["base_commit"] is None
    files = {f["path"]: f for f in payload["files"]}
    assert files["a.py"] == {"path": "a.py", "old_path": None, "change": "added", "added_lines": 2,
                             "removed_lines": 0, "binary": False}  # fmt: skip
    assert files["b.txt"]["added_lines"] == 3
    assert [s["name"] for s in payload["symbols"]["added"]] == ["one"]
    assert payload["author"] == "Test Author <author@example.com>" and payload["subject"] == "initial"


def test_deterministic_cached_and_capped(tmp_path: Path) -> None:
    repo, _, _ = build(tmp_path)
    cache = CountingCache()
    first = generate(repo, cache=cache)
    computed = cache.computed
    assert computed > 0
    assert generate(repo, cache=cache) == first == generate(repo)
    assert cache.computed == computed  # every blob's symbols came from the cache
    capped = generate(repo, {"max_files": 2})
    assert len(capped["files"]) == 2 and capped["truncated"] == first["totals"]["files"] - 2
    assert "not analysed" in capped["text"]


def test_deleted_source_affects_its_test_and_bad_base_fails(tmp_path: Path) -> None:
    repo, _, _ = build(tmp_path)
    (repo / "pkg/core.py").unlink()
    commit(repo, "drop core")
    payload = generate(repo)
    assert payload["files"][0]["change"] == "deleted"
    assert {
        "test": "tests/test_core.py",
        "because": "pkg/core.py",
        "evidence": ["imports", "naming"],
        "via": [],
    } in payload["affected_tests"]  # still imports the module the commit removed
    assert {s["name"] for s in payload["symbols"]["removed"]} == {"keep", "Engine", "run", "fresh"}
    with pytest.raises(PermanentError):
        generate(repo, {"base_commit": "0" * 40})


def test_tests_reached_through_imports_keep_their_shortest_chain(tmp_path: Path) -> None:
    """A test importing `app.api`, which imports `app.db.models`, is affected by a change to the models
    although no name points at it; an unrelated test is not; JS relative imports count the same."""
    repo = make_repo(
        tmp_path / "layers",
        {
            "app/__init__.py": "",
            "app/db/__init__.py": "",
            "app/db/models.py": "class User:\n    name = 'a'\n",
            "app/api.py": "from app.db.models import User\n\n\ndef get():\n    return User()\n",
            "app/cli.py": "from . import api\n\n\ndef main():\n    return api.get()\n",
            "app/other.py": "def unrelated():\n    return 0\n",
            "tests/test_endpoints.py": "from app.api import get\n\n\ndef test_get():\n    assert get()\n",
            "tests/test_commands.py": "from app import cli\n\n\ndef test_main():\n    assert cli.main()\n",
            "tests/test_other.py": "from app.other import unrelated\n\n\ndef test_u():\n    assert not unrelated()\n",
            "web/src/format.ts": "export const fmt = (s: string) => s.trim();\n",
            "web/src/view.ts": "import { fmt } from './format';\nexport const view = () => fmt(' a ');\n",
            "web/test/view.test.ts": "import { view } from '../src/view';\ntest('v', () => view());\n",
        },
    )
    write(
        repo,
        {"app/db/models.py": "class User:\n    name = 'b'\n", "web/src/format.ts": "export const fmt = 1;\n"},
    )
    commit(repo, "models and format")
    cache = CountingCache()
    affected = {(t["test"], t["because"]): t for t in generate(repo, cache=cache)["affected_tests"]}
    assert affected[("tests/test_endpoints.py", "app/db/models.py")]["via"] == ["app/api.py"]
    assert affected[("tests/test_commands.py", "app/db/models.py")]["via"] == ["app/cli.py", "app/api.py"]
    assert affected[("web/test/view.test.ts", "web/src/format.ts")] == {
        "test": "web/test/view.test.ts", "because": "web/src/format.ts", "evidence": ["imports"],
        "via": ["web/src/view.ts"],
    }  # fmt: skip
    assert not [key for key in affected if key[0] == "tests/test_other.py"]

    # The import extracts are cached per blob: the next one-file commit reads only that file's imports.
    def import_extracts() -> int:
        return sum(1 for kinds in cache.store.values() if any(k.startswith("imports:") for k in kinds))

    before = import_extracts()
    write(repo, {"app/other.py": "def unrelated():\n    return 1\n"})
    commit(repo, "other")
    again = generate(repo, cache=cache)
    assert import_extracts() == before + 1  # app/other.py's new blob, nothing else re-read
    assert [(t["test"], t["evidence"]) for t in again["affected_tests"]] == [
        ("tests/test_other.py", ["imports", "naming"])
    ]


def test_a_secret_quoted_in_the_message_is_not_stored(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "s", {"a.py": "x = 1\n"})
    write(repo, {"a.py": "x = 2\n"})
    commit(repo, 'Rotate keys\n\nold value was SECRET_KEY = "django-insecure-9z!x" (now from env)\n')
    payload = generate(repo)
    assert "django-insecure" not in json.dumps(payload) and "SECRET_KEY = ***" in payload["message"]
