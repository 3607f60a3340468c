"""GET :8081/health → {"status":"healthy","active_jobs":N,"queue_depth":M}.

Figures come from the ledger: active_jobs are the jobs this instance has
claimed or is running, queue_depth the queued jobs. A worker that cannot
reach its database or broker answers 503 with "status":"unhealthy" and the
reason, so an orchestrator stops routing to it or restarts it.

A worker that is fine itself while the cluster is not delivering work answers
200 with "status":"degraded" and the reason: runnable jobs with no message on
the broker for longer than the leader needs to publish one, or queued jobs
while no leader has compared the ledger with the broker for that long (no
leader, or one that cannot do its job). Restarting this worker would not help,
hence not 503; a person or an alert should look.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from warmer.broker import BrokerProbe
from warmer.ledger.db import Database, UTCDateTime, utcnow
from warmer.ledger.models import ClusterState, Job, JobStatus
from warmer.worker.redelivery import DELIVERY_KEY

log = logging.getLogger("worker_cache_warmer")
READ_TIMEOUT_SECS = 10.0


class HealthCheck:
    def __init__(
        self,
        db: Database,
        probe: BrokerProbe,
        instance_id: str,
        local_active: Callable[[], int],
        delivery_bound_secs: float = 30.0,
    ) -> None:
        self.db = db
        self.probe = probe
        self.instance_id = instance_id
        self.local_active = local_active  # what the worker itself is running, if the ledger is away
        # How long a leader may take to notice a lost message and publish it again.
        self.delivery_bound = timedelta(seconds=delivery_bound_secs)

    def report(self) -> tuple[int, dict[str, Any]]:
        problems: list[str] = []
        active, depth, degraded = self.local_active(), None, None
        try:
            with self.db.engine.connect() as conn:
                active = conn.execute(
                    select(func.count()).where(
                        Job.worker_id == self.instance_id,
                        Job.status.in_([JobStatus.CLAIMED, JobStatus.RUNNING]),
                    )
                ).scalar_one()
                depth = conn.execute(select(func.count()).where(Job.status == JobStatus.QUEUED)).scalar_one()
                degraded = self._undelivered(conn, depth)
        except Exception as exc:
            problems.append(f"database unreachable: {_first_line(exc)}")
        try:
            self.probe.ping(timeout=2)
        except Exception as exc:
            problems.append(f"broker unreachable: {_first_line(exc)}")
        status = "unhealthy" if problems else "degraded" if degraded else "healthy"
        body: dict[str, Any] = {"status": status, "active_jobs": active, "queue_depth": depth}
        if problems or degraded:
            body["reason"] = "; ".join(problems) if problems else degraded
        return (503 if problems else 200), body

    def _undelivered(self, conn: Connection, queued: int) -> str | None:
        """Why runnable jobs are not being delivered, if they are not."""
        if not queued:
            return None
        now = _aware(conn.execute(select(utcnow())).scalar_one())
        late = now - self.delivery_bound
        stranded, oldest = conn.execute(
            select(func.count(), func.min(Job.available_at)).where(
                Job.status == JobStatus.QUEUED, Job.published_at.is_(None), Job.available_at < late
            )
        ).one()
        if stranded:
            waited = (now - _aware(oldest)).total_seconds()
            return f"{stranded} runnable jobs have had no message on the broker for up to {waited:.0f}s"
        checked = conn.execute(
            select(ClusterState.updated_at).where(ClusterState.key == DELIVERY_KEY)
        ).scalar_one_or_none()
        if checked is None or _aware(checked) < late:
            since = "ever" if checked is None else f"{(now - _aware(checked)).total_seconds():.0f}s"
            return (
                f"{queued} jobs are queued and no leader has checked that the broker holds their"
                f" messages for {since} (is maintenance running?)"
            )
        return None


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite returns its clock as text
        value = datetime.fromisoformat(value)
    return UTCDateTime().process_result_value(value, None)  # type: ignore[arg-type, return-value]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class HealthServer:
    def __init__(self, port: int, check: HealthCheck) -> None:
        self.port = port
        self.check = check
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> HealthServer:
        check = self.check

        class Handler(BaseHTTPRequestHandler):
            timeout = READ_TIMEOUT_SECS  # a client that stops sending does not keep a thread forever

            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] != "/health":
                    self._send(404, {"error": "not found; try GET /health"})
                    return
                self._send(*check.report())

            def _method_not_allowed(self) -> None:
                self._send(405, {"error": "only GET /health is served"})
                self.close_connection = True  # any body it sent is not read

            do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _method_not_allowed  # noqa: N815

            def _send(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body, separators=(",", ":")).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("health: " + format, *args)

        self._server = ThreadingHTTPServer(("0.0.0.0", self.port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])  # the one the kernel chose, for port 0
        threading.Thread(target=self._server.serve_forever, name="warmer-health", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
