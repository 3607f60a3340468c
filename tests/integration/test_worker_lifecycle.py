"""Real `celery -A warmer worker` processes on the local Postgres and Redis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.integration.conftest import Cluster, until
from tests.support import services
from tests.support.factories import add_job, job
from tests.support.services import ROOT
from warmer.ledger import queries
from warmer.ledger.models import Job, JobEvent, JobStatus, Repository, Trigger

pytestmark = pytest.mark.integration
WARMER = str(Path(sys.executable).parent / "warmer")


def status_of(cluster: Cluster, job_id: int) -> JobStatus:
    return job(cluster.db, job_id).status


def runs(path: Path) -> list[tuple[str, str, int, float]]:
    """(what, tag, pid, time) lines written by the test_sleep generator."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        what, tag, pid, at = line.split(" ")
        rows.append((what, tag, int(pid), float(at)))
    return rows


def cli(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [WARMER, *args], capture_output=True, text=True, timeout=120,
        env={**os.environ, **cluster.env, "COLUMNS": "200"}, cwd=ROOT,
    )  # fmt: skip


def test_connect_runs_repo_map_through_a_worker_and_get_hits(cluster: Cluster, click_corpus: Path) -> None:
    cluster.worker("a")
    done = cli(cluster, "connect", str(click_corpus), "--name", "click")
    assert done.returncode == 0, done.stderr
    assert "7 job(s) queued" in done.stdout and "published 7 messages" in done.stdout
    with cluster.db.session() as session:
        ids = list(session.execute(select(Job.id).order_by(Job.id)).scalars())
    # embedding_index runs the real model in a forked pool process: about a minute for click here.
    until(
        lambda: all(status_of(cluster, i) in (JobStatus.COMPLETED, JobStatus.FAILED) for i in ids),
        240,
        "jobs done",
    )
    with cluster.db.session() as session:
        outcomes = dict(session.execute(select(Job.artifact_type, Job.status)).all())
        repo_map = session.execute(select(Job).where(Job.artifact_type == "repo_map")).scalar_one()
        history = [(e.from_status, e.to_status) for e in queries.events(session, repo_map.id)]
    assert set(outcomes.values()) == {JobStatus.COMPLETED}, outcomes
    assert repo_map.status == JobStatus.COMPLETED and repo_map.trigger == Trigger.CONNECT
    assert history == [
        (None, JobStatus.QUEUED),
        (JobStatus.QUEUED, JobStatus.CLAIMED),
        (JobStatus.CLAIMED, JobStatus.RUNNING),
        (JobStatus.RUNNING, JobStatus.COMPLETED),
    ]
    log = cluster.workers[0].log()
    assert "INFO worker_cache_warmer: starting cache warmer worker concurrency=2" in log
    assert "INFO worker_cache_warmer: polling for warmer jobs" in log
    assert f"INFO worker_cache_warmer: claimed job job_id={repo_map.id} artifact_type=repo_map" in log
    got = cli(cluster, "get", "click", "repo_map", "--task-type", "explain")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["payload"]["top_modules"][0]["path"] == "click"

    # A manual full warming through `celery call`, as documented.
    call = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "warmer", "call", "warmer.full_warming", "--args", '["click"]'],
        capture_output=True, text=True, env={**os.environ, **cluster.env}, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert call.returncode == 0, call.stderr

    def manual_jobs_done() -> bool:
        with cluster.db.session() as session:
            rows = session.execute(select(Job.status).where(Job.trigger == Trigger.MANUAL)).scalars().all()
        return len(rows) == 7 and all(s in (JobStatus.COMPLETED, JobStatus.FAILED) for s in rows)

    until(manual_jobs_done, 60, "the manual full warming to finish")


def test_kill9_mid_job_is_reclaimed_and_completed_by_another_worker(
    cluster: Cluster, repo_in_ledger: tuple[Repository, str], tmp_path: Path
) -> None:
    repo, head = repo_in_ledger
    runs_file = tmp_path / "runs.txt"
    doomed = cluster.worker("doomed", concurrency=1)
    job_id = add_job(cluster.db, repo, commit=head, artifact_type="test_sleep",
                     params={"seconds": 3, "runs_file": str(runs_file), "tag": "j"})  # fmt: skip
    cluster.publish([job_id])
    until(lambda: status_of(cluster, job_id) == JobStatus.RUNNING, 30, "the job to run")
    assert job(cluster.db, job_id).worker_id.split("-")[1] == str(doomed.pid)  # type: ignore[union-attr]
    survivor = cluster.worker("survivor", concurrency=1)
    killed_at = time.time()
    doomed.kill9()
    until(lambda: len([r for r in runs(runs_file) if r[0] == "start"]) == 2, 30, "the job to start again")
    restarted_after = runs(runs_file)[-1][3] - killed_at
    until(lambda: status_of(cluster, job_id) == JobStatus.COMPLETED, 30, "the job to complete")
    row = job(cluster.db, job_id)
    assert row.reclaims == 1 and row.failures == 0 and row.attempts == 2
    assert row.worker_id.split("-")[1] == str(survivor.pid)  # type: ignore[union-attr]
    # Never two runs at once: the second start comes after the first process died.
    starts = [r for r in runs(runs_file) if r[0] == "start"]
    assert starts[1][3] > killed_at and starts[0][2] != starts[1][2]
    # Recovered through the vanished lock session, well before the 20 s stale threshold.
    assert restarted_after < 10, restarted_after
    with cluster.db.session() as session:
        details = [e.detail or "" for e in queries.events(session, job_id)]
    assert any("no session has held the job's lock" in d for d in details), details


def test_a_main_process_killed_alone_takes_its_pool_processes_with_it(
    cluster: Cluster, repo_in_ledger: tuple[Repository, str], tmp_path: Path
) -> None:
    """kill -9 of the main process only: its pool process, mid-job, does not live on as an orphan
    holding the job's lock (billiard's pool process exits when its parent's pipe closes), which
    would make the job wait out the stale threshold (20 s here, 120 s by default)."""
    repo, head = repo_in_ledger
    runs_file = tmp_path / "runs.txt"
    doomed = cluster.worker("doomed", concurrency=1)
    (child,) = doomed.pool_pids()
    job_id = add_job(cluster.db, repo, commit=head, artifact_type="test_sleep",
                     params={"seconds": 30, "runs_file": str(runs_file), "tag": "j"})  # fmt: skip
    cluster.publish([job_id])
    until(lambda: status_of(cluster, job_id) == JobStatus.RUNNING, 30, "the job to run")
    cluster.worker("survivor", concurrency=1)
    killed_at = time.time()
    os.kill(doomed.pid, signal.SIGKILL)
    until(lambda: not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2],
          5, "the orphaned pool process to die")  # fmt: skip
    until(lambda: len([r for r in runs(runs_file) if r[0] == "start"]) == 2, 30, "the job to start again")
    assert runs(runs_file)[-1][3] - killed_at < 10  # through the closed lock session, not the stale threshold


def test_a_hung_worker_is_fenced_and_its_job_completed_once_elsewhere(
    cluster: Cluster, repo_in_ledger: tuple[Repository, str], tmp_path: Path
) -> None:
    """SIGSTOP keeps the hung worker's connections (and its locks) open: only the stale heartbeat
    tells. Leadership passes on by lease, the reaper ends the hung session, another worker runs the
    job; when the hung worker resumes, nothing it does counts."""
    repo, head = repo_in_ledger
    runs_file = tmp_path / "runs.txt"
    fast = {"KEEPTRUSTS_CACHE_WARMER_STALE_THRESHOLD_SECS": "4"}
    hung = cluster.worker("hung", concurrency=1, **fast)
    until(lambda: "took leadership" in hung.log(), 20, "the first worker to lead")
    job_id = add_job(cluster.db, repo, commit=head, artifact_type="test_sleep",
                     params={"seconds": 2, "runs_file": str(runs_file), "tag": "h"})  # fmt: skip
    cluster.publish([job_id])
    until(lambda: status_of(cluster, job_id) == JobStatus.RUNNING, 30, "the job to run")
    os.killpg(hung.pid, signal.SIGSTOP)
    try:
        rescuer = cluster.worker("rescuer", concurrency=1, **fast)
        until(
            lambda: status_of(cluster, job_id) == JobStatus.COMPLETED,
            60,
            f"completion elsewhere\n{cluster.logs()}",
        )
        assert "ended database session" in rescuer.log()
    finally:
        os.killpg(hung.pid, signal.SIGCONT)
    time.sleep(3)  # the hung worker resumes and finishes its sleep: its completion must not count
    row = job(cluster.db, job_id)
    assert row.status == JobStatus.COMPLETED and row.reclaims == 1
    assert row.worker_id.split("-")[1] == str(rescuer.pid)  # type: ignore[union-attr]
    with cluster.db.session() as session:
        finishes = [e for e in queries.events(session, job_id) if e.to_status == JobStatus.COMPLETED]
    assert len(finishes) == 1 and finishes[0].actor == row.worker_id


def test_a_job_running_past_its_timeout_fails_with_a_clear_error(
    cluster: Cluster, repo_in_ledger: tuple[Repository, str]
) -> None:
    repo, head = repo_in_ledger
    cluster.worker(
        "a", KEEPTRUSTS_CACHE_WARMER_JOB_TIMEOUT_SECS="0.5", KEEPTRUSTS_CACHE_WARMER_MAX_RETRIES="0"
    )
    job_id = add_job(cluster.db, repo, commit=head, artifact_type="test_sleep", params={"seconds": 5})
    cluster.publish([job_id])
    until(lambda: status_of(cluster, job_id) == JobStatus.FAILED, 30, "the job to time out")
    assert "timed out after 0.5s (JOB_TIMEOUT_SECS)" in (job(cluster.db, job_id).error or "")


def test_a_duplicated_message_runs_once(
    cluster: Cluster, repo_in_ledger: tuple[Repository, str], tmp_path: Path
) -> None:
    repo, head = repo_in_ledger
    runs_file = tmp_path / "runs.txt"
    cluster.worker("a", concurrency=2)
    cluster.worker("b", concurrency=2)
    job_id = add_job(cluster.db, repo, commit=head, artifact_type="test_sleep",
                     params={"seconds": 1, "runs_file": str(runs_file), "tag": "dup"})  # fmt: skip
    cluster.publish([job_id] * 5)  # five deliveries of one job, to four free processes
    until(lambda: status_of(cluster, job_id) == JobStatus.COMPLETED, 30, "completion")
    # Every delivery is handled (four are refused), and the job still ran once.
    until(lambda: cluster.logs(tail=None).count("succeeded in") == 5, 30, f"five outcomes\n{cluster.logs()}")
    assert [r[0] for r in runs(runs_file)] == ["start", "end"]
    assert job(cluster.db, job_id).attempts == 1


def test_failing_generator_retries_then_fails_and_requeue_completes(
    cluster: Cluster, repo_in_ledger: tuple[Repository, str], tmp_path: Path
) -> None:
    repo, head = repo_in_ledger
    flag, runs_file = tmp_path / "succeed-now", tmp_path / "runs.txt"
    cluster.worker("a", KEEPTRUSTS_CACHE_WARMER_MAX_RETRIES="2")
    job_id = add_job(cluster.db, repo, commit=head, artifact_type="test_flaky",
                     params={"succeed_when_exists": str(flag), "runs_file": str(runs_file)})  # fmt: skip
    cluster.publish([job_id])
    until(lambda: status_of(cluster, job_id) == JobStatus.FAILED, 30, "the job to fail for good")
    row = job(cluster.db, job_id)
    assert (row.attempts, row.failures) == (3, 3)  # first run + MAX_RETRIES=2 retries
    assert "RuntimeError: flaky generator failed on purpose" in (row.error or "")
    time.sleep(1.5)
    assert status_of(cluster, job_id) == JobStatus.FAILED  # never retried automatically
    assert len(runs(runs_file)) == 3
    flag.touch()
    done = cli(cluster, "requeue", str(job_id))
    assert done.returncode == 0 and "published 1 messages" in done.stdout, done.stderr
    until(lambda: status_of(cluster, job_id) == JobStatus.COMPLETED, 30, "completion after requeue")
    with cluster.db.session() as session:
        moves = [(e.from_status, e.to_status) for e in queries.events(session, job_id)]
    assert moves.count((JobStatus.RUNNING, JobStatus.QUEUED)) == 2
    assert (JobStatus.FAILED, JobStatus.QUEUED) in moves and moves[-1] == (
        JobStatus.RUNNING,
        JobStatus.COMPLETED,
    )


def test_health_figures_match_the_ledger(cluster: Cluster, repo_in_ledger: tuple[Repository, str]) -> None:
    repo, head = repo_in_ledger
    worker = cluster.worker("a", concurrency=2)
    port = worker.health_port  # type: ignore[attr-defined]
    assert services.health(port) == (200, {"status": "healthy", "active_jobs": 0, "queue_depth": 0})
    ids = [add_job(cluster.db, repo, commit=f"{i:040x}" if i else head, artifact_type="test_sleep",
                   params={"seconds": 4, "n": i}) for i in range(5)]  # fmt: skip
    for i in ids:  # all on the same, real commit
        with cluster.db.session() as session:
            session.get(Job, i).commit = head  # type: ignore[union-attr]
    cluster.publish(ids)

    def two_running() -> bool:
        with cluster.db.session() as session:
            return (
                session.execute(select(func.count()).where(Job.status == JobStatus.RUNNING)).scalar_one() == 2
            )

    until(two_running, 30, "two jobs running")
    code, body = services.health(port)
    with cluster.db.session() as session:
        queued = session.execute(select(func.count()).where(Job.status == JobStatus.QUEUED)).scalar_one()
    assert code == 200 and body == {"status": "healthy", "active_jobs": 2, "queue_depth": queued}
    assert queued == 3
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as response:
        assert response.headers["Content-Type"] == "application/json"
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/nope", timeout=10)
    assert missing.value.code == 404


def test_one_leader_among_workers_and_instances_are_recorded(cluster: Cluster) -> None:
    a = cluster.worker("a")
    b = cluster.worker("b")
    until(lambda: "took leadership" in a.log() + b.log(), 20, "a leader")
    time.sleep(2)
    assert (a.log() + b.log()).count("took leadership") == 1
    with cluster.db.session() as session:
        views = queries.instances(session, cluster.db.now(), 20)
    assert sorted(v.pid for v in views) == sorted([a.pid, b.pid])
    assert all(v.concurrency == 2 and not v.stale for v in views)
    a.stop()
    with cluster.db.session() as session:
        assert [v.pid for v in queries.instances(session, cluster.db.now(), 20)] == [b.pid]
    until(lambda: "took leadership" in b.log(), 20, "b to take over")


def test_a_restarted_worker_is_a_new_instance(cluster: Cluster) -> None:
    first = cluster.worker("a")
    first.stop()
    cluster.worker("a")
    with cluster.db.session() as session:
        views = queries.instances(session, cluster.db.now(), 20, include_stopped=True)
        events = session.execute(select(func.count()).select_from(JobEvent)).scalar_one()
    assert len({v.id for v in views}) == 2 and events == 0
    assert sum(v.stopped_at is not None for v in views) == 1


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KEEPTRUSTS_CACHE_WARMER_CONCURRENCY": "lots"}, "KEEPTRUSTS_CACHE_WARMER_CONCURRENCY: input should be a valid integer"),
        ({"KEEPTRUSTS_CACHE_WARMER_POLL_INTERVAL_SECS": "0"}, "KEEPTRUSTS_CACHE_WARMER_POLL_INTERVAL_SECS: input should be greater than 0"),
        ({"KEEPTRUSTS_CACHE_WARMER_JOB_TIMEOUT_SECS": "inf"}, "KEEPTRUSTS_CACHE_WARMER_JOB_TIMEOUT_SECS: input should be a finite number (got 'inf'); allowed: a finite number > 0 and <= 604800"),
        ({"CELERY_BROKER_URL": "nope://x"}, "CELERY_BROKER_URL='nope://x': unknown scheme 'nope'"),
        ({"DATABASE_URL": "postgresql://u:pw@h:port/db"}, "DATABASE_URL='postgresql://u:***@h:port/db': not a database URL"),
        ({"WARMER_CONFIG": "/nowhere/c.yaml"}, "WARMER_CONFIG='/nowhere/c.yaml': no such file"),
    ],
)  # fmt: skip
def test_bad_config_stops_the_worker_with_one_clear_line(
    cluster: Cluster, env: dict[str, str], message: str
) -> None:
    worker = cluster.worker("bad", wait=False, **env)
    assert worker.process is not None
    assert worker.process.wait(timeout=60) != 0
    assert f"warmer: invalid configuration: {message}" in worker.log()
    assert "Traceback" not in worker.log()


def test_a_worker_refuses_an_unmigrated_database(cluster: Cluster, tmp_path: Path) -> None:
    from tests.support.services import create_database, database_url, drop_database

    name = create_database()
    try:
        worker = cluster.worker("old", wait=False, DATABASE_URL=database_url(name))
        assert worker.process is not None and worker.process.wait(timeout=60) != 0
        assert "warmer: cannot start: database schema is at nothing" in worker.log()
        assert "run `warmer db upgrade`" in worker.log() and "Traceback" not in worker.log()
    finally:
        drop_database(name)


def test_concurrency_comes_from_the_documented_variable(cluster: Cluster) -> None:
    env = {k: v for k, v in cluster.env.items()}
    env["KEEPTRUSTS_CACHE_WARMER_CONCURRENCY"] = "3"
    worker_env = {
        **env,
        "KEEPTRUSTS_CACHE_WARMER_HEALTH_PORT": str(
            int(os.environ.get("WARMER_TEST_PORT_BASE", "18181")) + 818
        ),
        "PYTHONPATH": str(ROOT),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "warmer", "worker", "--without-mingle", "--without-gossip", "-l", "info"],
        cwd=ROOT, env={**os.environ, **worker_env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        lines = []
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "ready." in line:
                break
        text = "".join(lines)
        assert "concurrency: 3 (prefork)" in text
        assert "starting cache warmer worker concurrency=3" in text
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)
