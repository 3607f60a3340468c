"""A broker restart and a database restart in the middle of a run: no job lost, none stuck.

Every test here runs on private Redis and Postgres servers of its own (free ports, data in
temporary directories): the machine's shared services are never stopped or restarted.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from sqlalchemy import select

from tests.integration.conftest import Cluster, until
from tests.support import services
from tests.support.factories import add_job
from warmer.ledger.models import Job, JobStatus, Repository

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("cluster", ["private"], indirect=True)]
JOBS = 16


def _statuses(cluster: Cluster) -> Counter[JobStatus]:
    with cluster.db.session() as session:
        return Counter(session.execute(select(Job.status)).scalars())


def _start_run(cluster: Cluster, repo: Repository, head: str) -> tuple[list[int], int]:
    worker = cluster.worker("a", concurrency=2)
    ids = [
        add_job(cluster.db, repo, commit=head, artifact_type="test_sleep", params={"seconds": 0.6, "n": i})
        for i in range(JOBS)
    ]
    cluster.publish(ids)
    until(lambda: _statuses(cluster)[JobStatus.COMPLETED] >= 2, 30, "the run to be under way")
    return ids, worker.health_port  # type: ignore[attr-defined]


def _all_completed(cluster: Cluster) -> bool:
    return _statuses(cluster)[JobStatus.COMPLETED] == JOBS


def test_redis_restart_mid_run(cluster: Cluster, repo_in_ledger: tuple[Repository, str]) -> None:
    assert cluster.redis is not None
    repo, head = repo_in_ledger
    _ids, port = _start_run(cluster, repo, head)
    try:
        cluster.redis.stop()  # no persistence: every queued message is gone
        _code, body = until(
            lambda: (r := services.health(port))[0] == 503 and r, 30, "health to report the outage"
        )  # type: ignore[misc]
        assert body["status"] == "unhealthy" and "broker unreachable" in str(body["reason"])
        time.sleep(2)
    finally:
        cluster.redis.start()  # same port, empty, a new run_id
    until(lambda: _all_completed(cluster), 90, f"all jobs to complete after the restart\n{cluster.logs()}")
    assert services.health(port)[0] == 200
    assert "re-publishing" in cluster.logs(tail=None)  # the leader noticed the broker had lost its messages
    assert _statuses(cluster) == Counter({JobStatus.COMPLETED: JOBS})


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgres_restart_mid_run(
    cluster: Cluster, repo_in_ledger: tuple[Repository, str], mode: str
) -> None:
    """`fast` is a clean shutdown; `immediate` stops every server process at once, as a crash does,
    and the restart replays the WAL (transitions committed without waiting for it may be lost)."""
    assert cluster.postgres is not None
    repo, head = repo_in_ledger
    _ids, port = _start_run(cluster, repo, head)
    try:
        cluster.postgres.stop(mode)
        _code, body = until(
            lambda: (r := services.health(port))[0] == 503 and r, 30, "health to report the outage"
        )  # type: ignore[misc]
        assert body["status"] == "unhealthy" and "database unreachable" in str(body["reason"])
        assert body["queue_depth"] is None  # unknown while the ledger is away, not a made-up zero
        time.sleep(3)
    finally:
        cluster.postgres.start()
    until(lambda: _all_completed(cluster), 90, f"all jobs to complete after the restart\n{cluster.logs()}")
    until(lambda: services.health(port)[0] == 200, 30, "health to recover")
    with cluster.db.session() as session:
        rows = session.execute(select(Job.id, Job.attempts, Job.reclaims, Job.failures)).all()
    assert len(rows) == JOBS and all(r.failures == 0 for r in rows)


def test_a_worker_started_before_postgres_waits_for_it(
    cluster: Cluster, repo_in_ledger: tuple[Repository, str]
) -> None:
    """As Celery waits for its broker: the worker says it is waiting, its health says why, and it
    starts working when Postgres answers."""
    assert cluster.postgres is not None
    repo, head = repo_in_ledger
    job_id = add_job(cluster.db, repo, commit=head, artifact_type="test_sleep", params={"seconds": 0.1})
    cluster.postgres.stop()
    try:
        worker = cluster.worker("early", concurrency=1, wait=False)
        until(lambda: "waiting for the ledger database" in worker.log(), 60, f"the wait\n{worker.log()}")
        assert (
            "***" in worker.log() or "@" not in worker.log().split("waiting for the ledger database")[1][:80]
        )
        port = worker.health_port  # type: ignore[attr-defined]
        _code, body = until(lambda: (r := services.health(port))[0] == 503 and r, 30, "health to say why")  # type: ignore[misc]
        assert "database unreachable" in body["reason"]
        time.sleep(3)
        assert worker.process is not None and worker.process.poll() is None  # still waiting, not exited
    finally:
        cluster.postgres.start()
    until(lambda: "the ledger database answers after" in worker.log(), 60, worker.log())
    cluster.publish([job_id])
    until(lambda: _statuses(cluster)[JobStatus.COMPLETED] == 1, 60, f"the job to run\n{worker.log()}")
    assert "Traceback" not in worker.log()
