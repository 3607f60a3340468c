"""The console: Flower's application for warmer's Celery app, with warmer's routes in front.

Flower has no plugin hook (mher/flower#986): its constructor installs `flower.urls.handlers`,
which end in a catch-all. `add_handlers(r".*", rules)` after construction puts warmer's rules
ahead of that catch-all, so Flower's own pages (/workers, /tasks, /broker, /metrics, its
/api/...) keep working unchanged. Built on Flower 2.2.0's internals: the version is pinned.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from flower.app import Flower, rewrite_handler
from tornado.web import StaticFileHandler, url

from warmer.console import api, metrics, pages, security
from warmer.console.context import ConsoleContext
from warmer.console.flower_pages import OverlayLoader
from warmer.ledger.db import Database
from warmer.settings import Settings

API = "/api/warmer"
# A repository name may hold '/': path segments before a fixed action suffix.
_REPO = r"(.+?)"


def routes() -> list[Any]:
    """Every warmer route: pages and their form actions, then the JSON API."""
    return [
        url(r"/", pages.RootRedirect, name="warmer-root"),
        url(r"/warmer", pages.WarmersPage, name="warmer-warmers"),
        url(r"/warmer/jobs", pages.JobsPage, name="warmer-jobs"),
        url(r"/warmer/jobs/requeue", pages.BulkRequeueAction, name="warmer-bulk-requeue"),
        url(r"/warmer/jobs/([^/]+)", pages.JobPage, name="warmer-job"),
        url(r"/warmer/jobs/(\d+)/requeue", pages.RequeueAction, name="warmer-requeue"),
        url(r"/warmer/jobs/(\d+)/task", pages.JobTaskRedirect, name="warmer-job-task"),
        url(r"/warmer/repositories", pages.RepositoriesPage, name="warmer-repositories"),
        url(r"/warmer/repositories/connect", pages.RepositoryAction, {"action": "connect"}, "warmer-connect"),
        url(rf"/warmer/repositories/{_REPO}/full-warming", pages.RepositoryAction, {"action": "full-warming"},
            "warmer-full-warming"),
        url(rf"/warmer/repositories/{_REPO}/disconnect", pages.RepositoryAction, {"action": "disconnect"},
            "warmer-disconnect"),
        url(rf"/warmer/repositories/{_REPO}/reconnect", pages.RepositoryAction, {"action": "reconnect"},
            "warmer-reconnect"),
        url(r"/warmer/analytics", pages.AnalyticsPage, name="warmer-analytics"),
        url(r"/warmer/static/(.*)", StaticFileHandler, {"path": pages.STATIC}, "warmer-static"),
        url(r"/metrics", metrics.MetricsHandler, name="warmer-metrics"),
        url(rf"{API}/openapi.json", api.OpenApiSpec, name="warmer-api-openapi"),
        url(rf"{API}/overview", api.OverviewApi, name="warmer-api-overview"),
        url(rf"{API}/instances", api.InstancesApi, name="warmer-api-instances"),
        url(rf"{API}/jobs", api.JobsApi, name="warmer-api-jobs"),
        url(rf"{API}/jobs/requeue", api.BulkRequeueApi, name="warmer-api-bulk-requeue"),
        url(rf"{API}/jobs/([^/]+)/requeue", api.RequeueApi, name="warmer-api-requeue"),
        url(rf"{API}/jobs/([^/]+)", api.JobApi, name="warmer-api-job"),
        url(rf"{API}/repositories", api.RepositoriesApi, name="warmer-api-repositories"),
        url(rf"{API}/repositories/{_REPO}/full-warming", api.FullWarmingApi, name="warmer-api-full-warming"),
        url(rf"{API}/repositories/{_REPO}/disconnect", api.DisconnectApi, name="warmer-api-disconnect"),
        url(rf"{API}/repositories/(.+)", api.RepositoryApi, name="warmer-api-repository"),
        url(rf"{API}/analytics", api.AnalyticsApi, name="warmer-api-analytics"),
        url(rf"{API}/audit", api.AuditApi, name="warmer-api-audit"),
    ]  # fmt: skip


def make_app(
    capp: Celery,
    db: Database,
    settings: Settings,
    options: Any = None,
    *,
    open_metrics: bool = False,
    **tornado_settings: Any,
) -> Flower:
    """Flower for `capp`, holding warmer's ledger and settings, with warmer's routes in front,
    warmer's navbar on Flower's pages and security headers on every response.

    `options` are Flower's tornado options (auth, port, url_prefix, ...); `tornado_settings`
    what `flower.command` passes (cookie_secret, xsrf_cookies, login_url, static paths, oauth)."""
    tornado_settings["template_loader"] = OverlayLoader()
    app = Flower(capp=capp, options=options, **tornado_settings)
    app.warmer = ConsoleContext(db=db, settings=settings, capp=capp, open_metrics=open_metrics)  # type: ignore[attr-defined]
    security.install(app)
    metrics.register(app.warmer)  # type: ignore[attr-defined]  # on Flower's own /metrics
    rules = routes()
    prefix = app.options.url_prefix
    if prefix:
        rules = [rewrite_handler(rule, prefix) for rule in rules]
    app.add_handlers(r".*", rules)
    return app
