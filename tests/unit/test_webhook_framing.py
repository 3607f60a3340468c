"""Hostile requests to the webhook server, over raw sockets: each gets one clear answer, is recorded
as a delivery, reads no more than the limit, and changes nothing else."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.support.private import free_port
from tests.support.services import ROOT, wait_for
from warmer.ledger import migrate
from warmer.ledger.db import Database
from warmer.ledger.models import CommitTrigger, WebhookDelivery
from warmer.settings import load_settings
from warmer.triggers import webhooks
from warmer.triggers.connect import connect
from warmer.triggers.webhook_server import make_server

LIMIT = webhooks.MAX_BODY_BYTES


@pytest.fixture
def server(ledger: Database, small_repo: Path, tmp_path: Path) -> Iterator[tuple[Database, int, str]]:
    config = tmp_path / "engineering_cache.yaml"
    config.write_text("engineering_cache:\n  warmers:\n    on_connect:\n      enabled: false\n")
    settings = load_settings(
        {"WARMER_CONFIG": str(config), "WARMER_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": ledger.url}
    )
    connect(ledger, settings, str(small_repo), name="small")
    secret = webhooks.new_secret(ledger, "small")
    httpd = make_server(ledger, settings, "127.0.0.1", 0, read_timeout=1.0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield ledger, httpd.server_address[1], secret
    httpd.shutdown()
    httpd.server_close()


def _exchange(port: int, head: bytes, body: bytes = b"", *, half_close: bool = True) -> tuple[int, str]:
    """Send raw bytes; return the status and message of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head + body)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])["message"]


def _head(*lines: str | bytes, path: str = "/webhooks/github/small") -> bytes:
    raw = [f"POST {path} HTTP/1.1".encode(), b"Host: x", b"X-GitHub-Event: push"]
    raw += [line.encode() if isinstance(line, str) else line for line in lines]
    return b"\r\n".join(raw) + b"\r\n\r\n"


def _deliveries(db: Database) -> list[int]:
    with db.session() as session:
        return list(
            session.execute(select(WebhookDelivery.status_code).order_by(WebhookDelivery.id)).scalars()
        )


def _nothing_else_changed(db: Database) -> None:
    with db.session() as session:
        assert session.execute(select(func.count()).select_from(CommitTrigger)).scalar_one() == 0


@pytest.mark.parametrize(
    ("lines", "body", "status", "says"),
    [
        (["Content-Length: -1"], b"{}", 400, "is not a number of bytes"),
        (["Content-Length: abc"], b"{}", 400, "is not a number of bytes"),
        (["Content-Length: +2"], b"{}", 400, "is not a number of bytes"),
        (["Content-Length: 2", "Content-Length: 3"], b"{}", 400, "conflicting Content-Length"),
        ([f"Content-Length: {10**30}"], b"", 413, "over the limit"),
        ([f"Content-Length: {LIMIT + 1}"], b"x" * 1000, 413, "over the limit"),
        ([], b"{}", 411, "Content-Length (or Transfer-Encoding: chunked) is required"),
        (["Content-Length: 10"], b"{}", 400, "the body ended after 2 of its 10 bytes"),
        (["Transfer-Encoding: gzip"], b"{}", 501, "only chunked"),
        (["Transfer-Encoding: chunked", "Content-Length: 2"], b"2\r\n{}\r\n0\r\n\r\n", 400, "ambiguous"),
        (["Transfer-Encoding: chunked"], b"zz\r\n{}\r\n0\r\n\r\n", 400, "is not hexadecimal"),
        (["Transfer-Encoding: chunked"], b"1\r\n{}\r\n0\r\n\r\n", 400, "longer than its size"),
        (["Transfer-Encoding: chunked"], b"2\r\n{}", 400, "ended inside a chunk end"),
        (["Transfer-Encoding: chunked"], f"{LIMIT + 1:x}\r\n".encode(), 413, "passes the limit"),
        (["Content-Length: 2", "X-Hub-Signature-256: sha256=é"], b"{}", 400, "X-Hub-Signature-256 holds non-ASCII"),
        (["Content-Length: 2", b"X-Hub-Signature-256: sha256=\xff\xfe"], b"{}", 400, "holds non-ASCII"),
        (["Content-Length: 2", b"X-Hub-Signature-256: \xe2\x9c\x93"], b"{}", 400, "holds non-ASCII"),
    ],
)  # fmt: skip
def test_bad_framing_and_headers_get_one_clear_answer(
    server: tuple[Database, int, str], lines: list[str | bytes], body: bytes, status: int, says: str
) -> None:
    db, port, _secret = server
    got, message = _exchange(port, _head(*lines), body)
    assert (got, says in message) == (status, True), message
    assert _deliveries(db) == [status]
    _nothing_else_changed(db)


def test_a_chunked_body_over_the_limit_is_refused_after_the_limit(server: tuple[Database, int, str]) -> None:
    db, port, _secret = server
    chunk = b"x" * (1024 * 1024)
    body = b"".join(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for _ in range(LIMIT // len(chunk) + 2))
    assert _exchange(port, _head("Transfer-Encoding: chunked"), body)[0] == 413
    assert _deliveries(db) == [413]


def test_a_signed_chunked_push_is_accepted(server: tuple[Database, int, str], small_repo: Path) -> None:
    from tests.support.gitrepo import commit, write

    db, port, secret = server
    write(small_repo, {"app/new.py": "X = 1\n"})
    sha = commit(small_repo, "new file")
    payload = json.dumps({"ref": "refs/heads/main", "after": sha}).encode()
    signature = "sha256=" + hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
    body = (
        f"{len(payload) - 5:x}\r\n".encode()
        + payload[:-5]
        + b"\r\n5;ext=1\r\n"
        + payload[-5:]
        + b"\r\n0\r\n\r\n"
    )
    got, message = _exchange(
        port, _head("Transfer-Encoding: chunked", f"X-Hub-Signature-256: {signature}"), body
    )
    assert got == 202 and message.startswith("pending"), message
    assert _deliveries(db) == [202]


def test_a_gitlab_token_with_non_ascii_characters(server: tuple[Database, int, str]) -> None:
    db, port, _secret = server
    head = _head("Content-Length: 2", "X-Gitlab-Token: sécret", path="/webhooks/gitlab/small")
    got, message = _exchange(port, head, b"{}")
    assert got == 400 and "X-Gitlab-Token holds non-ASCII characters" in message
    assert _deliveries(db) == [400]


def test_a_client_that_stops_sending_gets_408(server: tuple[Database, int, str]) -> None:
    db, port, _secret = server
    started = time.monotonic()
    got, message = _exchange(port, _head("Content-Length: 100"), b"{", half_close=False)
    assert got == 408 and "did not arrive within 1s" in message
    assert time.monotonic() - started < 10
    assert _deliveries(db) == [408]


def test_odd_paths_and_methods(server: tuple[Database, int, str]) -> None:
    db, port, _secret = server
    assert _exchange(port, _head("Content-Length: 2", path="/elsewhere"), b"{}")[0] == 404
    assert _exchange(port, _head("Content-Length: 2", path="/webhooks/github/a%00b"), b"{}")[0] == 404
    got, message = _exchange(port, b"GET /webhooks/github/small HTTP/1.1\r\nHost: x\r\n\r\n")
    assert got == 405 and "POST /webhooks/" in message
    assert _deliveries(db) == [404, 404]  # the GET is not a delivery
    with db.session() as session:
        names = list(session.execute(select(WebhookDelivery.repo_name)).scalars())
    assert names == ["/elsewhere", "a?b"]


def test_the_ledger_away_is_answered_503(small_repo: Path, tmp_path: Path) -> None:
    dead = Database(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere", connect_timeout=1)
    settings = load_settings({"WARMER_DATA_DIR": str(tmp_path), "DATABASE_URL": dead.url})
    httpd = make_server(dead, settings, "127.0.0.1", 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        got, message = _exchange(httpd.server_address[1], _head("Content-Length: 2"), b"{}")
        assert got == 503 and "the ledger is unreachable" in message
        got, _ = _exchange(httpd.server_address[1], _head("Content-Length: -1"), b"{}")
        assert got == 503  # even a refusal must be recorded: without the ledger it cannot be
    finally:
        httpd.shutdown()
        httpd.server_close()


def _peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.parametrize("framing", ["Content-Length: -1", "Transfer-Encoding: chunked"])
def test_warmer_webhooks_never_holds_a_streamed_body(tmp_path: Path, framing: str) -> None:
    """The issue's attack on the real command: 200 MB streamed after the headers. The server answers
    at once and its peak memory stays where it was."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
        "WARMER_DATA_DIR": str(tmp_path),
    }
    migrate.upgrade(Database(env["DATABASE_URL"]))
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "warmer"), "webhooks", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
    )  # fmt: skip
    try:
        wait_for(
            lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() or True,
            60,
            0.2,
            "serving",
        )
        before = _peak_rss_kb(process.pid)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(_head(framing))
            block = (b"%x\r\n" % (1 << 20)) + b"x" * (1 << 20) + b"\r\n"
            answer = b""
            sent = 0
            try:
                while sent < 200 and not answer:
                    sock.sendall(block)
                    sent += 1
                    sock.setblocking(False)
                    with contextlib.suppress(BlockingIOError):
                        answer = sock.recv(65536)
                    sock.setblocking(True)
            except (BrokenPipeError, ConnectionResetError):
                pass
            sock.settimeout(30)
            with contextlib.suppress(OSError):
                answer += sock.recv(65536)
        assert answer.split()[1] in (b"400", b"413"), answer[:200]
        assert _peak_rss_kb(process.pid) - before < 20_000  # kB: no body was held
    finally:
        process.terminate()
        process.wait(timeout=30)
