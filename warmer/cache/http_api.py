"""The agents' HTTP API (`warmer serve`): the Python API of `agent_api.py` over HTTP, plus JUnit ingestion.

    GET  /v1/repos/{repo}/artifacts/{type}?path=&task_type=   an entry (200) or a recorded miss (404);
         `path` on a whole-repository artifact (test_map, dependency_graph) answers that file's slice;
         a hit carries an ETag and answers `If-None-Match` with 304
    GET  /v1/repos/{repo}/symbols?q=&match=&limit=&task_type=  symbol look-up
    GET  /v1/repos/{repo}/search?q=&k=&task_type=              semantic search over the embedding index
    POST /v1/repos/{repo}/junit?commit=                        ingest a JUnit XML report (the body)

A miss answers 404 with `"hit": false` (and the job warming it, if any); an unknown repository
answers 404 with an `error`; malformed input answers 400 naming the parameter. Ledger work runs
on a thread pool so one slow query never stalls the other requests.
"""

from __future__ import annotations

import hmac
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import tornado.web
from sqlalchemy.exc import OperationalError
from tornado.ioloop import IOLoop

from warmer.cache import agent_api
from warmer.cache.lookup import InvalidLookup, LookupResult
from warmer.ledger.db import Database
from warmer.ledger.repositories import UnknownRepository
from warmer.settings import Settings

MAX_REPO_NAME = 200
MAX_REPORT_BYTES = 20 * 1024 * 1024
REPO = rf"/v1/repos/([^/]{{1,{MAX_REPO_NAME}}})"


class ApiHandler(tornado.web.RequestHandler):
    def initialize(
        self, db: Database, settings: Settings, token: str | None, pool: ThreadPoolExecutor
    ) -> None:
        self.db, self.config, self.token, self.pool = db, settings, token, pool

    def prepare(self) -> None:
        if self.token is None:
            return
        offered = self.request.headers.get("Authorization", "")
        if not hmac.compare_digest(offered.encode(), f"Bearer {self.token}".encode()):
            self.set_header("WWW-Authenticate", 'Bearer realm="warmer"')
            self.reply(401, {"error": "missing or wrong bearer token"})

    def reply(self, status: int, body: dict[str, Any]) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(body))

    def integer(self, name: str, default: int) -> int:
        raw = self.get_query_argument(name, str(default))
        try:
            return int(raw)
        except ValueError:
            raise InvalidLookup(f"{name} must be an integer (got {raw[:40]!r})") from None

    def text(self, name: str, default: str | None = None) -> str:
        value = self.get_query_argument(name, default)
        if value is None:
            raise InvalidLookup(f"the query parameter {name!r} is required")
        return value

    async def answer(self, work: Any, *args: Any, **kwargs: Any) -> Any:
        """Run ledger work off the event loop; expected failures are answered 400/404/503 here
        (and None returned), anything else is returned for the handler to answer."""
        try:
            return await IOLoop.current().run_in_executor(self.pool, lambda: work(*args, **kwargs))
        except (InvalidLookup, ValueError) as exc:
            self.reply(400, {"error": str(exc)})
        except UnknownRepository as exc:
            self.reply(404, {"error": str(exc)})
        except OperationalError as exc:
            first = str(exc.orig).strip().splitlines()[0] if exc.orig else "unreachable"
            self.reply(503, {"error": f"the ledger database is unavailable: {first}"})
        return None

    async def answer_json(self, work: Any) -> None:
        result = await self.answer(work)
        if result is not None:
            status, body = result
            self.reply(status, body)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.reply(status_code, {"error": self._reason})


class ArtifactHandler(ApiHandler):
    async def get(self, repo: str, artifact_type: str) -> None:
        def work() -> LookupResult:
            return agent_api.get(
                self.db, repo, artifact_type, task_type=self.text("task_type"),
                path=self.text("path", ""), settings=self.config,
            )  # fmt: skip

        found = await self.answer(work)
        if found is None:
            return
        if not found.hit:
            self.reply(404, found.as_json())
            return
        # The entry is immutable; the ETag also names the commit and head it is served for, so a
        # client revalidating after the branch moved gets the new answer, never a stale 304.
        self.set_header("ETag", found.etag)
        self.set_header("Cache-Control", "no-cache")
        if found.etag in _tags(self.request.headers.get("If-None-Match", "")):
            self.set_status(304)
            self.finish()
            return
        self.set_header("Content-Type", "application/json")
        self.finish(found.json_bytes())


def _tags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


class SymbolsHandler(ApiHandler):
    async def get(self, repo: str) -> None:
        def work() -> tuple[int, dict[str, Any]]:
            found = agent_api.symbols(
                self.db, repo, self.text("q"), mode=self.text("match", "fuzzy"),  # type: ignore[arg-type]
                limit=self.integer("limit", 20), task_type=self.text("task_type", "symbol_search"),
                settings=self.config,
            )  # fmt: skip
            return (200 if found.lookup.hit else 404), found.as_json()

        await self.answer_json(work)


class SearchHandler(ApiHandler):
    async def get(self, repo: str) -> None:
        def work() -> tuple[int, dict[str, Any]]:
            found = agent_api.search(
                self.db, repo, self.text("q"), k=self.integer("k", 10),
                task_type=self.text("task_type", "semantic_search"), settings=self.config,
            )  # fmt: skip
            return (200 if found.lookup.hit else 404), found.as_json()

        await self.answer_json(work)


class JunitHandler(ApiHandler):
    async def post(self, repo: str) -> None:
        from warmer.artifacts.failures.ingest import ingest_junit

        body = self.request.body
        if not body:
            self.reply(400, {"error": "the request body must be a JUnit XML report"})
            return
        commit = self.get_query_argument("commit", None)

        def work() -> tuple[int, dict[str, Any]]:
            report = ingest_junit(self.db, repo, body, source="http", commit=commit)
            return (200 if report.duplicate else 201), report.as_json()

        await self.answer_json(work)


def routes(
    db: Database, settings: Settings, token: str | None = None
) -> list[tuple[str, Any, dict[str, Any]]]:
    """The API's rules, for `make_app` and for mounting beside the console's."""
    pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="warmer-api")
    deps = {"db": db, "settings": settings, "token": token, "pool": pool}
    return [
        (REPO + r"/artifacts/([A-Za-z0-9_.-]{1,100})", ArtifactHandler, deps),
        (REPO + r"/symbols", SymbolsHandler, deps),
        (REPO + r"/search", SearchHandler, deps),
        (REPO + r"/junit", JunitHandler, deps),
    ]


def make_app(db: Database, settings: Settings, token: str | None = None) -> tornado.web.Application:
    return tornado.web.Application(routes(db, settings, token), default_handler_class=NotFound)


class NotFound(tornado.web.RequestHandler):
    def prepare(self) -> None:
        self.set_status(404)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": f"no such endpoint: {self.request.method} {self.request.path}"}))
