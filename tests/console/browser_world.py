"""The browser tests' world: `warmer console` as a real process with basic auth, a real worker
(2 processes) on real Postgres and Redis, a connected git repository, and headless Chromium
(Debian's /usr/bin/chromium through Playwright) that may fetch nothing from outside the console."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.console.support import CONSOLE_REDIS, celery_app, console_env
from tests.support import services
from tests.support.gitrepo import git, make_repo
from warmer import publisher
from warmer.ledger import migrate
from warmer.ledger.db import Database
from warmer.ledger.models import Job, JobStatus, Repository, Trigger
from warmer.queues import priority_for

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "console"
WARMER = str(Path(sys.executable).parent / "warmer")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
USER, PASSWORD = "admin", "console-pw-4419"
WORKER_ENV = {
    "KEEPTRUSTS_CACHE_WARMER_HEARTBEAT_SECS": "1",
    "KEEPTRUSTS_CACHE_WARMER_STALE_THRESHOLD_SECS": "20",
    "KEEPTRUSTS_CACHE_WARMER_POLL_INTERVAL_SECS": "0.5",
    "KEEPTRUSTS_CACHE_WARMER_MAX_RETRIES": "0",
    "WARMER_ARTIFACT_MODULES": "tests.support.artifacts",
}


@dataclass
class World:
    db: Database
    env: dict[str, str]
    base: str
    repo: Repository
    head: str
    tmp: Path

    def publish(self, job_ids: list[int], trigger: Trigger = Trigger.CONNECT) -> None:
        app = celery_app(CONSOLE_REDIS)
        publisher.publish(app, self.db, [(job_id, trigger, priority_for(trigger)) for job_id in job_ids])

    def status(self, job_id: int) -> JobStatus:
        with self.db.session() as session:
            return session.execute(select(Job.status).where(Job.id == job_id)).scalar_one()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_http(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(url + "/healthcheck", timeout=2).close()
        return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    assert services.postgres_up() and services.redis_up(), "browser tests need local Postgres and Redis"
    tmp = tmp_path_factory.mktemp("console-world")
    name = services.create_database()
    url = services.database_url(name)
    db = Database(url)
    migrate.upgrade(db)
    services.flush_redis(CONSOLE_REDIS)
    source = make_repo(tmp / "shop", {
        "README.md": "# shop\n",
        "shop/__init__.py": "",
        "shop/cart.py": "def total(items):\n    return sum(items)\n",
        "tests/test_cart.py": "from shop.cart import total\n\n\ndef test_total():\n    assert total([1]) == 1\n",
    })  # fmt: skip
    env = {**os.environ, **console_env(url, tmp), **WORKER_ENV, "PYTHONPATH": str(ROOT)}
    for key in [k for k in env if k.startswith("FLOWER_")]:
        del env[key]
    worker_env = {k: v for k, v in env.items() if k not in os.environ or os.environ[k] != v}
    worker = services.Worker("console", {**worker_env, "KEEPTRUSTS_CACHE_WARMER_HEALTH_PORT": str(_free_port())},
                             tmp, concurrency=2).start()  # fmt: skip
    port = _free_port()
    log = open(tmp / "console.log", "ab")
    console = subprocess.Popen(
        [WARMER, "console", "--port", str(port), "--broker", CONSOLE_REDIS, "--basic-auth", f"{USER}:{PASSWORD}"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    log.close()
    base = f"http://127.0.0.1:{port}"
    try:
        services.wait_for(lambda: _wait_http(base) or console.poll() is not None, 30, 0.2, "the console")
        assert console.poll() is None, (tmp / "console.log").read_text()
        connected = subprocess.run([WARMER, "connect", str(source), "--name", "shop"], env=env, cwd=ROOT,
                                   capture_output=True, text=True, timeout=60)  # fmt: skip
        assert connected.returncode == 0, connected.stderr
        with db.session() as session:
            repo = session.execute(select(Repository).where(Repository.name == "shop")).scalar_one()
            session.expunge(repo)
            baseline = list(session.execute(select(Job.id)).scalars())
        world = World(db, env, base, repo, git(source, "rev-parse", "HEAD").strip(), tmp)
        services.wait_for(lambda: all(world.status(j) == JobStatus.COMPLETED for j in baseline), 90, 0.3,
                          "the connect jobs to complete")  # fmt: skip
        yield world
    finally:
        console.terminate()
        try:
            console.wait(timeout=10)
        except subprocess.TimeoutExpired:
            console.kill()
        worker.stop()
        db.dispose()
        services.drop_database(name)
        services.flush_redis(CONSOLE_REDIS)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    playwright_sync = pytest.importorskip("playwright.sync_api")
    with playwright_sync.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def open_context(browser, world: World, width: int = 1400, dark: bool = False):  # type: ignore[no-untyped-def]
    """A browser context signed in as the console's user, at `width` px, light or dark."""
    return browser.new_context(
        http_credentials={"username": USER, "password": PASSWORD},
        viewport={"width": width, "height": 900},
        color_scheme="dark" if dark else "light",
    )


def guard_outside(page, world: World) -> list[str]:  # type: ignore[no-untyped-def]
    """Record every request that leaves the console (the browser has no internet: none may)."""
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(world.base) else None)
    return outside


@pytest.fixture
def page(browser, world: World):  # type: ignore[no-untyped-def]
    context = open_context(browser, world)
    page = context.new_page()
    outside = guard_outside(page, world)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    context.close()
    assert not outside, f"the page fetched from outside the console: {outside}"
    # A CSP violation or a script error shows up here: the pages must run clean under the policy.
    assert not errors, f"the browser reported errors: {errors}"


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def text(page, selector: str) -> str:  # type: ignore[no-untyped-def]
    return page.locator(selector).inner_text().strip()
