"""Console fixtures: a real Postgres ledger of its own, Redis db 12, the console in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.console.browser_world import browser, page, world  # noqa: F401  (the browser tests' fixtures)
from tests.console.support import CONSOLE_REDIS, Client, InProcessConsole, console_env
from tests.support import services
from warmer.settings import load_settings


@pytest.fixture
def console_settings(pg_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    assert services.postgres_up() and services.redis_up(), "the console tests need local Postgres and Redis"
    services.flush_redis(CONSOLE_REDIS)
    yield load_settings(console_env(pg_url, tmp_path))
    services.flush_redis(CONSOLE_REDIS)


@pytest.fixture
def console(console_settings) -> Iterator[InProcessConsole]:  # type: ignore[no-untyped-def]
    server = InProcessConsole(console_settings, basic_auth=["admin:s3cret-pw"]).start()
    yield server
    server.stop()


@pytest.fixture
def client(console: InProcessConsole) -> Client:
    return Client(console.base, "admin", "s3cret-pw")
