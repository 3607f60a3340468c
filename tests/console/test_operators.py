"""What operators of Flower, Sidekiq and Oban Web take for granted, through the JSON API on a real
Postgres ledger: keyset pages that reach every job, search, sort, filters, bulk re-queue as one
audited action by the signed-in user, every attempt's error kept, instances until they age out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.console.support import Client, InProcessConsole, complete_job, fail_job
from tests.support.factories import add_job, add_repo, job
from warmer.ledger.models import Job, JobEvent, JobStatus, LedgerAudit, Trigger

pytestmark = pytest.mark.integration


def _walk(client: Client, query: str, direction: str = "after") -> list[int]:
    """Every id the list reaches, page after page, following the cursors it hands out."""
    seen, cursor = [], None
    while True:
        sep = "&" if "?" in query else "?"
        status, body = client.get(
            f"/api/warmer/jobs{query}" + (f"{sep}{direction}={cursor}" if cursor else "")
        )
        assert status == 200, body
        seen += [j["id"] for j in body["jobs"]]
        cursor = body["next"] if direction == "after" else body["prev"]
        if cursor is None:
            return seen


def test_keyset_pages_reach_every_job_in_each_sort(console: InProcessConsole, client: Client) -> None:
    repo = add_repo(console.db, name="alpha")
    ids = [add_job(console.db, repo, artifact_type=f"art_{n:02d}") for n in range(23)]
    for job_id in ids[:9]:
        complete_job(console.db, job_id)
    assert _walk(client, "?limit=5") == sorted(ids, reverse=True)  # newest first, 5 pages
    assert _walk(client, "?limit=4&sort=oldest") == sorted(ids)
    finished = _walk(client, "?limit=2&sort=finished")
    with console.db.session() as session:
        order = list(session.execute(
            select(Job.id).where(Job.finished_at.is_not(None)).order_by(Job.finished_at.desc(), Job.id.desc())
        ).scalars())  # fmt: skip
    assert finished == order and len(finished) == 9
    # Back from the third page: `prev` leads to exactly the page before it.
    _, first = client.get("/api/warmer/jobs?limit=5")
    _, second = client.get(f"/api/warmer/jobs?limit=5&after={first['next']}")
    _, third = client.get(f"/api/warmer/jobs?limit=5&after={second['next']}")
    _, back = client.get(f"/api/warmer/jobs?limit=5&before={third['prev']}")
    assert [j["id"] for j in back["jobs"]] == [j["id"] for j in second["jobs"]]
    assert first["prev"] is None and back["prev"] is not None
    # Filters narrow the pages; a status list takes several states.
    assert _walk(client, "?status=completed&limit=4") == sorted(ids[:9], reverse=True)
    assert sorted(_walk(client, "?status=queued,completed&limit=50")) == sorted(ids)


def test_search_by_id_commit_repository_and_error_text(console: InProcessConsole, client: Client) -> None:
    alpha, beta = add_repo(console.db, name="alpha-service"), add_repo(console.db, name="beta")
    by_commit = add_job(console.db, alpha, commit="deadbeef" + "0" * 32, artifact_type="repo_map")
    other = add_job(console.db, beta, commit="c0ffee00" + "1" * 32, artifact_type="test_map")
    failed = add_job(console.db, beta, commit="abc12345" + "2" * 32, artifact_type="symbol_index")
    fail_job(console.db, failed, "TimeoutError: tree-sitter took 50% of_the budget\nTraceback ...")

    def found(q: str) -> list[int]:
        status, body = client.get("/api/warmer/jobs?q=" + q)
        assert status == 200, body
        return [j["id"] for j in body["jobs"]]

    assert found(str(other)) == [other]  # a job id
    assert found("deadbeef") == [by_commit]  # a commit prefix
    assert found("DEADBEEF") == [by_commit]
    assert found("alpha") == [by_commit]  # a repository's name
    assert found("timeouterror") == [failed]  # error text, any case
    assert found("50%25%20of_the") == [failed]  # '%' and '_' are text, not wildcards
    assert found("50%25%20ofXthe") == []
    assert found("nothing-like-this") == []
    assert found("beta&status=failed") == [failed]  # search and filters together
    status, body = client.get("/api/warmer/jobs?q=" + "x" * 201)
    assert status == 400 and "invalid q" in body["error"]


def test_bad_cursors_and_sorts_get_one_clear_answer(console: InProcessConsole, client: Client) -> None:
    add_job(console.db, add_repo(console.db, name="alpha"))
    for query, words in [
        ("?after=abc", "invalid after 'abc'"),
        ("?before=1;DROP TABLE jobs", "invalid before"),
        ("?sort=finished&after=12", "invalid after '12'"),  # a finished-sort cursor has a time
        ("?after=1767225600000000~5", "invalid after"),  # ... and an id sort none
        ("?sort=finished&after=99999999999999999999~5", "invalid after"),
        ("?after=5&before=9", "after or before, not both"),
        ("?sort=random", "invalid sort 'random'"),
        ("?finished_within_hours=-1", "invalid finished_within_hours"),
        ("?status=queued,nope", "invalid status 'nope'"),
    ]:
        status, body = client.get("/api/warmer/jobs" + query.replace("+", "%2B").replace(" ", "%20"))
        assert status == 400 and words in body["error"], (query, body)


def test_bulk_requeue_is_one_audited_action_by_the_signed_in_user(
    console: InProcessConsole, client: Client
) -> None:
    alpha, beta = add_repo(console.db, name="alpha"), add_repo(console.db, name="beta")
    alpha_failed = [add_job(console.db, alpha, artifact_type=f"a{n}") for n in range(3)]
    beta_failed = add_job(console.db, beta, artifact_type="b0")
    for job_id in [*alpha_failed, beta_failed]:
        fail_job(console.db, job_id, f"boom {job_id}")
    done = add_job(console.db, alpha, artifact_type="done")
    complete_job(console.db, done)

    status, body = client.post("/api/warmer/jobs/requeue", {"repo": "alpha"}, csrf=False)
    assert status == 403 and job(console.db, alpha_failed[0]).status == JobStatus.FAILED
    status, body = client.post("/api/warmer/jobs/requeue", {"repo": "alpha", "status": "completed"})
    assert status == 200, body
    assert body["requeued"] == 3 and body["skipped"] == 0 and body["published"] == 3
    assert sorted(body["job_ids"]) == sorted(alpha_failed)
    assert all(job(console.db, j).status == JobStatus.QUEUED for j in alpha_failed)
    assert job(console.db, beta_failed).status == JobStatus.FAILED  # outside the filter
    assert job(console.db, done).status == JobStatus.COMPLETED  # never re-queued: not failed
    with console.db.session() as session:
        [audit] = session.execute(select(LedgerAudit).where(LedgerAudit.action == "bulk_requeue")).scalars()
        events = session.execute(
            select(JobEvent.actor, JobEvent.detail).where(JobEvent.job_id.in_(alpha_failed),
                                                          JobEvent.from_status == JobStatus.FAILED)
        ).all()  # fmt: skip
    assert audit.actor == "console:admin" and audit.detail["requeued"] == 3
    assert audit.detail["filters"] == {"repo": "alpha", "status": "failed"}
    assert {(actor, detail) for actor, detail in events} == {
        ("console:admin", f"re-queued by hand (bulk #{audit.id})")
    }
    status, body = client.get("/api/warmer/audit")
    assert (
        status == 200
        and body["entries"][0]["id"] == audit.id
        and body["entries"][0]["actor"] == "console:admin"
    )

    status, body = client.post("/api/warmer/jobs/requeue", {"repo": "alpha"})  # nothing failed is left
    assert status == 200 and body["requeued"] == 0
    for payload, words in [({"repo": "nowhere"}, "unknown repository"), ({"colour": "red"}, "unknown parameter"),
                           ({"q": "x" * 300}, "invalid q")]:  # fmt: skip
        status, body = client.post("/api/warmer/jobs/requeue", payload)
        assert status == 400 and words in body["error"], (payload, body)


def test_single_requeue_names_the_user_and_the_job_keeps_every_attempts_error(
    console: InProcessConsole, client: Client
) -> None:
    repo = add_repo(console.db, name="alpha")
    job_id = add_job(console.db, repo, artifact_type="repo_map")
    first = "Traceback (most recent call last):\n  File a.py\nValueError: first attempt"
    fail_job(console.db, job_id, first, "w-1")
    status, body = client.post(f"/api/warmer/jobs/{job_id}/requeue")
    assert status == 200, body
    fail_job(console.db, job_id, "Traceback ...\nKeyError: second attempt", "w-2")

    status, body = client.get(f"/api/warmer/jobs/{job_id}")
    assert status == 200, body
    assert body["attempts"] == 2 and body["failures"] == 1  # the columns count since the re-queue
    assert body["lifetime"] == {"attempts": 2, "failures": 2, "reclaims": 0, "requeues": 1}
    attempts = body["attempts_log"]
    assert [(a["attempt"], a["worker"], a["outcome"]) for a in attempts] == [
        (1, "w-1", "failed"),
        (2, "w-2", "failed"),
    ]
    assert attempts[0]["error"] == first  # the whole traceback survived the re-queue
    assert "KeyError: second attempt" in attempts[1]["error"]
    requeued = [e for e in body["events"] if e["from"] == "failed" and e["to"] == "queued"]
    assert [e["actor"] for e in requeued] == ["console:admin"]

    status, page = client.request("GET", f"/warmer/jobs/{job_id}")[:2]
    assert status == 200 and "ValueError: first attempt" in page and "KeyError: second attempt" in page


def test_overview_counts_and_rows_agree_and_tiles_link_to_their_lists(
    console: InProcessConsole, client: Client
) -> None:
    repo = add_repo(console.db, name="alpha")
    failed = add_job(console.db, repo, artifact_type="f")
    fail_job(console.db, failed, "boom")
    old = add_job(console.db, repo, artifact_type="old")
    fail_job(console.db, old, "boom")
    with console.db.session() as session:
        row = session.get(Job, old)
        assert row is not None and row.finished_at is not None
        session.execute(
            update(Job).where(Job.id == old).values(finished_at=row.finished_at - timedelta(hours=30))
        )
    add_job(console.db, repo, artifact_type="q", trigger=Trigger.MISS)
    _, overview = client.get("/api/warmer/overview")
    assert overview["failed_24h"] == 1 and overview["total_queued"] == 1
    _, page = client.request("GET", "/warmer")[:2]
    for href in ("status=queued", "status=claimed,running", "status=failed&amp;finished_within_hours=24"):
        assert href in page, href
    _, listed = client.get("/api/warmer/jobs?status=failed&finished_within_hours=24&sort=finished")
    assert [j["id"] for j in listed["jobs"]] == [failed]  # the tile's figure is the list's length
