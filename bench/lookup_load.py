"""Agent traffic against `warmer serve`: an open-loop mixed load, beside a Redis GET at the same rate.

    python bench/lookup_load.py [--corpus django==5.2] [--ledger postgres|sqlite] [--rate 200]
        [--seconds 30] [--port 18790] [--redis-url redis://127.0.0.1:6379/14]

The corpus is a real project's sdist (Django 5.2 by default) made into a git repository, connected
and warmed (symbol_index and file_summary, in this process) into a fresh ledger: a Postgres
database created for the run, or an embedded SQLite file. Then a real `warmer serve` subprocess
answers, for `--seconds`, `--rate` requests per second sent on a fixed schedule whatever the
answers' speed (open loop: a late answer cannot slow the load, and latency is measured from when
the request was due, so queueing counts): a third each of

    GET /v1/repos/R/artifacts/symbol_index          the manifest of the index
    GET /v1/repos/R/symbols?q=QuerySet               a fuzzy symbol search
    GET /v1/repos/R/artifacts/file_summary?path=P    a summary of a random summarized file

Printed beside the targets (issue 12): errors (target 0), p50/p99 per endpoint and overall
(p99 ≤ 20 ms), sequential /symbols?q=QuerySet median (≤ 5 ms), the server's peak RSS (≤ 400 MB),
and a Redis GET of a 1 KB value at the same rate in the same run (the anchor) with the p99 ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis.asyncio as aioredis  # noqa: E402
from sqlalchemy import select  # noqa: E402

from tests.support import corpora, services  # noqa: E402
from warmer.ledger import migrate  # noqa: E402
from warmer.ledger.db import Database  # noqa: E402
from warmer.ledger.models import CacheRef, SymbolRow  # noqa: E402
from warmer.settings import load_settings  # noqa: E402
from warmer.triggers.connect import connect  # noqa: E402
from warmer.worker.inline import run_jobs  # noqa: E402

CONNECTIONS = 32


class Client:
    """HTTP/1.1 keep-alive connections to one server, one request at a time each."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def get(self, path: str) -> int:
        reader, writer = (
            self.idle.pop() if self.idle else await asyncio.open_connection("127.0.0.1", self.port)
        )
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        self.idle.append((reader, writer))
        return status


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def open_loop(rate: float, seconds: float, send: list) -> tuple[list[tuple[str, float, bool]], int]:
    """Run `send[i % len(send)]` at `rate` per second for `seconds`; (name, latency ms, ok) each."""
    results: list[tuple[str, float, bool]] = []
    total = int(rate * seconds)
    start = time.perf_counter() + 0.2
    limit = asyncio.Semaphore(CONNECTIONS * 4)

    async def one(i: int) -> None:
        due = start + i / rate
        name, call = send[i % len(send)]
        async with limit:
            try:
                ok = await asyncio.wait_for(call(), timeout=30)
            except Exception:
                ok = False
        results.append((name, (time.perf_counter() - due) * 1000, ok))

    tasks = []
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return results, total


def rss_mb(pid: int) -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def warm(work: Path, db: Database, corpus: str) -> tuple[str, list[str], list[str]]:
    name, version = corpus.split("==")
    repo = corpora.git_repo_of(corpora.pypi_sdist(name, version), work / name)
    config = work / "engineering_cache.yaml"
    config.write_text(
        "engineering_cache:\n  warmers:\n    on_connect:\n      artifacts: [symbol_index, file_summary]\n"
    )
    settings = load_settings(
        {"WARMER_CONFIG": str(config), "WARMER_DATA_DIR": str(work / "data"), "DATABASE_URL": db.url}
    )
    began = time.perf_counter()
    done = connect(db, settings, str(repo), name=name)
    assert done.planned is not None
    run_jobs(db, settings, [job.job_id for job in done.planned.jobs], "bench")
    print(f"warmed {name} {version} (symbol_index, file_summary) in {time.perf_counter() - began:.1f} s")
    with db.session() as session:
        summarized = sorted(
            session.execute(
                select(CacheRef.path).where(CacheRef.artifact_type == "file_summary", CacheRef.path != "")
            ).scalars()
        )
        names = sorted(
            {n for n in session.execute(select(SymbolRow.name).distinct()).scalars() if n.isidentifier()}
        )
    return name, summarized, names


def report(label: str, results: list[tuple[str, float, bool]], total: int) -> float:
    errors = sum(not ok for _, _, ok in results) + (total - len(results))
    latencies = [ms for _, ms, ok in results if ok]
    p99 = percentile(latencies, 0.99)
    print(f"{label}: {len(results)} sent, errors {errors} (target 0), p50 {percentile(latencies, 0.5):.2f} ms, "
          f"p99 {p99:.2f} ms")  # fmt: skip
    for name in sorted({n for n, _, _ in results}):
        mine = [ms for n, ms, ok in results if n == name and ok]
        print(
            f"  {name:<28} p50 {percentile(mine, 0.5):7.2f} ms  p99 {percentile(mine, 0.99):7.2f} ms  n={len(mine)}"
        )
    return p99


async def run(
    args: argparse.Namespace, port: int, repo: str, files: list[str], names: list[str], pid: int
) -> None:
    client = Client(port)
    base = f"/v1/repos/{repo}"
    began = time.perf_counter()
    assert await client.get(f"{base}/symbols?q={args.symbol}") == 200
    print(
        f"first /symbols?q={args.symbol} (nothing cached in the server): {(time.perf_counter() - began) * 1000:.2f} ms"
    )
    sequential = []
    for _ in range(200):
        began = time.perf_counter()
        assert await client.get(f"{base}/symbols?q={args.symbol}") == 200
        sequential.append((time.perf_counter() - began) * 1000)
    print(f"sequential /symbols?q={args.symbol} again (its answer kept for this index): median {statistics.median(sequential):.2f} ms (target ≤ 5 ms), "
          f"p99 {percentile(sequential, 0.99):.2f} ms")  # fmt: skip

    rng = random.Random(7)
    distinct = []
    for name in rng.sample(names, min(200, len(names))):
        began = time.perf_counter()
        assert await client.get(f"{base}/symbols?q={name[:12]}") == 200
        distinct.append((time.perf_counter() - began) * 1000)
    print(f"sequential /symbols?q= with {len(distinct)} distinct names of the index (none cached): median "
          f"{statistics.median(distinct):.2f} ms, p99 {percentile(distinct, 0.99):.2f} ms")  # fmt: skip

    async def manifest() -> bool:
        return await client.get(f"{base}/artifacts/symbol_index?task_type=bench") == 200

    async def symbols() -> bool:
        return await client.get(f"{base}/symbols?q={args.symbol}") == 200

    async def summary() -> bool:
        return (
            await client.get(f"{base}/artifacts/file_summary?path={rng.choice(files)}&task_type=bench") == 200
        )

    send = [
        ("artifacts/symbol_index", manifest),
        ("symbols?q=" + args.symbol, symbols),
        ("artifacts/file_summary", summary),
    ]
    results, total = await open_loop(args.rate, args.seconds, send)
    load = os.getloadavg()
    p99 = report(f"warmer serve, {args.rate:g} req/s for {args.seconds:g} s ({args.ledger})", results, total)
    now, peak = rss_mb(pid)
    print(f"serve RSS now {now:.0f} MB, peak {peak:.0f} MB (target ≤ 400 MB)")

    anchor = aioredis.from_url(args.redis_url)
    await anchor.set("warmer-bench-anchor", os.urandom(512).hex())

    async def redis_get() -> bool:
        return await anchor.get("warmer-bench-anchor") is not None

    redis_results, redis_total = await open_loop(args.rate, args.seconds, [("redis GET 1 KB", redis_get)])
    redis_p99 = report("anchor: Redis GET at the same rate", redis_results, redis_total)
    await anchor.delete("warmer-bench-anchor")
    await anchor.aclose()
    print(
        f"p99 ratio warmer/Redis: {p99 / redis_p99:.1f}; load average during the run {load[0]:.2f} {load[1]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default="django==5.2")
    parser.add_argument("--ledger", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--port", type=int, default=18790)
    parser.add_argument("--symbol", default="QuerySet")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="warmer-lookup-load-") as tmp:
        work = Path(tmp)
        db_name = None
        if args.ledger == "postgres":
            db_name = services.create_database()
            url = services.database_url(db_name)
        else:
            url = f"sqlite:///{work / 'ledger.db'}"
        db = Database(url)
        migrate.upgrade(db)
        try:
            repo, files, names = warm(work, db, args.corpus)
            env = {**os.environ, "DATABASE_URL": url, "WARMER_DATA_DIR": str(work / "data"),
                   "WARMER_CONFIG": str(work / "engineering_cache.yaml")}  # fmt: skip
            log = open(work / "serve.log", "wb")  # noqa: SIM115 - closed with the server
            server = subprocess.Popen(
                [str(Path(sys.executable).parent / "warmer"), "serve", "--port", str(args.port)],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                services.wait_for(
                    lambda: b"warmer API on" in (work / "serve.log").read_bytes(), 30, what="warmer serve"
                )
                asyncio.run(run(args, args.port, repo, files, names, server.pid))
            finally:
                server.terminate()
                server.wait(10)
                log.close()
        finally:
            db.dispose()
            if db_name:
                services.drop_database(db_name)


if __name__ == "__main__":
    main()
