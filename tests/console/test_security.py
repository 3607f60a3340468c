"""Hostile input against the console's headers and auth: every response (warmer's pages, its API,
Flower's pages, static files, errors, redirects) refuses framing and sniffing and carries a CSP
whose only inline scripts are the hashed ones of the page itself; text a worker or an attacker
put in the ledger is never markup; /metrics answers only to the console's credentials."""

from __future__ import annotations

import re

import pytest

from tests.console.support import Client, InProcessConsole, fail_job
from tests.support.factories import add_job, add_repo
from warmer.console.security import script_hashes

pytestmark = pytest.mark.integration

PATHS = [
    "/warmer", "/warmer/jobs", "/warmer/repositories", "/warmer/analytics", "/warmer/jobs/1",
    "/api/warmer/overview", "/api/warmer/jobs?status=bogus", "/api/warmer/jobs/999", "/workers", "/tasks",
    "/broker", "/warmer/static/console.css", "/static/js/theme.js", "/no/such/page", "/", "/metrics",
]  # fmt: skip


def _csp(headers: dict[str, str]) -> dict[str, str]:
    return {
        part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else ""
        for part in (p.strip() for p in headers["content-security-policy"].split(";"))
        if part
    }


def test_every_response_carries_the_security_headers(console: InProcessConsole, client: Client) -> None:
    add_job(console.db, add_repo(console.db, name="alpha"))
    anonymous = Client(console.base)
    for who in (client, anonymous):  # answers to strangers (401) carry them too
        for path in PATHS:
            status, body, headers = who.request("GET", path)
            assert headers.get("x-frame-options") == "DENY", (path, status)
            assert headers.get("x-content-type-options") == "nosniff", path
            assert headers.get("referrer-policy") == "same-origin", path
            policy = _csp(headers)
            assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'", path
            assert policy["default-src"] == "'self'" and policy["form-action"] == "'self'", path
            scripts = policy["script-src"].split()
            assert scripts[0] == "'self'" and "'unsafe-inline'" not in scripts, path
            if isinstance(body, str) and headers.get("content-type", "").startswith("text/html"):
                # exactly the inline scripts of this page are allowed, by hash
                assert sorted(scripts[1:]) == sorted(set(script_hashes(body.encode()))), path


def test_warmer_pages_have_no_inline_script_and_flower_pages_keep_theirs(client: Client) -> None:
    for path in ("/warmer", "/warmer/jobs", "/warmer/repositories", "/warmer/analytics"):
        _, body, headers = client.request("GET", path)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), path
        assert _csp(headers)["script-src"] == "'self'"
        assert 'id="console-navigation"' in body
    _, body, headers = client.request("GET", "/workers")  # Flower's page: `var autorefresh = ...`
    assert "var autorefresh" in body and len(_csp(headers)["script-src"].split()) == 2
    assert 'id="console-navigation"' in body and "Warmers</a>" in body  # warmer's navbar on Flower's page


def test_ledger_text_is_never_markup(console: InProcessConsole, client: Client) -> None:
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&"
    repo = add_repo(console.db, name="alpha")
    job_id = add_job(console.db, repo, artifact_type="repo_map")
    fail_job(console.db, job_id, evil, worker=evil[:50])
    for path in (
        f"/warmer/jobs/{job_id}",
        "/warmer/jobs",
        f"/warmer/jobs?q={job_id}",
        "/warmer/jobs?q=%3Cscript%3E",
    ):
        status, body, _ = client.request("GET", path)
        assert status == 200, path
        assert "<script>alert(1)" not in body and "<img src=x" not in body, path
    _, body, _ = client.request("GET", f"/warmer/jobs/{job_id}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_metrics_need_the_consoles_credentials(console: InProcessConsole, client: Client) -> None:
    status, body, headers = Client(console.base).request("GET", "/metrics")
    assert status == 401 and "warmer_jobs" not in body and headers["www-authenticate"].startswith("Basic")
    status, body, _ = Client(console.base, "admin", "wrong").request("GET", "/metrics")
    assert status == 401 and "warmer_jobs" not in body
    status, body, _ = client.request("GET", "/metrics")
    assert status == 200 and "warmer_jobs" in body and "flower_" in body  # warmer's and Flower's own


def test_open_metrics_serves_them_to_anyone_and_nothing_else(console_settings) -> None:  # type: ignore[no-untyped-def]
    server = InProcessConsole(console_settings, basic_auth=["admin:pw"], open_metrics=True).start()
    try:
        anonymous = Client(server.base)
        status, body, _ = anonymous.request("GET", "/metrics")
        assert status == 200 and "warmer_jobs" in body
        assert anonymous.request("GET", "/warmer")[0] == 401  # the pages still ask
        assert anonymous.request("GET", "/api/warmer/overview")[0] == 401
    finally:
        server.stop()


def test_cross_site_and_tokenless_posts_change_nothing(console: InProcessConsole, client: Client) -> None:
    repo = add_repo(console.db, name="alpha")
    job_id = add_job(console.db, repo)
    fail_job(console.db, job_id, "boom")
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}):
        status, body, _ = client.request("POST", "/api/warmer/jobs/requeue", {}, headers=headers)
        assert status == 403, body
    status, body, _ = client.request("POST", "/warmer/jobs/requeue", csrf=False)
    assert status == 403
    _, detail = client.get(f"/api/warmer/jobs/{job_id}")
    assert detail["status"] == "failed"
