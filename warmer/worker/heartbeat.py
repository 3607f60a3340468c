"""Running jobs' heartbeats: prove the worker is alive, and learn if a job was taken away."""

from __future__ import annotations

import logging
import threading
import time

from warmer.ledger import transitions
from warmer.ledger.locks import JobConnection

log = logging.getLogger("worker_cache_warmer")


class JobHeartbeat:
    """One thread per worker process that watches the job the process is running.

    Every second it checks that the process's session still holds the job's
    advisory lock, re-taking it if the connection was replaced (a database blip
    must not look like a dead worker for long). Every `interval` seconds it
    stamps heartbeat_at. If the stamp matches no row, the reaper gave the job
    to someone else: the job's `lost` event is set and the generator stops at
    its next checkpoint. A database outage is not a loss: it keeps trying.
    """

    LOCK_CHECK_SECS = 1.0

    def __init__(self, connection: JobConnection, interval: float) -> None:
        self.connection = connection
        self.interval = interval
        self._guard = threading.Lock()
        self._watched: tuple[transitions.Claim, threading.Event] | None = None
        self._last_stamp = 0.0
        self._thread: threading.Thread | None = None

    def watch(self, claim: transitions.Claim) -> threading.Event:
        """Start watching a freshly claimed job; returns the event set if the job is lost."""
        lost = threading.Event()
        with self._guard:
            self._watched = (claim, lost)
            self._last_stamp = time.monotonic()
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="warmer-heartbeat", daemon=True)
            self._thread.start()
        return lost

    def unwatch(self) -> None:
        with self._guard:
            self._watched = None

    def beat(self, claim: transitions.Claim, lost: threading.Event, stamp: bool) -> None:
        """One round for one job: the lock check, and the stamp when due."""
        if not self.connection.holds_lock():
            log.warning("job_id=%s lock is held by another session; stopping", claim.job_id)
            lost.set()
            return
        if stamp:
            with self.connection.transaction() as conn:
                if not transitions.heartbeat(conn, claim):
                    log.warning("job_id=%s was reclaimed by the ledger; stopping", claim.job_id)
                    lost.set()

    def _run(self) -> None:
        while True:
            time.sleep(min(self.LOCK_CHECK_SECS, self.interval))
            with self._guard:
                watched = self._watched
                stamp = time.monotonic() - self._last_stamp >= self.interval
            if watched is None or watched[1].is_set():
                continue
            claim, lost = watched
            try:
                with self.connection.mutex:
                    with self._guard:  # the job may have finished while we waited for the connection
                        if self._watched is not watched:
                            continue
                    self.beat(claim, lost, stamp)
                if stamp:
                    with self._guard:
                        self._last_stamp = time.monotonic()
            except Exception as exc:  # database away: keep the job, try again next round
                log.warning("job_id=%s heartbeat failed: %s", claim.job_id, str(exc).splitlines()[0])
