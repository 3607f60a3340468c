"""Integration fixtures: a migrated Postgres database, a clean Redis db, and real worker processes.

`cluster` runs on the machine's shared Redis and Postgres (never stopped or restarted) by default,
on RabbitMQ with `@pytest.mark.parametrize("cluster", ["amqp"], indirect=True)`, and on private
Redis and Postgres servers of its own (tests/support/private.py) with `["private"]`: fault tests
stop, crash and flush those, and nothing else.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery import Celery

from tests.support import services
from tests.support.factories import add_repo
from tests.support.gitrepo import git
from tests.support.private import PrivatePostgres, PrivateRedis
from warmer import publisher
from warmer.ledger import migrate
from warmer.ledger.db import Database
from warmer.ledger.models import Repository, Trigger
from warmer.queues import kombu_queues

# Parallel checkouts on one machine give each run its own ports, Redis dbs and AMQP vhost.
_HEALTH_PORTS = itertools.count(int(os.environ.get("WARMER_TEST_PORT_BASE", "18181")))

# Fast clocks so crash recovery takes seconds, not minutes; the logic is the same.
WORKER_ENV = {
    "KEEPTRUSTS_CACHE_WARMER_HEARTBEAT_SECS": "1",
    "KEEPTRUSTS_CACHE_WARMER_STALE_THRESHOLD_SECS": "20",
    "KEEPTRUSTS_CACHE_WARMER_POLL_INTERVAL_SECS": "0.5",
    "KEEPTRUSTS_CACHE_WARMER_RETRY_BACKOFF_SECS": "0.2",
    "WARMER_ARTIFACT_MODULES": "tests.support.artifacts",
}


@pytest.fixture(autouse=True)
def _services_up() -> None:
    """Fail loudly, never skip: the promises tested here need the real services."""
    assert services.postgres_up(), f"Postgres is not reachable; start it with: {services.PG_START}"
    assert services.redis_up(), f"Redis is not reachable; start it with: {services.REDIS_START}"


class Cluster:
    """One test's world: its database, its broker db, its workers and a publisher."""

    def __init__(
        self,
        db: Database,
        env: dict[str, str],
        log_dir: Path,
        redis: PrivateRedis | None = None,
        postgres: PrivatePostgres | None = None,
    ) -> None:
        self.db = db
        self.env = env
        self.log_dir = log_dir
        self.redis = redis  # the private servers, when the test may stop, crash or flush them
        self.postgres = postgres
        self.workers: list[services.Worker] = []
        self.app = Celery("warmer-tests")
        self.app.config_from_object("warmer.celery_defaults")
        self.app.conf.broker_url = env["CELERY_BROKER_URL"]
        self.app.conf.task_queues = kombu_queues(env["CELERY_BROKER_URL"])

    def worker(self, name: str, concurrency: int = 2, wait: bool = True, **extra_env: str) -> services.Worker:
        port = next(_HEALTH_PORTS)
        env = {**self.env, "KEEPTRUSTS_CACHE_WARMER_HEALTH_PORT": str(port), **extra_env}
        worker = services.Worker(name, env, self.log_dir, concurrency)
        worker.health_port = port  # type: ignore[attr-defined]
        self.workers.append(worker.start(wait=wait))
        return worker

    def publish(self, job_ids: list[int], trigger: Trigger = Trigger.CONNECT) -> None:
        from warmer.queues import priority_for

        publisher.publish(self.app, self.db, [(job_id, trigger, priority_for(trigger)) for job_id in job_ids])

    def logs(self, tail: int | None = 4000) -> str:
        return "\n".join(f"--- {w.name}\n{w.log()[-tail if tail else 0 :]}" for w in self.workers)

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.db.dispose()


AMQP_TEST_URL = os.environ.get("WARMER_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//")


def _purge_amqp() -> None:
    """RabbitMQ keeps durable queues between tests: empty warmer's before and after."""
    from kombu import Connection

    from warmer.queues import kombu_queues

    with Connection(AMQP_TEST_URL, connect_timeout=5) as conn:
        channel = conn.channel()
        for queue in kombu_queues(AMQP_TEST_URL):
            queue.bind(channel).declare()
            queue.bind(channel).purge()


def _env(tmp_path: Path, database_url: str, broker_url: str) -> dict[str, str]:
    (tmp_path / "no-config.yaml").write_text("")  # every default
    return {
        **WORKER_ENV,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "WARMER_DATA_DIR": str(tmp_path / "worker-data"),
        "WARMER_CONFIG": str(tmp_path / "no-config.yaml"),
    }


@pytest.fixture
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    """A world on the shared Redis by default; `@pytest.mark.parametrize("cluster", ["amqp"],
    indirect=True)` puts it on the local RabbitMQ instead, `["private"]` on servers of its own."""
    broker = getattr(request, "param", "redis")
    if broker == "private":
        yield from private_cluster(tmp_path)
        return
    pg_url = request.getfixturevalue("pg_url")
    broker_url = AMQP_TEST_URL if broker == "amqp" else services.REDIS_TEST_URL
    services.flush_redis()
    if broker == "amqp":
        _purge_amqp()
    world = Cluster(Database(pg_url), _env(tmp_path, pg_url, broker_url), tmp_path)
    yield world
    world.close()
    services.flush_redis()
    if broker == "amqp":
        _purge_amqp()


def private_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Private Redis and Postgres on free ports, data in temporary directories, removed afterwards."""
    private_redis, private_pg = PrivateRedis().start(), PrivatePostgres()
    world: Cluster | None = None
    try:
        private_pg.start()
        url = private_pg.database_url(private_pg.create_database())
        db = Database(url)
        migrate.upgrade(db)
        world = Cluster(db, _env(tmp_path, url, private_redis.url()), tmp_path, private_redis, private_pg)
        yield world
    finally:
        if world is not None:
            world.close()
        private_redis.close()
        private_pg.close()


@pytest.fixture
def repo_in_ledger(cluster: Cluster, small_repo: Path) -> tuple[Repository, str]:
    """A repository row whose source is a real local git repo, and its head commit."""
    return add_repo(cluster.db, source=str(small_repo), name="small"), git(
        small_repo, "rev-parse", "HEAD"
    ).strip()


def until(predicate: Callable[[], object], timeout: float = 30, what: str = "condition") -> object:
    return services.wait_for(predicate, timeout, 0.1, what)
