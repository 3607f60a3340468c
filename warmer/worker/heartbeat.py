"""A running job's heartbeat: proves the worker is alive, and learns if the job was taken away."""

from __future__ import annotations

import logging
import threading
import time

from warmer.ledger import transitions
from warmer.ledger.db import Database
from warmer.ledger.locks import SessionLock

log = logging.getLogger("worker_cache_warmer")


class JobHeartbeat:
    """Keeps a running job's liveness signals fresh, on its own thread.

    Every second it checks that this session still holds the job's advisory
    lock and re-takes it if the connection was replaced (a database blip must
    not look like a dead worker for long). Every `interval` seconds it stamps
    heartbeat_at. If the stamp matches no row, the reaper gave the job to
    someone else: `lost` is set and the generator stops at its next
    checkpoint. A database outage is not a loss: the thread keeps trying.
    """

    LOCK_CHECK_SECS = 1.0

    def __init__(self, db: Database, claim: transitions.Claim, lock: SessionLock, interval: float) -> None:
        self.db = db
        self.claim = claim
        self.lock = lock
        self.interval = interval
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{claim.job_id}", daemon=True)

    def start(self) -> JobHeartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def check_lock(self) -> None:
        if not self.lock.held():
            log.warning("job_id=%s lock is held by another session; stopping", self.claim.job_id)
            self.lost.set()

    def stamp(self) -> None:
        with self.db.session() as session:
            if not transitions.heartbeat(session, self.claim):
                log.warning("job_id=%s was reclaimed by the ledger; stopping", self.claim.job_id)
                self.lost.set()

    def _run(self) -> None:
        last_stamp = time.monotonic()
        while not self._stop.wait(min(self.LOCK_CHECK_SECS, self.interval)):
            try:
                self.check_lock()
                if not self.lost.is_set() and time.monotonic() - last_stamp >= self.interval:
                    self.stamp()
                    last_stamp = time.monotonic()
            except Exception as exc:  # database away: keep the job, try again next round
                log.warning("job_id=%s heartbeat failed: %s", self.claim.job_id, str(exc).splitlines()[0])
            if self.lost.is_set():
                return
