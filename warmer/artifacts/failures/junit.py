"""Reading JUnit XML reports: pytest, Maven surefire, jest-junit, go-junit-report.

Reports come from outside (CI uploads, people's machines), so they are parsed with defusedxml:
no entity expansion (billion laughs), no external entities or DTDs, and a size cap before any
parsing. Every shape these tools write is one of two roots, `<testsuites>` or a single
`<testsuite>`, with `<testcase>` elements holding `<failure>` or `<error>` (message and type
attributes, the trace as text).
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as DefusedET

MAX_REPORT_BYTES = 20 * 1024 * 1024
ROOT_TAGS = ("testsuites", "testsuite")


class JunitError(ValueError):
    """The file is not a JUnit report this can read (malformed, oversized, unsafe, wrong root)."""


@dataclass(frozen=True)
class TestFailure:
    __test__ = False  # not a pytest test class, whatever its name

    test_name: str
    kind: str  # "failure" or "error"
    exc_type: str  # the `type` attribute, "" when absent
    message: str  # the `message` attribute, "" when absent
    text: str  # the element's body: the stack trace or pytest's long report


@dataclass(frozen=True)
class ParsedReport:
    tests: int
    skipped: int
    failures: list[TestFailure]


def _test_name(case: Element) -> str:
    name = case.get("name", "").strip()
    classname = case.get("classname", "").strip()
    # jest-junit repeats the title as classname by default: say it once.
    if not classname or classname == name:
        return name or "<unnamed>"
    return f"{classname}.{name}" if name else classname


def parse_junit(data: bytes, *, max_bytes: int = MAX_REPORT_BYTES) -> ParsedReport:
    """Every test case of a report and its failures; JunitError says why a file is refused."""
    if len(data) > max_bytes:
        raise JunitError(
            f"the report is {len(data) / 1_048_576:.1f} MB, over the {max_bytes / 1_048_576:g} MB limit"
        )
    if not data.strip():
        raise JunitError("the report is empty")
    try:
        # forbid_dtd: no JUnit writer emits one, and a DTD is how entity attacks start.
        root = DefusedET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise JunitError(f"the report uses XML features refused for safety ({type(exc).__name__})") from exc
    except ParseError as exc:
        raise JunitError(f"not well-formed XML: {exc}") from exc
    if root.tag not in ROOT_TAGS:
        raise JunitError(
            f"not a JUnit report: the root element is <{root.tag}>, not <testsuites>/<testsuite>"
        )
    tests = skipped = 0
    failures: list[TestFailure] = []
    for case in root.iter("testcase"):
        tests += 1
        if case.find("skipped") is not None:
            skipped += 1
        for child in case:
            if child.tag not in ("failure", "error"):
                continue
            failures.append(
                TestFailure(
                    test_name=_test_name(case),
                    kind=child.tag,
                    exc_type=child.get("type", "").strip(),
                    message=child.get("message", ""),
                    text=child.text or "",
                )
            )
    return ParsedReport(tests, skipped, failures)
