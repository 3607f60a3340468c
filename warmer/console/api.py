"""The JSON API under /api/warmer/: every figure a page shows, and every action it offers.

Flower's API convention holds: refused (401) unless the console runs with --basic-auth or
OAuth, or with --unauthenticated-api (FLOWER_UNAUTHENTICATED_API). Errors are JSON
`{"error": message, "status": code}`: 400 for a bad parameter, 404 for an unknown job or
repository, 409 for a transition the job's state refuses, 403 for a POST without the CSRF token.
"""

from __future__ import annotations

import json
from typing import Any

import tornado.web
from flower.api import BaseApiHandler

from warmer.console import actions, data
from warmer.console.base import ConsoleError, WarmerHandlerMixin
from warmer.console.openapi import spec
from warmer.console.params import (
    AnalyticsParams,
    BadParameter,
    JobFilters,
    int_param,
    job_id_param,
    reject_unknown,
)


class WarmerApiHandler(WarmerHandlerMixin, BaseApiHandler):
    def prepare(self) -> None:
        BaseApiHandler.prepare(self)  # Flower's rule: no API without auth unless asked for
        WarmerHandlerMixin.prepare(self)
        if not self.current_user:  # OAuth without a session cookie
            raise ConsoleError(401, "authentication required")

    def args(self) -> dict[str, str]:
        """Query (or form) arguments, last value wins, not HTML-escaped (Flower escapes by default)."""
        return {key: self.decode_argument(values[-1]) for key, values in self.request.arguments.items()}

    def body(self) -> dict[str, Any]:
        """A POST's parameters: a JSON object body, or form fields."""
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.startswith("application/json"):
            try:
                value = json.loads(self.request.body or b"{}")
            except ValueError as exc:
                raise ConsoleError(400, f"request body is not valid JSON: {exc}") from None
            if not isinstance(value, dict):
                raise ConsoleError(400, "request body must be a JSON object")
            return value
        return {k: self.decode_argument(v[-1]) for k, v in self.request.body_arguments.items()}

    def reply(self, value: Any, status: int = 200) -> None:
        _ = self.xsrf_token  # sets the _xsrf cookie a client sends back on its POSTs
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(value, indent=None, default=str))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ConsoleError):
            message = exc.message
        elif isinstance(exc, tornado.web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        elif status_code == 401:
            message = "authentication required"
        elif status_code < 500:
            message = (exc.reason if isinstance(exc, tornado.web.HTTPError) else None) or "request refused"
        else:
            message = "internal error; see the console's log"
        if status_code == 401 and self.application.options.basic_auth:
            self.set_header("WWW-Authenticate", 'Basic realm="warmer"')
        self.clear_header("Content-Type")
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps({"error": message, "status": status_code}))

    def parse(self, parser: Any) -> Any:
        try:
            return parser(self.args())
        except BadParameter as exc:
            raise ConsoleError(400, str(exc)) from None


class OverviewApi(WarmerApiHandler):
    async def get(self) -> None:
        self.parse(lambda args: reject_unknown(args, ()))
        depths, error = await queue_depths(self)
        self.reply(await self.blocking(data.overview, self.ctx, depths, error))


class InstancesApi(WarmerApiHandler):
    async def get(self) -> None:
        def parse(args: dict[str, str]) -> bool:
            reject_unknown(args, ("include_stopped",))
            value = args.get("include_stopped", "false").lower()
            if value not in ("true", "false", "1", "0"):
                raise BadParameter(f"invalid include_stopped {value!r}: expected true or false")
            return value in ("true", "1")

        self.reply(await self.blocking(data.instances, self.ctx, self.parse(parse)))


class JobsApi(WarmerApiHandler):
    async def get(self) -> None:
        self.reply(await self.blocking(data.jobs, self.ctx, self.parse(JobFilters.parse)))


class BulkRequeueApi(WarmerApiHandler):
    """POST /api/warmer/jobs/requeue: re-queue every failed job the filters (JSON body or form
    fields: repo, artifact_type, trigger, q, finished_within_hours) match, as one audited action."""

    async def post(self) -> None:
        body = {k: str(v) for k, v in self.body().items() if v is not None and k != "_xsrf"}
        body.pop("status", None)  # always failed: only failed jobs can be re-queued
        try:
            filters = JobFilters.parse(
                body, allowed=tuple(f for f in JobFilters.FILTER_FIELDS if f != "status")
            )
        except BadParameter as exc:
            raise ConsoleError(400, str(exc)) from None
        self.reply(await self.blocking(actions.bulk_requeue, self.ctx, filters, self.actor))


class AuditApi(WarmerApiHandler):
    """GET /api/warmer/audit: bulk actions and retention runs, newest first (keyset: `before`)."""

    async def get(self) -> None:
        def parse(args: dict[str, str]) -> tuple[int | None, int]:
            reject_unknown(args, ("before", "limit"))
            before = args.get("before")
            return (job_id_param(before) if before else None), int_param(
                "limit", args.get("limit"), 50, 1, 500
            )

        before, limit = self.parse(parse)
        self.reply(await self.blocking(data.audit, self.ctx, before, limit))


class JobApi(WarmerApiHandler):
    async def get(self, raw_id: str) -> None:
        self.parse(lambda args: reject_unknown(args, ()))
        job_id = self.parse(lambda _: job_id_param(raw_id))
        self.reply(await self.blocking(data.job, self.ctx, job_id))


class RequeueApi(WarmerApiHandler):
    async def post(self, raw_id: str) -> None:
        job_id = self.parse(lambda _: job_id_param(raw_id))
        self.reply(await self.blocking(actions.requeue, self.ctx, job_id, self.actor))


class RepositoriesApi(WarmerApiHandler):
    async def get(self) -> None:
        def parse(args: dict[str, str]) -> tuple[str | None, int]:
            reject_unknown(args, ("after", "limit"))
            after = args.get("after") or None
            if after is not None and len(after) > 200:
                raise BadParameter("invalid after: at most 200 characters")
            return after, int_param("limit", args.get("limit"), data.REPO_PAGE, 1, 500)

        after, limit = self.parse(parse)
        self.reply(await self.blocking(data.repositories, self.ctx, after, limit))

    async def post(self) -> None:
        """Connect (or re-connect) a repository: {"source": ..., "name": ..., "branch": ...}."""
        body = self.body()
        unknown = sorted(set(body) - {"source", "name", "branch", "_xsrf"})
        if unknown:
            raise ConsoleError(400, f"unknown field(s) {', '.join(unknown)} (accepted: source, name, branch)")
        values = {key: body.get(key) or None for key in ("source", "name", "branch")}
        for key, value in values.items():
            if value is not None and not isinstance(value, str):
                raise ConsoleError(400, f"invalid {key}: expected a string")
        if not values["source"] and not values["name"]:
            raise ConsoleError(400, "give a source (path or clone URL), or the name of a known repository")
        result = await self.blocking(
            actions.connect_repository, self.ctx, values["source"], values["name"], values["branch"]
        )
        self.reply(result, 201 if result["reason"] == "new" else 200)


class RepositoryApi(WarmerApiHandler):
    async def get(self, name: str) -> None:
        self.parse(lambda args: reject_unknown(args, ()))
        self.reply(await self.blocking(data.repository, self.ctx, name))


class FullWarmingApi(WarmerApiHandler):
    async def post(self, name: str) -> None:
        self.reply(await self.blocking(actions.trigger_full_warming, self.ctx, name, self.actor), 202)


class DisconnectApi(WarmerApiHandler):
    async def post(self, name: str) -> None:
        self.reply(await self.blocking(actions.disconnect_repository, self.ctx, name))


class AnalyticsApi(WarmerApiHandler):
    async def get(self) -> None:
        self.reply(await self.blocking(data.analytics, self.ctx, self.parse(AnalyticsParams.parse)))


class OpenApiSpec(WarmerApiHandler):
    def prepare(self) -> None:
        """The description itself is public: it holds no data, and clients read it before logging in."""

    async def get(self) -> None:
        self.reply(spec(self.application.options.url_prefix or ""))


async def queue_depths(handler: WarmerApiHandler | Any) -> tuple[dict[str, int | None], str | None]:
    """Messages waiting on each warmer queue, from the broker itself (all priority steps)."""
    names = handler.ctx.queue_names()
    try:
        broker = handler.get_broker()
        rows = await broker.queues(names)
    except Exception as exc:  # the page still shows the ledger's figures without the broker
        return {name: None for name in names}, f"broker unavailable: {str(exc).splitlines()[0][:200]}"
    found = {row["name"]: int(row.get("messages", 0)) for row in rows or []}
    return {name: found.get(name, 0) for name in names}, None
