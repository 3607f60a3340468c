"""Every console page and API route timed on ledgers of a real deployment's size.

    python bench/console_scale.py [--scales 0,1,10] [--rounds 3] [--db-prefix warmer_console_bench]
        [--pg postgresql://postgres@127.0.0.1:5432] [--broker redis://127.0.0.1:6379/6] [--port 0] [--keep]

For each scale a fresh database is created, migrated and filled (bench/console_ledger.py: scale 1
is issue 15's ledger of 50,000 jobs over 7 days, 200,000 events, 250,000 lookups, ~461 miss jobs
in the last 24 h; scale 10 ten times that; scale 0 the empty ledger), then the console (Flower
with warmer's routes, basic auth on, the in-process Tornado server) serves it and every route is
requested once to warm up and ROUNDS times more: the median is printed beside its target.

Targets (issue 15): every page and route at most 500 ms on the 10x ledger, and at most 3 times
the same route on the empty ledger. Before this work the Warmers page took 49.5 s and Analytics
71.2 s on the 1x ledger (the issue's own measurements, printed for comparison).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import sys
import threading
import time
import types
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg2  # noqa: E402
from celery import Celery  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bench import console_ledger  # noqa: E402

TARGET_MS = 500.0
TARGET_RATIO = 3.0
BEFORE_1X = {"/warmer": 49_500, "/api/warmer/overview": 50_600, "/warmer/analytics": 71_200,
             "/warmer/repositories": 1_750, "/warmer/jobs?status=failed&limit=1000": 1_170}  # fmt: skip
AUTH = ("bench", "bench-pw")


def routes(middle: int, commit: str) -> list[tuple[str, str]]:
    """(label, path) of every page and API route, the deep and rare ones included: a cursor in the
    middle of the history, a trigger with few jobs, search by text, by commit and by id."""
    paths = [
        "/warmer", "/warmer/jobs", "/warmer/jobs?status=failed", "/warmer/jobs?status=failed&limit=1000",
        "/warmer/jobs?after={middle}", "/warmer/jobs?trigger=manual", "/warmer/jobs?repo=repo-0001",
        "/warmer/jobs?sort=finished", "/warmer/jobs?status=completed&finished_within_hours=24&sort=finished",
        "/warmer/jobs?q=TimeoutError", "/warmer/jobs?q={commit}", "/warmer/jobs?q={middle}",
        "/warmer/jobs/{middle}", "/warmer/repositories", "/warmer/analytics", "/warmer/analytics?window_hours=168",
        "/warmer/analytics?window_hours=720",
        "/api/warmer/overview", "/api/warmer/instances", "/api/warmer/jobs", "/api/warmer/jobs?status=failed",
        "/api/warmer/jobs?after={middle}", "/api/warmer/jobs/{middle}", "/api/warmer/repositories",
        "/api/warmer/repositories/repo-0001", "/api/warmer/analytics", "/api/warmer/audit", "/metrics",
    ]  # fmt: skip
    return [(path, path.format(middle=max(middle, 1), commit=commit[:8])) for path in paths]


class Console:
    """The console application on a thread of this process, as `warmer console` builds it."""

    def __init__(self, database_url: str, broker: str, port: int) -> None:
        from flower.urls import settings as flower_settings
        from tornado.httpserver import HTTPServer
        from tornado.ioloop import IOLoop
        from tornado.netutil import bind_sockets
        from tornado.options import options

        from warmer.console.app import make_app
        from warmer.ledger.db import Database
        from warmer.queues import kombu_queues
        from warmer.settings import load_settings

        env = {**os.environ, "DATABASE_URL": database_url, "CELERY_BROKER_URL": broker}
        self.settings = load_settings(env)
        self.db = Database(self.settings.database_url)
        capp = Celery("console-bench")
        capp.config_from_object("warmer.celery_defaults")
        capp.conf.broker_url = broker
        capp.conf.task_queues = kombu_queues(broker)
        values = options.as_dict()
        values.update(basic_auth=[":".join(AUTH)], auth="", url_prefix="", unix_socket="")
        ready: list[int] = []

        def serve() -> None:
            asyncio.set_event_loop(asyncio.new_event_loop())
            self.loop = IOLoop.current()
            self.app = make_app(capp, self.db, self.settings, types.SimpleNamespace(**values), io_loop=self.loop,
                                **{**flower_settings, "cookie_secret": "bench"})  # fmt: skip
            sockets = bind_sockets(port, "127.0.0.1")
            self.server = HTTPServer(self.app)
            self.server.add_sockets(sockets)
            ready.append(sockets[0].getsockname()[1])
            self.loop.start()

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        while not ready:
            time.sleep(0.05)
        self.base = f"http://127.0.0.1:{ready[0]}"

    def stop(self) -> None:
        def close() -> None:  # the listening socket too: the next scale may bind the same --port
            self.server.stop()
            self.loop.stop()

        self.loop.add_callback(close)
        self.thread.join(timeout=10)
        self.db.dispose()


def timed_get(url: str) -> tuple[float, int]:
    token = base64.b64encode(":".join(AUTH).encode()).decode()
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        error.read()
        status = error.code
    return (time.perf_counter() - start) * 1000, status


def run_scale(args: argparse.Namespace, scale: int) -> tuple[dict[str, float], dict[str, Any], float]:
    from warmer.ledger import migrate
    from warmer.ledger.db import Database

    name = f"{args.db_prefix}_{scale}x"
    admin = psycopg2.connect(f"{args.pg}/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    url = f"{args.pg}/{name}"
    db = Database(url)
    migrate.upgrade(db)
    started = time.perf_counter()
    figures = console_ledger.build(db, scale)
    build_s = time.perf_counter() - started
    with db.engine.connect() as conn:
        ids = conn.execute(text("SELECT min(id), max(id) FROM jobs")).one()
        commit = conn.execute(text("SELECT commit FROM jobs ORDER BY id LIMIT 1")).scalar_one()
    db.dispose()
    console = Console(url, args.broker, args.port)
    medians: dict[str, float] = {}
    try:
        first_ms, _ = timed_get(console.base + "/metrics")  # folds the history into the totals, once
        figures["first_metrics_scrape_ms"] = round(first_ms)
        for label, path in routes((ids[0] + ids[1]) // 2, commit):
            timed_get(console.base + path)
            times = []
            for _ in range(args.rounds):
                ms, status = timed_get(console.base + path)
                assert status == 200, (path, status)
                times.append(ms)
            medians[label] = statistics.median(times)
    finally:
        console.stop()
        if not args.keep:
            with admin.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    return medians, figures, build_s


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scales", default="0,1,10", help="ledger sizes, 0 = empty (the ratio's base)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db-prefix", default="warmer_console_bench")
    parser.add_argument(
        "--pg", default="postgresql://postgres@127.0.0.1:5432", help="server URL, no database"
    )
    parser.add_argument(
        "--broker", default=os.environ.get("WARMER_TEST_CONSOLE_REDIS", "redis://127.0.0.1:6379/6")
    )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = parser.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    results = {}
    for scale in scales:
        medians, figures, build_s = run_scale(args, scale)
        results[scale] = medians
        print(
            f"# ledger {scale}x built in {build_s:.1f} s: {figures}  (load average {os.getloadavg()[0]:.2f})"
        )
    base = results.get(0)
    top = max(scales)
    header = ["route"] + [f"{s}x ms" for s in scales] + ([f"{top}x / empty"] if base and top else [])
    print("\n| " + " | ".join(header) + " | target |\n|" + "---|" * (len(header) + 1))
    failures = 0
    for route in results[scales[0]]:
        cells = [f"`{route}`"] + [f"{results[s][route]:.0f}" for s in scales]
        ok = results[top][route] <= TARGET_MS
        if base and top:
            ratio = results[top][route] / max(base[route], 1e-6)
            cells.append(f"{ratio:.2f}")
            ok = ok and ratio <= TARGET_RATIO
        failures += not ok
        before = f" (before: {BEFORE_1X[route] / 1000:.1f} s at 1x)" if route in BEFORE_1X else ""
        print(
            "| "
            + " | ".join(cells)
            + f" | ≤ {TARGET_MS:.0f} ms, ≤ {TARGET_RATIO:g}x {'ok' if ok else 'MISSED'}{before} |"
        )
    print(f"\n{len(results[top]) - failures} of {len(results[top])} routes within target; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
