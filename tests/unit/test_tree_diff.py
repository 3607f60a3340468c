"""tree_diff against git itself, on random histories; renames; and the cost following the change."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
from dulwich.repo import Repo

from tests.support.gitrepo import commit, git, make_repo
from warmer.git.diff import ChangeKind, tree_diff

_GIT_STATUS = {"A": ChangeKind.ADDED, "M": ChangeKind.MODIFIED, "D": ChangeKind.DELETED}


def _tree(repo: Path, rev: str) -> str:
    return git(repo, "rev-parse", f"{rev}^{{tree}}").strip()


def _git_name_status(repo: Path, old: str, new: str) -> set[tuple[ChangeKind, str]]:
    out = git(repo, "-c", "core.quotePath=false", "diff", "--no-renames", "--name-status", old, new)
    return {(_GIT_STATUS[line[0]], line.split("\t", 1)[1]) for line in out.splitlines() if line}


def _random_step(repo: Path, rng: random.Random, files: set[str]) -> None:
    """A handful of random edits: add, modify, delete, move, in nested directories."""
    for _ in range(rng.randint(1, 8)):
        action = rng.choice(["add", "add", "modify", "delete", "move", "delete_dir"])
        existing = sorted(files)
        if action == "add" or not existing:
            depth = rng.randint(0, 3)
            parts = [rng.choice(["a", "b", "c", "lib", "src", "ü dir"]) for _ in range(depth)]
            name = "/".join([*parts, f"f{rng.randint(0, 40)}.{rng.choice(['py', 'txt', 'js'])}"])
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_text(f"{name}\n" * rng.randint(1, 5))
            files.add(name)
        elif action == "modify":
            name = rng.choice(existing)
            (repo / name).write_text((repo / name).read_text() + f"edit {rng.random()}\n")
        elif action == "delete":
            name = rng.choice(existing)
            (repo / name).unlink()
            files.discard(name)
        elif action == "move":
            name = rng.choice(existing)
            target = f"moved/{rng.randint(0, 99)}-{Path(name).name}"
            if target not in files:
                (repo / target).parent.mkdir(parents=True, exist_ok=True)
                (repo / name).rename(repo / target)
                files.discard(name)
                files.add(target)
        else:  # delete a whole directory
            dirs = sorted({str(Path(f).parent) for f in existing if "/" in f})
            if dirs:
                gone = rng.choice(dirs)
                for name in [f for f in existing if f.startswith(gone + "/")]:
                    (repo / name).unlink()
                    files.discard(name)


@pytest.mark.parametrize("seed", range(25))
def test_changed_paths_equal_git_diff_name_status(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    repo = make_repo(tmp_path / "r", {"README.md": "r\n", "src/app.py": "x = 1\n"})
    files = {"README.md", "src/app.py"}
    shas = [git(repo, "rev-parse", "HEAD").strip()]
    for step in range(4):
        _random_step(repo, rng, files)
        shas.append(commit(repo, f"step {step}"))
    dulwich_repo = Repo(str(repo))
    for old, new in [(shas[0], shas[-1]), *itertools.pairwise(shas)]:
        ours = {
            (c.kind, c.path)
            for c in tree_diff(dulwich_repo, _tree(repo, old), _tree(repo, new), renames=False)
        }
        assert ours == _git_name_status(repo, old, new), (seed, old, new)


def test_renames_and_the_empty_tree(tmp_path: Path) -> None:
    body = "".join(f"line {i}\n" for i in range(40))
    repo = make_repo(tmp_path / "r", {"old/name.py": body, "keep.txt": "k\n"})
    first = git(repo, "rev-parse", "HEAD").strip()
    (repo / "new").mkdir()
    git(repo, "mv", "old/name.py", "new/name.py")
    (repo / "new/name.py").write_text(body + "one more line\n")
    second = commit(repo, "rename with an edit")
    dulwich_repo = Repo(str(repo))
    (change,) = tree_diff(dulwich_repo, _tree(repo, first), _tree(repo, second))
    assert (change.kind, change.old_path, change.path) == (ChangeKind.RENAMED, "old/name.py", "new/name.py")
    assert change.paths == ("old/name.py", "new/name.py") and change.old_blob != change.new_blob
    assert "R" in git(repo, "diff", "-M", "--name-status", first, second)  # git agrees it is a rename
    everything = tree_diff(dulwich_repo, None, _tree(repo, first))
    assert [(c.kind, c.path) for c in everything] == [
        (ChangeKind.ADDED, "keep.txt"),
        (ChangeKind.ADDED, "old/name.py"),
    ]


class _CountingStore:
    """An object store that counts what a diff had to read."""

    def __init__(self, store: object) -> None:
        self.store = store
        self.reads = 0

    def __getitem__(self, key: bytes) -> object:
        self.reads += 1
        return self.store[key]  # type: ignore[index]

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)


@pytest.mark.parametrize("width", [5, 60])
def test_the_cost_follows_the_change_not_the_repository(tmp_path: Path, width: int) -> None:
    files = {
        f"pkg{i}/sub{j}/mod{k}.py": f"v = {i}{j}{k}\n"
        for i in range(width)
        for j in range(3)
        for k in range(3)
    }
    repo = make_repo(tmp_path / "r", files)
    first = git(repo, "rev-parse", "HEAD").strip()
    (repo / "pkg1/sub2/mod0.py").write_text("v = 'changed'\n")
    second = commit(repo, "one file")
    dulwich_repo = Repo(str(repo))
    counting = _CountingStore(dulwich_repo.object_store)
    dulwich_repo.object_store = counting  # type: ignore[assignment]
    (change,) = tree_diff(dulwich_repo, _tree(repo, first), _tree(repo, second), renames=False)
    assert change.path == "pkg1/sub2/mod0.py"
    # Two roots, two `pkg1` trees, two `sub2` trees: six reads, whether the repo has 45 files or 540.
    assert counting.reads == 6, (width, len(files), counting.reads)
