"""Console test helpers: an in-process console server, a small HTTP client, ledger seeding."""

from __future__ import annotations

import asyncio
import base64
import http.cookiejar
import json
import os
import queue
import threading
import types
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from celery import Celery
from flower.urls import settings as flower_settings
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.netutil import bind_sockets
from tornado.options import options as flower_options

from warmer.console.app import make_app
from warmer.ledger import transitions
from warmer.ledger.db import Database
from warmer.ledger.lookup_stats import record_lookups
from warmer.ledger.models import Job, Repository
from warmer.queues import kombu_queues
from warmer.settings import Settings

# tests/integration uses db 11; parallel checkouts set both variables to dbs of their own.
CONSOLE_REDIS = os.environ.get("WARMER_TEST_CONSOLE_REDIS", "redis://127.0.0.1:6379/12")
LEDGER_PASSWORD = "ledger-pw-7731"
CONFIG_YAML = """engineering_cache:
  warmers:
    on_connect:
      artifacts: [repo_map, test_map]
"""


def console_env(pg_url: str, tmp: Path) -> dict[str, str]:
    config = tmp / "engineering_cache.yaml"
    config.write_text(CONFIG_YAML)
    # Postgres trusts local connections and ignores this password: it is there to be redacted.
    with_password = pg_url.replace("postgres@", f"postgres:{LEDGER_PASSWORD}@", 1)
    return {
        "DATABASE_URL": with_password,
        "CELERY_BROKER_URL": CONSOLE_REDIS,
        "WARMER_DATA_DIR": str(tmp / "data"),
        "WARMER_CONFIG": str(config),
    }


def celery_app(broker_url: str) -> Celery:
    app = Celery("warmer-console-tests")
    app.config_from_object("warmer.celery_defaults")
    app.conf.broker_url = broker_url
    app.conf.task_queues = kombu_queues(broker_url)
    return app


class InProcessConsole:
    """The console application served from a thread of the test process."""

    def __init__(
        self,
        settings: Settings,
        basic_auth: list[str] | None,
        unauthenticated_api: bool = False,
        open_metrics: bool = False,
    ):
        self.settings = settings
        self.db = Database(settings.database_url)
        values = flower_options.as_dict()
        values.update(basic_auth=basic_auth or [], auth="", url_prefix="", unix_socket="")
        self.options = types.SimpleNamespace(**values)
        self.unauthenticated_api = unauthenticated_api
        self.open_metrics = open_metrics
        self._ready: queue.Queue[int] = queue.Queue()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.loop: IOLoop | None = None

    def _serve(self) -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        self.loop = IOLoop.current()
        tornado_settings = {**flower_settings, "cookie_secret": "console-tests-secret"}
        self.app = make_app(
            celery_app(self.settings.broker_url), self.db, self.settings, self.options,
            io_loop=self.loop, open_metrics=self.open_metrics, **tornado_settings,
        )  # fmt: skip
        sockets = bind_sockets(0, "127.0.0.1")
        HTTPServer(self.app).add_sockets(sockets)
        self._ready.put(sockets[0].getsockname()[1])
        self.loop.start()

    def start(self) -> InProcessConsole:
        self._thread.start()
        self.port = self._ready.get(timeout=30)
        self.base = f"http://127.0.0.1:{self.port}"
        return self

    def stop(self) -> None:
        if self.loop is not None:
            self.loop.add_callback(self.loop.stop)
        self._thread.join(timeout=10)
        self.app.executor.shutdown(wait=False)
        self.db.dispose()


class Client:
    """urllib with a cookie jar, optional basic auth and the CSRF header on POSTs."""

    def __init__(self, base: str, user: str | None = None, password: str | None = None) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.auth = (
            "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode() if user is not None else None
        )

    def xsrf(self) -> str | None:
        return next((c.value for c in self.jar if c.name == "_xsrf"), None)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        csrf: bool = True,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        data = None
        all_headers = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        elif method == "POST":
            data = b""
        if method == "POST" and csrf:
            if self.xsrf() is None:
                self.request("GET", "/api/warmer/openapi.json")
            all_headers["X-XSRFToken"] = self.xsrf() or ""
        if self.auth:
            all_headers["Authorization"] = self.auth
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=all_headers)
        try:
            with self.opener.open(req, timeout=30) as response:
                raw, status, got = (
                    response.read(),
                    response.status,
                    {k.lower(): v for k, v in response.headers.items()},
                )
        except urllib.error.HTTPError as error:
            raw, status, got = error.read(), error.code, {k.lower(): v for k, v in error.headers.items()}
        text = raw.decode(errors="replace")
        if got.get("content-type", "").startswith("application/json"):
            return status, json.loads(text), got
        return status, text, got

    def get(self, path: str) -> tuple[int, Any]:
        status, body, _ = self.request("GET", path)
        return status, body

    def post(self, path: str, body: Any = None, csrf: bool = True) -> tuple[int, Any]:
        status, payload, _ = self.request("POST", path, body, csrf)
        return status, payload


def add_lookups(db: Database, repo: Repository, artifact: str, hits: int, misses: int, at: datetime,
                path: str = "", task_type: str = "review") -> None:  # fmt: skip
    rows = [dict(repo_id=repo.id, repo_name=repo.name, artifact_type=artifact, path=path,
                 task_type=task_type, hit=hit, at=at)
            for hit in [True] * hits + [False] * misses]  # fmt: skip
    with db.session() as session:
        record_lookups(session, rows)


def fail_job(db: Database, job_id: int, error: str, worker: str = "worker-a") -> None:
    """Drive a queued job through claimed and running to failed, with real transitions and events."""
    with db.session() as session:
        claim = transitions.claim(session, job_id, worker)
        assert claim is not None
        transitions.mark_running(session, claim)
        transitions.record_failure(
            session, claim, error, max_retries=0, backoff_secs=0, now=datetime.now().astimezone()
        )


def complete_job(db: Database, job_id: int, worker: str = "worker-a") -> None:
    with db.session() as session:
        claim = transitions.claim(session, job_id, worker)
        assert claim is not None
        transitions.mark_running(session, claim)
        assert transitions.mark_completed(session, claim)


def backdate(db: Database, job_id: int, hours: float) -> None:
    """Move a finished job's finish time into the past (to test the 24h windows)."""
    from sqlalchemy import update

    with db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.finished_at is not None
        session.execute(
            update(Job).where(Job.id == job_id).values(finished_at=job.finished_at - timedelta(hours=hours))
        )
