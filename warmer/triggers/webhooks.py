"""Push webhooks from GitHub and GitLab: verify, parse, hand to the commit trigger, record.

GitHub signs the raw body with HMAC-SHA256 (`X-Hub-Signature-256: sha256=<hex>`);
GitLab sends the shared token (`X-Gitlab-Token`). The secret is per repository.
A delivery that cannot be verified or read is refused with a status code and
changes nothing but its own record in `webhook_deliveries`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select

from warmer.git.mirror import GitError
from warmer.ledger.db import Database
from warmer.ledger.models import Repository, WebhookDelivery
from warmer.ledger.repositories import find
from warmer.settings import Settings
from warmer.triggers import commit as commit_trigger

log = logging.getLogger("warmer.triggers")
MAX_BODY_BYTES = 5 * 1024 * 1024  # a push payload lists at most 2,048 commits; anything larger is not one
PROVIDERS = ("github", "gitlab")
SIGNATURE_HEADERS = {"github": "X-Hub-Signature-256", "gitlab": "X-Gitlab-Token"}
_SIGNATURE_FORMS = {"github": "'sha256=' and 64 hex digits", "gitlab": "the repository's webhook secret"}
_ZERO_SHA = "0" * 40


@dataclass(frozen=True)
class Response:
    status: int
    message: str


def new_secret(db: Database, repo_name: str) -> str:
    """Generate and store a repository's webhook secret; shown once, to paste into the git host."""
    secret = secrets.token_urlsafe(32)
    with db.session() as session:
        find(session, repo_name).webhook_secret = secret
    return secret


def handle(
    db: Database, settings: Settings, provider: str, repo_name: str, headers: dict[str, str], body: bytes
) -> Response:
    """Process one delivery; every outcome, accepted or refused, is recorded."""
    headers = {k.lower(): v for k, v in headers.items()}
    response, trigger_id = _respond(db, settings, provider, repo_name, headers, body)
    record(db, provider, repo_name, headers, response, trigger_id)
    return response


def record(
    db: Database,
    provider: str,
    repo_name: str,
    headers: dict[str, str],
    response: Response,
    trigger_id: int | None = None,
) -> None:
    """Write one delivery's row: what came (as far as it could be read) and how it was answered."""
    headers = {k.lower(): v for k, v in headers.items()}
    event = headers.get("x-github-event") or headers.get("x-gitlab-event")
    delivery = headers.get("x-github-delivery") or headers.get("x-gitlab-event-uuid")
    with db.session() as session:
        session.execute(
            insert(WebhookDelivery).values(
                provider=_printable(provider, 20),
                repo_name=_printable(repo_name, 200),
                delivery_id=_printable(delivery or "", 100) or None,
                event=_printable(event or "", 100) or None,
                status_code=response.status,
                outcome=_printable(response.message, 2000),
                commit_trigger_id=trigger_id,
            )
        )
    level = logging.INFO if response.status < 400 else logging.WARNING
    log.log(level, "webhook %r/%r: %s %s", provider[:40], repo_name[:200], response.status, response.message)


def _printable(text: str, limit: int) -> str:
    """What can be stored and shown: control characters (NUL included) become '?'."""
    return "".join(c if c.isprintable() else "?" for c in text[:limit])


def _respond(
    db: Database, settings: Settings, provider: str, repo_name: str, headers: dict[str, str], body: bytes
) -> tuple[Response, int | None]:
    if provider not in PROVIDERS:
        return Response(404, f"unknown provider {provider[:40]!r} (known: {', '.join(PROVIDERS)})"), None
    if len(body) > MAX_BODY_BYTES:
        return Response(413, f"payload of {len(body)} bytes is over {MAX_BODY_BYTES}"), None
    if not repo_name or not repo_name.isprintable() or len(repo_name) > 200:
        return Response(404, f"unknown repository {_printable(repo_name, 200)!r}"), None
    header = SIGNATURE_HEADERS[provider]
    if not headers.get(header.lower(), "").isascii():
        return Response(
            400, f"{header} holds non-ASCII characters; a {_SIGNATURE_FORMS[provider]} is expected"
        ), None
    with db.session() as session:
        repo = session.execute(select(Repository).where(Repository.name == repo_name)).scalar_one_or_none()
        secret = repo.webhook_secret if repo else None
    if repo is None:
        return Response(404, f"unknown repository {repo_name!r}"), None
    if not secret:
        return Response(
            403, "no webhook secret is set for this repository (warmer webhook-secret REPO)"
        ), None
    if not _verified(provider, secret, headers, body):
        return Response(401, "bad or missing signature"), None
    event = headers.get("x-github-event") if provider == "github" else headers.get("x-gitlab-event")
    if event not in ("push", "Push Hook"):
        return Response(202, f"ignored: {event or 'no'} event (only pushes trigger warming)"), None
    try:
        payload: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Response(400, f"malformed JSON: {exc}"), None
    ref, after = (payload.get("ref"), payload.get("after")) if isinstance(payload, dict) else (None, None)
    if not isinstance(ref, str) or not isinstance(after, str):
        return Response(400, "not a push payload: 'ref' and 'after' must be strings"), None
    if not ref.startswith("refs/heads/"):
        return Response(202, f"ignored: {ref} is not a branch"), None
    if after == _ZERO_SHA:
        return Response(202, f"ignored: {ref} was deleted"), None
    try:
        recorded = commit_trigger.record(
            db, settings, repo_name, sha=after, branch=ref[len("refs/heads/") :], source=f"webhook:{provider}"
        )
    except GitError as exc:
        return Response(422, str(exc)), None
    return Response(202, f"{recorded.status.value}: {recorded.detail}"), recorded.trigger_id


def _verified(provider: str, secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Constant-time comparison of bytes (headers were checked to be ASCII)."""
    if provider == "github":
        expected = b"sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
        return hmac.compare_digest(expected, headers.get("x-hub-signature-256", "").encode("ascii"))
    return hmac.compare_digest(secret.encode(), headers.get("x-gitlab-token", "").encode("ascii"))
