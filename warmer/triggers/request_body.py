"""Reading an HTTP request body without ever holding more than a limit, or refusing its framing.

http.server leaves the body to the handler; trusting Content-Length blindly reads a body of any
size into memory (a `-1` read to the end of the stream). Here the framing is checked first:
Content-Length must be one plain decimal number no larger than the limit, or the body comes as
`Transfer-Encoding: chunked` and stops being read the moment it passes the limit. Anything else
is refused with the status RFC 9110/9112 gives it.
"""

from __future__ import annotations

import re
from email.message import Message
from typing import BinaryIO

_DIGITS = re.compile(r"[0-9]+")
_HEX = re.compile(r"[0-9A-Fa-f]+")
_READ = 64 * 1024
_MAX_LINE = 4096  # a chunk-size line or a trailer line
_MAX_TRAILERS = 64


class BadFraming(Exception):
    """The request's body cannot be read as sent; `status` is the answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def read_body(headers: Message, stream: BinaryIO, limit: int) -> bytes:
    """The request body, at most `limit` bytes read; raises BadFraming (400, 411, 413, 501)."""
    encodings = headers.get_all("Transfer-Encoding") or []
    lengths = headers.get_all("Content-Length") or []
    if encodings and lengths:
        raise BadFraming(
            400, "both Transfer-Encoding and Content-Length are set: the body's end is ambiguous"
        )
    if encodings:
        codings = [c.strip().lower() for value in encodings for c in value.split(",") if c.strip()]
        if codings != ["chunked"]:
            raise BadFraming(
                501, f"Transfer-Encoding {', '.join(encodings)!r} is not supported (only chunked)"
            )
        return _read_chunked(stream, limit)
    if not lengths:
        raise BadFraming(411, "a Content-Length (or Transfer-Encoding: chunked) is required")
    values = {value.strip() for value in lengths}
    if len(values) > 1:
        raise BadFraming(400, f"conflicting Content-Length headers: {sorted(values)}")
    value = values.pop()
    if not _DIGITS.fullmatch(value):
        raise BadFraming(
            400, f"Content-Length {value[:40]!r} is not a number of bytes (0 or more digits 0-9)"
        )
    length = int(value)
    if length > limit:
        raise BadFraming(413, f"payload of {length} bytes is over the limit of {limit}")
    return _read_exact(stream, length)


def _read_exact(stream: BinaryIO, length: int) -> bytes:
    parts: list[bytes] = []
    remaining = length
    while remaining:
        part = stream.read(min(remaining, _READ))
        if not part:
            raise BadFraming(400, f"the body ended after {length - remaining} of its {length} bytes")
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def _line(stream: BinaryIO, what: str) -> bytes:
    line = stream.readline(_MAX_LINE + 1)
    if len(line) > _MAX_LINE:
        raise BadFraming(400, f"{what} is longer than {_MAX_LINE} bytes")
    if not line.endswith(b"\n"):
        raise BadFraming(400, f"the body ended inside a {what}")
    return line.rstrip(b"\r\n")


def _read_chunked(stream: BinaryIO, limit: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        size_field = _line(stream, "chunk-size line").split(b";", 1)[0].strip()
        try:
            text = size_field.decode("ascii")
        except UnicodeDecodeError:
            text = ""
        if not _HEX.fullmatch(text):
            raise BadFraming(400, f"chunk size {size_field[:40]!r} is not hexadecimal")
        size = int(text, 16)
        if size == 0:
            break
        total += size
        if total > limit:  # refused before the chunk is read
            raise BadFraming(413, f"chunked payload passes the limit of {limit} bytes")
        parts.append(_read_exact(stream, size))
        if _line(stream, "chunk end") != b"":
            raise BadFraming(400, "a chunk is longer than its size says")
    for _ in range(_MAX_TRAILERS):
        if _line(stream, "trailer line") == b"":
            return b"".join(parts)
    raise BadFraming(400, f"more than {_MAX_TRAILERS} trailer lines")
