"""`warmer webhooks`: a small HTTP server for push webhooks, `POST /webhooks/{github|gitlab}/{repo}`."""

from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from warmer.ledger.db import Database
from warmer.settings import Settings
from warmer.triggers import webhooks

log = logging.getLogger("warmer.triggers")


def make_server(db: Database, settings: Settings, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            parts = self.path.split("?", 1)[0].strip("/").split("/", 2)
            if len(parts) != 3 or parts[0] != "webhooks":
                self._send(404, "POST /webhooks/{github|gitlab}/{repository}")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > webhooks.MAX_BODY_BYTES:  # refuse before reading it
                self._send(413, f"payload of {length} bytes is over {webhooks.MAX_BODY_BYTES}")
                self.close_connection = True
                return
            body = self.rfile.read(length)
            response = webhooks.handle(
                db, settings, parts[1], unquote(parts[2]), dict(self.headers.items()), body
            )
            self._send(response.status, response.message)

        def _send(self, status: int, message: str) -> None:
            data = json.dumps({"status": status, "message": message}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("webhooks: " + format, *args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server
