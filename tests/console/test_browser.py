"""Headless Chromium against `warmer console` running as a real process, on real Postgres and
Redis (db 12) with a real worker: each page shows the ledger's figures, its buttons change the
ledger, the Warmers view updates live, and a wrong password is refused. Each page is saved
as a full-page screenshot in test-artifacts/console/."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.console.support import CONSOLE_REDIS, add_lookups, celery_app, console_env
from tests.support import services
from tests.support.factories import add_job, add_repo
from tests.support.gitrepo import git, make_repo
from warmer import publisher
from warmer.console import analytics_queries
from warmer.ledger import migrate, queries
from warmer.ledger.db import Database
from warmer.ledger.models import Job, JobEvent, JobStatus, Repository, Trigger
from warmer.queues import priority_for

pytestmark = [pytest.mark.browser, pytest.mark.integration]
playwright_sync = pytest.importorskip("playwright.sync_api")

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
    with playwright_sync.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, world: World):  # type: ignore[no-untyped-def]
    context = browser.new_context(
        http_credentials={"username": USER, "password": PASSWORD}, viewport={"width": 1400, "height": 900}
    )
    page = context.new_page()
    # The browser has no internet: any request that leaves the console is a failure.
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(world.base) else None)
    yield page
    context.close()
    assert not outside, f"the page fetched from outside the console: {outside}"


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _text(page, selector: str) -> str:  # type: ignore[no-untyped-def]
    return page.locator(selector).inner_text().strip()


def test_warmers_page_matches_the_ledger_and_updates_live(world: World, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(world.base + "/warmer")
    with world.db.session() as session:
        ledger = queries.overview(session, world.db.now(), 20)
    for key in ("total_queued", "in_progress", "completed_24h", "failed_24h"):
        assert _text(page, f'[data-field="{key}"]') == str(ledger[key]), key
    [instance] = ledger["instances"]
    row = page.locator(f'tr[data-instance="{instance["id"]}"]')
    assert "alive" in row.inner_text() and f"/{instance['concurrency']}" in row.inner_text()
    assert row.locator("td.num").inner_text() == str(instance["jobs_processed"])
    page.evaluate("window.__sameDocument = true")
    completed_before = int(_text(page, '[data-field="completed_24h"]'))

    sleeper = add_job(
        world.db, world.repo, commit=world.head, artifact_type="test_sleep", params={"seconds": 4}
    )
    world.publish([sleeper])
    progress = page.locator(f'#progress-table tr[data-job="{sleeper}"]')
    progress.wait_for(timeout=20_000)  # appears without a reload
    assert "test_sleep" in progress.inner_text() and "shop" in progress.inner_text()
    assert _text(page, '[data-field="in_progress"]') == "1"
    shot(page, "warmers")
    page.wait_for_function(
        f"document.querySelector('[data-field=\"completed_24h\"]').textContent === '{completed_before + 1}'",
        timeout=30_000,
    )
    assert world.status(sleeper) == JobStatus.COMPLETED
    assert page.locator(f'#progress-table tr[data-job="{sleeper}"]').count() == 0
    assert page.evaluate("window.__sameDocument") is True  # no full reload happened


def test_job_list_detail_and_requeue(world: World, page) -> None:  # type: ignore[no-untyped-def]
    flaky = add_job(world.db, world.repo, commit=world.head, artifact_type="test_flaky",
                    params={"succeed_when_exists": str(world.tmp / "flag")})  # fmt: skip
    world.publish([flaky])
    services.wait_for(lambda: world.status(flaky) == JobStatus.FAILED, 30, 0.2, "the flaky job to fail")

    page.goto(world.base + "/warmer/jobs?status=failed")
    rows = page.locator("#jobs-table tbody tr[data-job]")
    with world.db.session() as session:
        failed = queries.list_jobs(session, status=JobStatus.FAILED)
    assert rows.count() == len(failed) and rows.first.get_attribute("data-job") == str(flaky)
    page.goto(world.base + "/warmer/jobs?trigger=connect&repo=shop")
    with world.db.session() as session:
        connect_jobs = queries.list_jobs(session, trigger=Trigger.CONNECT, repo_id=world.repo.id)
    assert page.locator("#jobs-table tbody tr[data-job]").count() == len(connect_jobs) >= 2
    page.select_option("#f-status", "failed")
    page.select_option("#f-trigger", "")
    page.click("#job-filters button[type=submit]")
    page.wait_for_url("**status=failed**")
    assert page.locator("#jobs-table tbody tr[data-job]").count() == 1
    page.goto(world.base + "/warmer/jobs")
    shot(page, "jobs")
    page.goto(world.base + "/warmer/jobs?status=failed")

    page.click(f'#jobs-table a:text-is("{flaky}")')
    page.wait_for_url(f"**/warmer/jobs/{flaky}")
    assert _text(page, "#job-status") == "failed"
    assert _text(page, '[data-field="repo"]') == "shop" and _text(page, '[data-field="branch"]') == "main"
    assert _text(page, '[data-field="trigger"]') == "connect"
    assert _text(page, '[data-field="artifact_type"]') == "test_flaky"
    assert "flaky generator failed on purpose" in _text(page, "#job-error")
    with world.db.session() as session:
        detail = queries.job_detail(session, flaky, world.db.now())
    assert detail is not None
    assert _text(page, '[data-field="attempts"]') == str(detail["attempts"])
    assert _text(page, '[data-field="worker_id"]') == detail["worker_id"]
    assert page.locator("#phases-table tr[data-phase]").count() == 3
    shot(page, "job-failed")

    events_before = _event_count(world, flaky)
    page.click("#requeue-button")
    page.wait_for_selector("#flash")
    assert f"Job {flaky} re-queued" in _text(page, "#flash")
    # The ledger took the re-queue, and the worker ran the job again (failing again: its flag
    # file still does not exist): re-queued, claimed, running, failed.
    services.wait_for(
        lambda: _event_count(world, flaky) >= events_before + 4 and world.status(flaky) == JobStatus.FAILED,
        30, 0.2, "the re-queued job to run again",
    )  # fmt: skip
    with world.db.session() as session:
        details = list(session.execute(select(JobEvent.detail).where(JobEvent.job_id == flaky)).scalars())
    assert "re-queued by hand" in details


def _event_count(world: World, job_id: int) -> int:
    with world.db.session() as session:
        return len(list(session.execute(select(JobEvent.id).where(JobEvent.job_id == job_id)).scalars()))


def test_repositories_and_full_warming(world: World, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(world.base + "/warmer/repositories")
    row = page.locator('tr[data-repo="shop"]')
    assert "connected" in row.inner_text() and row.locator("td").nth(1).inner_text() == "main"
    with world.db.session() as session:
        [view] = queries.repository_views(session, ["repo_map", "test_map"])
    assert (
        _text(page, 'tr[data-repo="shop"] [data-field="last_warmed_commit"]')
        == view["last_warmed_commit"][:12]
    )
    for artifact in ("repo_map", "test_map"):
        assert row.locator(f'[data-artifact="{artifact}"]').get_attribute("data-state") == "current"
    shot(page, "repositories")

    with world.db.session() as session:
        before = set(session.execute(select(Job.id).where(Job.trigger == Trigger.MANUAL)).scalars())
    row.locator('button[data-action="full-warming"]').click()
    page.wait_for_selector("#flash")
    assert "Full warming of shop" in _text(page, "#flash") and "2 job(s) queued" in _text(page, "#flash")
    with world.db.session() as session:
        manual = set(session.execute(select(Job.id).where(Job.trigger == Trigger.MANUAL)).scalars()) - before
    assert len(manual) == 2
    services.wait_for(lambda: all(world.status(j) == JobStatus.COMPLETED for j in manual), 60, 0.3,
                      "the full warming jobs to complete")  # fmt: skip


def test_analytics_page_plots_the_ledger(world: World, page) -> None:  # type: ignore[no-untyped-def]
    now = world.db.now()
    other = add_repo(world.db, name="docs-site", source=str(world.tmp / "nowhere"))
    for hours_ago, hits, misses in ((20, 2, 6), (12, 5, 3), (6, 7, 2), (2, 9, 1)):
        add_lookups(world.db, world.repo, "symbol_index", hits, misses, now - timedelta(hours=hours_ago))
    add_lookups(world.db, other, "embedding_index", 1, 4, now - timedelta(hours=5))
    miss_jobs = [add_job(world.db, world.repo, commit=world.head, artifact_type="test_noop", trigger=Trigger.MISS,
                         params={"n": n}) for n in range(3)]  # fmt: skip
    world.publish(miss_jobs, Trigger.MISS)
    services.wait_for(lambda: all(world.status(j) == JobStatus.COMPLETED for j in miss_jobs), 30, 0.2,
                      "the miss jobs to complete")  # fmt: skip

    page.goto(world.base + "/warmer/analytics")
    with world.db.session() as session:
        figures = analytics_queries.analytics(session, world.db.now(), 24)
    assert _text(page, '[data-field="lookups"]') == str(figures["lookups"])
    assert _text(page, '[data-field="hit_rate"]') == f"{figures['hit_rate'] * 100:.1f}%"
    patterns = page.locator("#patterns-table tbody tr")
    assert patterns.count() == len(figures["miss_patterns"])
    first = figures["miss_patterns"][0]
    assert patterns.first.inner_text().split("\t")[:3] == [
        first["repo"],
        first["artifact_type"],
        str(first["misses"]),
    ]
    promoted = page.locator("#promoted-table tbody tr").first.inner_text().split("\t")
    assert promoted[:2] == ["test_noop", "3"]
    assert page.locator("#hit-rate svg polyline").count() >= 1
    assert page.locator("#miss-patterns svg rect").count() == len(figures["miss_patterns"])
    shot(page, "analytics")


def test_wrong_password_is_refused(world: World, browser) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(http_credentials={"username": USER, "password": "not-the-password"})
    page = context.new_page()
    response = page.goto(world.base + "/warmer")
    assert response is not None and response.status == 401
    assert "Warmers" not in page.content()
    context.close()
