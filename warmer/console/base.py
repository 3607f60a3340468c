"""What warmer's page and API handlers share: the console context, blocking calls in a thread,
the mapping of domain errors to HTTP statuses, and a CSRF check that always asks for the token.

Flower's own `check_xsrf_cookie` skips the token unless OAuth is on, and checks nothing at all
without authentication. Basic auth is exactly where a browser re-sends credentials to a forged
cross-site form, so every warmer POST must carry the `_xsrf` token (form field, or the
`X-XSRFToken` header) matching the `_xsrf` cookie, whatever the auth mode.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import tornado.web
from sqlalchemy.exc import OperationalError
from tornado.ioloop import IOLoop

from warmer.console.context import ConsoleContext
from warmer.console.data import NotFound
from warmer.console.params import BadParameter
from warmer.console.redact import redact_text
from warmer.git.mirror import GitError
from warmer.ledger.repositories import UnknownRepository
from warmer.ledger.transitions import TransitionRefused
from warmer.triggers.connect import ConnectError

T = TypeVar("T")


class ConsoleError(tornado.web.HTTPError):
    """An expected refusal with a message meant for the person (or client) who asked."""

    def __init__(self, status: int, message: str) -> None:
        self.message = redact_text(message)
        super().__init__(status, self.message.replace("%", "%%"))  # log_message is %-formatted

    def get_message(self) -> str:
        return self.message


def to_console_error(exc: Exception) -> ConsoleError | None:
    """The HTTP answer for a domain error, or None for an unexpected one (a 500)."""
    if isinstance(exc, NotFound | UnknownRepository):
        return ConsoleError(404, str(exc))
    if isinstance(exc, TransitionRefused):
        return ConsoleError(409, str(exc))
    if isinstance(exc, BadParameter | ConnectError | GitError):
        return ConsoleError(400, str(exc))
    if isinstance(exc, OperationalError):
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else "no answer"
        return ConsoleError(503, f"cannot reach the ledger database: {first}")
    return None


def basic_auth_user(header: str) -> str | None:
    """The user name of a Basic Authorization header (already checked by Flower), or None."""
    scheme, _, value = header.partition(" ")
    if scheme != "Basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    name = decoded.partition(":")[0]
    return name[:100] if name and name.isprintable() else None


class WarmerHandlerMixin:
    """Mixed into handlers that also subclass flower.views.BaseHandler."""

    application: Any
    request: Any

    @property
    def ctx(self) -> ConsoleContext:
        return self.application.warmer

    @property
    def actor(self) -> str:
        """Who acts, for the audit trail: the OAuth user, or the basic-auth user name (Flower's
        `current_user` is only True there), or `console:anonymous` on an open console."""
        user = getattr(self, "current_user", None)
        if isinstance(user, str) and user:
            return f"console:{user}"
        if self.application.options.basic_auth:
            name = basic_auth_user(self.request.headers.get("Authorization", ""))
            if name:
                return f"console:{name}"
        return "console:anonymous"

    async def blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a ledger or git call on Flower's thread pool; domain errors become ConsoleErrors."""
        try:
            return await IOLoop.current().run_in_executor(None, functools.partial(fn, *args, **kwargs))
        except tornado.web.HTTPError:
            raise
        except Exception as exc:
            mapped = to_console_error(exc)
            if mapped is None:
                raise
            raise mapped from None

    def check_xsrf_cookie(self) -> None:
        site = self.request.headers.get("Sec-Fetch-Site")
        if site and site not in ("same-origin", "none"):
            raise ConsoleError(403, "cross-site request refused")
        try:
            tornado.web.RequestHandler.check_xsrf_cookie(self)  # type: ignore[arg-type]
        except tornado.web.HTTPError as exc:
            raise ConsoleError(
                403,
                f"CSRF check failed ({exc.log_message}): send the _xsrf cookie's value back as the "
                "_xsrf form field or the X-XSRFToken header",
            ) from None

    def prepare(self) -> None:
        # Tornado checks the token itself when the app's xsrf_cookies setting is on (Flower's is);
        # this makes the check independent of how the application was built.
        if self.request.method not in ("GET", "HEAD", "OPTIONS") and not self.application.settings.get(
            "xsrf_cookies"
        ):
            self.check_xsrf_cookie()
