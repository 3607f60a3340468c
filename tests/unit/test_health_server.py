"""The worker's health endpoint against real clients: its answers (healthy, degraded with the
reason, unhealthy), and hostile requests each answered or cut off, never holding a thread forever."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.support import services
from tests.support.factories import add_job, add_repo, force
from tests.support.private import free_port
from warmer.broker import BrokerProbe
from warmer.ledger import outbox
from warmer.ledger.db import Database
from warmer.worker import health
from warmer.worker.health import HealthCheck, HealthServer


def _serve(db: Database, broker_url: str) -> HealthServer:
    check = HealthCheck(db, BrokerProbe(broker_url), "me", local_active=lambda: 0, delivery_bound_secs=30)
    return HealthServer(0, check).start()


@pytest.fixture
def server(ledger: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Database, int]]:
    monkeypatch.setattr(health, "READ_TIMEOUT_SECS", 1.0)
    served = _serve(ledger, services.REDIS_TEST_URL)
    yield ledger, served.port
    served.stop()


def _raw(port: int, request: bytes, wait: float = 30) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def _get(port: int) -> tuple[int, dict[str, object]]:
    answer = _raw(port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    return int(answer.split()[1]), json.loads(answer.partition(b"\r\n\r\n")[2])


def test_healthy_then_degraded_with_the_reason(server: tuple[Database, int]) -> None:
    db, port = server
    assert _get(port) == (200, {"status": "healthy", "active_jobs": 0, "queue_depth": 0})
    job_id = add_job(db, add_repo(db))
    force(db, job_id, available_at=db.now() - timedelta(minutes=5))  # runnable for 5 min, no message
    code, body = _get(port)
    assert (code, body["status"]) == (200, "degraded")
    assert "1 runnable jobs have had no message on the broker" in str(body["reason"])
    with db.session() as session:
        outbox.mark_published(session, [job_id])  # a message, as far as the ledger knows; no leader checks
    code, body = _get(port)
    assert (code, body["status"]) == (200, "degraded") and "no leader has checked" in str(body["reason"])


def test_unhealthy_when_the_broker_is_unreachable(ledger: Database) -> None:
    served = _serve(ledger, f"redis://127.0.0.1:{free_port()}/0")
    try:
        code, body = _get(served.port)
        assert code == 503 and body["status"] == "unhealthy" and "broker unreachable" in str(body["reason"])
    finally:
        served.stop()


def test_hostile_requests_get_an_answer_or_are_cut_off(server: tuple[Database, int]) -> None:
    _db, port = server
    answer = _raw(port, b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nxx")
    assert answer.split()[1] == b"405" and b"only GET /health" in answer
    assert _raw(port, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").split()[1] == b"404"
    huge = b"GET /health HTTP/1.1\r\n" + b"X-A: " + b"a" * 70_000 + b"\r\n\r\n"
    assert _raw(port, huge).split()[1] == b"431"
    assert b"Error code: 400" in _raw(port, b"\x16\x03\x01 not http\r\n\r\n")  # http.server's own answer
    started = time.monotonic()
    assert _raw(port, b"GET /hea") == b""  # a client that stops mid-request is disconnected
    assert time.monotonic() - started < 10
    assert _get(port)[0] == 200  # and the endpoint still answers
