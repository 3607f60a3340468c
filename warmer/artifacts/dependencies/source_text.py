"""Comments out of C-family source (Go, Java, Kotlin, C, C++), string literals kept intact.

Import statements in these languages are line-shaped and simple, so a scan of the text without its
comments finds them exactly; the scan must still step over string literals, or a `"/*"` inside one
would swallow the code after it. Newlines are kept, so positions still count lines.
"""

from __future__ import annotations

import re

_TOKENS = re.compile(
    r"""(?P<comment>//[^\n]*|/\*.*?(?:\*/|\Z))"""
    r"""|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`[^`]*`""",
    re.DOTALL,
)


def _blank(match: re.Match[str]) -> str:
    if match.group("comment") is None:
        return match.group(0)
    return re.sub(r"[^\n]", " ", match.group(0))


def without_comments(text: str) -> str:
    """`text` with every `//` and `/* */` comment replaced by spaces (its newlines kept)."""
    return _TOKENS.sub(_blank, text)
