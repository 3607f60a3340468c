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


class Unreachable(Exception):
    """No server answered at that address."""


def request(
    server: str, repo: str, endpoint: str, params: dict[str, Any], token: str | None
) -> tuple[int, dict[str, Any]]:
    """GET /v1/repos/{repo}/{endpoint}: (HTTP status, JSON body). Raises Unreachable."""
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v not in (None, "")})
    url = f"{server.rstrip('/')}/v1/repos/{urllib.parse.quote(repo, safe='')}/{endpoint}?{query}"
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        asked = urllib.request.Request(url, headers=headers)
        with urllib.request.urlopen(asked, timeout=TIMEOUT_SECS) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, _body(error)
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise Unreachable(str(getattr(error, "reason", error))) from None


def answer(label: str, status: int, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """(hit, body) of a lookup's answer. A refusal (bad input, unknown repository, a wrong token)
    prints the server's reason after `label` and exits 2, as a local refusal does."""
    if status == 200:
        return True, body
    if status == 404 and body.get("hit") is False:
        return False, body
    fail(f"{label}{body.get('error') or f'HTTP {status}'}")
    raise AssertionError("unreachable")


def ask(server: str, repo: str, endpoint: str, params: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """The named server's answer (WARMER_API_TOKEN is its bearer token); exits 2 when none answers."""
    try:
        status, body = request(server, repo, endpoint, params, os.environ.get("WARMER_API_TOKEN"))
    except Unreachable as error:
        fail(f"cannot reach warmer serve at {server} ({SERVER_ENV} / --server): {error}")
    return answer(f"{server}: ", status, body)


def ask_or_none(
    server: str | None, repo: str, endpoint: str, params: dict[str, Any]
) -> tuple[bool, dict[str, Any]] | None:
    """The named server's answer, else the resident's (see resident.py), else None: the caller
    then answers from this host's ledger."""
    if server:
        return ask(server, repo, endpoint, params)
    from warmer.cli import resident

    return resident.ask(repo, endpoint, params)


def _body(error: urllib.error.HTTPError) -> dict[str, Any]:
    try:
        body = json.loads(error.read() or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
