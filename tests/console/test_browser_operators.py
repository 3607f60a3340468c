"""Headless Chromium as an operator uses the console: pages through the job history, searches,
re-queues a filtered set in one action, watches jobs finish without reloading, and the polling
that does this never overlaps and stops in a hidden tab. Flower's pages carry warmer's navbar, a
task links to its job and back, and a failed job is a failed task. Every page is shot at 390 and
1400 px, light and dark (test-artifacts/console/)."""

from __future__ import annotations

import json
import time
import urllib.request
from base64 import b64encode
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from tests.console.browser_world import PASSWORD, USER, World, guard_outside, open_context, shot, text
from tests.console.support import add_lookups
from tests.support import services
from tests.support.factories import add_job
from warmer.ledger.models import Job, JobEvent, JobStatus, LedgerAudit, Repository

pytestmark = [pytest.mark.browser, pytest.mark.integration]
pytest.importorskip("playwright.sync_api")


def _noops(world: World, count: int) -> list[int]:
    jobs = [add_job(world.db, world.repo, commit=world.head, artifact_type="test_noop", params={"n": f"p{n}-{time.time()}"})
            for n in range(count)]  # fmt: skip
    world.publish(jobs)
    services.wait_for(lambda: all(world.status(j) == JobStatus.COMPLETED for j in jobs), 60, 0.3, "noop jobs")
    return jobs


def _ids(page) -> list[int]:  # type: ignore[no-untyped-def]
    return [
        int(x)
        for x in page.locator("#jobs-table tbody tr[data-job]").evaluate_all(
            "rs => rs.map(r => r.dataset.job)"
        )
    ]


def test_pagination_reaches_every_job_and_search_finds_one(world: World, page) -> None:  # type: ignore[no-untyped-def]
    _noops(world, 30)
    with world.db.session() as session:
        every = list(session.execute(select(Job.id).order_by(Job.id.desc())).scalars())
    page.goto(world.base + "/warmer/jobs?limit=25")
    seen = _ids(page)
    assert seen == every[:25]
    while page.locator("#page-older").count():
        page.click("#page-older")
        page.wait_for_load_state()
        seen += _ids(page)
    assert seen == every  # nothing skipped, nothing twice, newest to oldest
    page.click("#page-newer")
    page.wait_for_load_state()
    assert _ids(page) and _ids(page)[0] > seen[-1]

    target = every[len(every) // 2]
    with world.db.session() as session:
        commit = session.execute(select(Job.commit).where(Job.id == target)).scalar_one()
    page.fill("#f-q", str(target))
    page.click("#job-filters button[type=submit]")
    page.wait_for_url(f"**q={target}**")
    assert target in _ids(page)
    page.goto(world.base + f"/warmer/jobs?q={commit[:10]}")
    assert target in _ids(page) and all(r.startswith(commit[:10]) for r in
                                         page.locator("#jobs-table tbody td.mono").all_inner_texts())  # fmt: skip


def test_bulk_requeue_from_the_jobs_page_is_audited_as_the_user(world: World, page) -> None:  # type: ignore[no-untyped-def]
    flaky = [add_job(world.db, world.repo, commit=world.head, artifact_type="test_flaky",
                     params={"succeed_when_exists": str(world.tmp / f"never-{n}")}) for n in range(3)]  # fmt: skip
    world.publish(flaky)
    services.wait_for(
        lambda: all(world.status(j) == JobStatus.FAILED for j in flaky), 60, 0.3, "flaky jobs to fail"
    )
    page.goto(world.base + "/warmer/jobs?status=failed&artifact_type=test_flaky")
    assert sorted(_ids(page)) == sorted(flaky)
    assert (
        "signed in as admin" in text(page, "#live-text")
        or page.locator("body").get_attribute("data-user") == "console:admin"
    )
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#bulk-requeue-button")
    page.wait_for_selector("#flash")
    assert "3 failed job(s) re-queued" in text(page, "#flash")
    with world.db.session() as session:
        audit = session.execute(select(LedgerAudit).order_by(LedgerAudit.id.desc()).limit(1)).scalar_one()
        actors = set(session.execute(select(JobEvent.actor).where(
            JobEvent.job_id.in_(flaky), JobEvent.from_status == JobStatus.FAILED)).scalars())  # fmt: skip
    assert (
        audit.action == "bulk_requeue" and audit.actor == f"console:{USER}" and audit.detail["requeued"] == 3
    )
    assert actors == {f"console:{USER}"}
    # They ran again (and failed again: the flag file never appears); the job page keeps both errors.
    services.wait_for(lambda: all(world.status(j) == JobStatus.FAILED for j in flaky), 60, 0.3, "the re-run")
    page.goto(world.base + f"/warmer/jobs/{flaky[0]}")
    assert page.locator("#attempts-table tr[data-outcome=failed]").count() >= 2


def test_a_job_completing_updates_the_list_and_its_page_without_reload(world: World, browser) -> None:  # type: ignore[no-untyped-def]
    context = open_context(browser, world)
    listing, detail = context.new_page(), context.new_page()
    sleeper = add_job(world.db, world.repo, commit=world.head, artifact_type="test_sleep",
                      params={"seconds": 8, "at": time.time()})  # fmt: skip
    listing.goto(world.base + "/warmer/jobs")
    detail.goto(world.base + f"/warmer/jobs/{sleeper}")
    for p in (listing, detail):
        p.evaluate("window.__sameDocument = true")
    assert listing.locator(f'#jobs-table tr[data-job="{sleeper}"]').get_attribute("data-status") == "queued"
    world.publish([sleeper])
    detail.wait_for_selector('#job-live[data-status="running"]', timeout=20_000)
    listing.wait_for_selector(
        f'#jobs-table tr[data-job="{sleeper}"][data-status="completed"]', timeout=30_000
    )
    detail.wait_for_selector('#job-live[data-status="completed"]', timeout=30_000)
    assert detail.locator("#attempts-table tr[data-outcome=completed]").count() == 1
    for p in (listing, detail):
        assert p.evaluate("window.__sameDocument") is True
    added = _noops(world, 1)[0]  # a new job appears at the top of the first page, too
    listing.wait_for_selector(f'#jobs-table tr[data-job="{added}"]', timeout=30_000)
    context.close()


def test_repositories_and_analytics_update_without_reload_in_local_time(world: World, browser) -> None:  # type: ignore[no-untyped-def]
    """The other two live pages change with the ledger, and times read in the reader's zone."""
    context = browser.new_context(http_credentials={"username": USER, "password": PASSWORD},
                                  viewport={"width": 1400, "height": 900}, timezone_id="Asia/Kolkata")  # fmt: skip
    repos, analytics = context.new_page(), context.new_page()
    repos.goto(world.base + "/warmer/repositories")
    analytics.goto(world.base + "/warmer/analytics")
    for p in (repos, analytics):
        p.evaluate("window.__sameDocument = true")
    lookups = int(text(analytics, '[data-field="lookups"]'))
    name = f"live-{int(time.time())}"
    with world.db.session() as session:  # disconnected: nothing plans or warms it
        session.add(Repository(name=name, source=str(world.tmp / "nowhere"), branch="main", connected=False))
    add_lookups(world.db, world.repo, "repo_map", hits=4, misses=0, at=world.db.now())
    repos.wait_for_selector(f'#repos-table tr[data-repo="{name}"]', timeout=15_000)
    assert "disconnected" in repos.locator(f'#repos-table tr[data-repo="{name}"]').inner_text()
    analytics.wait_for_selector(f'[data-field="lookups"]:text-is("{lookups + 4}")', timeout=40_000)
    for p in (repos, analytics):
        assert p.evaluate("window.__sameDocument") is True
    # <time datetime=UTC> shows the reader's local time (UTC+05:30 here) and its age.
    stamp = analytics.locator("h1 time[datetime]")
    utc = datetime.fromisoformat(stamp.get_attribute("datetime") or "")
    local = utc.astimezone(timezone(timedelta(hours=5, minutes=30))).strftime("%Y-%m-%d %H:%M:%S")
    shown = stamp.inner_text()
    assert shown.startswith(local + " · ") and (shown.endswith("ago") or shown.endswith("just now")), shown
    assert (stamp.get_attribute("title") or "").endswith("(UTC)")
    context.close()


LIVE_PAGES = ["/warmer", "/warmer/jobs", "/warmer/repositories", "/warmer/analytics", "/warmer/jobs/1"]


@pytest.mark.parametrize("path", LIVE_PAGES)
def test_polling_never_overlaps_and_stops_while_hidden(world: World, browser, path: str) -> None:  # type: ignore[no-untyped-def]
    """Each live request is held for 1.5 poll intervals: a timer that did not wait for the
    previous answer would have a second one out meanwhile. Then the tab hides: nothing is sent;
    shown again, it refreshes at once."""
    context = open_context(browser, world)
    tab = context.new_page()
    held, state = [], {"inflight": 0, "max": 0, "sent": 0}

    def hold(route, request) -> None:  # type: ignore[no-untyped-def]
        if request.headers.get("x-warmer-live"):
            held.append((time.monotonic(), route))
        else:
            route.continue_()

    def started(request) -> None:  # type: ignore[no-untyped-def]
        if request.headers.get("x-warmer-live"):
            state["sent"] += 1
            state["inflight"] += 1
            state["max"] = max(state["max"], state["inflight"])

    def ended(request) -> None:  # type: ignore[no-untyped-def]
        if request.headers.get("x-warmer-live"):
            state["inflight"] -= 1

    tab.on("request", started)
    tab.on("requestfinished", ended)
    tab.on("requestfailed", ended)
    tab.route("**/*", hold)
    tab.goto(world.base + path)
    interval = int(tab.locator("body").get_attribute("data-live-interval") or "3000") / 1000
    deadline = time.monotonic() + interval * 5 + 5
    released = 0
    while time.monotonic() < deadline and released < 2:
        tab.wait_for_timeout(200)
        for at, route in list(held):
            if time.monotonic() - at >= interval * 1.5:
                held.remove((at, route))
                route.continue_()
                released += 1
    assert released == 2, f"expected two live requests on {path}, saw {state}"
    assert state["max"] == 1, f"{path}: {state['max']} live requests at once"

    tab.route("**/*", lambda route, request: route.continue_())  # no more holding
    for _, route in held:
        route.continue_()
    tab.wait_for_timeout(200)
    tab.evaluate("""() => {
        Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
        Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    tab.wait_for_timeout(300)
    sent_hidden = state["sent"]
    tab.wait_for_timeout(interval * 3 * 1000)
    assert state["sent"] == sent_hidden, f"{path} polled while hidden"
    tab.evaluate("""() => {
        Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});
        Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'visible'});
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    tab.wait_for_timeout(1500)
    assert state["sent"] > sent_hidden, f"{path} did not refresh when shown again"
    context.close()


def _flower_task(world: World, job_id: int) -> dict[str, object] | None:
    token = b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    request = urllib.request.Request(world.base + "/api/tasks?taskname=warmer.generate_artifact",
                                     headers={"Authorization": f"Basic {token}"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        tasks = json.loads(response.read())
    found = [t for t in tasks.values() if t.get("args") in (f"[{job_id}]", f"({job_id},)")]
    return found[0] if found else None


def test_flower_and_warmer_link_both_ways_and_agree_on_failure(world: World, page) -> None:  # type: ignore[no-untyped-def]
    failing = add_job(world.db, world.repo, commit=world.head, artifact_type="test_flaky",
                      params={"succeed_when_exists": str(world.tmp / "no-flag-here")})  # fmt: skip
    world.publish([failing])
    services.wait_for(lambda: world.status(failing) == JobStatus.FAILED, 60, 0.3, "the job to fail")
    services.wait_for(lambda: (_flower_task(world, failing) or {}).get("state") == "FAILURE", 30, 0.5,
                      "Flower to see the task fail")  # fmt: skip
    page.goto(world.base + f"/warmer/jobs/{failing}")
    page.click("#flower-task-link")
    page.wait_for_url("**/task/**")
    assert "FAILURE" in page.content()
    assert page.locator("#console-navigation").count() == 1  # warmer's navbar on Flower's page
    page.click("#warmer-job-link a")
    page.wait_for_url(f"**/warmer/jobs/{failing}")
    assert text(page, "#job-status") == "failed"
    for path in ("/workers", "/tasks", "/broker"):
        page.goto(world.base + path)
        assert page.locator('#console-navigation a:text-is("Jobs")').count() == 1, path


# The outermost elements that stick out of the screen (outside a scrolling box), for the message.
WIDEST = """() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right >
  window.innerWidth + 1 && !e.closest('.table-responsive') && !e.parentElement.closest('*:not(body)') === false)
  .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + Math.round(e.getBoundingClientRect().right))"""


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("width", [390, 1400])
def test_screenshots_at_every_width_and_theme(world: World, browser, width: int, dark: bool) -> None:  # type: ignore[no-untyped-def]
    context = open_context(browser, world, width=width, dark=dark)
    tab = context.new_page()
    outside = guard_outside(tab, world)
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    with world.db.session() as session:
        a_job = session.execute(select(func.max(Job.id)).where(Job.status == JobStatus.FAILED)).scalar_one()
        a_job = a_job or session.execute(select(func.max(Job.id))).scalar_one()
    theme = "dark" if dark else "light"
    for name, path in (("warmers", "/warmer"), ("jobs", "/warmer/jobs"), ("job", f"/warmer/jobs/{a_job}"),
                       ("repositories", "/warmer/repositories"), ("analytics", "/warmer/analytics"),
                       ("flower-workers", "/workers")):  # fmt: skip
        tab.goto(world.base + path)
        tab.wait_for_load_state("networkidle") if name == "flower-workers" else None
        assert tab.evaluate("document.documentElement.getAttribute('data-bs-theme')") == theme, path
        shot(tab, f"{name}-{width}-{theme}")
        # Nothing wider than the screen: tables scroll inside their own box, the page does not.
        overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        wide = tab.evaluate(WIDEST)
        assert overflow <= 1, f"{path} at {width}px is {overflow}px wider than the screen: {wide}"
    context.close()
    assert not outside and not errors, (outside, errors)
