"""Putting messages for queued ledger jobs on the broker.

The ledger row is written first; the message follows. If publishing fails
the job stays queued with no message (published_at NULL) and the leader's
poller publishes it later: a broker outage delays jobs, it never loses them.
A message is only a wake-up call: the ledger decides whether it runs (a
duplicate delivery is a no-op) and the leader replaces messages the broker
lost (see worker/redelivery.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from celery import Celery
from kombu import Producer

from warmer import broker
from warmer.ledger import outbox, transitions
from warmer.ledger.db import Database
from warmer.ledger.models import Trigger
from warmer.queues import message_priority, queue_for

log = logging.getLogger("worker_cache_warmer")
GENERATE_TASK = broker.GENERATE_TASK

# (job id, trigger, rank)
JobRef = tuple[int, Trigger, int]


def publish(app: Celery, db: Database, jobs: Sequence[JobRef], *, republished: bool = False) -> int:
    """Send one generate_artifact message per job; returns how many.

    `republished`: the jobs were due earlier (reclaimed from a dead worker, their message lost,
    their retry backoff over): on Redis they go to their rank's first lane, ahead of the rank's
    new messages, in job order among the jobs published again (see queues.py)."""
    if not jobs:
        return 0
    if republished and broker.supports_scan(app.conf.broker_url):
        return _publish_by_age(app, db, jobs)
    sent: list[int] = []
    try:
        with app.producer_or_acquire() as producer:
            for job_id, trigger, rank in jobs:
                _send(app, producer, job_id, trigger, rank, republished)
                sent.append(job_id)
    finally:
        with db.session() as session:
            outbox.mark_published(session, sent)
    return len(sent)


def _send(
    app: Celery, producer: Producer, job_id: int, trigger: Trigger, rank: int, republished: bool
) -> None:
    broker_url = app.conf.broker_url
    app.send_task(
        GENERATE_TASK,
        args=[job_id],
        queue=queue_for(trigger, broker_url),
        priority=message_priority(rank, broker_url, republished=republished),
        producer=producer,
        retry=False,
    )


def _publish_by_age(app: Celery, db: Database, jobs: Sequence[JobRef]) -> int:
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        with broker.collecting(channel) as collected:
            producer = Producer(channel)
            for job_id, trigger, rank in jobs:
                _send(app, producer, job_id, trigger, rank, True)
        broker.merge_into_lanes(channel, collected)
    with db.session() as session:
        outbox.mark_published(session, [job_id for job_id, _trigger, _rank in jobs])
    return len(jobs)


def publish_due(app: Celery, db: Database, *, actor: str = "leader", limit: int = 10_000) -> int:
    """Publish every due, queued job that has no message (reclaimed, lost, retry due, or enqueued
    while the broker was down), oldest first, in its rank's re-published lane.

    A row no queue can take (a trigger or priority written past the schema's constraints) is
    failed with the reason, so it is seen, and the others are published."""
    with db.session() as session:
        due = outbox.due_unpublished(session, limit=limit)
    routable = []
    for job_id, trigger, rank in due:
        problem = _unroutable(trigger, rank, app.conf.broker_url)
        if problem is None:
            routable.append((job_id, trigger, rank))
            continue
        with db.session() as session:
            failed = transitions.fail_queued(session, job_id, f"cannot be published: {problem}", actor=actor)
        if failed:
            log.error("failed job job_id=%s: cannot be published: %s", job_id, problem)
    return publish(app, db, routable, republished=True)


def _unroutable(trigger: object, rank: object, broker_url: str) -> str | None:
    try:
        queue_for(Trigger(trigger), broker_url)
        message_priority(rank, broker_url)  # type: ignore[arg-type]
    except (KeyError, ValueError, TypeError):
        return f"trigger {trigger!s} with priority {rank!r} matches no queue (the priorities are 0, 1, 2)"
    return None
