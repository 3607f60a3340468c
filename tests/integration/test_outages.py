"""A broker restart and a database restart in the middle of a run: no job lost, none stuck.

These stop and start the machine's own Redis and Postgres (with the commands
from the machine's documentation) and always start them again.
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

pytestmark = pytest.mark.integration
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
    repo, head = repo_in_ledger
    _ids, port = _start_run(cluster, repo, head)
    try:
        services.stop_redis()  # Redis here keeps nothing on disk: every queued message is gone
        _code, body = until(
            lambda: (r := services.health(port))[0] == 503 and r, 30, "health to report the outage"
        )  # type: ignore[misc]
        assert body["status"] == "unhealthy" and "broker unreachable" in str(body["reason"])
        time.sleep(2)
    finally:
        services.start_redis()
    until(lambda: _all_completed(cluster), 90, f"all jobs to complete after the restart\n{cluster.logs()}")
    assert services.health(port)[0] == 200
    assert "re-publishing" in cluster.logs(tail=None)  # the leader noticed the broker had lost its messages
    assert _statuses(cluster) == Counter({JobStatus.COMPLETED: JOBS})


def test_postgres_restart_mid_run(cluster: Cluster, repo_in_ledger: tuple[Repository, str]) -> None:
    repo, head = repo_in_ledger
    _ids, port = _start_run(cluster, repo, head)
    try:
        services.stop_postgres()
        _code, body = until(
            lambda: (r := services.health(port))[0] == 503 and r, 30, "health to report the outage"
        )  # type: ignore[misc]
        assert body["status"] == "unhealthy" and "database unreachable" in str(body["reason"])
        assert body["queue_depth"] is None  # unknown while the ledger is away, not a made-up zero
        time.sleep(3)
    finally:
        services.start_postgres()
    until(lambda: _all_completed(cluster), 90, f"all jobs to complete after the restart\n{cluster.logs()}")
    until(lambda: services.health(port)[0] == 200, 30, "health to recover")
    with cluster.db.session() as session:
        rows = session.execute(select(Job.id, Job.attempts, Job.reclaims, Job.failures)).all()
    assert len(rows) == JOBS and all(r.failures == 0 for r in rows)
