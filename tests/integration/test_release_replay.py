"""Real history through the real commit trigger and a real worker on Postgres: every served
artifact equals a from-scratch build after every commit.

Each project's history is its last RELEASES sdists from PyPI committed in order, so each commit
is a real release-to-release change (files added, modified, renamed and deleted as upstream did).
The first is connected with `warmer connect`, each later one pushed with `warmer commit` (the
CLI plans at once with debounce 0 and publishes to Redis); a 2-process worker runs the jobs. After
each commit every one of the nine artifact types the branch serves is compared with a fresh build
of the commit in an empty SQLite ledger, in this process (embedding_index by its chunk list and by
each chunk's vector, within int8 quantization's noise). The fresh builds embed through a memo of
the real model, so a release's unchanged texts are not run through it again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.integration.conftest import Cluster, until
from tests.support.corpora import pypi_sdist, pypi_versions
from tests.support.embedding import RecordingEmbedder
from tests.support.gitrepo import commit, git
from tests.support.replay import ALL_SERVED, assert_serves_a_fresh_build, replay_config
from tests.support.services import ROOT
from warmer.artifacts import embeddings
from warmer.artifacts.embeddings.models import embedder_from_env
from warmer.ledger.models import Job, JobStatus

pytestmark = pytest.mark.integration
WARMER = str(Path(sys.executable).parent / "warmer")
RELEASES = int(os.environ.get("WARMER_TEST_RELEASES", "31"))  # fewer for a quick local try
# Project → the artifact types its releases never change (cachetools declares no routes); the
# flask-cors history changes all nine, so every type is proven refreshed by some commit.
PROJECTS = {"cachetools": {"api_inventory"}, "flask-cors": set()}
_ACTIVE = (JobStatus.QUEUED, JobStatus.CLAIMED, JobStatus.RUNNING)


def _check_out(repo: Path, project: str, version: str) -> None:
    """The working tree becomes the release's sdist, as upstream shipped it."""
    for child in repo.iterdir():
        if child.name != ".git":
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    source = pypi_sdist(project, version)
    ignored = shutil.ignore_patterns("__pycache__", "*.pyc", ".git")
    shutil.copytree(source, repo, ignore=ignored, symlinks=True, dirs_exist_ok=True)


def _settled(cluster: Cluster, head: str) -> bool:
    """Every job is done and the head's have been planned."""
    with cluster.db.session() as session:
        active = session.execute(select(func.count()).where(Job.status.in_(_ACTIVE))).scalar_one()
        at_head = session.execute(select(func.count()).where(Job.commit == head)).scalar_one()
    return active == 0 and at_head > 0


@pytest.fixture(scope="module")
def fresh_embedder() -> RecordingEmbedder:
    """What the worker runs (the packaged model on ONNX Runtime, int8), behind a memo."""
    return RecordingEmbedder(embedder_from_env({}), {})


@pytest.mark.parametrize("project", PROJECTS)
def test_every_release_pushed_through_a_worker_serves_a_fresh_build(
    cluster: Cluster, tmp_path: Path, project: str, fresh_embedder: RecordingEmbedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    versions = pypi_versions(project)[-RELEASES:]
    assert len(versions) == RELEASES
    config = tmp_path / "replay.yaml"
    config.write_text(replay_config(ALL_SERVED))
    cluster.env["WARMER_CONFIG"] = str(config)
    cluster.worker("replay")
    env = {**os.environ, **cluster.env}
    monkeypatch.setattr(embeddings, "_default_embedder", fresh_embedder)

    def cli(*args: str) -> None:
        done = subprocess.run([WARMER, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
        assert done.returncode == 0, done.stderr

    repo = tmp_path / project
    repo.mkdir()
    git(repo, "init", "--quiet", "-b", "main")
    seen: dict[tuple[str, str], set[str]] = {}  # (artifact, path) → distinct served contents
    for index, version in enumerate(versions):
        _check_out(repo, project, version)
        head = commit(repo, f"{project} {version}")
        cli("connect", str(repo), "--name", project) if index == 0 else cli("commit", project)
        until(lambda: _settled(cluster, head), 600, f"the jobs of {project} {version}")  # noqa: B023
        with cluster.db.session() as session:
            failed = session.execute(
                select(Job.artifact_type, Job.error).where(Job.status == JobStatus.FAILED)
            ).all()
        assert failed == [], (version, failed, cluster.logs())
        full = assert_serves_a_fresh_build(
            cluster.db, repo, tmp_path, head, f"{project} {version}", set(ALL_SERVED), repo_name=project
        )
        for key, payload in full.items():
            seen.setdefault(key, set()).add(json.dumps(payload, sort_keys=True))

    # Not vacuous: across the history every artifact type its files can move served a new content.
    changed = {kind for (kind, _path), contents in seen.items() if len(contents) >= 2}
    assert changed == set(ALL_SERVED) - PROJECTS[project], sorted(set(ALL_SERVED) ^ changed)
