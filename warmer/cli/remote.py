"""Asking a running `warmer serve` instead of the ledger, so its loaded model and caches answer.

`--server URL` (or WARMER_SERVER_URL) names the server; WARMER_API_TOKEN is sent as its bearer
token. Only the standard library is imported here: a command that asks a server starts without
SQLAlchemy, the settings or the generators.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from warmer.cli import fail

SERVER_ENV = "WARMER_SERVER_URL"
TIMEOUT_SECS = 120


def ask(server: str, repo: str, endpoint: str, params: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """GET /v1/repos/{repo}/{endpoint}: (hit, body). A refusal (bad input, unknown repository, a
    wrong token, no server) prints the server's reason and exits 2, as a local refusal does."""
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v not in (None, "")})
    url = f"{server.rstrip('/')}/v1/repos/{urllib.parse.quote(repo, safe='')}/{endpoint}?{query}"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    token = os.environ.get("WARMER_API_TOKEN")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECS) as response:
            return True, json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = _body(error)
        if error.code == 404 and body.get("hit") is False:
            return False, body
        fail(f"{server}: {body.get('error') or f'HTTP {error.code}'}")
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        fail(f"cannot reach warmer serve at {server} ({SERVER_ENV} / --server): {reason}")
    raise AssertionError("unreachable")


def _body(error: urllib.error.HTTPError) -> dict[str, Any]:
    try:
        body = json.loads(error.read() or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
