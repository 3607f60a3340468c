"""Every transition is guarded by state and claim token, on SQLite and on Postgres."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.support.factories import add_job, add_repo, force, job
from warmer.ledger import outbox, queries, transitions
from warmer.ledger.db import Database
from warmer.ledger.models import Job, JobEvent, JobStatus, Trigger


def _claim(db: Database, job_id: int, worker: str = "w1") -> transitions.Claim | None:
    with db.session() as session:
        return transitions.claim(session, job_id, worker)


def _run(db: Database, job_id: int, worker: str = "w1") -> transitions.Claim:
    claim = _claim(db, job_id, worker)
    assert claim is not None
    with db.session() as session:
        assert transitions.mark_running(session, claim)
    return claim


def _fail(
    db: Database, claim: transitions.Claim, *, max_retries: int = 3, permanent: bool = False
) -> JobStatus | None:
    with db.session() as session:
        return transitions.record_failure(
            session, claim, "boom", max_retries=max_retries, backoff_secs=0, now=db.now(), permanent=permanent
        )


def _history(db: Database, job_id: int) -> list[tuple[str | None, str]]:
    with db.session() as session:
        return [
            (e.from_status.value if e.from_status else None, e.to_status.value)
            for e in queries.events(session, job_id)
        ]


def test_identical_active_jobs_collapse_but_new_commits_do_not(ledger: Database) -> None:
    repo = add_repo(ledger)
    first = add_job(ledger, repo, commit="a" * 40)
    assert add_job(ledger, repo, commit="a" * 40) == first
    assert add_job(ledger, repo, commit="b" * 40) != first
    assert add_job(ledger, repo, commit="a" * 40, scope=("x.py",)) != first
    # Once the first is finished, the same work may be queued again.
    claim = _run(ledger, first)
    with ledger.session() as session:
        assert transitions.mark_completed(session, claim)
    assert add_job(ledger, repo, commit="a" * 40) != first


def test_full_lifecycle_records_every_transition(ledger: Database) -> None:
    repo = add_repo(ledger)
    job_id = add_job(ledger, repo)
    claim = _run(ledger, job_id)
    with ledger.session() as session:
        assert transitions.heartbeat(session, claim)
        assert transitions.mark_completed(session, claim)
    row = job(ledger, job_id)
    assert row.status == JobStatus.COMPLETED and row.attempts == 1 and row.worker_id == "w1"
    assert row.queued_at <= row.claimed_at <= row.started_at <= row.finished_at  # type: ignore[operator]
    assert _history(ledger, job_id) == [
        (None, "queued"),
        ("queued", "claimed"),
        ("claimed", "running"),
        ("running", "completed"),
    ]


def test_a_job_is_claimed_once(ledger: Database) -> None:
    repo = add_repo(ledger)
    job_id = add_job(ledger, repo)
    assert _claim(ledger, job_id, "w1") is not None
    assert _claim(ledger, job_id, "w2") is None
    assert job(ledger, job_id).worker_id == "w1"


def test_concurrent_claimers_each_job_claimed_exactly_once(ledger: Database) -> None:
    if ledger.engine.dialect.name == "sqlite":
        pytest.skip("the embedded ledger is single-process by design")
    repo = add_repo(ledger)
    job_ids = [add_job(ledger, repo, commit=f"{i:040d}") for i in range(60)]
    winners: dict[int, list[str]] = {job_id: [] for job_id in job_ids}
    lock = threading.Lock()

    def claimer(name: str) -> None:
        for job_id in job_ids:
            claim = _claim(ledger, job_id, name)
            if claim is not None:
                with lock:
                    winners[job_id].append(name)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(len(names) == 1 for names in winners.values()), winners


def test_a_job_that_is_not_due_is_not_claimed(ledger: Database) -> None:
    repo = add_repo(ledger)
    job_id = add_job(ledger, repo)
    force(ledger, job_id, available_at=ledger.now() + timedelta(hours=1))
    assert _claim(ledger, job_id) is None


def test_late_completion_after_reclaim_changes_nothing(ledger: Database) -> None:
    repo = add_repo(ledger)
    job_id = add_job(ledger, repo)
    stale = _run(ledger, job_id, "w1")
    with ledger.session() as session:
        assert (
            transitions.reclaim(session, job_id, stale.token, "w1 died", max_retries=3, actor="reaper")
            == JobStatus.QUEUED
        )
    fresh = _run(ledger, job_id, "w2")
    with ledger.session() as session:
        # The old worker wakes up: every one of its transitions is refused.
        assert not transitions.heartbeat(session, stale)
        assert not transitions.mark_completed(session, stale)
        assert (
            transitions.record_failure(
                session, stale, "late", max_retries=3, backoff_secs=0, now=ledger.now()
            )
            is None
        )
        assert transitions.mark_completed(session, fresh)
    row = job(ledger, job_id)
    assert (
        row.status == JobStatus.COMPLETED
        and row.worker_id == "w2"
        and row.reclaims == 1
        and row.attempts == 2
    )


def test_reclaim_with_a_stale_token_is_refused(ledger: Database) -> None:
    repo = add_repo(ledger)
    job_id = add_job(ledger, repo)
    claim = _run(ledger, job_id)
    with ledger.session() as session:
        assert transitions.reclaim(session, job_id, "not-the-token", "x", max_retries=3, actor="r") is None
        assert transitions.mark_completed(session, claim)
        assert transitions.reclaim(session, job_id, claim.token, "x", max_retries=3, actor="r") is None
    assert job(ledger, job_id).status == JobStatus.COMPLETED


def test_failures_retry_with_backoff_then_fail_after_max_retries(ledger: Database) -> None:
    repo = add_repo(ledger)
    job_id = add_job(ledger, repo)
    for failure in range(1, 4):  # max_retries=3: three re-runs after the first failure
        assert _fail(ledger, _run(ledger, job_id), max_retries=3) == JobStatus.QUEUED
        row = job(ledger, job_id)
        assert row.failures == failure and row.published_at is None and row.worker_id is None
    assert _fail(ledger, _run(ledger, job_id), max_retries=3) == JobStatus.FAILED
    row = job(ledger, job_id)
    assert row.status == JobStatus.FAILED and row.attempts == 4 and row.error == "boom" and row.finished_at


def test_backoff_delays_the_retry(ledger: Database) -> None:
    repo = add_repo(ledger)
    job_id = add_job(ledger, repo)
    claim = _run(ledger, job_id)
    with ledger.session() as session:
        transitions.record_failure(session, claim, "x", max_retries=3, backoff_secs=60, now=ledger.now())
    assert _claim(ledger, job_id) is None  # not before its backoff has passed
    with ledger.session() as session:
        assert outbox.due_unpublished(session) == []


def test_permanent_error_fails_at_once(ledger: Database) -> None:
    repo = add_repo(ledger)
    job_id = add_job(ledger, repo)
    assert _fail(ledger, _run(ledger, job_id), permanent=True) == JobStatus.FAILED
    assert job(ledger, job_id).attempts == 1


def test_reclaims_are_capped_apart_from_failures(ledger: Database) -> None:
    repo = add_repo(ledger)
    job_id = add_job(ledger, repo)
    assert _fail(ledger, _run(ledger, job_id), max_retries=1) == JobStatus.QUEUED
    claim = _run(ledger, job_id)
    with ledger.session() as session:
        assert (
            transitions.reclaim(session, job_id, claim.token, "died", max_retries=1, actor="r")
            == JobStatus.QUEUED
        )
    claim = _run(ledger, job_id)
    with ledger.session() as session:
        assert (
            transitions.reclaim(session, job_id, claim.token, "died again", max_retries=1, actor="r")
            == JobStatus.FAILED
        )
    row = job(ledger, job_id)
    assert (row.failures, row.reclaims, row.status) == (1, 2, JobStatus.FAILED)
    assert "died again" in (row.error or "")


def test_requeue_only_failed_jobs_and_grants_new_retries(ledger: Database) -> None:
    repo = add_repo(ledger)
    job_id = add_job(ledger, repo)
    claim = _run(ledger, job_id)
    with ledger.session() as session, pytest.raises(transitions.TransitionRefused, match="only failed jobs"):
        transitions.requeue(session, job_id, "cli")
    _fail(ledger, claim, permanent=True)
    with ledger.session() as session:
        transitions.requeue(session, job_id, "cli")
    row = job(ledger, job_id)
    assert (row.status, row.failures, row.error, row.published_at) == (JobStatus.QUEUED, 0, None, None)
    assert _history(ledger, job_id)[-1] == ("failed", "queued")
    with ledger.session() as session, pytest.raises(transitions.TransitionRefused, match="does not exist"):
        transitions.requeue(session, 999_999, "cli")


def test_requeue_refused_while_an_identical_job_is_active(ledger: Database) -> None:
    repo = add_repo(ledger)
    job_id = add_job(ledger, repo)
    _fail(ledger, _run(ledger, job_id), permanent=True)
    twin = add_job(ledger, repo)
    assert twin != job_id
    with ledger.session() as session, pytest.raises(transitions.TransitionRefused, match=f"job {twin}"):
        transitions.requeue(session, job_id, "cli")


def test_publishing_bookkeeping(ledger: Database) -> None:
    repo = add_repo(ledger)
    commit_job = add_job(ledger, repo, trigger=Trigger.COMMIT, commit="c" * 40)
    miss_job = add_job(ledger, repo, trigger=Trigger.MISS, commit="d" * 40)
    with ledger.session() as session:
        due = outbox.due_unpublished(session)
        assert {(d[0], d[1]) for d in due} == {(commit_job, Trigger.COMMIT), (miss_job, Trigger.MISS)}
        assert {d[0]: d[2] for d in due} == {commit_job: 0, miss_job: 2}
        outbox.mark_published(session, [commit_job, miss_job])
    with ledger.session() as session:
        assert outbox.due_unpublished(session) == []
        assert outbox.forget_published(session) == 2  # the broker lost its messages
    with ledger.session() as session:
        assert len(outbox.due_unpublished(session)) == 2


def test_phase_times_come_from_the_events(ledger: Database) -> None:
    repo = add_repo(ledger)
    job_id = add_job(ledger, repo)
    claim = _run(ledger, job_id)
    with ledger.session() as session:
        transitions.mark_completed(session, claim)
        history = queries.events(session, job_id)
    base = history[0].at
    for offset, event in zip((0, 2, 3, 10), history, strict=True):
        event.at = base + timedelta(seconds=offset)
    assert queries.phase_seconds(history, base + timedelta(seconds=99)) == {
        "queued": 2,
        "claimed": 1,
        "running": 7,
    }
    with ledger.session() as session:
        assert session.execute(select(JobEvent).where(JobEvent.job_id == job_id)).scalars().all()
        assert session.get(Job, job_id).status == JobStatus.COMPLETED  # type: ignore[union-attr]
