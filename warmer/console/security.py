"""Security headers on every console response, warmer's pages and Flower's alike.

A Tornado output transform (applied to each response's first chunk, before compression) adds:
- `X-Frame-Options: DENY` and CSP `frame-ancestors 'none'`: no page can be framed, so no POST
  button can be clickjacked;
- `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin`;
- a Content-Security-Policy that fits the console's own static files: scripts, styles, images
  and requests from the console itself only, no plugins, forms posting back to it only. An
  inline <script> runs only if its hash is listed: the transform hashes the ones in the page it
  serves (Flower's pages have one, warmer's none), so an injected script, which is not in the
  template, never runs. Inline style attributes stay allowed: Flower and its libraries set them.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from tornado.httputil import HTTPHeaders, HTTPServerRequest
from tornado.web import OutputTransform

_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)
BASE_POLICY = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def script_hashes(body: bytes) -> list[str]:
    """CSP sources for each inline script of an HTML body."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(match.group(1)).digest()).decode() + "'"
        for match in _INLINE_SCRIPT.finditer(body)
    ]


def policy(body: bytes | None) -> str:
    hashes = script_hashes(body) if body else []
    return f"{BASE_POLICY}; script-src 'self'{''.join(' ' + h for h in dict.fromkeys(hashes))}"


class SecurityHeaders(OutputTransform):
    def __init__(self, request: HTTPServerRequest) -> None:
        super().__init__(request)

    def transform_first_chunk(
        self, status_code: int, headers: HTTPHeaders, chunk: bytes, finishing: bool
    ) -> tuple[int, HTTPHeaders, bytes]:
        html = headers.get("Content-Type", "").startswith("text/html")
        # A streamed HTML page (not finished in its first chunk) gets no hashes: its inline
        # scripts, if any, do not run. Tornado's render() always finishes in one chunk.
        headers["Content-Security-Policy"] = policy(chunk if html and finishing else None)
        headers["X-Frame-Options"] = "DENY"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"
        return status_code, headers, chunk


def install(application: Any) -> None:
    """Put the transform first, so it sees the body before any compression does."""
    if SecurityHeaders not in application.transforms:
        application.transforms.insert(0, SecurityHeaders)
