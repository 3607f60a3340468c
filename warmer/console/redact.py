"""Nothing the console shows may carry a secret.

Passwords and tokens inside URLs (the ledger's DATABASE_URL, the broker URL, a repository's
clone URL, or any of them quoted inside an error message) are replaced by `***`. Webhook
secrets are never read by the console at all; `redact_tree` also drops any key that names one,
in case a future query returns it.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
# scheme://user:password@host or scheme://token@host (GitHub-style x-access-token URLs too).
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/@\s'\"<>]+)@")
# key=value secrets in DSNs and query strings (password=..., ?token=..., &secret=...).
_KEY_VALUE = re.compile(
    r"(?P<key>\b(?:password|passwd|pwd|token|secret|access_token|api_key|apikey)\s*=\s*)"
    r"(?P<value>[^\s&;,'\"]+)",
    re.IGNORECASE,
)
SECRET_KEYS = frozenset({"webhook_secret", "secret", "password", "cookie_secret", "oauth2_secret"})


def _userinfo(match: re.Match[str]) -> str:
    userinfo = match.group("userinfo")
    user, sep, _password = userinfo.partition(":")
    if sep:
        return f"{match.group('scheme')}{user}:{MASK}@"
    # A lone userinfo is a token when it is long or opaque; a plain short user name stays.
    if len(userinfo) >= 20 or (any(ch.isdigit() for ch in userinfo) and len(userinfo) > 12):
        return f"{match.group('scheme')}{MASK}@"
    return match.group(0)


def redact_text(text: str) -> str:
    """The text with every URL password, bearer-style URL token and key=value secret masked."""
    text = _CREDENTIALS.sub(_userinfo, text)
    return _KEY_VALUE.sub(lambda m: m.group("key") + MASK, text)


def redact_url(url: str | None) -> str | None:
    return redact_text(url) if url else url


def redact_tree(value: Any) -> Any:
    """A copy of a JSON-like value with every string redacted and secret-named keys removed."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_tree(v) for k, v in value.items() if str(k).lower() not in SECRET_KEYS}
    if isinstance(value, list | tuple):
        return [redact_tree(v) for v in value]
    return value
