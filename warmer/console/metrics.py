"""Prometheus metrics for warmer, served on Flower's own `/metrics` beside Flower's metrics.

Flower serves the default `prometheus_client` registry, so a collector registered in the console
process appears there. Every figure is read at scrape time from the ledger (the source of truth
shared by all workers) and the broker, never counted in this process: a console restart or a
second console replica reports the same numbers.

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

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from prometheus_client.utils import floatToGoString
from sqlalchemy import Float, and_, case, cast, func, select
from sqlalchemy.sql.elements import ColumnElement

from warmer.console.context import ConsoleContext
from warmer.ledger.models import CacheLookup, Job, JobEvent, JobStatus, WarmerInstance

log = logging.getLogger(__name__)
DURATION_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)


def _seconds(db_dialect: str) -> ColumnElement[Any]:
    """finished_at - started_at in seconds, in the ledger's own SQL (no rows come back to Python)."""
    if db_dialect == "postgresql":
        return func.extract("epoch", Job.finished_at - Job.started_at)
    return (func.julianday(Job.finished_at) - func.julianday(Job.started_at)) * 86400.0


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
        seconds = _seconds(db.engine.dialect.name)
        stale_after = timedelta(seconds=self.ctx.settings.worker.stale_threshold_secs)
        with db.session() as session:
            statuses = dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
            finished = and_(Job.status == JobStatus.COMPLETED, Job.started_at.is_not(None),
                            Job.finished_at.is_not(None))  # fmt: skip
            bucket_columns = [func.sum(case((seconds <= bound, 1), else_=0)) for bound in DURATION_BUCKETS]
            durations = session.execute(
                select(Job.artifact_type, func.count(), func.sum(cast(seconds, Float)), *bucket_columns)
                .where(finished)
                .group_by(Job.artifact_type)
            ).all()
            lookups = session.execute(
                select(CacheLookup.artifact_type, CacheLookup.hit, func.count()).group_by(
                    CacheLookup.artifact_type, CacheLookup.hit
                )
            ).all()
            reclaims = session.scalar(select(func.count()).where(JobEvent.detail.like("reclaim %")))
            retries = session.scalar(
                select(func.count()).where(
                    JobEvent.to_status == JobStatus.QUEUED, JobEvent.detail.like("failure %")
                )
            )
            now = db.now()
            alive = (
                session.execute(
                    select(WarmerInstance.heartbeat_at).where(WarmerInstance.stopped_at.is_(None))
                )
                .scalars()
                .all()
            )

        jobs = GaugeMetricFamily("warmer_jobs", "Jobs in each lifecycle state (ledger)", labels=["status"])
        for status in JobStatus:
            jobs.add_metric([status.value], statuses.get(status, 0))
        yield jobs

        histogram = HistogramMetricFamily("warmer_job_duration_seconds",
                                          "Run time of completed jobs, started to finished",
                                          labels=["artifact_type"])  # fmt: skip
        for row in durations:
            artifact, count, total, *cumulative = row
            buckets = [
                (floatToGoString(bound), int(n or 0))
                for bound, n in zip(DURATION_BUCKETS, cumulative, strict=True)
            ]
            histogram.add_metric([artifact], [*buckets, ("+Inf", int(count))], float(total or 0))
        yield histogram

        counted = CounterMetricFamily("warmer_cache_lookups", "Agent lookups by artifact type and result",
                                      labels=["artifact_type", "result"])  # fmt: skip
        for artifact, hit, count in lookups:
            counted.add_metric([artifact, "hit" if hit else "miss"], count)
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
