"""A running job's heartbeat: proves the worker is alive, and learns if the job was taken away."""

from __future__ import annotations

import logging
import threading

from warmer.ledger import transitions
from warmer.ledger.db import Database
from warmer.ledger.locks import SessionLock

log = logging.getLogger("worker_cache_warmer")


class JobHeartbeat:
    """Every `interval` seconds: re-check the job's advisory lock and stamp heartbeat_at.

    If the stamp matches no row, the reaper gave the job to someone else: `lost`
    is set and the generator stops at its next checkpoint. A database outage
    is not a loss: the thread keeps trying, and re-takes the lock on the new
    connection when the database is back.
    """

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

    def beat(self) -> None:
        """One heartbeat; public so tests and the runner can force one."""
        if not self.lock.held():
            log.warning("job_id=%s lock is held by another session; stopping", self.claim.job_id)
            self.lost.set()
            return
        with self.db.session() as session:
            if not transitions.heartbeat(session, self.claim):
                log.warning("job_id=%s was reclaimed by the ledger; stopping", self.claim.job_id)
                self.lost.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except Exception as exc:  # database away: keep the job, try again next beat
                log.warning("job_id=%s heartbeat failed: %s", self.claim.job_id, exc)
            if self.lost.is_set():
                return
