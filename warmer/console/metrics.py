"""Prometheus metrics for warmer, served on Flower's own `/metrics` beside Flower's metrics.

Flower serves the default `prometheus_client` registry, so a collector registered in the console
process appears there. Every figure is read at scrape time from the ledger (the source of truth
shared by all workers) and the broker, never counted in this process: a console restart or a
second console replica reports the same numbers. A scrape reads indexes and running totals
(ledger/totals.py), never the history; the counters keep what retention pruned.

    warmer_queue_depth{queue}                      messages waiting on the broker, all priority steps
    warmer_jobs{status}                            jobs in each lifecycle state
    warmer_job_duration_seconds{artifact_type}     run time (started → finished) of completed jobs
    warmer_cache_lookups_total{artifact_type,result}  agent lookups, hit or miss
    warmer_stale_reclaims_total                    jobs taken back from dead or silent workers
    warmer_job_retries_total                       failed attempts re-queued for another try
    warmer_instances{state}                        worker instances alive or stale (not stopped)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import prometheus_client
import tornado.web
from flower.views import BaseHandler
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from prometheus_client.utils import floatToGoString
from sqlalchemy import func, select
from tornado.ioloop import IOLoop

from warmer.console.context import ConsoleContext
from warmer.ledger import totals
from warmer.ledger.models import RECLAIM_EVENT, RETRY_EVENT, Job, JobEvent, JobStatus, WarmerInstance
from warmer.ledger.totals import DURATION_BUCKETS

log = logging.getLogger(__name__)


def broker_depths(ctx: ConsoleContext) -> dict[str, int | None]:
    """Messages on each warmer queue. A passive declare counts every priority step on Redis
    (kombu sums them) and the queue itself on AMQP; an unreachable broker gives None."""
    names = ctx.queue_names()
    depths: dict[str, int | None] = dict.fromkeys(names)
    try:
        with ctx.capp.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
            for name in names:
                try:
                    depths[name] = int(
                        connection.default_channel.queue_declare(name, passive=True).message_count
                    )
                except Exception:  # not declared yet on AMQP: nothing was ever published to it
                    depths[name] = 0
    except Exception as exc:
        log.warning("metrics: broker unreachable: %s", str(exc).splitlines()[0] if str(exc) else exc)
    return depths


class WarmerCollector(Collector):
    def __init__(self, ctx: ConsoleContext) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Any]:
        depth = GaugeMetricFamily("warmer_queue_depth", "Messages waiting on the broker per warmer queue",
                                  labels=["queue"])  # fmt: skip
        for name, count in broker_depths(self.ctx).items():
            if count is not None:
                depth.add_metric([name], count)
        yield depth
        try:
            yield from self._ledger()
        except Exception as exc:  # a scrape must answer even when the ledger is down
            log.warning("metrics: ledger unreachable: %s", str(exc).splitlines()[0] if str(exc) else exc)

    def _ledger(self) -> Iterator[Any]:
        db = self.ctx.db
        stale_after = timedelta(seconds=self.ctx.settings.worker.stale_threshold_secs)
        # A read-write transaction (the folds write their increments), each read on an index:
        # (status, id) for the states, the folded totals for durations and lookups, the small
        # partial indexes of reclaim and retry events plus what retention pruned of them.
        with db.session() as session:
            now = db.now()
            # Every state but completed from ix_jobs_status_id; completed, the bulk of the history,
            # from the folded completions less what retention pruned.
            open_states = [s for s in JobStatus if s is not JobStatus.COMPLETED]
            statuses = dict(
                session.execute(
                    select(Job.status, func.count()).where(Job.status.in_(open_states)).group_by(Job.status)
                ).all()
            )
            durations = totals.durations(session, now)
            completed = sum(count for _, count, _, _ in durations)
            statuses[JobStatus.COMPLETED] = (
                completed - totals.get(session, [totals.PRUNED_COMPLETED])[totals.PRUNED_COMPLETED]
            )
            lookups = totals.lookup_totals(session, now)
            pruned = totals.get(session, [totals.PRUNED_RECLAIMS, totals.PRUNED_RETRIES])
            reclaims = session.scalar(select(func.count()).select_from(JobEvent).where(RECLAIM_EVENT))
            retries = session.scalar(select(func.count()).select_from(JobEvent).where(RETRY_EVENT))
            alive = (
                session.execute(
                    select(WarmerInstance.heartbeat_at).where(WarmerInstance.stopped_at.is_(None))
                )
                .scalars()
                .all()
            )
        reclaims = (reclaims or 0) + pruned[totals.PRUNED_RECLAIMS]
        retries = (retries or 0) + pruned[totals.PRUNED_RETRIES]

        jobs = GaugeMetricFamily("warmer_jobs", "Jobs in each lifecycle state (ledger)", labels=["status"])
        for status in JobStatus:
            jobs.add_metric([status.value], statuses.get(status, 0))
        yield jobs

        histogram = HistogramMetricFamily("warmer_job_duration_seconds",
                                          "Run time of completed jobs, started to finished",
                                          labels=["artifact_type"])  # fmt: skip
        for artifact, count, total, cumulative in durations:
            buckets = [
                (floatToGoString(bound), int(n))
                for bound, n in zip(DURATION_BUCKETS, cumulative, strict=True)
            ]
            histogram.add_metric([artifact], [*buckets, ("+Inf", count)], total)
        yield histogram

        counted = CounterMetricFamily("warmer_cache_lookups", "Agent lookups by artifact type and result",
                                      labels=["artifact_type", "result"])  # fmt: skip
        for (artifact, result), count in sorted(lookups.items()):
            counted.add_metric([artifact, result], count)
        yield counted
        yield CounterMetricFamily("warmer_stale_reclaims", "Jobs reclaimed from dead or silent workers",
                                  value=reclaims or 0)  # fmt: skip
        yield CounterMetricFamily("warmer_job_retries", "Failed attempts re-queued for another try",
                                  value=retries or 0)  # fmt: skip
        instances = GaugeMetricFamily("warmer_instances", "Worker instances not stopped, by heartbeat",
                                      labels=["state"])  # fmt: skip
        stale = sum(1 for beat in alive if now - beat > stale_after)
        instances.add_metric(["alive"], len(alive) - stale)
        instances.add_metric(["stale"], stale)
        yield instances


_registered: WarmerCollector | None = None


def register(ctx: ConsoleContext) -> WarmerCollector:
    """Put warmer's collector on the default registry (replacing an earlier console's in this process)."""
    global _registered
    if _registered is not None:
        REGISTRY.unregister(_registered)
    _registered = WarmerCollector(ctx)
    REGISTRY.register(_registered)
    return _registered


class MetricsHandler(BaseHandler):
    """Flower's /metrics (its own metrics and warmer's), behind the console's auth: a scraper sends
    the basic-auth credentials, or the console runs with --open-metrics. Refused with 401 (never a
    login redirect: a scraper cannot follow one)."""

    def prepare(self) -> None:
        if self.application.warmer.open_metrics:
            return
        options = self.application.options
        try:
            user = self.current_user
        except tornado.web.HTTPError:
            user = None
        if (options.basic_auth or options.auth) and not user:
            self.set_status(401)
            if options.basic_auth:
                self.set_header("WWW-Authenticate", 'Basic realm="warmer metrics"')
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(
                "authentication required: send the console's credentials, or run it with --open-metrics\n"
            )

    async def get(self) -> None:
        self.application.purge_offline_worker_metrics()
        body = await IOLoop.current().run_in_executor(None, prometheus_client.generate_latest)
        self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.write(body)
