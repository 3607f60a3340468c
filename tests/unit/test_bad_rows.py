"""One bad row cannot stop maintenance: the schema refuses rows maintenance could not handle
(migration 0007: CHECK constraints on Postgres, triggers on SQLite), the migration repairs rows
already written, and a row that gets past both (written before the constraints, or by hand) is
reported and skipped while the leader's other work goes on."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import IntegrityError

from tests.support import services
from tests.support.factories import add_job, add_repo, force, job
from warmer.ledger import migrate
from warmer.ledger.db import Database
from warmer.ledger.models import CommitTrigger, JobEvent, JobStatus, WarmerInstance, WebhookDelivery
from warmer.settings import load_settings


def _refused(db: Database, statement: Any) -> str:
    with pytest.raises(IntegrityError) as error, db.session() as session:
        session.execute(statement)
    return str(error.value.orig)


@pytest.mark.parametrize(
    ("values", "constraint"),
    [
        ({"priority": 7}, "ck_jobs_priority_of_trigger"),
        ({"priority": 0}, "ck_jobs_priority_of_trigger"),  # a connect job at commit priority
        ({"attempts": -1}, "ck_jobs_counters"),
        ({"status": JobStatus.RUNNING}, "ck_jobs_claim"),  # running, but nobody's claim
        ({"claim_token": "t"}, "ck_jobs_queued_unclaimed"),
        ({"status": JobStatus.COMPLETED}, "ck_jobs_finished"),
    ],
)
def test_the_schema_refuses_job_rows_maintenance_could_not_handle(
    ledger: Database, values: dict[str, Any], constraint: str
) -> None:
    job_id = add_job(ledger, add_repo(ledger))
    from warmer.ledger.models import Job

    assert constraint in _refused(ledger, update(Job).where(Job.id == job_id).values(**values))
    assert job(ledger, job_id).status == JobStatus.QUEUED  # nothing else changed


def test_the_schema_refuses_other_impossible_rows(ledger: Database) -> None:
    repo = add_repo(ledger)
    job_id = add_job(ledger, repo)
    assert "ck_job_events_attempt" in _refused(
        ledger, insert(JobEvent).values(job_id=job_id, to_status=JobStatus.QUEUED, actor="x", attempt=-1)
    )
    assert "ck_commit_triggers_commits_seen" in _refused(
        ledger,
        insert(CommitTrigger).values(
            repo_id=repo.id, branch="main", commit="a" * 40, commits_seen=0, source="cli", status="pending"
        ),
    )
    assert "ck_warmer_instances_concurrency" in _refused(
        ledger, insert(WarmerInstance).values(id="i", hostname="h", pid=1, concurrency=0)
    )
    assert "ck_webhook_deliveries_status_code" in _refused(
        ledger, insert(WebhookDelivery).values(provider="github", repo_name="r", status_code=42, outcome="?")
    )


def test_sqlite_refuses_a_state_or_trigger_no_one_knows(sqlite_db: Database) -> None:
    job_id = add_job(sqlite_db, add_repo(sqlite_db))
    for column, value in (("status", "zombie"), ("trigger", "cron")):
        with pytest.raises(IntegrityError, match=f"ck_jobs_{column}"), sqlite_db.session() as session:
            session.execute(text(f"UPDATE jobs SET {column} = :v WHERE id = :id"), {"v": value, "id": job_id})


def test_the_migration_repairs_rows_written_before_it(pg_url: str) -> None:
    db = Database(pg_url)
    config = migrate.alembic_config(db)
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0005")
    repo = add_repo(db)
    bad_priority, broken_claim, unfinished = (add_job(db, repo, commit=f"{i:040x}") for i in range(3))
    force(db, bad_priority, priority=7)
    force(db, broken_claim, status=JobStatus.RUNNING, published_at=db.now())  # no token, no worker
    force(db, unfinished, status=JobStatus.COMPLETED)  # no finish time
    migrate.upgrade(db)
    assert job(db, bad_priority).priority == 1
    repaired = job(db, broken_claim)
    assert (repaired.status, repaired.published_at) == (JobStatus.QUEUED, None)  # the leader publishes it
    assert "migration 0007: was running without a claim; queued again" in (repaired.error or "")
    assert job(db, unfinished).finished_at is not None
    db.dispose()


@pytest.fixture
def leader(pg_url: str, tmp_path: Any) -> Iterator[tuple[Database, Any]]:
    """A worker's maintenance, on Postgres and this run's Redis db, leading."""
    from celery import Celery

    from warmer.queues import kombu_queues
    from warmer.worker.maintenance import Maintenance

    config = tmp_path / "c.yaml"
    config.write_text("")
    settings = load_settings(
        {
            "DATABASE_URL": pg_url,
            "CELERY_BROKER_URL": services.REDIS_TEST_URL,
            "WARMER_CONFIG": str(config),
            "WARMER_DATA_DIR": str(tmp_path / "data"),
            "KEEPTRUSTS_CACHE_WARMER_POLL_INTERVAL_SECS": "0.5",
        }
    )
    app = Celery("bad-rows")
    app.config_from_object("warmer.celery_defaults")
    app.conf.broker_url = services.REDIS_TEST_URL
    app.conf.task_queues = kombu_queues(services.REDIS_TEST_URL)
    services.flush_redis()
    db = Database(pg_url)
    yield db, Maintenance(app, db, settings, instance_id="leader-under-test")
    services.flush_redis()
    db.dispose()


def test_one_bad_row_does_not_stop_the_leader(
    leader: tuple[Database, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """The issue's row: a priority no queue knows, written past the constraints (dropped here, as in
    a database from before them). And a running job whose claim has no time at all."""
    db, maintenance = leader
    with db.session() as session:
        for name in ("ck_jobs_priority_of_trigger", "ck_jobs_claim"):
            session.execute(text(f"ALTER TABLE jobs DROP CONSTRAINT {name}"))
    repo = add_repo(db)
    bad, good, broken, dead = (add_job(db, repo, commit=f"{i:040x}") for i in range(4))
    force(db, bad, priority=7)
    long_ago = db.now() - timedelta(hours=1)
    force(
        db,
        broken,
        status=JobStatus.RUNNING,
        claim_token="b",
        worker_id="w",
        claimed_at=None,
        heartbeat_at=None,
    )
    force(
        db,
        dead,
        status=JobStatus.RUNNING,
        claim_token="d",
        worker_id="w",
        claimed_at=long_ago,
        heartbeat_at=long_ago,
    )
    caplog.set_level(logging.INFO, logger="worker_cache_warmer")
    maintenance.tick()
    time.sleep(3.2)  # the dead worker's lock must be seen absent across two passes
    maintenance.tick()
    rejected = job(db, bad)
    assert rejected.status == JobStatus.FAILED
    assert "cannot be published: trigger connect with priority 7 matches no queue" in (rejected.error or "")
    assert job(db, good).published_at is not None  # published in the same tick
    assert job(db, dead).status == JobStatus.QUEUED and job(db, dead).reclaims == 1  # reaped
    assert job(db, broken).status == JobStatus.RUNNING  # skipped, and said so, once
    said = [r.getMessage() for r in caplog.records if f"job_id={broken} cannot be handled" in r.getMessage()]
    assert len(said) == 1 and "TypeError" in said[0]
    assert any(f"failed job job_id={bad}: cannot be published" in r.getMessage() for r in caplog.records)
    with db.session() as session:
        assert (
            session.execute(select(JobEvent.detail).where(JobEvent.job_id == bad))
            .scalars()
            .all()[-1]
            .startswith("cannot be published")
        )
