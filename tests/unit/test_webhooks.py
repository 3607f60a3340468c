"""Push webhooks through the real HTTP server: real HMAC signatures, refusals recorded, nothing else changed."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.gitrepo import commit, git, write
from warmer.ledger.db import Database
from warmer.ledger.models import CommitTrigger, WebhookDelivery
from warmer.settings import Settings, load_settings
from warmer.triggers import webhooks
from warmer.triggers.connect import connect
from warmer.triggers.webhook_server import make_server

HOOK = Path(__file__).resolve().parents[2] / "deploy" / "hooks" / "post-receive"


@pytest.fixture
def world(ledger: Database, small_repo: Path, tmp_path: Path) -> Iterator[tuple[Database, str, Path, str]]:
    config = tmp_path / "engineering_cache.yaml"
    config.write_text("engineering_cache:\n  warmers:\n    on_connect:\n      enabled: false\n")
    settings: Settings = load_settings(
        {"WARMER_CONFIG": str(config), "WARMER_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": ledger.url}
    )
    connect(ledger, settings, str(small_repo), name="small")
    secret = webhooks.new_secret(ledger, "small")
    server = make_server(ledger, settings, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield ledger, f"http://127.0.0.1:{server.server_address[1]}", small_repo, secret
    server.shutdown()
    server.server_close()


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())["message"]
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())["message"]


def _github(secret: str, body: bytes, event: str = "push") -> dict[str, str]:
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": signature, "X-GitHub-Event": event, "X-GitHub-Delivery": "d-1",
            "Content-Type": "application/json"}  # fmt: skip


def _push(repo: Path, branch: str = "main") -> tuple[bytes, str]:
    write(repo, {"app/new.py": "X = 1\n"})
    sha = commit(repo, "new file")
    return json.dumps({"ref": f"refs/heads/{branch}", "before": "0" * 40, "after": sha}).encode(), sha


def _triggers(db: Database) -> list[CommitTrigger]:
    with db.session() as session:
        rows = session.execute(select(CommitTrigger)).scalars().all()
        session.expunge_all()
        return list(rows)


def _deliveries(db: Database) -> list[tuple[int, str]]:
    with db.session() as session:
        rows = session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id)).scalars().all()
        return [(row.status_code, row.outcome) for row in rows]


def test_a_signed_github_push_opens_a_commit_window(world: tuple[Database, str, Path, str]) -> None:
    db, base, repo, secret = world
    body, sha = _push(repo)
    status, message = _post(f"{base}/webhooks/github/small", body, _github(secret, body))
    assert status == 202 and message.startswith("pending")
    (trigger,) = _triggers(db)
    assert (trigger.commit, trigger.source) == (sha, "webhook:github")


def test_bad_signatures_are_refused_recorded_and_change_nothing(
    world: tuple[Database, str, Path, str],
) -> None:
    db, base, repo, secret = world
    body, _sha = _push(repo)
    assert _post(f"{base}/webhooks/github/small", body, _github("wrong-secret", body))[0] == 401
    assert _post(f"{base}/webhooks/github/small", body, {"X-GitHub-Event": "push"})[0] == 401
    tampered = body.replace(b"main", b"mainx")
    assert _post(f"{base}/webhooks/github/small", tampered, _github(secret, body))[0] == 401
    assert (
        _post(
            f"{base}/webhooks/gitlab/small", body, {"X-Gitlab-Token": "nope", "X-Gitlab-Event": "Push Hook"}
        )[0]
        == 401
    )
    assert _triggers(db) == []
    assert [status for status, _ in _deliveries(db)] == [401, 401, 401, 401]


def test_a_gitlab_push_with_its_token(world: tuple[Database, str, Path, str]) -> None:
    db, base, repo, secret = world
    body, sha = _push(repo)
    status, _ = _post(
        f"{base}/webhooks/gitlab/small", body, {"X-Gitlab-Token": secret, "X-Gitlab-Event": "Push Hook"}
    )
    assert status == 202 and _triggers(db)[0].commit == sha


@pytest.mark.parametrize(
    ("payload", "event", "status", "says"),
    [
        (b"{not json", "push", 400, "malformed JSON"),
        (b'["a list"]', "push", 400, "not a push payload"),
        (b'{"ref": "refs/tags/v1", "after": "' + b"a" * 40 + b'"}', "push", 202, "is not a branch"),
        (b'{"ref": "refs/heads/main", "after": "' + b"0" * 40 + b'"}', "push", 202, "was deleted"),
        (b'{"zen": "hi"}', "ping", 202, "ignored: ping event"),
        (
            b'{"ref": "refs/heads/main", "after": "' + b"f" * 40 + b'"}',
            "push",
            422,
            "is not in the repository",
        ),
        (b'{"ref": "refs/heads/a..b", "after": "' + b"f" * 40 + b'"}', "push", 422, "invalid branch name"),
    ],
)
def test_odd_deliveries_get_a_clear_answer(
    world: tuple[Database, str, Path, str], payload: bytes, event: str, status: int, says: str
) -> None:
    db, base, _repo, secret = world
    got, message = _post(f"{base}/webhooks/github/small", payload, _github(secret, payload, event))
    assert got == status and says in message
    assert _triggers(db) == []


def test_unknown_repositories_providers_and_huge_payloads(world: tuple[Database, str, Path, str]) -> None:
    db, base, _repo, secret = world
    body = b"{}"
    assert _post(f"{base}/webhooks/github/nope", body, _github(secret, body))[0] == 404
    assert _post(f"{base}/webhooks/bitbucket/small", body, _github(secret, body))[0] == 404
    # Refused from its Content-Length, before any of the body is read.
    connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=30)
    connection.putrequest("POST", "/webhooks/github/small")
    connection.putheader("Content-Length", str(webhooks.MAX_BODY_BYTES + 1))
    connection.putheader("X-GitHub-Event", "push")
    connection.endheaders()
    assert connection.getresponse().status == 413
    connection.close()
    assert (
        webhooks.handle(
            db,
            load_settings({"DATABASE_URL": db.url}),
            "github",
            "small",
            {},
            b"x" * (webhooks.MAX_BODY_BYTES + 1),
        ).status
        == 413
    )
    assert _triggers(db) == []


def test_the_post_receive_hook_calls_warmer_commit(
    world: tuple[Database, str, Path, str], tmp_path: Path
) -> None:
    db, _base, repo, _secret = world
    _body, sha = _push(repo)
    env = {**os.environ, "WARMER_REPO": "small", "DATABASE_URL": db.url,
           "WARMER_CONFIG": str(tmp_path / "engineering_cache.yaml"), "WARMER_DATA_DIR": str(tmp_path / "data")}  # fmt: skip
    old = git(repo, "rev-parse", "HEAD~1").strip()
    done = subprocess.run(
        [str(HOOK)], input=f"{old} {sha} refs/heads/main\n{old} {sha} refs/tags/v1\n", text=True,
        capture_output=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (trigger,) = _triggers(db)
    assert (trigger.commit, trigger.source) == (sha, "cli")
