"""Strict priority across queues on Redis: commit > connect > miss, under a deep backlog."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.integration.conftest import Cluster, until
from warmer.ledger import transitions
from warmer.ledger.models import Job, JobStatus, Repository, Trigger

pytestmark = pytest.mark.integration
BACKLOG = 2000


def _enqueue(cluster: Cluster, repo: Repository, head: str, trigger: Trigger, tags: range) -> list[int]:
    with cluster.db.session() as session:
        return [
            transitions.enqueue(
                session,
                transitions.JobSpec(
                    repo_id=repo.id, branch=repo.branch, commit=head, artifact_type="test_sleep",
                    trigger=trigger, params={"seconds": 0.3, "tag": f"{trigger.value}-{tag}"},
                ),
                actor="test",
            ).job_id
            for tag in tags
        ]  # fmt: skip


def _claimed_between(cluster: Cluster, after: object, before: object, trigger: Trigger) -> int:
    with cluster.db.session() as session:
        return session.execute(
            select(func.count()).where(
                Job.trigger == trigger, Job.claimed_at > after, Job.claimed_at < before
            )
        ).scalar_one()


def test_a_new_commit_job_is_the_next_job_started_despite_thousands_of_miss_jobs(
    cluster: Cluster, repo_in_ledger: tuple[Repository, str]
) -> None:
    repo, head = repo_in_ledger
    misses = _enqueue(cluster, repo, head, Trigger.MISS, range(BACKLOG))
    cluster.publish(misses, Trigger.MISS)
    cluster.worker("a", concurrency=2)

    def busy() -> bool:
        with cluster.db.session() as session:
            done = session.execute(select(func.count()).where(Job.status == JobStatus.COMPLETED)).scalar_one()
        return done >= 4  # the worker is in steady state, both processes busy

    until(busy, 60, "the worker to chew into the backlog")
    (connect_job,) = _enqueue(cluster, repo, head, Trigger.CONNECT, range(1))
    (commit_job,) = _enqueue(cluster, repo, head, Trigger.COMMIT, range(1))
    published_at = cluster.db.now()
    cluster.publish([connect_job], Trigger.CONNECT)  # first published, but lower priority
    cluster.publish([commit_job], Trigger.COMMIT)
    until(lambda: _status(cluster, connect_job) == JobStatus.COMPLETED, 30, "the connect job to finish")
    commit_row, connect_row = _row(cluster, commit_job), _row(cluster, connect_job)
    assert commit_row.claimed_at is not None and connect_row.claimed_at is not None
    # No miss job jumped the queue once the commit and connect jobs were published. A message a
    # process fetched just before the publish is claimed a few ms after it and cannot be taken
    # back: at most one per process (2 here). Without strict priority it would be ~all 2,000.
    assert _claimed_between(cluster, published_at, commit_row.claimed_at, Trigger.MISS) <= 2
    assert _claimed_between(cluster, published_at, connect_row.claimed_at, Trigger.MISS) <= 2
    with cluster.db.session() as session:
        waiting = session.execute(
            select(func.count()).where(Job.trigger == Trigger.MISS, Job.status == JobStatus.QUEUED)
        ).scalar_one()
    assert waiting > BACKLOG - 100  # the backlog was really there while they overtook it


@pytest.mark.parametrize("cluster", ["redis", "amqp"], indirect=True)
def test_commit_then_connect_then_miss_whatever_the_publishing_order(
    cluster: Cluster, repo_in_ledger: tuple[Repository, str]
) -> None:
    repo, head = repo_in_ledger
    misses = _enqueue(cluster, repo, head, Trigger.MISS, range(20))
    connects = _enqueue(cluster, repo, head, Trigger.CONNECT, range(3))
    commits = _enqueue(cluster, repo, head, Trigger.COMMIT, range(3))
    for ids, trigger in ((misses, Trigger.MISS), (connects, Trigger.CONNECT), (commits, Trigger.COMMIT)):
        cluster.publish(ids, trigger)  # lowest priority first, highest last
    cluster.worker("a", concurrency=1)
    until(
        lambda: all(_status(cluster, i) == JobStatus.COMPLETED for i in connects),
        60,
        "connect jobs to finish",
    )
    with cluster.db.session() as session:
        order = (
            session.execute(select(Job.trigger).where(Job.claimed_at.is_not(None)).order_by(Job.claimed_at))
            .scalars()
            .all()
        )
    assert order[:6] == [Trigger.COMMIT] * 3 + [Trigger.CONNECT] * 3


def _row(cluster: Cluster, job_id: int) -> Job:
    with cluster.db.session() as session:
        row = session.get(Job, job_id)
        assert row is not None
        session.expunge(row)
        return row


def _status(cluster: Cluster, job_id: int) -> JobStatus:
    return _row(cluster, job_id).status
