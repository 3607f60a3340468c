"""The figures each page shows, read from the ledger (blocking: handlers run these in a thread).

Pages and the JSON API call the same functions, so a page never shows a figure the API would
not return. Every result passes through `redact_tree` before it leaves.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from warmer.console import analytics_queries
from warmer.console.context import ConsoleContext
from warmer.console.params import AnalyticsParams, BadParameter, JobFilters
from warmer.console.redact import redact_tree, redact_url
from warmer.ledger import queries
from warmer.ledger.models import Job, Repository, Trigger
from warmer.ledger.repositories import UnknownRepository, find
from warmer.queues import AMQP_QUEUE, COMMIT_QUEUE, CONNECT_QUEUE, MISS_QUEUE

# Which triggers feed each queue, and its rank (0 = most urgent): the table's rows.
QUEUE_TRIGGERS: dict[str, tuple[int, list[str]]] = {
    COMMIT_QUEUE: (0, [Trigger.COMMIT.value]),
    CONNECT_QUEUE: (1, [Trigger.CONNECT.value, Trigger.MANUAL.value]),
    MISS_QUEUE: (2, [Trigger.MISS.value]),
    AMQP_QUEUE: (0, [t.value for t in Trigger]),
}
PRIORITY_NAMES = {0: "high", 1: "medium", 2: "low"}


class NotFound(LookupError):
    """The job or repository a request names does not exist: 404."""


def overview(ctx: ConsoleContext, depths: dict[str, int | None], broker_error: str | None) -> dict[str, Any]:
    """The Warmers page: queue overview, per-queue depth, instances, jobs in progress."""
    now = ctx.db.now()
    stale = ctx.settings.worker.stale_threshold_secs
    with ctx.db.session() as session:
        data = queries.overview(session, now, stale)
        data["jobs_in_progress"] = queries.jobs_in_progress(session, now)
    data.pop("miss_conversions_24h", None)  # the Analytics page's figure, not this one's
    queued = data["queued_by_trigger"]
    data["queues"] = [
        {
            "name": name,
            "priority": PRIORITY_NAMES[QUEUE_TRIGGERS[name][0]] if name != AMQP_QUEUE else "by message",
            "triggers": QUEUE_TRIGGERS[name][1],
            "broker_messages": depths.get(name),
            "ledger_queued": sum(queued.get(t, 0) for t in QUEUE_TRIGGERS[name][1]),
        }
        for name in ctx.queue_names()
        if name in QUEUE_TRIGGERS
    ]
    data["broker_error"] = broker_error
    data["now"] = now.isoformat()
    data["stale_threshold_secs"] = stale
    data["ledger_url"] = redact_url(ctx.db.url)
    data["broker_url"] = redact_url(ctx.broker_url)
    return redact_tree(data)


def instances(ctx: ConsoleContext, include_stopped: bool) -> dict[str, Any]:
    now = ctx.db.now()
    with ctx.db.session() as session:
        views = queries.instances(session, now, ctx.settings.worker.stale_threshold_secs, include_stopped)
    return redact_tree({"now": now.isoformat(), "instances": [view.as_json() for view in views]})


def jobs(ctx: ConsoleContext, filters: JobFilters) -> dict[str, Any]:
    with ctx.db.session() as session:
        repo_id = None
        if filters.repo is not None:
            try:
                repo_id = find(session, filters.repo).id
            except UnknownRepository as exc:
                raise BadParameter(f"invalid repo: {exc}") from None
        rows = queries.list_jobs(
            session,
            status=filters.status,
            repo_id=repo_id,
            artifact_type=filters.artifact_type,
            trigger=filters.trigger,
            limit=filters.limit,
        )
    return redact_tree({"filters": filters.as_query(), "count": len(rows), "jobs": rows})


def job(ctx: ConsoleContext, job_id: int) -> dict[str, Any]:
    with ctx.db.session() as session:
        detail = queries.job_detail(session, job_id, ctx.db.now())
    if detail is None:
        raise NotFound(f"job {job_id} does not exist")
    return redact_tree(detail)


def repositories(ctx: ConsoleContext) -> dict[str, Any]:
    with ctx.db.session() as session:
        repos = queries.repository_views(session, ctx.coverage_types())
    return redact_tree({"artifact_types": ctx.coverage_types(), "repositories": repos})


def repository(ctx: ConsoleContext, name: str) -> dict[str, Any]:
    for repo in repositories(ctx)["repositories"]:
        if repo["name"] == name:
            return repo
    raise NotFound(f"unknown repository {name!r}")


def filter_choices(ctx: ConsoleContext) -> dict[str, list[str]]:
    """Values the job list's filter menus offer: what the ledger actually holds."""
    with ctx.db.session() as session:
        repos = list(session.execute(select(Repository.name).order_by(Repository.name)).scalars())
        artifacts = list(session.execute(select(Job.artifact_type).distinct()).scalars())
    return {
        "repos": repos,
        "artifact_types": sorted(set(artifacts) | set(ctx.coverage_types())),
    }


def analytics(ctx: ConsoleContext, params: AnalyticsParams) -> dict[str, Any]:
    now = ctx.db.now()
    with ctx.db.session() as session:
        data = analytics_queries.analytics(session, now, params.window_hours, params.top)
    return redact_tree(data)
