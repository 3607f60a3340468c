"""Putting messages for queued ledger jobs on the broker.

The ledger row is written first; the message follows. If publishing fails
the job stays queued with no message (published_at NULL) and the leader's
poller publishes it later: a broker outage delays jobs, it never loses them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from celery import Celery
from sqlalchemy import select

from warmer.broker import BrokerProbe
from warmer.ledger import outbox
from warmer.ledger.db import Database
from warmer.ledger.models import ClusterState, Trigger
from warmer.queues import message_priority, queue_for

log = logging.getLogger("worker_cache_warmer")
GENERATE_TASK = "warmer.generate_artifact"
BROKER_RUN_ID_KEY = "broker_run_id"


def reconcile_broker_epoch(db: Database, probe: BrokerProbe) -> int:
    """If the broker restarted since messages were last published, they are gone:
    mark every queued job unpublished so it gets a new message. Returns how many."""
    run_id = probe.server_run_id()
    if run_id is None:
        return 0
    with db.session() as session:
        state = session.execute(
            select(ClusterState).where(ClusterState.key == BROKER_RUN_ID_KEY).with_for_update()
        ).scalar_one_or_none()
        if state is not None and state.value == run_id:
            return 0
        forgotten = outbox.forget_published(session) if state is not None else 0
        if state is None:
            session.add(ClusterState(key=BROKER_RUN_ID_KEY, value=run_id))
        else:
            state.value = run_id
    if forgotten:
        log.warning("broker restarted (run_id %s): re-publishing %d queued jobs", run_id, forgotten)
    return forgotten


def publish(app: Celery, db: Database, jobs: Sequence[tuple[int, Trigger, int]]) -> int:
    """Send one generate_artifact message per (job id, trigger, rank); returns how many."""
    if not jobs:
        return 0
    broker_url = app.conf.broker_url
    reconcile_broker_epoch(db, BrokerProbe(broker_url))
    sent: list[int] = []
    try:
        with app.producer_or_acquire() as producer:
            for job_id, trigger, rank in jobs:
                app.send_task(
                    GENERATE_TASK,
                    args=[job_id],
                    queue=queue_for(trigger, broker_url),
                    priority=message_priority(rank, broker_url),
                    producer=producer,
                    retry=False,
                )
                sent.append(job_id)
    finally:
        with db.session() as session:
            outbox.mark_published(session, sent)
    return len(sent)


def publish_due(app: Celery, db: Database, batch: int = 500) -> int:
    """Publish every due, unpublished queued job (retries after backoff, broker losses)."""
    total = 0
    while True:
        with db.session() as session:
            due = outbox.due_unpublished(session, limit=batch)
        if not due:
            return total
        total += publish(app, db, due)
        if len(due) < batch:
            return total
