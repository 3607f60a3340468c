"""A push noted by `warmer commit` is planned by a running worker's leader when its window closes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.integration.conftest import Cluster, until
from tests.support.gitrepo import commit, write
from tests.support.services import ROOT
from warmer.ledger.models import CommitTrigger, CommitTriggerStatus, Job, JobStatus, Trigger

pytestmark = pytest.mark.integration
WARMER = str(Path(sys.executable).parent / "warmer")


def test_the_leader_plans_a_closed_window_and_workers_run_the_jobs(
    cluster: Cluster, small_repo: Path, tmp_path: Path
) -> None:
    config = tmp_path / "engineering_cache.yaml"
    config.write_text(
        "engineering_cache:\n  warmers:\n    on_connect:\n      artifacts: [repo_map]\n"
        "    on_commit:\n      debounce_seconds: 2\n      artifacts: [dependency_graph, recent_change_summary]\n"
    )
    env = {**os.environ, **cluster.env, "WARMER_CONFIG": str(config)}
    cluster.env["WARMER_CONFIG"] = str(config)
    cluster.worker("a")

    def cli(*args: str) -> str:
        done = subprocess.run([WARMER, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    cli("connect", str(small_repo), "--name", "small")
    write(small_repo, {"pyproject.toml": '[project]\nname = "small"\ndependencies = ["requests>=2"]\n'})
    head = commit(small_repo, "declare a dependency")
    noted_at = time.monotonic()
    assert "noted" in cli("commit", "small")

    def planned() -> list[Job]:
        with cluster.db.session() as session:
            rows = session.execute(select(Job).where(Job.trigger == Trigger.COMMIT)).scalars().all()
            session.expunge_all()
            return list(rows)

    jobs = until(lambda: planned(), 30, "the leader to plan the commit")
    assert time.monotonic() - noted_at >= 1.5  # not before the debounce window closed
    # on_commit's two, and repo_map (a connect artifact kept fresh: keep_all_fresh, the default).
    planned_types = {job.artifact_type for job in jobs}  # type: ignore[union-attr]
    assert planned_types == {"dependency_graph", "recent_change_summary", "repo_map"}
    assert all(job.commit == head and job.priority == 0 for job in jobs)  # type: ignore[union-attr]
    until(
        lambda: {j.artifact_type: j.status for j in planned()}.get("dependency_graph") == JobStatus.COMPLETED,
        60, "the dependency graph to be refreshed",
    )  # fmt: skip
    with cluster.db.session() as session:
        trigger = session.execute(select(CommitTrigger)).scalar_one()
    assert trigger.status == CommitTriggerStatus.PLANNED and "manifests: pyproject.toml" in (
        trigger.detail or ""
    )
