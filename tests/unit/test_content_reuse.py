"""Per-file results are content-addressed: identical content in another repository or branch is never
read again. Proven by counting the blobs every generator reads through the real job path."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.gitrepo import commit, git, write
from warmer.git.snapshot import Snapshot
from warmer.ledger.db import Database
from warmer.ledger.models import Job, JobStatus
from warmer.settings import Settings, load_settings
from warmer.triggers.connect import connect
from warmer.worker.inline import run_jobs

ARTIFACTS = ["repo_map", "symbol_index", "dependency_graph", "test_map", "api_inventory", "file_summary"]


@pytest.fixture
def blob_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Every blob any generator reads, counted: a read is a computation the cache did not spare."""
    reads: Counter[str] = Counter()
    original = Snapshot.read

    def counting(self: Snapshot, blob_id: str) -> bytes:
        reads[blob_id] += 1
        return original(self, blob_id)

    monkeypatch.setattr(Snapshot, "read", counting)
    yield reads


def _settings(tmp_path: Path, db: Database) -> Settings:
    config = tmp_path / "engineering_cache.yaml"
    config.write_text(
        f"engineering_cache:\n  warmers:\n    on_connect:\n      artifacts: [{', '.join(ARTIFACTS)}]\n"
    )
    return load_settings(
        {"WARMER_CONFIG": str(config), "WARMER_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": db.url}
    )


def _warm(db: Database, settings: Settings, source: Path, name: str, branch: str | None = None) -> None:
    done = connect(db, settings, str(source), name=name, branch=branch)
    assert done.planned is not None and len(done.planned.created) == len(ARTIFACTS)
    run_jobs(db, settings, [job.job_id for job in done.planned.created], "reuse-test")
    with db.session() as session:
        failed = session.execute(select(Job.error).where(Job.status == JobStatus.FAILED)).scalars().all()
    assert failed == []


def test_identical_content_elsewhere_is_never_recomputed(
    ledger: Database, click_corpus: Path, tmp_path: Path, blob_reads: Counter[str]
) -> None:
    settings = _settings(tmp_path, ledger)
    _warm(ledger, settings, click_corpus, "click")
    files = len(git(click_corpus, "ls-files").splitlines())
    assert len(blob_reads) == files  # every blob read at least once on the first connect

    # Another repository holding the same content: its connect reads nothing.
    fork = tmp_path / "fork"
    shutil.copytree(click_corpus, fork)
    write(fork, {"NOTICE.txt": "a fork of click\n"})
    commit(fork, "fork")
    blob_reads.clear()
    _warm(ledger, settings, fork, "click-fork")
    assert set(blob_reads) == {git(fork, "rev-parse", "HEAD:NOTICE.txt").strip()}

    # Another branch of it with one file changed: tracking that branch reads that file's new blob only.
    git(fork, "checkout", "--quiet", "-b", "feature")
    core = fork / "click" / "core.py"
    write(fork, {"click/core.py": core.read_text() + "\n\ndef added_on_a_branch():\n    return 42\n"})
    commit(fork, "a branch")
    blob_reads.clear()
    _warm(ledger, settings, fork, "click-fork", branch="feature")
    assert set(blob_reads) == {git(fork, "rev-parse", "feature:click/core.py").strip()}
