"""Every way a queued job's message can vanish, with real workers on private Redis and Postgres:
the leader notices from the ledger and the job runs, once.

A main process killed after taking a message leaves it in kombu's `unacked` for an hour (its
visibility timeout); a pool process killed before its claim has its message acked; a FLUSHALL
keeps Redis's run_id. None of them may leave a job stuck `queued`.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from tests.integration.conftest import Cluster, until
from tests.support import services
from tests.support.factories import add_job, job
from warmer.ledger import outbox
from warmer.ledger.db import utcnow
from warmer.ledger.models import ClusterState, JobStatus, Repository
from warmer.worker.leader import LEASE_KEY

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("cluster", ["private"], indirect=True)]


def _taken(cluster: Cluster) -> int:
    assert cluster.redis is not None
    return int(cluster.redis.client().hlen("unacked"))


def _stalled_worker(cluster: Cluster, name: str) -> services.Worker:
    """A worker whose only pool process is stopped: its main process will take one message, hand
    it to the stopped process, and nothing will claim the job."""
    worker = cluster.worker(name, concurrency=1)
    (child,) = worker.pool_pids()
    os.kill(child, signal.SIGSTOP)
    return worker


def test_a_main_process_killed_after_taking_a_message(
    cluster: Cluster, repo_in_ledger: tuple[Repository, str]
) -> None:
    repo, head = repo_in_ledger
    doomed = _stalled_worker(cluster, "doomed")
    job_id = add_job(cluster.db, repo, commit=head, artifact_type="test_sleep", params={"seconds": 0.2})
    cluster.publish([job_id])
    until(lambda: _taken(cluster) == 1, 30, "the doomed worker to take the message")
    killed_at = time.time()
    doomed.kill9()  # its message stays in `unacked`; kombu would restore it after an hour
    survivor = cluster.worker("survivor", concurrency=1)
    until(lambda: job(cluster.db, job_id).status == JobStatus.COMPLETED, 60, f"completion\n{cluster.logs()}")
    row = job(cluster.db, job_id)
    assert row.attempts == 1 and row.reclaims == 0  # it was never claimed before
    assert row.claimed_at is not None and row.claimed_at.timestamp() - killed_at < 30
    assert "taken by a consumer that never claimed" in survivor.log()
    until(lambda: _taken(cluster) == 0, 30, "the dead consumer's taken message to be dropped")


def test_a_pool_process_killed_while_holding_a_message_through_a_ledger_outage(
    cluster: Cluster, repo_in_ledger: tuple[Repository, str]
) -> None:
    """With the ledger away a pool process holds its message unclaimed (it cannot claim without
    the ledger); killed then, its main process acks the message (task_reject_on_worker_lost is
    False): the job is queued, marked published, and has no message anywhere."""
    assert cluster.postgres is not None and cluster.redis is not None
    repo, head = repo_in_ledger
    worker = cluster.worker("a", concurrency=1)
    until(lambda: "took leadership" in worker.log(), 20, "the worker to lead")
    job_id = add_job(cluster.db, repo, commit=head, artifact_type="test_sleep", params={"seconds": 0.2})
    with cluster.db.session() as session:
        outbox.mark_published(session, [job_id])  # its message is sent just below, with the ledger away
    cluster.postgres.stop()
    try:
        cluster.app.send_task("warmer.generate_artifact", args=[job_id], queue="warmer.connect", priority=3)
        until(
            lambda: f"holding job_id={job_id}" in worker.log(), 30, f"the message to be held\n{worker.log()}"
        )
        (child,) = worker.pool_pids()
        os.kill(child, signal.SIGKILL)
        until(lambda: _taken(cluster) == 0, 30, "the main process to ack the dead process's message")
        assert cluster.redis.client().keys("warmer.*") == []  # no message anywhere
    finally:
        cluster.postgres.start()
    until(lambda: job(cluster.db, job_id).status == JobStatus.COMPLETED, 60, f"completion\n{cluster.logs()}")
    assert job(cluster.db, job_id).attempts == 1
    assert "re-publishing 1 queued jobs whose messages are gone" in worker.log()


def test_a_flushall_mid_run(cluster: Cluster, repo_in_ledger: tuple[Repository, str]) -> None:
    assert cluster.redis is not None
    repo, head = repo_in_ledger
    cluster.worker("a", concurrency=2)
    ids = [
        add_job(cluster.db, repo, commit=head, artifact_type="test_sleep", params={"seconds": 0.3, "n": i})
        for i in range(30)
    ]
    cluster.publish(ids)
    until(lambda: sum(job(cluster.db, i).status == JobStatus.COMPLETED for i in ids) >= 2, 30, "the run")
    run_id = cluster.redis.run_id()
    cluster.redis.flushall()
    assert cluster.redis.run_id() == run_id  # nothing says the broker lost its messages but the ledger
    until(lambda: all(job(cluster.db, i).status == JobStatus.COMPLETED for i in ids), 90, cluster.logs())
    assert "re-publishing" in cluster.logs(tail=None)
    assert all(job(cluster.db, i).attempts == 1 for i in ids)


def _hold_lease_elsewhere(cluster: Cluster, until_: timedelta) -> None:
    """Another (hung) instance holds the leader lease: no worker here may lead."""
    with cluster.db.session() as session:
        session.execute(
            update(ClusterState)
            .where(ClusterState.key == LEASE_KEY)
            .values(value="someone-else", updated_at=utcnow() + until_)
        )


def test_health_is_degraded_while_nothing_delivers_runnable_jobs(
    cluster: Cluster, repo_in_ledger: tuple[Repository, str]
) -> None:
    repo, head = repo_in_ledger
    worker = cluster.worker("a", concurrency=1)
    port = worker.health_port  # type: ignore[attr-defined]
    until(lambda: "took leadership" in worker.log(), 20, "the worker to lead")
    assert services.health(port)[1]["status"] == "healthy"
    _hold_lease_elsewhere(cluster, timedelta(hours=1))
    ids = [add_job(cluster.db, repo, commit=head, artifact_type="test_sleep", params={"seconds": 0.1, "n": i})
           for i in range(3)]  # fmt: skip
    with cluster.db.session() as session:  # marked published, but their messages are gone
        outbox.mark_published(session, ids)
    code, body = until(
        lambda: (r := services.health(port))[1]["status"] == "degraded" and r, 30, "health to say degraded"
    )  # type: ignore[misc]
    assert code == 200 and body["queue_depth"] == 3
    assert "3 jobs are queued and no leader has checked" in body["reason"]
    _hold_lease_elsewhere(cluster, -timedelta(hours=1))  # the hung leader's lease lapses
    until(lambda: all(job(cluster.db, i).status == JobStatus.COMPLETED for i in ids), 60, cluster.logs())
    until(lambda: services.health(port)[1]["status"] == "healthy", 30, "health to recover")
