"""Real services for integration tests: a fresh Postgres database per test, a Redis db, worker processes."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg2
import redis

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_DSN = os.environ.get("WARMER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_TEST_URL = os.environ.get("WARMER_TEST_REDIS", "redis://127.0.0.1:6379/11")
# How to start the machine's shared services if they are down (for the error message only: no test
# ever stops or restarts them; fault tests run private servers, see tests/support/private.py).
PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
REDIS_START = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no '
    "--dir /var/lib/redis --logfile /var/log/redis/ci.log"
)


def wait_for(
    predicate: Callable[[], object], timeout: float, interval: float = 0.1, what: str = "condition"
) -> object:
    """Poll until `predicate` returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # a service may be restarting: keep polling
            last_error = exc
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what}"
        + (f" (last error: {last_error})" if last_error else "")
    )


def _admin() -> psycopg2.extensions.connection:
    conn = psycopg2.connect(PG_ADMIN_DSN)
    conn.autocommit = True
    return conn


def create_database() -> str:
    name = f"warmer_test_{uuid.uuid4().hex[:12]}"
    conn = _admin()
    try:
        conn.cursor().execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    return name


def drop_database(name: str) -> None:
    wait_for(lambda: _admin().close() or True, 60, 0.5, "postgres to accept connections")
    conn = _admin()
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        conn.close()


def database_url(name: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base}/{name}"


def flush_redis(url: str = REDIS_TEST_URL) -> None:
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_TEST_URL, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def postgres_up() -> bool:
    try:
        _admin().close()
        return True
    except psycopg2.OperationalError:
        return False


def health(port: int) -> tuple[int, dict[str, object]]:
    """GET a worker's /health: (status code, body), whether healthy (200) or not (503)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


_STARTS = itertools.count(1)


class Worker:
    """A real `celery -A warmer worker` in its own process group, so kill -9 takes its children too."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path, concurrency: int = 2) -> None:
        self.name = name
        self.log_path = log_dir / f"worker-{name}-{next(_STARTS)}.log"  # a restart gets a fresh log
        self.env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, wait: bool = True) -> Worker:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "warmer", "worker",
                "-n", f"{self.name}@%h", "--concurrency", str(self.concurrency),
                "--without-mingle", "--without-gossip", "-l", "info",
            ],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        if wait:
            wait_for(
                lambda: "ready." in self.log() or self._died(), 60, 0.1, f"worker {self.name} to be ready"
            )
            assert not self._died(), f"worker {self.name} exited:\n{self.log()[-3000:]}"
        return self

    def _died(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def pool_pids(self) -> list[int]:
        """The worker's pool processes (children of its main process), read from /proc."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # the process ended while we looked
                continue
            if int(fields[1]) == self.pid:
                children.append(int(stat.parent.name))
        return sorted(children)

    def kill9(self) -> None:
        """SIGKILL the whole worker: main process and pool children, no cleanup of any kind."""
        os.killpg(self.pid, signal.SIGKILL)
        assert self.process is not None
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 20) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
