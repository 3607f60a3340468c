"""LostMessageRescuer: every queued job the ledger holds has a message the broker will deliver.

The ledger is the truth; a broker message is only the wake-up call for one
job (as a NOTIFY is for River and GoodJob, which still poll their table). A
message can vanish while its job waits: a broker restarted empty or flushed
(same run_id), a pool process that died after its message was acked and before
the claim, a main process killed after taking a message (kombu keeps it in
`unacked` and restores it only after visibility_timeout, an hour). Run by the
elected leader, every POLL_INTERVAL_SECS, this duty compares the queued jobs
marked published with what the broker holds and forgets the publication of
each job whose message is gone, so the poller publishes it again, in its
rank's re-published lane (ahead of new messages, oldest first, see queues.py).
Claims are idempotent, so a spare message is harmless;
only jobs without one are published again, so a large backlog legitimately
waiting costs no duplicates.

On Redis the comparison is exact: kombu's lists are read (without consuming)
for the job ids waiting, and its `unacked` hash for the ones taken. A taken
message counts for TAKEN_GRACE_SECS (a live consumer claims within
milliseconds; Sidekiq's super_fetch keeps per-process lists for the same
reason, and recovers them once their process's heartbeat has expired); after
that, with its job still queued, its consumer is taken to be dead. RabbitMQ
cannot be read without consuming, but it returns a dead consumer's messages
itself; there, when fewer messages wait than the ledger has published and
nobody holds, the oldest published jobs are published again, as many as are
missing.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

from celery import Celery
from sqlalchemy import update

from warmer import broker
from warmer.ledger import outbox
from warmer.ledger.db import Database, utcnow
from warmer.ledger.models import ClusterState, JobStatus
from warmer.queues import ALL_QUEUES, AMQP_QUEUE

log = logging.getLogger("worker_cache_warmer")
DELIVERY_KEY = "delivery_check"  # cluster_state: the leader's last comparison, read by health
# A reading of the whole broker costs at most this share of the time between readings.
SCAN_BUDGET = 0.02


@dataclass
class DeliveryCheck:
    """What one comparison of ledger and broker found; kept in cluster_state for the health check."""

    checked_at: float  # the leader's clock
    interval_secs: float  # when the next comparison is due, at the latest
    published: int = 0  # queued jobs the ledger believes have a message
    lost: int = 0  # of which the broker held no message: published again
    dead_takers: int = 0  # messages taken by a consumer that never claimed their job
    scanned: bool = False
    notes: list[str] = field(default_factory=list)


class LostMessageRescuer:
    def __init__(
        self, app: Celery, db: Database, *, poll_interval_secs: float, taken_grace_secs: float
    ) -> None:
        self.app = app
        self.db = db
        self.poll_interval = poll_interval_secs
        self.taken_grace = taken_grace_secs
        self.url = app.conf.broker_url
        self.redis = broker.RedisMessages(app, ALL_QUEUES) if broker.supports_scan(self.url) else None
        self._next_scan = 0.0
        self._scan_secs = 0.0

    def run_once(self) -> DeliveryCheck:
        check = self._check_redis() if self.redis is not None else self._check_amqp()
        self._record(check)
        if check.lost:
            log.warning(
                "re-publishing %d queued jobs whose messages are gone from the broker%s",
                check.lost,
                f" ({'; '.join(check.notes)})" if check.notes else "",
            )
        return check

    def _check_redis(self) -> DeliveryCheck:
        """Read the broker before the ledger, and its lists before its taken messages: a message
        moving meanwhile (published, popped, claimed) is then seen in one place or the other."""
        assert self.redis is not None
        now = time.time()
        lengths = self.redis.lengths()
        view = self._taken_view(now)
        with self.db.session() as session:
            published = outbox.published_queued(session)
        check = DeliveryCheck(now, self._interval(), published=len(published))
        expected = Counter(
            self.redis.lanes_of(job.trigger, job.priority)
            for job in published
            if job.job_id not in view.fresh
        )
        deficit = sum(
            max(n - sum(lengths.get(key, 0) for key in lanes or ()), 0) for lanes, n in expected.items()
        )
        if published and (deficit or view.stale_queued or now >= self._next_scan):
            started = time.monotonic()
            waiting = self.redis.waiting()
            view = self._taken_view(time.time())  # again, after the lists: a message popped meanwhile is here
            self._scan_secs = time.monotonic() - started
            self._next_scan = now + self._interval()
            check.interval_secs = self._interval()
            check.scanned = True
            lost = [job for job in published if job.job_id not in waiting and job.job_id not in view.fresh]
            with self.db.session() as session:
                check.lost = outbox.forget_lost(session, lost)
            check.dead_takers = len(view.stale_queued & {job.job_id for job in lost})
            if deficit:
                check.notes.append(f"the broker's lists hold {deficit} fewer messages than the ledger")
            if check.dead_takers:
                check.notes.append(
                    f"{check.dead_takers} taken by a consumer that never claimed them"
                    f" (for over {self.taken_grace:g}s)"
                )
        self.redis.drop_taken(view.garbage)
        return check

    def _taken_view(self, now: float) -> _TakenView:
        assert self.redis is not None
        taken = self.redis.taken()
        with self.db.session() as session:
            states = outbox.statuses(session, [t.job_id for t in taken if t.job_id is not None])
        view = _TakenView()
        for entry in taken:
            state = states.get(entry.job_id) if entry.job_id is not None else None
            old = now - entry.taken_at > self.taken_grace
            if state == JobStatus.QUEUED and not old:
                view.fresh.add(entry.job_id)  # type: ignore[arg-type]  # a live consumer is claiming it
            elif state == JobStatus.QUEUED:
                view.stale_queued.add(entry.job_id)  # type: ignore[arg-type]  # its consumer died
                view.garbage.append(entry.tag)
            elif state in (JobStatus.COMPLETED, JobStatus.FAILED) and old:
                view.garbage.append(entry.tag)  # the job is done; its consumer died before acking
        return view

    def _check_amqp(self) -> DeliveryCheck:
        now = time.time()
        ready = broker.amqp_ready(self.app, AMQP_QUEUE)  # before the ledger: see _check_redis
        with self.db.session() as session:
            published = outbox.published_queued(session)
        check = DeliveryCheck(now, self._interval(), published=len(published))
        db_now = self.db.now()
        settled = [job for job in published if (db_now - job.published_at).total_seconds() > self.taken_grace]
        # Each settled job should have one of the waiting messages (a consumer claims what it takes
        # within milliseconds, and RabbitMQ returns a dead consumer's messages itself); more
        # messages than that (newer jobs, duplicates) only hide a loss, never invent one.
        missing = len(settled) - ready
        if missing > 0:
            settled.sort(key=lambda job: (job.published_at, job.job_id))
            with self.db.session() as session:
                check.lost = outbox.forget_lost(session, settled[:missing])
            check.notes.append(f"{ready} messages wait on {AMQP_QUEUE} for {len(settled)} published jobs")
        return check

    def _interval(self) -> float:
        return max(self.poll_interval, self._scan_secs / SCAN_BUDGET)

    def _record(self, check: DeliveryCheck) -> None:
        """Keep the finding, stamped with the database's clock, for every worker's health check."""
        value = json.dumps(asdict(check))
        with self.db.session() as session:
            updated = session.execute(
                update(ClusterState)
                .where(ClusterState.key == DELIVERY_KEY)
                .values(value=value, updated_at=utcnow())
            ).rowcount
            if not updated:
                session.add(ClusterState(key=DELIVERY_KEY, value=value))


@dataclass
class _TakenView:
    fresh: set[int] = field(default_factory=set)
    stale_queued: set[int] = field(default_factory=set)
    garbage: list[str] = field(default_factory=list)


def taken_grace_secs(poll_interval_secs: float) -> float:
    """How long a consumer may hold a message without claiming its job before it is taken to be
    dead: a live one claims within milliseconds, or retries every poll interval while the ledger
    is away; 10 s also covers clock skew between hosts (the time taken is the consumer's clock)."""
    return max(10.0, 2 * poll_interval_secs)
