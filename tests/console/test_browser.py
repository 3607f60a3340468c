"""Headless Chromium against `warmer console` running as a real process, on real Postgres and
Redis with a real worker: each page shows the ledger's figures, its buttons change the
ledger, the Warmers view updates live, and a wrong password is refused. Each page is saved
as a full-page screenshot in test-artifacts/console/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.console.browser_world import USER, World, shot
from tests.console.browser_world import text as _text
from tests.console.support import add_lookups
from tests.support import services
from tests.support.factories import add_job, add_repo
from warmer.console import analytics_queries
from warmer.ledger import queries
from warmer.ledger.models import Job, JobEvent, JobStatus, Trigger

pytestmark = [pytest.mark.browser, pytest.mark.integration]
pytest.importorskip("playwright.sync_api")


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
    # (no wait_for_function: the console's CSP forbids the eval it uses, as it should)
    page.wait_for_selector(f'[data-field="completed_24h"]:text-is("{completed_before + 1}")', timeout=30_000)
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
