"""GET :8081/health → {"status":"healthy","active_jobs":N,"queue_depth":M}.

Figures come from the ledger: active_jobs are the jobs this instance has
claimed or is running, queue_depth the queued jobs. A worker that cannot
reach its database or broker answers 503 with "status":"unhealthy" and the
reason, so an orchestrator stops routing to it or restarts it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import func, select

from warmer.broker import BrokerProbe
from warmer.ledger.db import Database
from warmer.ledger.models import Job, JobStatus

log = logging.getLogger("worker_cache_warmer")


class HealthCheck:
    def __init__(
        self, db: Database, probe: BrokerProbe, instance_id: str, local_active: Callable[[], int]
    ) -> None:
        self.db = db
        self.probe = probe
        self.instance_id = instance_id
        self.local_active = local_active  # what the worker itself is running, if the ledger is away

    def report(self) -> tuple[int, dict[str, Any]]:
        problems: list[str] = []
        active, depth = self.local_active(), None
        try:
            with self.db.engine.connect() as conn:
                active = conn.execute(
                    select(func.count()).where(
                        Job.worker_id == self.instance_id,
                        Job.status.in_([JobStatus.CLAIMED, JobStatus.RUNNING]),
                    )
                ).scalar_one()
                depth = conn.execute(select(func.count()).where(Job.status == JobStatus.QUEUED)).scalar_one()
        except Exception as exc:
            problems.append(f"database unreachable: {_first_line(exc)}")
        try:
            self.probe.ping(timeout=2)
        except Exception as exc:
            problems.append(f"broker unreachable: {_first_line(exc)}")
        body: dict[str, Any] = {
            "status": "unhealthy" if problems else "healthy",
            "active_jobs": active,
            "queue_depth": depth,
        }
        if problems:
            body["reason"] = "; ".join(problems)
        return (503 if problems else 200), body


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
            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] != "/health":
                    self._send(404, {"error": "not found; try GET /health"})
                    return
                self._send(*check.report())

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
        threading.Thread(target=self._server.serve_forever, name="warmer-health", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
