"""The warmer's part of a Celery worker, as a bootstep: identity, health server, maintenance."""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from celery import bootsteps
from sqlalchemy.exc import OperationalError

from warmer import runtime
from warmer.broker import BrokerProbe
from warmer.ledger import migrate
from warmer.ledger.db import Database
from warmer.worker import instances
from warmer.worker.health import HealthCheck, HealthServer
from warmer.worker.maintenance import Maintenance

log = logging.getLogger("worker_cache_warmer")


class WarmerWorker(bootsteps.StartStopStep):
    """Started after the pool: registers the instance and runs its health server and maintenance."""

    requires = {"celery.worker.components:Pool"}
    label = "warmer"

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        # Before the pool forks: children inherit the id through the environment.
        self.instance_id = runtime.new_instance_id()
        self.health: HealthServer | None = None
        self.maintenance: Maintenance | None = None

    def start(self, worker: Any) -> None:
        settings = runtime.settings()
        db = runtime.database()
        from celery.worker import state

        check = HealthCheck(
            # Its own small engine with a short connect timeout: probes expect quick answers.
            Database(settings.database_url, connect_timeout=2, pool_size=1, max_overflow=1),
            BrokerProbe(worker.app.conf.broker_url),
            self.instance_id,
            local_active=lambda: len(state.active_requests),
            delivery_bound_secs=Maintenance.delivery_bound_secs(settings.worker.poll_interval_secs),
        )
        port = settings.worker.health_port
        try:  # first, so that an orchestrator sees why this worker is waiting
            self.health = HealthServer(port, check).start()
            log.info("health endpoint on :%d/health", port)
        except OSError as exc:
            log.error("cannot serve the health endpoint on port %d: %s", port, exc)
        self._wait_for_ledger(db)
        log.info("starting cache warmer worker concurrency=%d", worker.concurrency)
        instances.register(db, self.instance_id, socket.gethostname(), os.getpid(), worker.concurrency)
        self.maintenance = Maintenance(worker.app, db, settings, self.instance_id).start()
        log.info("polling for warmer jobs")

    def _wait_for_ledger(self, db: Database) -> None:
        """Wait for Postgres like Celery waits for its broker; refuse a schema of another version
        with one line (not Celery's "Unrecoverable error" traceback)."""
        while True:
            db.wait_until_reachable(log)
            try:
                migrate.ensure_current(db)
                return
            except OperationalError:  # gone again between the two: keep waiting
                continue
            except migrate.SchemaOutOfDate as exc:
                log.error("warmer: cannot start: %s", exc)
                raise SystemExit(1) from None

    def stop(self, worker: Any) -> None:
        if self.maintenance is not None:
            self.maintenance.stop()
        if self.health is not None:
            self.health.stop()
        try:
            instances.stopped(runtime.database(), self.instance_id)
        except Exception as exc:  # the database may be the reason we stop
            log.warning("could not record instance stop: %s", exc)
