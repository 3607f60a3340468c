"""known_failure_fingerprint: signatures that survive run-to-run noise, JUnit reports of four tools
(one produced by a real pytest run), ingestion on SQLite and Postgres (duplicates, counts, concurrent
ingests), CI configuration parsing, the generator's entry and the two CLI commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from tests.support.extracts import CountingCache, generation_context
from tests.support.factories import add_repo
from tests.support.gitrepo import git, make_repo
from warmer.artifacts.failures import KnownFailureFingerprint
from warmer.artifacts.failures import normalize as normalize_module
from warmer.artifacts.failures.ci_config import ci_kind, extract_ci, is_test_command
from warmer.artifacts.failures.ingest import fingerprints, ingest_junit
from warmer.artifacts.failures.junit import JunitError, parse_junit
from warmer.artifacts.failures.normalize import normalize_message, parse_frames, signature
from warmer.cache.lookup import lookup
from warmer.ledger.db import Database
from warmer.ledger.models import FailureFingerprint, Job, JobStatus, JunitReport, Trigger
from warmer.ledger.repositories import UnknownRepository
from warmer.settings import Settings
from warmer.triggers.commit import set_baseline
from warmer.triggers.connect import connect
from warmer.worker.inline import run_jobs

WARMER = str(Path(sys.executable).parent / "warmer")

# --- realistic reports, as each tool writes them -------------------------------------------------------

FAILING_TESTS = """\
import pytest


def parse(value):
    raise ValueError(f"cannot parse {value!r} at {hex(id(value))}")


def add(a, b):
    return a + b


def test_add():
    assert add(1, 2) == 4


def test_parse(tmp_path):
    parse(str(tmp_path / "input.txt"))


class TestParser:
    def test_parse_number(self):
        parse(42)


@pytest.fixture
def database():
    raise ConnectionError("database at 10.0.0.7:5432 refused the connection")


def test_with_database(database):
    pass


def test_passes():
    pass
"""

SUREFIRE = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="3.0.2" name="com.example.CalculatorTest"
  time="0.045" tests="3" errors="1" skipped="0" failures="1">
  <properties><property name="java.version" value="17.0.9"/></properties>
  <testcase name="adds" classname="com.example.CalculatorTest" time="0.012">
    <failure message="expected: &lt;4&gt; but was: &lt;3&gt;" type="org.opentest4j.AssertionFailedError"><![CDATA[org.opentest4j.AssertionFailedError: expected: <4> but was: <3>
\tat org.junit.jupiter.api.AssertionFailureBuilder.build(AssertionFailureBuilder.java:151)
\tat org.junit.jupiter.api.AssertionEquals.assertEquals(AssertionEquals.java:150)
\tat org.junit.jupiter.api.Assertions.assertEquals(Assertions.java:528)
\tat com.example.CalculatorTest.adds(CalculatorTest.java:14)
\tat java.base/java.lang.reflect.Method.invoke(Method.java:568)
]]></failure>
    <system-out><![CDATA[computing 1 + 2]]></system-out>
  </testcase>
  <testcase name="divides" classname="com.example.CalculatorTest" time="0.003">
    <error message="Cannot divide 10 by zero (request 7f3a9c2e-1b2c-4d5e-8f90-a1b2c3d4e5f6)" type="java.lang.IllegalStateException"><![CDATA[java.lang.IllegalStateException: Cannot divide 10 by zero (request 7f3a9c2e-1b2c-4d5e-8f90-a1b2c3d4e5f6)
\tat com.example.Calculator.divide(Calculator.java:22)
\tat com.example.CalculatorTest.divides(CalculatorTest.java:20)
\tat java.base/jdk.internal.reflect.NativeMethodAccessorImpl.invoke0(Native Method)
]]></error>
  </testcase>
  <testcase name="subtracts" classname="com.example.CalculatorTest" time="0.001"/>
</testsuite>
"""

JEST = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="jest tests" tests="3" failures="2" errors="0" time="1.234">
  <testsuite name="sum" errors="0" failures="2" skipped="1" timestamp="2026-11-20T10:11:12" time="0.9" tests="3">
    <testcase classname="sum adds 1 + 2 to equal 3" name="sum adds 1 + 2 to equal 3" time="0.004">
      <failure>Error: expect(received).toBe(expected) // Object.is equality

Expected: 4
Received: 3
    at Object.&lt;anonymous&gt; (/home/runner/work/app/app/src/sum.test.js:4:19)
    at Promise.then.completed (/home/runner/work/app/app/node_modules/jest-circus/build/utils.js:298:28)
    at new Promise (&lt;anonymous&gt;)</failure>
    </testcase>
    <testcase classname="sum handles undefined" name="sum handles undefined" time="0.002">
      <failure>TypeError: Cannot read properties of undefined (reading 'value')
    at sum (/home/runner/work/app/app/src/sum.js:2:14)
    at Object.&lt;anonymous&gt; (/home/runner/work/app/app/src/sum.test.js:9:10)
    at Promise.then.completed (/home/runner/work/app/app/node_modules/jest-circus/build/utils.js:298:28)</failure>
    </testcase>
    <testcase classname="sum is skipped" name="sum is skipped" time="0"><skipped/></testcase>
  </testsuite>
</testsuites>
"""

GO = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="3" failures="2">
\t<testsuite name="example.com/calc" tests="3" failures="2" errors="0" id="0" time="0.012" timestamp="2026-11-20T10:11:12Z">
\t\t<properties><property name="go.version" value="go1.22.1 linux/amd64"></property></properties>
\t\t<testcase name="TestAdd" classname="example.com/calc" time="0.000">
\t\t\t<failure message="Failed"><![CDATA[    calc_test.go:12: Add(1, 2) = 3; want 4]]></failure>
\t\t</testcase>
\t\t<testcase name="TestGet" classname="example.com/calc" time="0.000">
\t\t\t<failure message="Failed"><![CDATA[panic: runtime error: index out of range [5] with length 3 [recovered]
\tpanic: runtime error: index out of range [5] with length 3

goroutine 7 [running]:
testing.tRunner.func1.2({0x5161a0, 0xc000018150})
\t/usr/local/go/src/testing/testing.go:1631 +0x24a
panic({0x5161a0?, 0xc000018150?})
\t/usr/local/go/src/runtime/panic.go:770 +0x132
example.com/calc.Get(...)
\t/home/runner/work/calc/calc.go:9
example.com/calc.TestGet(0xc0000a6b60?)
\t/home/runner/work/calc/calc_test.go:20 +0x1d
testing.tRunner(0xc0000a6b60, 0x53a4f8)
\t/usr/local/go/src/testing/testing.go:1689 +0xfb]]></failure>
\t\t</testcase>
\t\t<testcase name="TestSub" classname="example.com/calc" time="0.000"></testcase>
\t</testsuite>
</testsuites>
"""


def pytest_report(directory: Path, *extra: str) -> bytes:
    """A real JUnit report: pytest run in a subprocess on a small failing test file."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "test_parser.py").write_text(FAILING_TESTS)
    report = directory / "report.xml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", *extra,
         "test_parser.py"],
        cwd=directory, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr  # tests failed, pytest itself did not
    return report.read_bytes()


@pytest.fixture(scope="module")
def pytest_xml(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return pytest_report(tmp_path_factory.mktemp("pytest-long"))


def by_test(data: bytes) -> dict[str, Any]:
    return {f.test_name: signature(f.kind, f.exc_type, f.message, f.text) for f in parse_junit(data).failures}


# --- normalization ---------------------------------------------------------------------------------------


def test_messages_lose_what_varies_between_runs() -> None:
    assert normalize_message("expected 3 items, got 42") == "expected <n> items, got <n>"
    assert normalize_message("object at 0x7f33f394e8e8 is gone") == "object at <hex> is gone"
    assert normalize_message("no row 7f3a9c2e-1b2c-4d5e-8f90-a1b2c3d4e5f6") == "no row <uuid>"
    assert normalize_message("missing /tmp/pytest-of-ci/pytest-12/test_x0/a.txt") == "missing <tmp>"
    assert normalize_message("missing /var/folders/x1/abc/T/tmpq1w2/out") == "missing <tmp>"
    assert normalize_message("at 2026-11-20T10:11:12.345Z the lock expired") == "at <date> the lock expired"
    assert normalize_message("timed out after 30.5s") == "timed out after <duration>"
    assert (
        normalize_message("commit 9fceb02d0ae598e95dc970b74767f19372d61af8 missing") == "commit <hex> missing"
    )
    long = "'" + "x" * 40 + "'"
    assert normalize_message(f"unexpected {long}") == "unexpected <str>"
    assert normalize_message("first line 1\nsecond line with a diff") == "first line <n>"
    assert normalize_message("\x1b[31mred 5\x1b[0m") == "red <n>"


def python_trace(number: int, address: str, tmp: str, stamp: str, *, func: str = "parse") -> tuple[str, str]:
    body = (
        "Traceback (most recent call last):\n"
        f'  File "/home/ci/build/{number}/.venv/lib/python3.11/site-packages/_pytest/python.py", '
        "line 194, in pytest_pyfunc_call\n    result = testfunction(**testargs)\n"
        f'  File "/home/ci/build/{number}/tests/test_parser.py", line {number + 10}, in test_parse\n'
        "    parse(path)\n"
        f'  File "/home/ci/build/{number}/app/parser.py", line {number}, in {func}\n'
        "    raise ValueError(...)\n"
        f"ValueError: cannot parse {tmp}/input.txt at {address} (run {number} started {stamp})\n"
    )
    return f"ValueError: cannot parse {tmp}/input.txt at {address} (run {number} started {stamp})", body


def test_failures_differing_only_in_noise_share_a_fingerprint() -> None:
    one = signature(
        "failure", "", *python_trace(3, "0x7f00aa", "/tmp/pytest-of-a/pytest-1/t0", "2026-01-01 10:00:00")
    )
    two = signature(
        "failure", "", *python_trace(81, "0x55e1ff", "/tmp/pytest-of-b/pytest-9/t3", "2026-11-20 23:59:01")
    )
    assert one.fingerprint == two.fingerprint
    assert one.exception_type == "ValueError"
    assert one.message == "cannot parse <tmp> at <hex> (run <n> started <date>)"
    # Innermost first, library frames (site-packages) left out, no line numbers.
    assert one.frames == ("parser.py:parse", "test_parser.py:test_parse")


def test_a_different_type_or_top_frame_is_a_different_fingerprint() -> None:
    message, body = python_trace(3, "0x1", "/tmp/x", "2026-01-01")
    base = signature("failure", "", message, body)
    other_type = signature(
        "failure", "", message.replace("ValueError", "KeyError"), body.replace("ValueError", "KeyError")
    )
    other_frame = signature(
        "failure", "", *python_trace(3, "0x1", "/tmp/x", "2026-01-01", func="parse_strict")
    )
    assert len({base.fingerprint, other_type.fingerprint, other_frame.fingerprint}) == 3
    assert other_type.exception_type == "KeyError"


def test_the_version_is_part_of_the_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    before = normalize_module.fingerprint_of("ValueError", "bad <n>", ["a.py:f"])
    monkeypatch.setattr(normalize_module, "FINGERPRINT_VERSION", "2")
    assert normalize_module.fingerprint_of("ValueError", "bad <n>", ["a.py:f"]) != before


def test_frames_of_java_javascript_and_go_traces() -> None:
    java, _ = parse_frames(
        "java.lang.IllegalStateException: boom\n\tat com.example.Repo.load(Repo.java:88)\n"
        "\tat com.example.Service.lambda$run$0(Service.java:12)\n\tat java.base/java.util.ArrayList.forEach(ArrayList.java:1596)\n"
    )
    assert [f.label() for f in java if f.in_app] == [
        "com.example.Repo:load",
        "com.example.Service:lambda$run$<n>",
    ]
    js, _ = parse_frames(
        "TypeError: x is undefined\n    at render (webpack:///src/App.jsx:10:5)\n"
        "    at /home/u/app/src/index.js:3:1\n    at Module._compile (node:internal/modules/cjs/loader:1254:14)\n"
    )
    assert [(f.label(), f.in_app) for f in js] == [
        ("App.jsx:render", True), ("index.js:<anonymous>", True), ("loader:Module._compile", False)
    ]  # fmt: skip
    go, _ = parse_frames(parse_junit(GO.encode()).failures[1].text)
    assert [f.label() for f in go if f.in_app] == ["calc.go:calc.Get", "calc_test.go:calc.TestGet"]


# --- JUnit shapes -------------------------------------------------------------------------------------------


def test_a_real_pytest_report(pytest_xml: bytes) -> None:
    report = parse_junit(pytest_xml)
    assert report.tests == 5 and report.skipped == 0
    signatures = by_test(pytest_xml)
    assert set(signatures) == {
        "test_parser.test_add", "test_parser.test_parse", "test_parser.TestParser.test_parse_number",
        "test_parser.test_with_database",
    }  # fmt: skip
    add = signatures["test_parser.test_add"]
    assert (add.exception_type, add.message, add.frames) == (
        "AssertionError", "assert <n> == <n>", ("test_parser.py:test_add",)
    )  # fmt: skip
    parse_path, parse_number = (
        signatures["test_parser.test_parse"],
        signatures["test_parser.TestParser.test_parse_number"],
    )
    assert parse_path.exception_type == "ValueError" and parse_path.frames[0] == "test_parser.py:parse"
    assert parse_path.frames[1] == "test_parser.py:test_parse"
    assert parse_number.frames[1] == "test_parser.py:test_parse_number"
    assert "<tmp>" in parse_path.message and "<hex>" in parse_number.message
    setup = signatures["test_parser.test_with_database"]  # `failed on setup with "..."` unwrapped
    assert setup.exception_type == "ConnectionError"
    assert setup.message == "database at <ip>:<n> refused the connection"
    assert setup.frames == ("test_parser.py:database",)


def test_pytest_native_tracebacks_group_like_the_long_format(pytest_xml: bytes, tmp_path: Path) -> None:
    native = by_test(pytest_report(tmp_path / "native", "--tb=native"))
    long = by_test(pytest_xml)
    assert {name: s.fingerprint for name, s in native.items()} == {
        name: s.fingerprint for name, s in long.items()
    }


def test_a_second_pytest_run_elsewhere_gives_the_same_fingerprints(pytest_xml: bytes, tmp_path: Path) -> None:
    again = pytest_report(tmp_path / "elsewhere" / "checkout")
    assert again != pytest_xml  # other timestamps, tmp paths and addresses
    assert {s.fingerprint for s in by_test(again).values()} == {
        s.fingerprint for s in by_test(pytest_xml).values()
    }


def test_surefire_report() -> None:
    report = parse_junit(SUREFIRE.encode())
    assert report.tests == 3 and [f.kind for f in report.failures] == ["failure", "error"]
    signatures = by_test(SUREFIRE.encode())
    adds = signatures["com.example.CalculatorTest.adds"]
    assert adds.exception_type == "org.opentest4j.AssertionFailedError"
    assert adds.message == "expected: <<n>> but was: <<n>>"
    assert adds.frames == ("com.example.CalculatorTest:adds",)  # junit and reflection frames are not in-app
    divides = signatures["com.example.CalculatorTest.divides"]
    assert divides.exception_type == "java.lang.IllegalStateException"
    assert divides.message == "Cannot divide <n> by zero (request <uuid>)"
    assert divides.frames == ("com.example.Calculator:divide", "com.example.CalculatorTest:divides")


def test_jest_junit_report() -> None:
    report = parse_junit(JEST.encode())
    assert report.tests == 3 and report.skipped == 1 and len(report.failures) == 2
    signatures = by_test(JEST.encode())
    equality = signatures["sum adds 1 + 2 to equal 3"]  # classname == name: said once
    assert equality.exception_type == "Error"
    assert equality.message == "expect(received).toBe(expected) // Object.is equality"
    assert equality.frames == ("sum.test.js:Object.<anonymous>",)
    undefined = signatures["sum handles undefined"]
    assert undefined.exception_type == "TypeError"
    assert undefined.frames == ("sum.js:sum", "sum.test.js:Object.<anonymous>")


def test_go_junit_report() -> None:
    signatures = by_test(GO.encode())
    add = signatures["example.com/calc.TestAdd"]  # message="Failed" says nothing: the body does
    assert (add.exception_type, add.message, add.frames) == (
        "failure", "Add(<n>, <n>) = <n>; want <n>", ("calc_test.go",)
    )  # fmt: skip
    get = signatures["example.com/calc.TestGet"]
    assert get.exception_type == "panic"
    assert get.message == "runtime error: index out of range [<n>] with length <n> [recovered]"
    assert get.frames == ("calc.go:calc.Get", "calc_test.go:calc.TestGet")


def test_a_single_testsuite_root_and_empty_suites() -> None:
    report = parse_junit(b'<testsuite name="empty" tests="0"/>')
    assert (report.tests, report.failures) == (0, [])


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<testsuites><testsuite>", "not well-formed XML"),
        (b"", "empty"),
        (b"<html><body>502 Bad Gateway</body></html>", "root element is <html>"),
        (b"\xff\xfe garbage", "not well-formed XML"),
    ],
)
def test_malformed_reports_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(JunitError, match=reason):
        parse_junit(data)


def test_a_billion_laughs_report_is_refused_without_expanding() -> None:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{"&lol{};".format(i - 1 if i > 1 else "") * 10}">' for i in range(1, 10)
    )
    bomb = f'<?xml version="1.0"?><!DOCTYPE testsuites [{entities}]><testsuites name="&lol9;"/>'.encode()
    with pytest.raises(JunitError, match="refused for safety"):
        parse_junit(bomb)
    external = (
        b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]><testsuite name="&x;"/>'
    )
    with pytest.raises(JunitError, match="refused for safety"):
        parse_junit(external)


def test_an_oversized_report_is_refused_before_parsing() -> None:
    with pytest.raises(JunitError, match="over the 1 MB limit"):
        parse_junit(b"<testsuite>" + b" " * 1_100_000 + b"</testsuite>", max_bytes=1_048_576)


# --- ingestion, on both ledgers -------------------------------------------------------------------------------


def stored(db: Database) -> dict[str, FailureFingerprint]:
    with db.session() as session:
        rows = session.execute(select(FailureFingerprint)).scalars().all()
        for row in rows:
            session.expunge(row)
    return {row.test_name: row for row in rows}


def test_ingest_counts_each_report_once_and_keeps_first_seen(
    ledger: Database, pytest_xml: bytes, tmp_path: Path
) -> None:
    add_repo(ledger, name="demo")
    first = ingest_junit(ledger, "demo", pytest_xml, source="cli", commit="abc123")
    assert not first.duplicate and (first.tests, first.failures) == (5, 4)
    # test_parse and test_parse_number differ in their test frame: four fingerprints, all new.
    assert len(first.new_fingerprints) == 4 and first.known_fingerprints == []
    assert first.refresh is not None and first.refresh.job_id is None
    assert "no commit of branch 'main' is known" in first.refresh.reason
    before = {row.fingerprint: row for row in stored(ledger).values()}
    assert all(row.count == 1 for row in before.values())

    again = ingest_junit(ledger, "demo", pytest_xml, source="cli")
    assert again.duplicate and again.new_fingerprints == [] and again.refresh is None
    assert {row.fingerprint: row.count for row in stored(ledger).values()} == dict.fromkeys(before, 1)

    second_run = ingest_junit(ledger, "demo", pytest_report(tmp_path / "second"), source="cli")
    assert not second_run.duplicate and sorted(second_run.known_fingerprints) == sorted(before)
    after = {row.fingerprint: row for row in stored(ledger).values()}
    for fingerprint, row in after.items():
        assert row.count == 2
        assert row.first_seen == before[fingerprint].first_seen
        assert row.last_seen >= before[fingerprint].last_seen
        assert row.first_seen <= row.last_seen
    with ledger.session() as session:
        assert session.execute(select(func.count()).select_from(JunitReport)).scalar_one() == 2
        commits = session.execute(select(JunitReport.commit).order_by(JunitReport.id)).scalars().all()
    assert commits == ["abc123", None]

    listed = fingerprints(ledger, "demo")
    assert len(listed) == 4 and all(item["count"] == 2 for item in listed)
    setup = next(item for item in listed if item["exception_type"] == "ConnectionError")
    assert setup["test_name"] == "test_parser.test_with_database"
    assert setup["sample"].startswith("failed on setup with") and setup["frames"] == [
        "test_parser.py:database"
    ]


def test_fingerprints_are_ordered_by_count_then_recency(ledger: Database) -> None:
    add_repo(ledger, name="demo")
    twice = SUREFIRE.replace('name="subtracts"', 'name="subtracts2"')
    for data in (SUREFIRE, twice, JEST):
        ingest_junit(ledger, "demo", data.encode(), source="http")
    listed = fingerprints(ledger, "demo")
    assert [item["count"] for item in listed] == [2, 2, 1, 1]
    assert {item["exception_type"] for item in listed[2:]} == {"Error", "TypeError"}
    assert len(fingerprints(ledger, "demo", limit=1)) == 1


def test_the_same_failure_twice_in_one_report_counts_twice(ledger: Database) -> None:
    add_repo(ledger, name="demo")
    case = (
        '<testcase classname="t" name="{n}"><failure message="boom {n}" type="RuntimeError">'
        "RuntimeError: boom\n\tat com.example.A.run(A.java:{n})</failure></testcase>"
    )
    data = f"<testsuite>{case.format(n=1)}{case.format(n=2)}</testsuite>".encode()
    report = ingest_junit(ledger, "demo", data, source="cli")
    assert report.failures == 2 and len(report.new_fingerprints) == 1
    (row,) = stored(ledger).values()
    assert row.count == 2 and row.test_name == "t.2"  # the last one seen


def test_unknown_repository_and_bad_input_change_nothing(ledger: Database) -> None:
    add_repo(ledger, name="demo")
    with pytest.raises(UnknownRepository, match="unknown repository 'nope'"):
        ingest_junit(ledger, "nope", SUREFIRE.encode(), source="cli")
    with pytest.raises(JunitError):
        ingest_junit(ledger, "demo", b"<testsuite>", source="cli")
    with pytest.raises(JunitError, match="not a commit id"):
        ingest_junit(ledger, "demo", SUREFIRE.encode(), source="cli", commit="main; drop table")
    with ledger.session() as session:
        assert session.execute(select(func.count()).select_from(JunitReport)).scalar_one() == 0
    assert stored(ledger) == {}


# A running job as a worker leaves it: claimed by someone, with its claim (the schema requires it).
_RUNNING = {
    "status": JobStatus.RUNNING,
    "claim_token": "t",
    "worker_id": "w",
    "claimed_at": datetime.now(UTC),
}


def test_ingest_queues_a_refresh_at_the_branch_baseline(ledger: Database) -> None:
    repo = add_repo(ledger, name="demo")
    set_baseline(ledger, repo.id, "main", "c" * 40, "t" * 40)
    report = ingest_junit(ledger, "demo", SUREFIRE.encode(), source="cli")
    assert report.refresh is not None and report.refresh.created and report.refresh.commit == "c" * 40
    with ledger.session() as session:
        job = session.get(Job, report.refresh.job_id)
        assert job is not None
        assert (job.artifact_type, job.trigger, job.commit, job.branch, job.status) == (
            "known_failure_fingerprint", Trigger.MANUAL, "c" * 40, "main", JobStatus.QUEUED
        )  # fmt: skip
    # Still queued: it will read the newer counts when it runs, no second job.
    queued = ingest_junit(ledger, "demo", JEST.encode(), source="cli")
    assert queued.refresh is not None and queued.refresh.job_id == report.refresh.job_id
    assert not queued.refresh.created
    # Already running: it may have read the old counts, so another job is queued.
    with ledger.session() as session:
        session.execute(update(Job).where(Job.id == report.refresh.job_id).values(**_RUNNING))
    running = ingest_junit(ledger, "demo", GO.encode(), source="cli")
    assert running.refresh is not None and running.refresh.created
    assert running.refresh.job_id != report.refresh.job_id
    # A burst behind the running job queues one job, not one per report.
    burst = ingest_junit(ledger, "demo", SUREFIRE.replace("subtracts", "x").encode(), source="cli")
    assert burst.refresh is not None and not burst.refresh.created
    assert burst.refresh.job_id == running.refresh.job_id
    with ledger.session() as session:
        session.execute(update(Job).where(Job.id == running.refresh.job_id).values(**_RUNNING))
    third = ingest_junit(ledger, "demo", SUREFIRE.replace("subtracts", "y").encode(), source="cli")
    assert third.refresh is not None and third.refresh.created
    assert third.refresh.job_id not in (report.refresh.job_id, running.refresh.job_id)
    # A report without failures changes no count: nothing to refresh.
    passing = ingest_junit(ledger, "demo", b'<testsuite><testcase name="ok"/></testsuite>', source="cli")
    assert passing.refresh is None and passing.failures == 0


def test_concurrent_ingests_on_postgres_lose_no_counts(pg_url: str) -> None:
    db = Database(pg_url, pool_size=10)
    try:
        add_repo(db, name="demo")
        threads_count, per_file = 8, 3
        case = (
            '<testcase classname="t" name="case{i}"><error message="pool exhausted after {i}ms" '
            'type="java.util.concurrent.TimeoutException">java.util.concurrent.TimeoutException\n'
            "\tat com.example.Pool.take(Pool.java:{i})</error></testcase>"
        )
        reports = [
            f'<testsuite name="run{n}">{"".join(case.format(i=n * 10 + i) for i in range(per_file))}</testsuite>'.encode()
            for n in range(threads_count)
        ]
        barrier = threading.Barrier(threads_count)
        errors: list[BaseException] = []
        results = []

        def ingest(data: bytes) -> None:
            try:
                barrier.wait()
                results.append(ingest_junit(db, "demo", data, source="http"))
            except BaseException as exc:  # reported below, not lost in the thread
                errors.append(exc)

        threads = [threading.Thread(target=ingest, args=(data,)) for data in reports]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        (row,) = stored(db).values()
        assert row.count == threads_count * per_file
        # Exactly one ingest created the row, whatever the interleaving.
        assert sum(len(r.new_fingerprints) for r in results) == 1
        assert sum(len(r.known_fingerprints) for r in results) == threads_count - 1
    finally:
        db.dispose()


# --- CI configuration ---------------------------------------------------------------------------------------

GITHUB_WORKFLOW = """\
name: CI
on:
  push:
    branches: [main]
  pull_request:
jobs:
  test:
    name: Tests (${{ matrix.python-version }})
    runs-on: ${{ matrix.os }}
    strategy:
      fail-fast: false
      matrix:
        os: [ubuntu-latest, macos-latest]
        python-version: ["3.11", "3.12"]
        include:
          - os: ubuntu-latest
            experimental: true
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: ${{ matrix.python-version }}
      - name: Install
        run: |
          python -m pip install --upgrade pip
          pip install -e '.[dev]' pytest
      - name: Test
        run: |
          # the whole suite, with coverage
          python -m pytest -q \\
            --cov=app tests/
  lint:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: ruff check .
  frontend:
    runs-on: ubuntu-latest
    defaults:
      run:
        working-directory: web
    steps:
      - run: npm ci
      - run: npm test -- --ci
  release:
    uses: ./.github/workflows/release.yml
"""

GITLAB_CI = """\
stages: [build, test]
variables:
  GO111MODULE: "on"
.go-cache:
  before_script:
    - go mod download
.unit-template:
  extends: .go-cache
  script:
    - go test -race ./...
build:
  stage: build
  script: go build ./...
unit:
  extends: .unit-template
  parallel:
    matrix:
      - GO_VERSION: ["1.21", "1.22"]
integration:
  stage: test
  script:
    - !reference [.go-cache, before_script]
    - make integration-test
"""

CIRCLECI = """\
version: 2.1
orbs:
  node: circleci/node@5.1.0
jobs:
  test:
    docker:
      - image: cimg/node:20.11
    steps:
      - checkout
      - node/install-packages
      - run: npm run build
      - run:
          name: Run tests
          command: |
            npx jest --ci --reporters=default --reporters=jest-junit
      - store_test_results:
          path: reports
workflows:
  main:
    jobs:
      - test
"""

MAKEFILE = """\
PY ?= python3
.PHONY: test lint integration-test

lint:
\truff check .

test: lint
\t@$(PY) -m pytest -q tests/unit

integration-test:
\tdocker compose up -d
\t-$(PY) -m pytest tests/integration
"""

TOX = """\
[tox]
envlist = py311, py312, lint

[testenv]
deps = pytest
commands =
    pytest {posargs:tests}

[testenv:lint]
commands = ruff check .

[pytest]
addopts = -ra
"""

NOXFILE = """\
import nox

PYTHONS = ["3.11", "3.12"]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("pytest", "-x", *session.posargs)


@nox.session(name="type-check")
def mypy(session):
    session.run("mypy", "src")
"""


def jobs_of(kind: str, text: str) -> dict[str, dict[str, Any]]:
    extract = extract_ci(kind, text.encode())
    assert extract["error"] is None, extract["error"]
    return {job["name"]: job for job in extract["jobs"]}


def runs_tests_in(job: dict[str, Any]) -> list[str]:
    return [c["command"] for c in job["commands"] if c["is_test"]]


def test_github_actions_jobs_steps_and_matrix() -> None:
    jobs = jobs_of("github_actions", GITHUB_WORKFLOW)
    assert set(jobs) == {"test", "lint", "frontend", "release"}
    test = jobs["test"]
    assert [c["command"] for c in test["commands"]] == [
        "python -m pip install --upgrade pip",
        "pip install -e '.[dev]' pytest",
        "python -m pytest -q --cov=app tests/",
    ]
    assert runs_tests_in(test) == ["python -m pytest -q --cov=app tests/"]  # installing pytest runs nothing
    assert test["matrix"] == {"os": ["ubuntu-latest", "macos-latest"], "python-version": ["3.11", "3.12"]}
    assert test["title"] == "Tests (${{ matrix.python-version }})"
    assert test["actions"] == ["actions/checkout@v4", "actions/setup-python@v5"]
    assert runs_tests_in(jobs["lint"]) == [] and runs_tests_in(jobs["frontend"]) == ["npm test -- --ci"]
    assert jobs["release"]["uses"] == "./.github/workflows/release.yml"


def test_gitlab_ci_skips_templates_and_resolves_extends_and_references() -> None:
    jobs = jobs_of("gitlab_ci", GITLAB_CI)
    assert set(jobs) == {"build", "unit", "integration"}  # no keywords, no hidden templates
    assert [c["command"] for c in jobs["unit"]["commands"]] == ["go mod download", "go test -race ./..."]
    assert runs_tests_in(jobs["unit"]) == ["go test -race ./..."] and jobs["unit"]["stage"] == "test"
    assert jobs["unit"]["matrix"] == [{"GO_VERSION": ["1.21", "1.22"]}]
    assert [c["command"] for c in jobs["integration"]["commands"]] == [
        "go mod download",
        "make integration-test",
    ]
    assert runs_tests_in(jobs["integration"]) == ["make integration-test"]
    assert runs_tests_in(jobs["build"]) == [] and jobs["build"]["stage"] == "build"


def test_circleci_run_steps_as_strings_and_mappings() -> None:
    jobs = jobs_of("circleci", CIRCLECI)
    test = jobs["test"]
    assert [c["command"] for c in test["commands"]] == [
        "npm run build", "npx jest --ci --reporters=default --reporters=jest-junit"
    ]  # fmt: skip
    assert runs_tests_in(test) == ["npx jest --ci --reporters=default --reporters=jest-junit"]
    assert test["steps"] == ["node/install-packages", "store_test_results"] and test["workflows"] == ["main"]


def test_makefile_tox_and_nox() -> None:
    make = jobs_of("make", MAKEFILE)
    assert set(make) == {"test", "integration-test"}  # lint runs no tests
    assert runs_tests_in(make["test"]) == ["$(PY) -m pytest -q tests/unit"]
    assert [c["command"] for c in make["integration-test"]["commands"]] == [
        "docker compose up -d", "$(PY) -m pytest tests/integration"
    ]  # fmt: skip
    tox = jobs_of("tox", TOX)
    assert set(tox) == {"testenv", "lint"}
    assert runs_tests_in(tox["testenv"]) == ["pytest {posargs:tests}"]
    assert tox["testenv"]["envlist"] == ["py311", "py312", "lint"]
    nox = jobs_of("nox", NOXFILE)
    assert set(nox) == {"tests", "type-check"}
    assert (
        runs_tests_in(nox["tests"]) == ["pytest -x *session.posargs"] and nox["tests"]["python"] == "PYTHONS"
    )
    assert runs_tests_in(nox["type-check"]) == []


@pytest.mark.parametrize(
    ("command", "runs_tests"),
    [
        ("pytest -x", True), ("poetry run pytest", True), ("uv run --frozen pytest", True),
        ("coverage run -m pytest", True), ("python manage.py test", True), ("go test ./...", True),
        ("go vet ./...", False), ("npm test", True), ("npm run test:unit", True), ("npm ci", False),
        ("yarn jest --ci", True), ("cargo test --workspace", True), ("mvn -B verify", True),
        ("./gradlew check", True), ("bundle exec rspec", True), ("tox -e py312", True), ("nox -s tests", True),
        ("make test", True), ("make build", False), ("cd web && npm test", True), ("pip install pytest", False),
        ("CI=1 FOO=bar pytest", True), ("dotnet test", True), ("echo pytest", False),
    ],
)  # fmt: skip
def test_which_commands_run_tests(command: str, runs_tests: bool) -> None:
    assert is_test_command(command) is runs_tests


def test_malformed_files_are_an_error_for_that_file_alone() -> None:
    broken = extract_ci("github_actions", b"jobs:\n  test:\n    steps: [\n      - run: pytest\n")
    assert broken["jobs"] == [] and broken["error"].startswith(("ParserError", "ScannerError"))
    assert (
        extract_ci("github_actions", b"- just\n- a list\n")["error"]
        == "ValueError: the top level is not a mapping"
    )
    assert extract_ci("nox", b"def broken(:\n")["error"].startswith("SyntaxError")
    assert extract_ci("tox", b"commands = pytest\n")["error"].startswith("MissingSectionHeaderError")
    assert extract_ci("make", b"\xff\xfe")["error"] == "not UTF-8 text"


def test_which_files_are_ci_configuration() -> None:
    assert ci_kind(".github/workflows/ci.yml") == "github_actions"
    assert ci_kind(".github/workflows/release.yaml") == "github_actions"
    assert ci_kind(".github/dependabot.yml") is None
    assert ci_kind(".gitlab-ci.yml") == "gitlab_ci" and ci_kind("sub/.gitlab-ci.yml") is None
    assert ci_kind(".circleci/config.yml") == "circleci"
    assert ci_kind("Makefile") == "make" and ci_kind("services/api/Makefile") == "make"
    assert ci_kind("node_modules/x/Makefile") is None
    assert ci_kind("tox.ini") == "tox" and ci_kind("noxfile.py") == "nox" and ci_kind("app/main.py") is None


# --- the generator ------------------------------------------------------------------------------------------


@pytest.fixture
def ci_repo(tmp_path: Path) -> Path:
    return make_repo(
        tmp_path / "ci-demo",
        {
            ".github/workflows/ci.yml": GITHUB_WORKFLOW,
            ".github/workflows/broken.yml": "jobs: [unclosed\n",
            ".gitlab-ci.yml": GITLAB_CI,
            "Makefile": MAKEFILE,
            "tox.ini": TOX,
            "app/main.py": "def main():\n    return 1\n",
        },
    )


def test_the_entry_without_a_ledger(ci_repo: Path) -> None:
    cache = CountingCache()
    result = KnownFailureFingerprint().generate(generation_context(ci_repo, cache=cache))
    (entry,) = result.entries
    payload = entry.payload
    assert entry.path == "" and payload["artifact_type"] == "known_failure_fingerprint"
    assert payload["tree"] == git(ci_repo, "rev-parse", "HEAD^{tree}").strip()
    assert "commit" not in payload and "repo" not in payload  # the lookup adds them
    assert set(payload["ci"]) == {"github_actions", "gitlab_ci", "make", "tox"}
    assert payload["errors"] == [
        {
            "file": ".github/workflows/broken.yml",
            "system": "github_actions",
            "error": payload["errors"][0]["error"],
        }
    ]
    commands = {(c["system"], c["file"], c["job"], c["command"]) for c in payload["test_commands"]}
    assert (
        "github_actions",
        ".github/workflows/ci.yml",
        "test",
        "python -m pytest -q --cov=app tests/",
    ) in commands
    assert ("gitlab_ci", ".gitlab-ci.yml", "unit", "go test -race ./...") in commands
    assert ("make", "Makefile", "test", "$(PY) -m pytest -q tests/unit") in commands
    assert ("tox", "tox.ini", "testenv", "pytest {posargs:tests}") in commands
    assert payload["fingerprints"] == [] and payload["fingerprints_source"] == "unavailable"
    assert result.calls == {"extracted": 5, "reused": 0}
    again = KnownFailureFingerprint().generate(generation_context(ci_repo, cache=cache))
    assert again.calls == {"extracted": 0, "reused": 5} and again.entries == result.entries


def test_the_entry_serves_the_ledger_fingerprints_and_changes_with_counts(
    ci_repo: Path, sqlite_db: Database
) -> None:
    add_repo(sqlite_db, name=ci_repo.name)

    def generate() -> Any:
        ctx = generation_context(ci_repo)
        ctx.ledger = sqlite_db
        (entry,) = KnownFailureFingerprint().generate(ctx).entries
        return entry

    empty = generate()
    assert empty.payload["fingerprints"] == [] and empty.payload["fingerprints_source"] == "ledger"
    ingest_junit(sqlite_db, ci_repo.name, SUREFIRE.encode(), source="cli")
    first = generate()
    assert [f["count"] for f in first.payload["fingerprints"]] == [1, 1]
    assert first.source_hash != empty.source_hash
    assert generate().source_hash == first.source_hash  # nothing changed: the same entry
    ingest_junit(sqlite_db, ci_repo.name, SUREFIRE.replace("subtracts", "multiplies").encode(), source="cli")
    second = generate()
    assert [f["count"] for f in second.payload["fingerprints"]] == [2, 2]
    assert second.source_hash != first.source_hash and len(second.source_hash) == 64


def test_an_ingest_refreshes_the_served_entry_through_the_runner(
    ci_repo: Path, sqlite_db: Database, settings: Settings
) -> None:
    """Connect, ingest, run the queued refresh with the real job runner: lookups serve the new counts."""
    connect(sqlite_db, settings, str(ci_repo))

    def ingest_and_refresh(data: str) -> dict[str, Any]:
        report = ingest_junit(sqlite_db, ci_repo.name, data.encode(), source="cli")
        assert report.refresh is not None and report.refresh.job_id is not None
        run_jobs(sqlite_db, settings, [report.refresh.job_id], worker_id="test")
        with sqlite_db.session() as session:
            assert session.get(Job, report.refresh.job_id).status == JobStatus.COMPLETED  # type: ignore[union-attr]
        found = lookup(sqlite_db, ci_repo.name, "known_failure_fingerprint", task_type="debugging")
        assert found.hit and found.payload is not None
        assert found.commit == found.head == git(ci_repo, "rev-parse", "HEAD").strip() and not found.stale
        return found.payload

    first = ingest_and_refresh(SUREFIRE)
    assert [f["count"] for f in first["fingerprints"]] == [1, 1] and first["fingerprints_source"] == "ledger"
    assert any(c["job"] == "unit" for c in first["test_commands"])
    second = ingest_and_refresh(SUREFIRE.replace("subtracts", "multiplies"))
    assert [f["count"] for f in second["fingerprints"]] == [2, 2]


# --- the CLI ------------------------------------------------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [WARMER, *args], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, timeout=120
    )


def test_cli_ingest_and_list(small_repo: Path, tmp_path: Path, pytest_xml: bytes) -> None:
    assert run("connect", str(small_repo)).returncode == 0
    report = tmp_path / "report.xml"
    report.write_bytes(pytest_xml)
    done = run("ingest-junit", "small", str(report), "--commit", "abc1234")
    assert done.returncode == 0, done.stderr
    assert "5 test(s), 4 failure(s) in 4 fingerprint(s): 4 new, 0 already known" in done.stdout
    assert "known_failure_fingerprint refresh: job" in done.stdout
    again = run("ingest-junit", "small", str(report), "--json")
    assert again.returncode == 0, again.stderr
    data = json.loads(again.stdout)
    assert data["duplicate"] is True and data["repo"] == "small" and data["tests"] == 5
    listed = json.loads(run("failures", "small", "--json").stdout)
    assert len(listed) == 4 and {item["count"] for item in listed} == {1}
    table = run("failures", "small", "--limit", "2")
    # In a pipe: a header of column names, then one whole line per fingerprint (newest first, --limit 2).
    header, *rows = table.stdout.splitlines()
    assert table.returncode == 0 and header.split()[:5] == [
        "count",
        "type",
        "message",
        "top_frame",
        "last_test",
    ]
    assert len(rows) == 2 and all(row.split()[0] == "1" for row in rows)
    assert sum(name in table.stdout for name in ("AssertionError", "ValueError", "ConnectionError")) >= 1


def test_cli_refuses_bad_input_with_one_line(small_repo: Path, tmp_path: Path) -> None:
    assert run("connect", str(small_repo)).returncode == 0
    bad = tmp_path / "bad.xml"
    bad.write_text("<testsuites><testsuite>")
    for args, message in [
        (("ingest-junit", "small", str(bad)), "not well-formed XML"),
        (("ingest-junit", "small", str(tmp_path / "missing.xml")), "cannot read"),
        (("ingest-junit", "nope", str(bad)), "not well-formed XML"),  # the file is read first
        (("failures", "nope"), "unknown repository 'nope'"),
    ]:
        done = run(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stderr.startswith("warmer: error: ") and message in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    report = tmp_path / "ok.xml"
    report.write_text(SUREFIRE)
    unknown = run("ingest-junit", "nope", str(report))
    assert unknown.returncode == 2 and "unknown repository 'nope'" in unknown.stderr
