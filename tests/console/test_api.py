"""The console's JSON API against a real Postgres ledger: every endpoint, its refusals, redaction."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import insert, select, update

from tests.console.support import (
    CONSOLE_REDIS,
    LEDGER_PASSWORD,
    Client,
    InProcessConsole,
    add_lookups,
    backdate,
    complete_job,
    fail_job,
)
from tests.support.factories import add_job, add_repo, job
from warmer.console.app import API, routes
from warmer.console.openapi import spec
from warmer.ledger.models import Job, JobEvent, JobStatus, Repository, Trigger, WarmerInstance

pytestmark = pytest.mark.integration


def _instance(
    console: InProcessConsole, instance_id: str, concurrency: int, heartbeat_age_secs: float
) -> None:
    now = console.db.now()
    with console.db.session() as session:
        session.execute(
            insert(WarmerInstance).values(
                id=instance_id, hostname="host-" + instance_id, pid=1, concurrency=concurrency,
                started_at=now - timedelta(hours=1), heartbeat_at=now - timedelta(seconds=heartbeat_age_secs),
            )
        )  # fmt: skip


def _broker_messages(queue: str) -> int:
    client = redis.Redis.from_url(CONSOLE_REDIS)
    try:
        return sum(client.llen(key) for key in client.keys(f"{queue}*") if client.type(key) == b"list")
    finally:
        client.close()


def test_overview_figures_match_the_ledger(console: InProcessConsole, client: Client) -> None:
    repo = add_repo(console.db, name="alpha")
    queued_connect = add_job(console.db, repo, artifact_type="repo_map")
    add_job(console.db, repo, artifact_type="test_map", trigger=Trigger.MISS)
    in_flight = add_job(console.db, repo, artifact_type="symbol_index")
    with console.db.session() as session:
        from warmer.ledger import transitions

        assert transitions.claim(session, in_flight, "w-fresh") is not None
    done = add_job(console.db, repo, artifact_type="file_summary")
    complete_job(console.db, done, "w-fresh")
    old = add_job(console.db, repo, artifact_type="dependency_graph")
    complete_job(console.db, old, "w-fresh")
    backdate(console.db, old, 30)  # outside the 24h window
    failed = add_job(console.db, repo, artifact_type="api_inventory")
    fail_job(console.db, failed, "boom", "w-fresh")
    _instance(console, "w-fresh", 4, 1)
    _instance(console, "w-stale", 2, 3600)
    console_app = console.app.warmer.capp
    from warmer.publisher import publish

    publish(console_app, console.db, [(queued_connect, Trigger.CONNECT, 1)])

    status, body = client.get("/api/warmer/overview")
    assert status == 200, body
    assert (body["total_queued"], body["in_progress"], body["completed_24h"], body["failed_24h"]) == (
        2,
        1,
        1,
        1,
    )
    queues = {q["name"]: q for q in body["queues"]}
    assert list(queues) == ["warmer.commit", "warmer.connect", "warmer.miss"]
    assert queues["warmer.connect"]["broker_messages"] == _broker_messages("warmer.connect") == 1
    assert queues["warmer.connect"]["ledger_queued"] == 1 and queues["warmer.miss"]["ledger_queued"] == 1
    assert queues["warmer.commit"]["priority"] == "high" and queues["warmer.miss"]["priority"] == "low"
    instances = {i["id"]: i for i in body["instances"]}
    assert instances["w-fresh"]["stale"] is False and instances["w-stale"]["stale"] is True
    assert instances["w-fresh"]["active_jobs"] == 1 and instances["w-fresh"]["utilization"] == 0.25
    assert instances["w-fresh"]["jobs_processed"] == 3  # two completed, one failed
    [running] = body["jobs_in_progress"]
    assert (
        running["id"] == in_flight and running["worker_id"] == "w-fresh" and running["elapsed_seconds"] >= 0
    )


def test_instances_endpoint_and_its_parameter(console: InProcessConsole, client: Client) -> None:
    """Running instances, and stopped ones until they age out (an hour after they stopped)."""
    _instance(console, "w-one", 3, 2)
    now = console.db.now()
    with console.db.session() as session:
        for name, stopped_hours_ago in (("w-gone", 0), ("w-long-gone", 2)):
            session.execute(
                insert(WarmerInstance).values(
                    id=name, hostname="h", pid=2, concurrency=1, started_at=now - timedelta(hours=30),
                    stopped_at=now - timedelta(hours=stopped_hours_ago),
                )
            )  # fmt: skip
    status, body = client.get("/api/warmer/instances")
    assert status == 200 and [i["id"] for i in body["instances"]] == ["w-one", "w-gone"]
    assert body["instances"][1]["stopped_at"] is not None
    status, body = client.get("/api/warmer/instances?include_stopped=true")
    assert {i["id"] for i in body["instances"]} == {"w-one", "w-gone", "w-long-gone"}
    status, body = client.get("/api/warmer/instances?include_stopped=maybe")
    assert status == 400 and "include_stopped" in body["error"]


def test_jobs_filters_limit_and_bad_parameters(console: InProcessConsole, client: Client) -> None:
    alpha, beta = add_repo(console.db, name="alpha"), add_repo(console.db, name="beta")
    a1 = add_job(console.db, alpha, artifact_type="repo_map")
    a2 = add_job(console.db, alpha, artifact_type="test_map", trigger=Trigger.MISS)
    b1 = add_job(console.db, beta, artifact_type="repo_map", trigger=Trigger.COMMIT)
    fail_job(console.db, a2, "generator exploded")

    def ids(query: str) -> list[int]:
        status, body = client.get("/api/warmer/jobs" + query)
        assert status == 200, body
        assert body["count"] == len(body["jobs"])
        return [j["id"] for j in body["jobs"]]

    assert ids("") == [b1, a2, a1]
    assert ids("?status=failed") == [a2]
    assert ids("?repo=alpha") == [a2, a1]
    assert ids("?artifact_type=repo_map") == [b1, a1]
    assert ids("?trigger=commit") == [b1]
    assert ids("?repo=alpha&artifact_type=repo_map&status=queued") == [a1]
    assert ids("?limit=1") == [b1]
    status, body = client.get("/api/warmer/jobs?repo=alpha")
    job_json = body["jobs"][0]
    for field in ("id", "repo", "branch", "commit", "artifact_type", "scope", "trigger", "priority", "status",
                  "attempts", "worker_id", "error", "queued_at", "claimed_at", "started_at", "heartbeat_at",
                  "finished_at"):  # fmt: skip
        assert field in job_json

    for query, words in [
        ("?status=bogus", "invalid status 'bogus'"),
        ("?trigger=push", "invalid trigger 'push'"),
        ("?limit=0", "invalid limit 0"),
        ("?limit=abc", "invalid limit 'abc'"),
        ("?limit=100000", "from 1 to 1000"),
        ("?repo=nowhere", "unknown repository 'nowhere'"),
        ("?artifact_type=a%20b", "invalid artifact_type"),
        ("?colour=red", "unknown parameter(s) colour"),
    ]:
        status, body = client.get("/api/warmer/jobs" + query)
        assert status == 400, (query, body)
        assert body["status"] == 400 and words in body["error"], (query, body)


def test_job_detail_phases_history_error_and_404(console: InProcessConsole, client: Client) -> None:
    repo = add_repo(console.db, name="alpha")
    job_id = add_job(console.db, repo, artifact_type="repo_map")
    error = "Traceback (most recent call last):\n  File x\nValueError: line one\nline two"
    fail_job(console.db, job_id, error, "w-9")
    status, body = client.get(f"/api/warmer/jobs/{job_id}")
    assert status == 200, body
    assert body["repo"] == "alpha" and body["branch"] == "main" and body["trigger"] == "connect"
    assert body["status"] == "failed" and body["worker_id"] == "w-9" and body["attempts"] == 1
    assert body["error"] == error  # the full error, every line
    assert set(body["phases_seconds"]) == {"queued", "claimed", "running"}
    assert all(v >= 0 for v in body["phases_seconds"].values())
    assert [e["to"] for e in body["events"]] == ["queued", "claimed", "running", "failed"]

    status, body = client.get("/api/warmer/jobs/999999")
    assert status == 404 and body == {"error": "job 999999 does not exist", "status": 404}
    status, body = client.get("/api/warmer/jobs/abc")
    assert status == 400 and "invalid job id 'abc'" in body["error"]


def test_requeue_publishes_and_refuses_what_it_must(console: InProcessConsole, client: Client) -> None:
    repo = add_repo(console.db, name="alpha")
    failed = add_job(console.db, repo, artifact_type="repo_map")
    fail_job(console.db, failed, "boom")
    done = add_job(console.db, repo, artifact_type="test_map")
    complete_job(console.db, done)

    status, body = client.post(f"/api/warmer/jobs/{failed}/requeue", csrf=False)
    assert status == 403 and "CSRF" in body["error"]
    assert job(console.db, failed).status == JobStatus.FAILED  # nothing changed

    status, body = client.post(f"/api/warmer/jobs/{failed}/requeue")
    assert status == 200, body
    assert body["status"] == "queued" and body["published"] == 1
    row = job(console.db, failed)
    assert row.status == JobStatus.QUEUED and row.error is None and row.published_at is not None
    assert _broker_messages("warmer.connect") == 1
    with console.db.session() as session:
        actors = list(session.execute(select(JobEvent.actor).where(JobEvent.job_id == failed)).scalars())
    assert actors[-1] == "console:True" or actors[-1].startswith("console")

    status, body = client.post(f"/api/warmer/jobs/{done}/requeue")
    assert status == 409 and "only failed jobs can be re-queued" in body["error"]
    status, body = client.post("/api/warmer/jobs/424242/requeue")
    assert status == 404 and "does not exist" in body["error"]
    status, body = client.post("/api/warmer/jobs/x1/requeue")
    assert status == 400


def test_connect_full_warming_disconnect_and_repositories(
    console: InProcessConsole, client: Client, small_repo: Path
) -> None:
    status, body = client.post("/api/warmer/repositories", {"source": str(small_repo), "name": "small"})
    assert status == 201, body
    assert body["reason"] == "new" and len(body["created"]) == 2 and body["published"] == 2
    status, body = client.get("/api/warmer/repositories")
    assert status == 200 and body["artifact_types"][:2] == ["repo_map", "test_map"]
    [repo] = body["repositories"]
    assert repo["name"] == "small" and repo["connected"] and repo["branch"] == "main"
    assert {c["artifact_type"]: c["state"] for c in repo["coverage"]}["repo_map"] == "warming"
    assert repo["last_warmed_commit"] is None and len(repo["baseline_commit"]) == 40

    # Identical jobs are still active: a full warming adds nothing.
    status, body = client.post("/api/warmer/repositories/small/full-warming")
    assert status == 202 and body["created"] == [] and len(body["jobs"]) == 2
    for job_id in body["jobs"]:
        complete_job(console.db, job_id)
    status, body = client.post("/api/warmer/repositories/small/full-warming")
    assert status == 202 and len(body["created"]) == 2
    with console.db.session() as session:
        triggers = list(session.execute(select(Job.trigger).where(Job.id.in_(body["created"]))).scalars())
    assert triggers == [Trigger.MANUAL, Trigger.MANUAL]
    status, body = client.get("/api/warmer/repositories/small")
    assert status == 200 and body["last_warmed_commit"] == body["baseline_commit"]

    status, body = client.post("/api/warmer/repositories/small/disconnect")
    assert status == 200 and body["connected"] is False
    status, body = client.post("/api/warmer/repositories/small/disconnect")
    assert status == 400 and "already disconnected" in body["error"]
    status, body = client.post("/api/warmer/repositories/small/full-warming")
    assert status == 400 and "disconnected" in body["error"]
    status, body = client.post("/api/warmer/repositories", {"name": "small"})
    assert status == 200 and body["reason"] == "reconnected"

    for path in ("/api/warmer/repositories/ghost/full-warming", "/api/warmer/repositories/ghost/disconnect"):
        status, body = client.post(path)
        assert status == 404 and "unknown repository 'ghost'" in body["error"]
    status, body = client.get("/api/warmer/repositories/ghost")
    assert status == 404
    status, body = client.post("/api/warmer/repositories", {"name": "ghost"})
    assert status == 404
    status, body = client.post("/api/warmer/repositories", {"source": "/no/such/dir"})
    assert status == 400 and "no such directory" in body["error"]
    status, body = client.post("/api/warmer/repositories", {"colour": "red"})
    assert status == 400 and "unknown field(s) colour" in body["error"]
    status, body = client.post("/api/warmer/repositories", {})
    assert status == 400 and "give a source" in body["error"]


def test_analytics_figures(console: InProcessConsole, client: Client) -> None:
    alpha, beta = add_repo(console.db, name="alpha"), add_repo(console.db, name="beta")
    now = console.db.now()
    add_lookups(console.db, alpha, "symbol_index", hits=1, misses=6, at=now - timedelta(hours=3))
    add_lookups(console.db, beta, "test_map", hits=3, misses=2, at=now - timedelta(hours=2))
    add_lookups(console.db, alpha, "repo_map", hits=4, misses=0, at=now - timedelta(hours=1))
    add_lookups(console.db, alpha, "repo_map", hits=0, misses=9, at=now - timedelta(days=3))  # outside 24h
    miss_job = add_job(console.db, alpha, artifact_type="symbol_index", trigger=Trigger.MISS)
    complete_job(console.db, miss_job)
    with console.db.session() as session:  # the misses came before the job finished, a hit after
        session.execute(
            update(Job).where(Job.id == miss_job).values(finished_at=now - timedelta(minutes=150))
        )
    add_lookups(console.db, alpha, "symbol_index", hits=1, misses=0, at=now - timedelta(minutes=30))
    failed_miss = add_job(console.db, beta, artifact_type="symbol_index", trigger=Trigger.MISS)
    fail_job(console.db, failed_miss, "nope")

    status, body = client.get("/api/warmer/analytics")
    assert status == 200, body
    assert body["lookups"] == 7 + 5 + 4 + 1 and body["hits"] == 1 + 3 + 4 + 1
    assert [(p["repo"], p["artifact_type"], p["misses"]) for p in body["miss_patterns"]] == [
        ("alpha", "symbol_index", 6),
        ("beta", "test_map", 2),
    ]
    assert body["promoted_artifacts"] == [
        {"artifact_type": "symbol_index", "jobs": 2, "completed": 1, "failed": 1, "repos": 2}
    ]
    assert body["conversions"]["warmed_by_misses"] == 1 and body["conversions"]["conversion_rate"] == 1.0
    series = body["hit_rate_series"]
    assert body["bucket_seconds"] == 3600 and len(series) in (24, 25)
    assert sum(p["lookups"] for p in series) == body["lookups"]

    status, body = client.get("/api/warmer/analytics?window_hours=96")
    assert body["lookups"] == 26 and body["bucket_seconds"] == 86400
    for query in (
        "?window_hours=0",
        "?window_hours=-1",
        "?window_hours=nan",
        "?window_hours=x",
        "?top=0",
        "?day=1",
    ):
        status, body = client.get("/api/warmer/analytics" + query)
        assert status == 400 and body["error"], query


def test_openapi_describes_every_api_route(client: Client) -> None:
    status, body = client.get("/api/warmer/openapi.json")
    assert status == 200 and body["openapi"].startswith("3.")
    assert body == json.loads(json.dumps(spec()))
    described = {(path, method) for path, item in body["paths"].items() for method in item}
    served = set()
    for rule in routes():
        pattern = rule.regex.pattern.rstrip("$")
        if not pattern.startswith(API) or pattern.endswith("openapi.json"):
            continue
        path = (
            pattern[len(API) :]
            .replace("([^/]+)", "{job_id}")
            .replace("(.+?)", "{name}")
            .replace("(.+)", "{name}")
        )
        served |= {(path, method) for method in ("get", "post") if method in vars(rule.target)}
    assert served == described


def test_auth_refusals(console_settings, pg_url: str) -> None:  # type: ignore[no-untyped-def]
    server = InProcessConsole(console_settings, basic_auth=["admin:right"]).start()
    try:
        status, body = Client(server.base, "admin", "wrong").get("/api/warmer/overview")
        assert status == 401 and body["error"] == "authentication required"
        status, _, headers = Client(server.base).request("GET", "/api/warmer/jobs")
        assert status == 401 and headers["www-authenticate"].startswith("Basic")
        status, _, _ = Client(server.base, "admin", "wrong").request("GET", "/warmer")
        assert status == 401
        assert Client(server.base, "admin", "right").get("/api/warmer/overview")[0] == 200
    finally:
        server.stop()
    # No auth configured: Flower's convention refuses the API unless explicitly opened.
    server = InProcessConsole(console_settings, basic_auth=None).start()
    try:
        status, body = Client(server.base).get("/api/warmer/overview")
        assert status == 401 and "FLOWER_UNAUTHENTICATED_API" in body["error"]
        os.environ["FLOWER_UNAUTHENTICATED_API"] = "true"
        try:
            assert Client(server.base).get("/api/warmer/overview")[0] == 200
            # ... and a POST still needs the CSRF token.
            assert Client(server.base).post("/api/warmer/jobs/1/requeue", csrf=False)[0] == 403
        finally:
            del os.environ["FLOWER_UNAUTHENTICATED_API"]
    finally:
        server.stop()


def test_nothing_leaks_secrets(console: InProcessConsole, client: Client) -> None:
    repo = add_repo(console.db, name="private", source="https://bob:tok3n-abc@git.example.com/o/private.git")
    with console.db.session() as session:
        session.execute(
            update(Repository).where(Repository.id == repo.id).values(webhook_secret="hook-secret-99")
        )
    job_id = add_job(console.db, repo, artifact_type="repo_map")
    fail_job(
        console.db, job_id, "clone of https://bob:tok3n-abc@git.example.com failed; dsn password=hunter22"
    )
    outputs = []
    for path in ("/api/warmer/overview", "/api/warmer/jobs", f"/api/warmer/jobs/{job_id}",
                 "/api/warmer/repositories", "/api/warmer/repositories/private", "/api/warmer/analytics",
                 "/warmer", "/warmer/jobs", f"/warmer/jobs/{job_id}", "/warmer/repositories", "/warmer/analytics"):  # fmt: skip
        status, body, _ = client.request("GET", path)
        assert status == 200, path
        outputs.append(body if isinstance(body, str) else json.dumps(body))
    text = "\n".join(outputs)
    for secret in ("tok3n-abc", "hunter22", "hook-secret-99", LEDGER_PASSWORD, "webhook_secret"):
        assert secret not in text, secret
    overview = json.loads(outputs[0])
    assert overview["ledger_url"].startswith("postgresql+psycopg2://postgres:***@")
    assert "https://bob:***@git.example.com/o/private.git" in outputs[3]


def test_pages_render_and_flower_keeps_working(console: InProcessConsole, client: Client) -> None:
    for path in ("/warmer", "/warmer/jobs", "/warmer/repositories", "/warmer/analytics", "/workers", "/tasks",
                 "/broker", "/api/workers?refresh=false"):  # fmt: skip
        status, _, _ = client.request("GET", path)
        assert status == 200, path
    status, text, _ = client.request("GET", "/metrics")
    assert (status == 200 and "flower_" in text) or "python_gc" in text
    status, text, _ = client.request("GET", "/warmer/jobs?status=bogus")
    assert status == 400 and "invalid status" in text
    status, text, _ = client.request("GET", "/warmer/jobs/123456")
    assert status == 404 and "job 123456 does not exist" in text
    # A form action without the token is refused too.
    status, _, _ = client.request("POST", "/warmer/repositories/connect", csrf=False)
    assert status == 403
