"""The console's pages (Settings → Engineering Cache → Warmers / Jobs / Repositories / Analytics)
and the form actions behind their buttons. Forms post the `_xsrf` token; each action redirects
back with a one-shot message, so a reload never repeats it."""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import tornado.web
from flower.views import BaseHandler
from tornado.escape import url_escape, xhtml_escape
from tornado.template import Loader
from tornado.web import StaticFileHandler

from warmer.console import actions, charts, data
from warmer.console.api import queue_depths
from warmer.console.base import ConsoleError, WarmerHandlerMixin
from warmer.console.flower_pages import tasks_of_job
from warmer.console.params import PAGE_SIZES, SORTS, AnalyticsParams, BadParameter, JobFilters, job_id_param
from warmer.ledger.models import JobStatus, Trigger

HERE = os.path.dirname(__file__)
TEMPLATES = os.path.join(HERE, "templates")
STATIC = os.path.join(HERE, "static")
FLASH_COOKIE = "warmer_flash"
STATUS_CLASS = {
    "queued": "secondary",
    "claimed": "info",
    "running": "primary",
    "completed": "success",
    "failed": "danger",
}


def seconds_text(value: float | None) -> str:
    """A duration people read at a glance: 0.42s, 12.3s, 4m 05s, 2h 03m."""
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.2f}s" if value < 10 else f"{value:.1f}s"
    minutes, secs = divmod(int(value), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def when(iso: str | None) -> str:
    return iso[:19].replace("T", " ") + " UTC" if iso else "-"


def time_tag(iso: str | None) -> str:
    """A timestamp as <time>: UTC in the page, the reader's local time and its age once
    console.js has run (and on every live refresh)."""
    if not iso:
        return "-"
    return f'<time datetime="{xhtml_escape(iso)}">{xhtml_escape(when(iso))}</time>'


def percent(rate: float | None) -> str:
    return f"{rate * 100:.1f}%" if rate is not None else "-"


class PageHandler(WarmerHandlerMixin, BaseHandler):
    nav = ""

    def get_template_path(self) -> str:
        return TEMPLATES

    def create_template_loader(self, template_path: str) -> Loader:
        # The application's loader is Flower's overlay (flower_pages.py); warmer's pages have their own.
        return Loader(template_path, autoescape=self.application.settings.get("autoescape", "xhtml_escape"))

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Cache-Control", "no-store")  # live figures: never a cached page

    def warmer_static(self, path: str) -> str:
        version = StaticFileHandler.get_version({"static_path": STATIC}, path)
        return f"{self.reverse_url('warmer-static', path)}?v={version}"

    def render(self, template_name: str, **kwargs: Any) -> None:  # type: ignore[override]
        flash = self.get_secure_cookie(FLASH_COOKIE, max_age_days=1)
        if flash:
            self.clear_cookie(FLASH_COOKIE)
        kwargs.setdefault("message", None)
        super().render(
            template_name,
            nav=self.nav,
            flash=json.loads(flash) if flash else None,
            warmer_static=self.warmer_static,
            seconds_text=seconds_text,
            when=when,
            time_tag=time_tag,
            percent=percent,
            actor=self.actor,
            status_class=lambda status: STATUS_CLASS.get(status, "secondary"),
            url_escape=lambda value: url_escape(value, plus=False),
            **kwargs,
        )

    def flash_redirect(self, kind: str, text: str, target: str) -> None:
        self.set_secure_cookie(FLASH_COOKIE, json.dumps({"kind": kind, "text": text}), expires_days=None)
        self.redirect(target)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ConsoleError) and status_code not in (401, 500):
            if not hasattr(self, "_current_user"):
                self.current_user = None
            self.set_status(status_code)
            self.render("404.html", message=exc.message)
            return
        super().write_error(status_code, **kwargs)


class RootRedirect(tornado.web.RequestHandler):
    def get(self) -> None:
        self.redirect(self.reverse_url("warmer-warmers"))


class WarmersPage(PageHandler):
    nav = "warmers"

    @tornado.web.authenticated
    async def get(self) -> None:
        depths, error = await queue_depths(self)
        overview = await self.blocking(data.overview, self.ctx, depths, error)
        self.render("warmers.html", overview=overview, api_url=self.reverse_url("warmer-api-overview"))


class JobsPage(PageHandler):
    nav = "jobs"

    @tornado.web.authenticated
    async def get(self) -> None:
        args = {key: self.decode_argument(values[-1]) for key, values in self.request.arguments.items()}
        # An empty select means "any": drop it instead of refusing it.
        args = {key: value for key, value in args.items() if value != ""}
        choices = await self.blocking(data.filter_choices, self.ctx)
        error = None
        try:
            filters = JobFilters.parse(args)
            result = await self.blocking(data.jobs, self.ctx, filters)
        except (BadParameter, ConsoleError) as exc:
            self.set_status(400)
            error = exc.message if isinstance(exc, ConsoleError) else str(exc)
            filters, result = (
                JobFilters(),
                {"jobs": [], "count": 0, "filters": {}, "next": None, "prev": None},
            )
        base = self.reverse_url("warmer-jobs")

        def link(**changes: str | None) -> str:
            query = {**filters.as_query(), **{k: v for k, v in changes.items() if v is not None}}
            query = {k: v for k, v in query.items() if v}
            return base + ("?" + urlencode(query) if query else "")

        self.render("jobs.html", result=result, filters=filters, choices=choices, error=error, link=link,
                    page_sizes=PAGE_SIZES, sorts=SORTS, **_enums())  # fmt: skip


class BulkRequeueAction(PageHandler):
    """The Jobs page's "Re-queue all N failed jobs matching" button: one audited bulk action."""

    @tornado.web.authenticated
    async def post(self) -> None:
        form = {
            k: self.decode_argument(v[-1]) for k, v in self.request.body_arguments.items() if k != "_xsrf"
        }
        form = {k: v for k, v in form.items() if v and k != "status"}
        target = self.reverse_url("warmer-jobs")
        try:
            filters = JobFilters.parse(
                form, allowed=tuple(f for f in JobFilters.FILTER_FIELDS if f != "status")
            )
            result = await self.blocking(actions.bulk_requeue, self.ctx, filters, self.actor)
        except (BadParameter, ConsoleError) as exc:
            self.flash_redirect("danger", exc.message if isinstance(exc, ConsoleError) else str(exc), target)
            return
        query = urlencode({**filters.filter_query(), "status": "queued,claimed,running,completed,failed"})
        self.flash_redirect(
            "success",
            f"Bulk re-queue #{result['audit_id']}: {result['requeued']} failed job(s) re-queued, "
            f"{result['skipped']} skipped; {result['note']}.",
            f"{target}?{query}",
        )


class JobTaskRedirect(PageHandler):
    """From a job to the Celery task Flower saw run it (the newest delivery)."""

    @tornado.web.authenticated
    def get(self, raw_id: str) -> None:
        job_id = int(raw_id)
        tasks = tasks_of_job(self.application, job_id)
        if not tasks:
            raise ConsoleError(
                404,
                f"Flower has not seen a task for job {job_id}: it keeps the tasks of workers that send "
                "task events since the console started (it switches events on in running workers).",
            )
        self.redirect(self.reverse_url("task", tasks[0].uuid))


def _enums() -> dict[str, list[str]]:
    return {"statuses": [s.value for s in JobStatus], "triggers": [t.value for t in Trigger]}


class JobPage(PageHandler):
    nav = "jobs"

    @tornado.web.authenticated
    async def get(self, raw_id: str) -> None:
        try:
            job_id = job_id_param(raw_id)
        except BadParameter as exc:
            raise ConsoleError(400, str(exc)) from None
        job = await self.blocking(data.job, self.ctx, job_id)
        total = sum(job["phases_seconds"].values()) or 1.0
        self.render("job.html", job=job, phase_total=total)


class RequeueAction(PageHandler):
    @tornado.web.authenticated
    async def post(self, raw_id: str) -> None:
        job_id = int(raw_id)
        target = self.reverse_url("warmer-job", job_id)
        try:
            result = await self.blocking(actions.requeue, self.ctx, job_id, self.actor)
        except ConsoleError as exc:
            if exc.status_code == 404:
                raise
            self.flash_redirect("danger", exc.message, target)
            return
        self.flash_redirect("success", f"Job {job_id} re-queued; {result['note']}.", target)


class RepositoriesPage(PageHandler):
    nav = "repositories"

    @tornado.web.authenticated
    async def get(self) -> None:
        after = self.get_query_argument("after", None)
        if after is not None and len(after) > 200:
            raise ConsoleError(400, "invalid after: at most 200 characters")
        repos = await self.blocking(data.repositories, self.ctx, after or None)
        self.render("repositories.html", repos=repos, after=after)


class RepositoryAction(PageHandler):
    """Connect, re-connect, disconnect and Trigger Full Warming: each redirects to the list."""

    def initialize(self, action: str) -> None:
        self.action = action

    @tornado.web.authenticated
    async def post(self, name: str | None = None) -> None:
        action = self.action
        target = self.reverse_url("warmer-repositories")
        try:
            if action == "full-warming":
                result = await self.blocking(actions.trigger_full_warming, self.ctx, name, self.actor)
                text = (
                    f"Full warming of {result['repo']} at {result['commit'][:12]}: "
                    f"{len(result['created'])} job(s) queued, "
                    f"{len(result['jobs']) - len(result['created'])} already active; {result['note']}."
                )
            elif action == "disconnect":
                result = await self.blocking(actions.disconnect_repository, self.ctx, name)
                text = f"{result['repo']} disconnected: commits are no longer warmed."
            else:
                form = {
                    key: self.get_body_argument(key, "", strip=True) for key in ("source", "name", "branch")
                }
                if action == "reconnect":
                    form = {"source": "", "name": name or "", "branch": ""}
                result = await self.blocking(
                    actions.connect_repository,
                    self.ctx,
                    form["source"] or None,
                    form["name"] or None,
                    form["branch"] or None,
                )
                text = f"{result['repo']}: {result['reason']} (branch {result['branch']}); {result['note']}."
        except (ConsoleError, ValueError) as exc:
            self.flash_redirect("danger", exc.message if isinstance(exc, ConsoleError) else str(exc), target)
            return
        self.flash_redirect("success", text, target)


class AnalyticsPage(PageHandler):
    nav = "analytics"

    @tornado.web.authenticated
    async def get(self) -> None:
        args = {key: self.decode_argument(values[-1]) for key, values in self.request.arguments.items()}
        try:
            params = AnalyticsParams.parse(args)
        except BadParameter as exc:
            raise ConsoleError(400, str(exc)) from None
        result = await self.blocking(data.analytics, self.ctx, params)
        series = result["hit_rate_series"]
        label = "%H:%M" if result["bucket_seconds"] < 86400 else "%m-%d"
        svgs = {
            "hit_rate": charts.line_chart(
                [
                    (datetime.fromisoformat(p["at"]).strftime(label), p["hit_rate"], p["lookups"])
                    for p in series
                ]
            ),
            "patterns": charts.bar_chart(
                [(f"{p['repo']} · {p['artifact_type']}", p["misses"]) for p in result["miss_patterns"]],
                color="#d9534f",
                unit="misses",
            ),
            "promoted": charts.bar_chart(
                [(p["artifact_type"], p["jobs"]) for p in result["promoted_artifacts"]],
                color="#6f42c1",
                unit="jobs",
            ),
            "conversion": charts.ratio_bar(
                result["conversions"]["converted"], result["conversions"]["warmed_by_misses"]
            ),
        }
        windows = [(6, "6 hours"), (24, "24 hours"), (24 * 7, "7 days"), (24 * 30, "30 days")]
        self.render(
            "analytics.html",
            result=result,
            svgs=svgs,
            params=params,
            windows=windows,
            query=lambda **kw: urlencode(kw),
        )
