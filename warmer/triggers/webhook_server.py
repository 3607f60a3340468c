"""`warmer webhooks`: a small HTTP server for push webhooks, `POST /webhooks/{github|gitlab}/{repo}`.

It listens on every interface and reads requests before anyone is authenticated, so every request
is bounded: the body is read under webhooks.MAX_BODY_BYTES or refused from its framing
(request_body.py), a client that stops sending is answered 408 after READ_TIMEOUT_SECS, and every
request gets an answer, a database outage included (503). Every POST is recorded in
webhook_deliveries, refused ones too.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from sqlalchemy.exc import DBAPIError

from warmer.ledger.db import Database
from warmer.settings import Settings
from warmer.triggers import webhooks
from warmer.triggers.request_body import BadFraming, read_body

log = logging.getLogger("warmer.triggers")
READ_TIMEOUT_SECS = 30.0
# After refusing a body unread, read (and drop) a little of what the client is still sending, so
# closing does not reset the connection before the client has read the answer.
_DRAIN_BYTES = 1024 * 1024
_DRAIN_SECS = 2.0
USAGE = "POST /webhooks/{github|gitlab}/{repository}"


def make_server(
    db: Database, settings: Settings, host: str, port: int, *, read_timeout: float = READ_TIMEOUT_SECS
) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        timeout = read_timeout  # applies to every read of the socket

        def do_POST(self) -> None:
            parts = self.path.split("?", 1)[0].strip("/").split("/", 2)
            provider = parts[1] if len(parts) > 1 else ""
            repo = unquote(parts[2], errors="replace") if len(parts) == 3 else ""
            headers = dict(self.headers.items())
            try:
                if len(parts) != 3 or parts[0] != "webhooks":
                    self._refuse(provider, self.path, headers, webhooks.Response(404, USAGE))
                    return
                try:
                    body = read_body(self.headers, self.rfile, webhooks.MAX_BODY_BYTES)
                except BadFraming as refused:
                    self._refuse(provider, repo, headers, webhooks.Response(refused.status, refused.message))
                    return
                except TimeoutError:
                    message = f"the request body did not arrive within {read_timeout:g}s"
                    self._refuse(provider, repo, headers, webhooks.Response(408, message))
                    return
                response = webhooks.handle(db, settings, provider, repo, headers, body)
                self._send(response.status, response.message)
            except DBAPIError as exc:  # the ledger is away: nothing can be recorded, say so
                log.error(
                    "webhook %r/%r: ledger unreachable: %s", provider[:40], repo[:200], _first_line(exc)
                )
                self._send(503, "the ledger is unreachable; the delivery was not processed, send it again")
            except Exception:
                log.exception("webhook %r/%r: unexpected error", provider[:40], repo[:200])
                self._send(500, "internal error; the delivery was not processed (see the server's log)")

        def _refuse(
            self, provider: str, repo: str, headers: dict[str, str], response: webhooks.Response
        ) -> None:
            webhooks.record(db, provider, repo, headers, response)
            self._send(response.status, response.message)
            self._drain()

        def _method_not_allowed(self) -> None:
            self._send(405, USAGE, allow="POST")

        do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _method_not_allowed  # noqa: N815

        def _send(self, status: int, message: str, allow: str | None = None) -> None:
            data = json.dumps({"status": status, "message": message}).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                if allow:
                    self.send_header("Allow", allow)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                self.wfile.flush()
            except OSError:  # the client went away first
                pass
            self.close_connection = True

        def _drain(self) -> None:
            try:
                self.connection.shutdown(socket.SHUT_WR)
                self.connection.settimeout(0.2)
                deadline, drained = time.monotonic() + _DRAIN_SECS, 0
                while drained < _DRAIN_BYTES and time.monotonic() < deadline:
                    chunk = self.connection.recv(64 * 1024)
                    if not chunk:
                        break
                    drained += len(chunk)
            except OSError:
                pass

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("webhooks: " + format, *args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
