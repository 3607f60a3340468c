"""The worker's periodic duties, on their own thread so a slow database never stalls consumption.

Every POLL_INTERVAL_SECS: heartbeat this instance (every HEARTBEAT_SECS), and,
if this instance holds the leader lease, reap stale jobs, plan commit triggers
whose debounce window has closed, carry cache refs forward to branch heads
(cache/freshness.py), find queued jobs whose message the broker lost (see
redelivery.py), publish due jobs that have no message (reclaimed, lost,
retries after their backoff, jobs enqueued while the broker was down), mark
silent instances stopped, and prune what has aged out (retention.py). One
leader at a time, by a lease in the ledger (see leader.py). Each duty runs on
its own: one that fails (a broker away, a bad row) is reported and the others
still run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from celery import Celery

from warmer import publisher
from warmer.cache import freshness
from warmer.ledger.db import Database
from warmer.settings import Settings
from warmer.triggers import commit as commit_triggers
from warmer.worker import instances
from warmer.worker.leader import LeaderLease
from warmer.worker.reaper import StaleJobReaper
from warmer.worker.redelivery import LostMessageRescuer, taken_grace_secs
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
        self.leader = LeaderLease(
            db, instance_id, ttl_secs=self.lease_ttl_secs(self.settings.poll_interval_secs)
        )
        self.is_leader = False
        self.reaper = StaleJobReaper(
            db,
            heartbeat_secs=self.settings.heartbeat_secs,
            stale_threshold_secs=self.settings.stale_threshold_secs,
            max_retries=self.settings.max_retries,
            actor=f"reaper:{instance_id}",
        )
        self.rescuer = LostMessageRescuer(
            app,
            db,
            poll_interval_secs=self.settings.poll_interval_secs,
            taken_grace_secs=taken_grace_secs(self.settings.poll_interval_secs),
        )
        self._failing: dict[str, str] = {}  # duty -> the error it last failed with
        policy = RetentionPolicy(
            completed_hours=self.settings.retain_completed_hours,
            failed_hours=self.settings.retain_failed_hours,
            lookups_hours=max(self.settings.retain_lookups_hours, settings.warmers.on_miss.window_hours),
            interval_secs=self.settings.retention_interval_secs,
        )
        self.cleaner = JobCleaner(db, policy, actor=f"retention:{instance_id}")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="warmer-maintenance", daemon=True)
        self._last_beat = 0.0

    @staticmethod
    def lease_ttl_secs(poll_interval_secs: float) -> float:
        return max(3 * poll_interval_secs, 5)

    @staticmethod
    def delivery_bound_secs(poll_interval_secs: float) -> float:
        """How long runnable jobs may wait for a message before health says `degraded`: a lapsed
        leader's lease expires, another takes over, and its next ticks check and publish."""
        return Maintenance.lease_ttl_secs(poll_interval_secs) + 3 * poll_interval_secs

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
        actor = f"leader:{self.instance_id}"
        self._duty("reaper", lambda: self.reaper.run_once(now))
        self._duty(
            "commit planning", lambda: commit_triggers.plan_due(self.db, self.warmer_settings, actor=actor)
        )
        self._duty("freshness sweep", lambda: freshness.sweep(self.db, self.warmer_settings))
        self._duty("lost-message check", self.rescuer.run_once)
        self._duty("publishing", self._publish_due)
        self._duty(
            "instance pruning", lambda: instances.prune_dead(self.db, now, self.settings.stale_threshold_secs)
        )
        self._duty("retention", lambda: self.cleaner.run_if_due(now))

    def _publish_due(self) -> None:
        published = publisher.publish_due(self.app, self.db, actor=f"leader:{self.instance_id}")
        if published:
            log.info("published %d due jobs", published)

    def _duty(self, name: str, run: Callable[[], object]) -> None:
        """Run one duty; a failure is logged once (and its recovery), and the next duty still runs."""
        try:
            run()
        except Exception as exc:
            error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if self._failing.get(name) != error:
                log.warning("maintenance: %s failed: %s", name, error)
            self._failing[name] = error
            return
        if self._failing.pop(name, None) is not None:
            log.info("maintenance: %s recovered", name)

    def _lead(self) -> bool:
        held = self.leader.hold()
        if held != self.is_leader:
            log.info("%s leadership of warmer maintenance", "took" if held else "lost")
        self.is_leader = held
        return held
