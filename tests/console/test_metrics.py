"""Prometheus metrics on Flower's /metrics: every warmer figure equals what the ledger and broker hold."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert, update

from tests.console.support import Client, InProcessConsole, add_lookups, complete_job, fail_job
from tests.support.factories import add_job, add_repo
from warmer.ledger import transitions
from warmer.ledger.models import Job, Trigger, WarmerInstance
from warmer.publisher import publish

pytestmark = pytest.mark.integration


def _samples(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, text, _ = client.request("GET", "/metrics")
    assert status == 200
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_report_the_ledger_and_broker(console: InProcessConsole, client: Client) -> None:
    db = console.db
    repo = add_repo(db, name="metered")
    queued = add_job(db, repo, artifact_type="repo_map")
    publish(console.app.warmer.capp, db, [(queued, Trigger.CONNECT, 1)])
    fast, slow = add_job(db, repo, artifact_type="symbol_index"), add_job(db, repo, artifact_type="test_map")
    for job_id in (fast, slow):
        complete_job(db, job_id)
    with db.session() as session:  # run times of 0.2 s and 45 s, exactly
        for job_id, seconds in ((fast, 0.2), (slow, 45)):
            row = session.get(Job, job_id)
            assert row is not None and row.started_at is not None
            session.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(finished_at=row.started_at + timedelta(seconds=seconds))
            )
    failed = add_job(db, repo, artifact_type="api_inventory")
    fail_job(db, failed, "boom")
    retried = add_job(db, repo, artifact_type="file_summary")
    with db.session() as session:  # one failed attempt that is retried, then a reclaim from a dead worker
        claim = transitions.claim(session, retried, "w-1")
        assert claim is not None and transitions.mark_running(session, claim)
        transitions.record_failure(session, claim, "flaky", max_retries=3, backoff_secs=0, now=db.now())
        claim = transitions.claim(session, retried, "w-2")
        assert claim is not None
        reclaimed = transitions.reclaim(
            session, retried, claim.token, "heartbeat stale", max_retries=3, actor="reaper"
        )
        assert reclaimed is not None
        now = db.now()
        session.execute(insert(WarmerInstance), [
            dict(id="alive-1", hostname="h", pid=1, concurrency=2, heartbeat_at=now),
            dict(id="stale-1", hostname="h", pid=2, concurrency=2, heartbeat_at=now - timedelta(hours=1)),
        ])  # fmt: skip
    add_lookups(db, repo, "symbol_index", hits=3, misses=2, at=db.now())

    samples = _samples(client)
    assert samples[("warmer_queue_depth", (("queue", "warmer.connect"),))] == 1
    assert samples[("warmer_queue_depth", (("queue", "warmer.commit"),))] == 0
    assert samples[("warmer_jobs", (("status", "queued"),))] == 2  # the published one and the reclaimed one
    assert samples[("warmer_jobs", (("status", "completed"),))] == 2
    assert samples[("warmer_jobs", (("status", "failed"),))] == 1
    histogram = {labels: value for (name, labels), value in samples.items()
                 if name.startswith("warmer_job_duration_seconds")}  # fmt: skip
    assert (
        samples[("warmer_job_duration_seconds_bucket", (("artifact_type", "symbol_index"), ("le", "0.5")))]
        == 1
    )
    assert (
        samples[("warmer_job_duration_seconds_bucket", (("artifact_type", "test_map"), ("le", "30.0")))] == 0
    )
    assert (
        samples[("warmer_job_duration_seconds_bucket", (("artifact_type", "test_map"), ("le", "60.0")))] == 1
    )
    assert samples[("warmer_job_duration_seconds_count", (("artifact_type", "test_map"),))] == 1
    assert samples[("warmer_job_duration_seconds_sum", (("artifact_type", "test_map"),))] == pytest.approx(
        45, abs=0.01
    )
    assert len(histogram) > 0
    assert (
        samples[("warmer_cache_lookups_total", (("artifact_type", "symbol_index"), ("result", "hit")))] == 3
    )
    assert (
        samples[("warmer_cache_lookups_total", (("artifact_type", "symbol_index"), ("result", "miss")))] == 2
    )
    assert samples[("warmer_stale_reclaims_total", ())] == 1
    assert samples[("warmer_job_retries_total", ())] == 1
    assert samples[("warmer_instances", (("state", "alive"),))] == 1
    assert samples[("warmer_instances", (("state", "stale"),))] == 1
