"""The agents' HTTP API over a real server socket: hits, recorded misses, validation, auth."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from warmer.cache.http_api import make_app
from warmer.ledger.db import Database
from warmer.ledger.models import CacheLookup
from warmer.settings import Settings, load_settings
from warmer.triggers.connect import connect
from warmer.worker.inline import run_jobs


class Server:
    """The API app on an ephemeral port, in its own thread and event loop."""

    def __init__(self, db: Database, settings: Settings, token: str | None = None) -> None:
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.port = 0
        self.thread = threading.Thread(target=self._run, args=(db, settings, token), daemon=True)
        self.thread.start()
        assert self.ready.wait(10)

    def _run(self, db: Database, settings: Settings, token: str | None) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            server = make_app(db, settings, token).listen(0, "127.0.0.1")
            self.port = next(iter(server._sockets.values())).getsockname()[1]
            self.stopped = asyncio.Event()
            self.ready.set()
            await self.stopped.wait()
            server.stop()

        asyncio.run(main())

    def stop(self) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self.stopped.set)
        self.thread.join(10)

    def call(
        self,
        path: str,
        *,
        method: str = "GET",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=body, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


@pytest.fixture
def warmed(ledger: Database, small_repo: Path, tmp_path: Path) -> tuple[Database, Settings]:
    config = tmp_path / "engineering_cache.yaml"
    config.write_text(
        "engineering_cache:\n  warmers:\n    on_connect:\n      artifacts: [symbol_index, file_summary]\n"
    )
    settings = load_settings(
        {"WARMER_CONFIG": str(config), "WARMER_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": ledger.url}
    )
    done = connect(ledger, settings, str(small_repo), name="small")
    assert done.planned is not None
    run_jobs(ledger, settings, [job.job_id for job in done.planned.jobs], "test-worker")
    return ledger, settings


@pytest.fixture
def api(warmed: tuple[Database, Settings]) -> Iterator[Server]:
    server = Server(*warmed)
    yield server
    server.stop()


def test_an_entry_is_a_hit_and_a_missing_one_a_recorded_404(
    api: Server, warmed: tuple[Database, Settings]
) -> None:
    status, body = api.call("/v1/repos/small/artifacts/file_summary?path=app/main.py&task_type=review")
    assert status == 200 and body["hit"] is True
    assert body["payload"]["path"] == "app/main.py" and body["payload"]["main_symbols"][0]["name"] == "main"

    status, body = api.call("/v1/repos/small/artifacts/test_map?task_type=review")
    assert status == 404 and body["hit"] is False and "error" not in body

    db, _ = warmed
    with db.session() as session:
        recorded = session.execute(select(CacheLookup.artifact_type, CacheLookup.hit)).all()
    assert sorted(recorded) == [("file_summary", True), ("test_map", False)]


def test_symbols_exact_prefix_and_fuzzy(api: Server) -> None:
    status, body = api.call("/v1/repos/small/symbols?q=main&match=exact")
    assert status == 200
    assert [(m["name"], m["file"], m["start_line"]) for m in body["matches"]] == [("main", "app/main.py", 1)]
    status, body = api.call("/v1/repos/small/symbols?q=tst_mn")
    assert status == 200 and body["matches"][0]["name"] == "test_main"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v1/repos/small/artifacts/file_summary?path=../etc/passwd&task_type=x", "invalid path"),
        ("/v1/repos/small/artifacts/file_summary?path=/etc/passwd&task_type=x", "invalid path"),
        ("/v1/repos/small/artifacts/file_summary", "'task_type' is required"),
        ("/v1/repos/small/artifacts/no_such_type?task_type=x", "unknown artifact type"),
        ("/v1/repos/small/symbols", "'q' is required"),
        ("/v1/repos/small/symbols?q=" + "a" * 201, "1-200 printable characters"),
        ("/v1/repos/small/symbols?q=main&limit=0", "limit must be between 1 and 1000"),
        ("/v1/repos/small/symbols?q=main&limit=ten", "limit must be an integer"),
        ("/v1/repos/small/symbols?q=main&match=regex", "match must be exact, prefix or fuzzy"),
        ("/v1/repos/small/search?q=parse%20arguments&k=1000", "k must be between 1 and 100"),
    ],
)
def test_bad_input_is_a_400_naming_the_problem_and_records_nothing(
    api: Server, warmed: tuple[Database, Settings], path: str, message: str
) -> None:
    status, body = api.call(path)
    assert status == 400 and message in body["error"]
    with warmed[0].session() as session:
        assert session.execute(select(CacheLookup.id)).all() == []


def test_unknown_repository_and_unknown_endpoint_are_404s_with_an_error(api: Server) -> None:
    status, body = api.call("/v1/repos/nope/artifacts/file_summary?task_type=review")
    assert status == 404 and "nope" in body["error"]
    status, body = api.call("/v2/whatever")
    assert status == 404 and "no such endpoint" in body["error"]


def test_a_token_is_required_when_configured(warmed: tuple[Database, Settings]) -> None:
    server = Server(*warmed, token="s3cret")
    try:
        path = "/v1/repos/small/symbols?q=main"
        assert server.call(path)[0] == 401
        assert server.call(path, headers={"Authorization": "Bearer wrong"})[0] == 401
        assert server.call(path, headers={"Authorization": "Bearer s3cret"})[0] == 200
    finally:
        server.stop()


REPORT = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="0" failures="1" skipped="0" tests="2" time="0.05">
<testcase classname="tests.test_main" name="test_main" time="0.001"/>
<testcase classname="tests.test_main" name="test_port" time="0.002">
<failure message="AssertionError: assert 8081 == 8080">def test_port():
&gt;       assert port() == 8080
E       AssertionError: assert 8081 == 8080

tests/test_main.py:9: AssertionError</failure></testcase></testsuite></testsuites>
"""


def test_junit_reports_are_ingested_once_and_bad_ones_refused(api: Server) -> None:
    status, body = api.call("/v1/repos/small/junit", method="POST", body=REPORT)
    assert status == 201 and body["duplicate"] is False and body["failures"] == 1
    status, body = api.call("/v1/repos/small/junit", method="POST", body=REPORT)
    assert status == 200 and body["duplicate"] is True
    status, body = api.call("/v1/repos/small/junit", method="POST", body=b"<testsuite><testcase>")
    assert status == 400 and body["error"]
    status, body = api.call("/v1/repos/small/junit", method="POST", body=b"")
    assert status == 400 and "JUnit XML" in body["error"]
    status, body = api.call("/v1/repos/nope/junit", method="POST", body=REPORT)
    assert status == 404 and "nope" in body["error"]
    status, body = api.call("/v1/repos/small/junit?commit=not-a-sha", method="POST", body=REPORT + b" ")
    assert status == 400 and "commit" in body["error"]


def test_semantic_search_over_the_embedding_index(ledger: Database, tmp_path: Path) -> None:
    """The real model, end to end: connect, embed through the job path, then ask by meaning."""
    from tests.support.gitrepo import commit, make_repo, write
    from warmer.ledger.models import CacheRef
    from warmer.triggers import commit as commit_trigger

    repo = make_repo(
        tmp_path / "shop",
        {
            "shop/cart.py": 'def total_price(items):\n    """Sum of price times quantity."""\n'
            "    return sum(i.price * i.quantity for i in items)\n",
            "shop/mail.py": 'def send_receipt(address, body):\n    """E-mail the receipt."""\n'
            "    smtp.send(address, body)\n",
        },
    )
    config = tmp_path / "emb.yaml"
    config.write_text(
        "engineering_cache:\n  warmers:\n    on_connect:\n      artifacts: [embedding_index]\n"
        "    on_commit:\n      debounce_seconds: 0\n"
    )
    settings = load_settings(
        {"WARMER_CONFIG": str(config), "WARMER_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": ledger.url}
    )
    server = Server(ledger, settings)
    try:
        status, body = server.call("/v1/repos/shop/search?q=send%20an%20email")
        assert status == 404 and "shop" in body["error"]  # not connected
        done = connect(ledger, settings, str(repo), name="shop")
        assert done.planned is not None
        status, body = server.call("/v1/repos/shop/search?q=send%20an%20email")
        assert status == 404 and body["hit"] is False  # connected, not warmed yet: a recorded miss
        run_jobs(ledger, settings, [job.job_id for job in done.planned.jobs], "test-worker")
        status, body = server.call("/v1/repos/shop/search?q=send%20an%20email%20to%20the%20customer&k=2")
        assert status == 200 and body["matches"][0]["symbol"] == "send_receipt"
        status, body = server.call("/v1/repos/shop/search?q=add%20up%20what%20is%20in%20the%20basket&k=1")
        assert [(m["path"], m["start_line"]) for m in body["matches"]] == [("shop/cart.py", 1)]

        # A commit adding a file: its job writes that file's entry and the manifest, nothing else, and
        # the search (the other files' entries held from the first search) finds the new function.
        write(repo, {"shop/refund.py": 'def refund_order(order):\n    """Give the customer their money back."""\n'
                     "    return payments.reverse(order.payment)\n"})  # fmt: skip
        head = commit(repo, "refunds")
        commit_trigger.record(ledger, settings, "shop", sha=head, branch="main", source="test")
        planned = commit_trigger.plan_due(ledger, settings, actor="test")
        jobs = [job.job_id for p in planned for job in p.jobs if job.created]
        run_jobs(ledger, settings, jobs, "test-worker")
        with ledger.session() as session:
            written = session.execute(
                select(CacheRef.path).where(
                    CacheRef.artifact_type == "embedding_index", CacheRef.job_id.in_(jobs)
                )
            ).scalars()
            assert sorted(written) == ["", "shop/refund.py"]
        status, body = server.call("/v1/repos/shop/search?q=return%20the%20money%20to%20the%20customer&k=1")
        assert status == 200 and body["commit"] == head and body["stale"] is False
        assert [m["symbol"] for m in body["matches"]] == ["refund_order"]
        status, body = server.call(
            "/v1/repos/shop/artifacts/embedding_index?path=shop/refund.py&task_type=test"
        )
        assert status == 200 and [c["symbol"] for c in body["payload"]["chunks"]] == ["refund_order"]
    finally:
        server.stop()
