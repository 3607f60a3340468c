"""The figures each page shows, read from the ledger (blocking: handlers run these in a thread).

Pages and the JSON API call the same functions, so a page never shows a figure the API would
not return. Every result passes through `redact_tree` before it leaves.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from warmer.cache.lookup import known_artifact_types
from warmer.console import analytics_queries, job_list
from warmer.console.context import ConsoleContext
from warmer.console.params import AnalyticsParams, JobFilters
from warmer.console.redact import redact_tree, redact_url
from warmer.console.snapshot import snapshot
from warmer.ledger import conversions, queries
from warmer.ledger.models import LedgerAudit, Repository, Trigger
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
REPO_PAGE = 50


class NotFound(LookupError):
    """The job or repository a request names does not exist: 404."""


def overview(ctx: ConsoleContext, depths: dict[str, int | None], broker_error: str | None) -> dict[str, Any]:
    """The Warmers page: queue overview, per-queue depth, instances, jobs in progress (one snapshot)."""
    stale = ctx.settings.worker.stale_threshold_secs
    with snapshot(ctx.db) as (session, now):
        data = queries.overview(session, now, stale)
        data["jobs_in_progress"] = queries.jobs_in_progress(session, now)
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
    data["instance_age_out_secs"] = queries.INSTANCE_AGE_OUT_SECS
    data["ledger_url"] = redact_url(ctx.db.url)
    data["broker_url"] = redact_url(ctx.broker_url)
    return redact_tree(data)


def instances(ctx: ConsoleContext, include_stopped: bool) -> dict[str, Any]:
    with snapshot(ctx.db) as (session, now):
        views = queries.instances(session, now, ctx.settings.worker.stale_threshold_secs, include_stopped,
                                  stopped_within_secs=queries.INSTANCE_AGE_OUT_SECS)  # fmt: skip
    return redact_tree({"now": now.isoformat(), "instances": [view.as_json() for view in views]})


def jobs(ctx: ConsoleContext, filters: JobFilters) -> dict[str, Any]:
    """One keyset page of the job list, with the cursors of its neighbours."""
    with snapshot(ctx.db) as (session, now):
        result = job_list.page(session, filters, now)
    return redact_tree({"filters": filters.as_query(), "now": now.isoformat(), **result})


def job(ctx: ConsoleContext, job_id: int) -> dict[str, Any]:
    with snapshot(ctx.db) as (session, now):
        detail = queries.job_detail(session, job_id, now)
    if detail is None:
        raise NotFound(f"job {job_id} does not exist")
    detail["now"] = now.isoformat()
    detail["attempts_log"] = attempts_log(detail["events"])
    detail["lifetime"] = lifetime_counts(detail["events"])
    return redact_tree(detail)


def attempts_log(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each attempt (a claim) with its worker, its outcome and its full error: the history keeps
    every failed attempt's traceback after a re-queue has cleared the job's `error`."""
    attempts: list[dict[str, Any]] = []
    for event in events:
        if event["to"] == "claimed":
            attempts.append({"attempt": event["attempt"], "worker": event["actor"], "claimed_at": event["at"],
                             "outcome": "running", "finished_at": None, "error": None})  # fmt: skip
        elif attempts and attempts[-1]["finished_at"] is None and event["from"] in ("claimed", "running"):
            current = attempts[-1]
            detail = event["detail"] or ""
            if event["to"] == "running":
                continue
            current["finished_at"] = event["at"]
            if event["to"] == "completed":
                current["outcome"] = "completed"
            elif detail.startswith("reclaim"):
                current["outcome"], current["error"] = "reclaimed", detail
            else:
                current["outcome"] = "failed" if event["to"] == "failed" else "failed, retried"
                current["error"] = detail.split(": ", 1)[1] if ": " in detail else detail
    return attempts


def lifetime_counts(events: list[dict[str, Any]]) -> dict[str, int]:
    """Attempts, failures, reclaims and re-queues over the job's whole history (its columns
    count since the last re-queue, which grants a fresh allowance of retries)."""
    details = [(e["to"], e["from"], e["detail"] or "") for e in events]
    return {
        "attempts": sum(1 for to, _, _ in details if to == "claimed"),
        "failures": sum(1 for to, frm, d in details if frm in ("claimed", "running") and
                        to in ("failed", "queued") and not d.startswith("reclaim")),
        "reclaims": sum(1 for _, _, d in details if d.startswith("reclaim")),
        "requeues": sum(1 for to, frm, _ in details if frm == "failed" and to == "queued"),
    }  # fmt: skip


def repositories(ctx: ConsoleContext, after: str | None = None, limit: int = REPO_PAGE) -> dict[str, Any]:
    """One page of repositories by name (keyset: names after `after`), with their coverage."""
    with snapshot(ctx.db) as (session, _now):
        query = select(Repository.name).order_by(Repository.name).limit(limit + 1)
        if after:
            query = query.where(Repository.name > after)
        names = list(session.execute(query).scalars())
        more = len(names) > limit
        names = names[:limit]
        repos = queries.repository_views(session, ctx.coverage_types(), names) if names else []
    return redact_tree({
        "artifact_types": ctx.coverage_types(), "repositories": repos,
        "next": names[-1] if more and names else None,
    })  # fmt: skip


def repository(ctx: ConsoleContext, name: str) -> dict[str, Any]:
    with snapshot(ctx.db) as (session, _now):
        try:
            find(session, name)
        except UnknownRepository:
            raise NotFound(f"unknown repository {name!r}") from None
        [repo] = queries.repository_views(session, ctx.coverage_types(), [name])
    return redact_tree(repo)


def filter_choices(ctx: ConsoleContext) -> dict[str, list[str]]:
    """Values the job list's filter menus offer: the repositories, and every artifact type the
    settings and the registry know (not a DISTINCT over the job history)."""
    with ctx.db.session() as session:
        repos = list(session.execute(select(Repository.name).order_by(Repository.name)).scalars())
    return {"repos": repos, "artifact_types": sorted(known_artifact_types() | set(ctx.coverage_types()))}


CONVERSION_FOLD_SECS = 60  # how stale the Analytics page's conversion count may be


def analytics(ctx: ConsoleContext, params: AnalyticsParams) -> dict[str, Any]:
    with ctx.db.session() as session:  # record new conversions (at most every few seconds), then read
        conversions.fold(session, ctx.db.now(), min_interval=CONVERSION_FOLD_SECS)
    with snapshot(ctx.db) as (session, now):
        data = analytics_queries.analytics(session, now, params.window_hours, params.top,
                                           ctx.settings.warmers.on_miss.window_hours)  # fmt: skip
    return redact_tree(data)


def audit(ctx: ConsoleContext, before: int | None, limit: int) -> dict[str, Any]:
    """The audit trail of bulk actions and retention runs, newest first."""
    with snapshot(ctx.db) as (session, now):
        query = select(LedgerAudit).order_by(LedgerAudit.id.desc()).limit(limit + 1)
        if before is not None:
            query = query.where(LedgerAudit.id < before)
        rows = list(session.execute(query).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    entries = [{"id": r.id, "at": r.at.isoformat(), "actor": r.actor, "action": r.action, "detail": r.detail}
               for r in rows]  # fmt: skip
    return redact_tree({"now": now.isoformat(), "entries": entries, "next": rows[-1].id if more else None})
