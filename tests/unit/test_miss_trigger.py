"""The miss trigger: threshold in a sliding window, one job while active, an hourly cap that defers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from warmer.cache.lookup import lookup
from warmer.ledger import transitions
from warmer.ledger.db import Database
from warmer.ledger.models import CacheLookup, Job, JobStatus, Trigger
from warmer.settings import Settings, load_settings
from warmer.triggers.connect import connect


def _settings(tmp_path: Path, db: Database, on_miss: str = "") -> Settings:
    config = tmp_path / "engineering_cache.yaml"
    config.write_text(
        "engineering_cache:\n  warmers:\n    on_connect:\n      enabled: false\n"
        "    on_miss:\n      threshold: 3\n      window_hours: 24\n      max_jobs_per_hour: 2\n" + on_miss
    )
    return load_settings(
        {"WARMER_CONFIG": str(config), "WARMER_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": db.url}
    )


@pytest.fixture
def world(ledger: Database, small_repo: Path, tmp_path: Path) -> tuple[Database, Settings]:
    settings = _settings(tmp_path, ledger)
    connect(ledger, settings, str(small_repo), name="small")
    return ledger, settings


def _miss(
    db: Database, settings: Settings, artifact: str = "symbol_index", task: str = "review", path: str = ""
) -> int | None:
    result = lookup(db, "small", artifact, task_type=task, path=path, settings=settings)
    assert not result.hit
    return result.warming_job


def _miss_jobs(db: Database) -> list[Job]:
    with db.session() as session:
        rows = (
            session.execute(select(Job).where(Job.trigger == Trigger.MISS).order_by(Job.id)).scalars().all()
        )
        session.expunge_all()
        return list(rows)


def test_the_threshold_enqueues_one_job_and_further_misses_find_it(world: tuple[Database, Settings]) -> None:
    db, settings = world
    assert [_miss(db, settings), _miss(db, settings)] == [None, None]
    job_id = _miss(db, settings)  # the third miss in the window
    assert job_id is not None
    assert _miss(db, settings) == job_id and _miss(db, settings) == job_id  # not again while it is queued
    (job,) = _miss_jobs(db)
    assert (job.artifact_type, job.priority, job.status, job.scope) == (
        "symbol_index",
        2,
        JobStatus.QUEUED,
        None,
    )


def test_patterns_count_apart_and_old_misses_fall_out_of_the_window(world: tuple[Database, Settings]) -> None:
    db, settings = world
    for _ in range(2):
        _miss(db, settings, task="review")
        _miss(db, settings, task="explain")
        _miss(db, settings, artifact="test_map", task="review")
    assert _miss_jobs(db) == []  # two of each pattern: none reached three
    with db.session() as session:
        session.execute(update(CacheLookup).values(at=db.now() - timedelta(hours=25)))
    assert _miss(db, settings, task="review") is None  # the two old ones no longer count
    assert _miss(db, settings, task="review") is None
    assert _miss(db, settings, task="review") is not None


def test_the_hourly_cap_defers_the_excess_to_later_hours_without_dropping_it(
    world: tuple[Database, Settings],
) -> None:
    db, settings = world
    jobs = []
    for path in ("app/main.py", "app/__init__.py", "tests/test_main.py", "README.md"):
        for _ in range(3):
            found = _miss(db, settings, artifact="file_summary", path=path)
        jobs.append(found)
    assert None not in jobs and len(set(jobs)) == 4
    rows = _miss_jobs(db)
    now = db.now()
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    hours = sorted((row.available_at - this_hour) // timedelta(hours=1) for row in rows)
    assert hours == [0, 0, 1, 1]  # two now, two at the next hour: kept, not dropped
    assert [row.scope for row in rows] == [
        ["app/main.py"],
        ["app/__init__.py"],
        ["tests/test_main.py"],
        ["README.md"],
    ]


def test_a_failed_job_is_not_retried_by_misses(world: tuple[Database, Settings]) -> None:
    db, settings = world
    for _ in range(3):
        job_id = _miss(db, settings)
    assert job_id is not None
    with db.session() as session:
        claim = transitions.claim(session, job_id, "w")
        assert claim is not None
        transitions.record_failure(session, claim, "boom", max_retries=0, backoff_secs=0, now=db.now())
    assert _miss(db, settings) is None
    assert len(_miss_jobs(db)) == 1


def test_a_disabled_miss_trigger_only_records(ledger: Database, small_repo: Path, tmp_path: Path) -> None:
    settings = _settings(tmp_path, ledger, "      enabled: false\n")
    connect(ledger, settings, str(small_repo), name="small")
    for _ in range(5):
        assert _miss(ledger, settings) is None
    assert _miss_jobs(ledger) == []
    with ledger.session() as session:
        assert len(session.execute(select(CacheLookup)).all()) == 5


def test_conversion_counts_hits_after_the_miss_job_completed(world: tuple[Database, Settings]) -> None:
    from warmer.artifacts.base import ArtifactResult, Entry
    from warmer.cache.store import write_result
    from warmer.ledger import queries

    db, settings = world
    for _ in range(3):
        job_id = _miss(db, settings)
    assert job_id is not None
    with db.session() as session:
        claim = transitions.claim(session, job_id, "w")
        assert claim is not None and transitions.mark_running(session, claim)
        job = session.get(Job, job_id)
        write_result(
            session.connection(), repo_id=job.repo_id, branch=job.branch, commit=job.commit,  # type: ignore[union-attr]
            artifact_type="symbol_index", version="1", job_id=job_id,
            result=ArtifactResult([Entry("", "t" * 40, {"symbols": []})]),
        )  # fmt: skip
        assert transitions.mark_completed(session, claim)
    for _ in range(2):
        assert lookup(db, "small", "symbol_index", task_type="review", settings=settings).hit
    with db.session() as session:
        report = queries.miss_conversions(session, db.now() - timedelta(hours=1))
    assert (report["warmed_by_misses"], report["converted"], report["conversion_rate"]) == (1, 1, 1.0)
    assert report["patterns"][0]["misses_before"] == 3 and report["patterns"][0]["hits_after"] == 2
