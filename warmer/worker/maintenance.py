"""The worker's periodic duties, on their own thread so a slow database never stalls consumption.

Every POLL_INTERVAL_SECS: heartbeat this instance (every HEARTBEAT_SECS), and,
if this instance holds the leader lease, reap stale jobs, plan commit triggers
whose debounce window has closed, carry cache refs forward to branch heads
(cache/freshness.py), notice a broker that
lost its messages, publish due jobs that have no message (retries after their
backoff, jobs enqueued while the broker was down), mark silent instances
stopped, and prune what has aged out (retention.py). One leader at a time, by a
lease in the ledger (see leader.py).
"""

from __future__ import annotations

import logging
import threading
import time

from celery import Celery

from warmer import publisher
from warmer.broker import BrokerProbe
from warmer.cache import freshness
from warmer.ledger.db import Database
from warmer.settings import Settings
from warmer.triggers import commit as commit_triggers
from warmer.worker import instances
from warmer.worker.leader import LeaderLease
from warmer.worker.reaper import StaleJobReaper
from warmer.worker.retention import JobCleaner, RetentionPolicy

log = logging.getLogger("worker_cache_warmer")


class Maintenance:
    def __init__(self, app: Celery, db: Database, settings: Settings, instance_id: str) -> None:
        self.app = app
        self.db = db
        self.warmer_settings = settings
        self.settings = settings.worker
        self.instance_id = instance_id
        # A lease that outlives a few missed ticks, so one slow tick does not hand leadership over.
        self.leader = LeaderLease(db, instance_id, ttl_secs=max(3 * self.settings.poll_interval_secs, 5))
        self.is_leader = False
        self.reaper = StaleJobReaper(
            db,
            heartbeat_secs=self.settings.heartbeat_secs,
            stale_threshold_secs=self.settings.stale_threshold_secs,
            max_retries=self.settings.max_retries,
            actor=f"reaper:{instance_id}",
        )
        policy = RetentionPolicy(
            completed_hours=self.settings.retain_completed_hours,
            failed_hours=self.settings.retain_failed_hours,
            lookups_hours=max(self.settings.retain_lookups_hours, settings.warmers.on_miss.window_hours),
            interval_secs=self.settings.retention_interval_secs,
        )
        self.cleaner = JobCleaner(db, policy, actor=f"retention:{instance_id}")
        self.probe = BrokerProbe(app.conf.broker_url)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="warmer-maintenance", daemon=True)
        self._last_beat = 0.0

    def start(self) -> Maintenance:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        if self.is_leader:
            try:
                self.leader.release()
            except Exception as exc:  # the database may be why we stop; the lease then just expires
                log.warning("could not release the leader lease: %s", exc)

    def _loop(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                self.tick()
                if failing:
                    log.info("maintenance recovered")
                failing = False
            except Exception as exc:  # an outage: say so once, try again every interval
                if not failing:
                    log.warning("maintenance paused: %s", str(exc).splitlines()[0] if str(exc) else exc)
                failing = True
                self.is_leader = False  # a lease not renewed lapses by itself
            self._stop.wait(self.settings.poll_interval_secs)

    def tick(self) -> None:
        if time.monotonic() - self._last_beat >= self.settings.heartbeat_secs:
            instances.beat(self.db, self.instance_id)
            self._last_beat = time.monotonic()
        if not self._lead():
            return
        now = self.db.now()
        self.reaper.run_once(now)
        commit_triggers.plan_due(self.db, self.warmer_settings, actor=f"leader:{self.instance_id}")
        freshness.sweep(self.db, self.warmer_settings)
        publisher.reconcile_broker_epoch(self.db, self.probe)
        published = publisher.publish_due(self.app, self.db)
        if published:
            log.info("published %d due jobs", published)
        instances.prune_dead(self.db, now, self.settings.stale_threshold_secs)
        self.cleaner.run_if_due(now)

    def _lead(self) -> bool:
        held = self.leader.hold()
        if held != self.is_leader:
            log.info("%s leadership of warmer maintenance", "took" if held else "lost")
        self.is_leader = held
        return held
