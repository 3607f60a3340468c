"""Fresh hits recorded in batches by serving processes; misses and stale hits are written at once.

A hit's row only feeds the hit-rate counters, so a serving process (`warmer serve`, `warmer mcp`)
gathers them and writes one batch every FLUSH_SECS: one transaction for hundreds of lookups instead
of one commit (and one fsync) per request. A miss or a stale hit is written before the lookup
answers, because the miss trigger counts those rows to decide whether to enqueue a job.
"""

from __future__ import annotations

import atexit
import logging
import threading
from typing import Any

from warmer.ledger.db import Database
from warmer.ledger.lookup_stats import record_lookups

log = logging.getLogger("warmer.cache")

FLUSH_SECS = 0.5
MAX_PENDING = 50_000  # kept while the ledger is away; beyond it the oldest are counted and dropped


class HitRecorder:
    def __init__(self, flush_secs: float = FLUSH_SECS) -> None:
        self.flush_secs = flush_secs
        self._lock = threading.Lock()
        self._pending: dict[Database, list[dict[str, Any]]] = {}
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0

    def add(self, db: Database, row: dict[str, Any]) -> None:
        with self._lock:
            rows = self._pending.setdefault(db, [])
            rows.append(row)
            if len(rows) > MAX_PENDING:
                del rows[0]
                self.dropped += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="warmer-hits", daemon=True)
                self._thread.start()
                atexit.register(self.flush)

    def flush(self) -> None:
        """Write every pending hit now; rows a failed write could not store stay pending."""
        with self._lock:
            batches, self._pending = self._pending, {}
        for db, rows in batches.items():
            try:
                with db.session() as session:
                    record_lookups(session, rows)
            except Exception as exc:  # the ledger away: keep them for the next round
                log.warning("could not record %d cache hit(s) yet: %s", len(rows), str(exc).splitlines()[0])
                with self._lock:
                    self._pending[db] = (rows + self._pending.get(db, []))[-MAX_PENDING:]
                return

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.flush_secs)
            self.flush()


# Serving processes turn batching on (`enable()`); one-shot commands write every lookup at once.
_RECORDER: HitRecorder | None = None


def enable(flush_secs: float = FLUSH_SECS) -> HitRecorder:
    global _RECORDER
    if _RECORDER is None:
        _RECORDER = HitRecorder(flush_secs)
    return _RECORDER


def active() -> HitRecorder | None:
    return _RECORDER
