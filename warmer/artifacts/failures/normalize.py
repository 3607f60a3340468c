"""Failure fingerprints: the same bug seen twice gets the same hash, whatever varied between the runs.

After Sentry's grouping: the exception type, the message with its run-specific values replaced by
placeholders (numbers, addresses, UUIDs, IPs, temporary paths, timestamps, durations, long quoted values),
and the top in-app frames reduced to file basename (or class) + function, never line numbers, which
move with every unrelated edit. The scheme is versioned: FINGERPRINT_VERSION is part of the hash
input, so changing a rule starts new groups instead of silently merging old and new ones.

Frames are read from Python tracebacks (native and pytest's long format), Java stack traces,
JavaScript (V8) stacks and Go (`file.go:12` lines and goroutine dumps), innermost first.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

FINGERPRINT_VERSION = "1"
TOP_FRAMES = 5
MAX_MESSAGE_CHARS = 300

# --- messages -------------------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
_DATETIME = re.compile(
    r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_TIME = re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b")
# Temporary directories of every OS and of pytest (`tmp_path` lives in /tmp/pytest-of-USER/pytest-N/).
_TMP_PATH = re.compile(
    r"(?:/private)?/var/folders/[^\s'\",)\]]+"
    r"|/(?:var/)?tmp/[^\s'\",)\]]+"
    r"|[A-Za-z]:\\Users\\[^\\\s]+\\AppData\\Local\\Temp\\[^\s'\",)\]]+"
    r"|\bpytest-of-[^\s'\",)\]]+"
)
_HEX_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]+\b")
# Long hex runs with a digit and a letter: object ids, commit shas, hashes.
_HEX_RUN = re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b")
_DURATION = re.compile(
    r"\b\d+(?:\.\d+)?\s?(?:ns|µs|us|ms|s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?)\b", re.IGNORECASE
)
_LONG_QUOTED = re.compile(r"'[^'\n]{24,}'|\"[^\"\n]{24,}\"")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_SPACES = re.compile(r"\s+")


def normalize_message(message: str) -> str:
    """The first line of a message with its run-specific values replaced by placeholders.

    Only the first line: later lines are diffs and reprs whose values vary from run to run."""
    text = _ANSI.sub("", message)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    first = _UUID.sub("<uuid>", first)
    first = _TMP_PATH.sub("<tmp>", first)
    first = _DATETIME.sub("<date>", first)
    first = _TIME.sub("<time>", first)
    first = _IPV4.sub("<ip>", first)
    first = _HEX_ADDRESS.sub("<hex>", first)
    first = _HEX_RUN.sub("<hex>", first)
    first = _DURATION.sub("<duration>", first)
    first = _LONG_QUOTED.sub("<str>", first)
    first = _NUMBER.sub("<n>", first)
    return _SPACES.sub(" ", first).strip()[:MAX_MESSAGE_CHARS]


# --- frames -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    module: str  # file basename, or the class / package for languages that name it
    function: str
    in_app: bool

    def label(self) -> str:
        # Numbers go too: anonymous and synthetic names (`lambda$test$0`, `TestX.func1`) renumber.
        label = f"{self.module}:{self.function}" if self.function else self.module
        return _NUMBER.sub("<n>", label)


_PY_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line \d+(?:, in (?P<func>\S+))?', re.MULTILINE)
_PYTEST_LOCATION = re.compile(r"^(?P<file>[^\s:][^:\n]*\.py):\d+: ?(?P<type>[\w.]*)\s*$")
_PYTEST_DEF = re.compile(r"^\s*(?:async\s+)?def\s+(?P<func>\w+)\s*\(")
_PYTEST_SEPARATOR = re.compile(r"^(?:_ )+_?\s*$")
_JAVA_FRAME = re.compile(r"^\s*at (?P<cls>[\w$.]+)\.(?P<method>[\w$<>]+)\((?P<where>[^)]*)\)", re.MULTILINE)
_JS_FRAME = re.compile(
    r"^[ \t]*at (?:(?:async |new )?(?P<func>[^\s(][^(\n]*?) \((?P<file>[^)\n]+?)(?::\d+)*\)"
    r"|(?P<bare>\S+?)(?::\d+)*)[ \t]*$",
    re.MULTILINE,
)
_GO_STACK = re.compile(r"^(?P<func>\S+?)\(.*\)\n\t(?P<file>\S+\.go):\d+", re.MULTILINE)
_GO_LOCATION = re.compile(r"^\s+(?P<file>[\w.-]+\.go):\d+:", re.MULTILINE)

_PY_LIBRARY = re.compile(r"site-packages|dist-packages|/lib/python\d|^<frozen |/_pytest/|/pluggy/|^<")
_JAVA_LIBRARY = (
    "java.", "javax.", "jdk.", "sun.", "com.sun.", "kotlin.", "kotlinx.", "scala.", "groovy.",
    "org.junit.", "junit.", "org.opentest4j.", "org.testng.", "org.apache.maven.", "org.gradle.",
    "worker.org.gradle.", "org.assertj.", "org.hamcrest.", "org.mockito.", "org.springframework.",
    "org.codehaus.groovy.", "net.bytebuddy.",
)  # fmt: skip
_GO_LIBRARY = re.compile(
    r"/pkg/mod/|/src/(?:runtime|testing|reflect|internal|sync)/|^(?:runtime|testing|reflect)\."
)


def _basename(path: str) -> str:
    return re.split(r"[/\\]", path.rstrip("/\\"))[-1]


def python_frames(text: str) -> list[Frame]:
    """Native tracebacks list the outermost call first: reversed, so the crash site leads."""
    frames = [
        Frame(_basename(m["file"]), m["func"] or "", not _PY_LIBRARY.search(m["file"]))
        for m in _PY_FRAME.finditer(text)
    ]
    return frames[::-1]


def pytest_frames(text: str) -> tuple[list[Frame], str]:
    """pytest's long format: one section per frame, separated by `_ _ _` lines, each ending in
    `path.py:LINE: [ExceptionType]`; the function is the `def` shown in the section. Returns the
    frames innermost first and the exception type named on the last location line."""
    frames: list[Frame] = []
    exc_type = ""
    func = ""
    for line in text.splitlines():
        if _PYTEST_SEPARATOR.match(line):
            func = ""
            continue
        if not func and (match := _PYTEST_DEF.match(line)):
            func = match["func"]
            continue
        if match := _PYTEST_LOCATION.match(line):
            frames.append(Frame(_basename(match["file"]), func, not _PY_LIBRARY.search(match["file"])))
            exc_type = match["type"] or exc_type
            func = ""
    return frames[::-1], exc_type


def java_frames(text: str) -> list[Frame]:
    frames = []
    for m in _JAVA_FRAME.finditer(text):
        cls = m["cls"]
        frames.append(Frame(cls, m["method"], not cls.startswith(_JAVA_LIBRARY)))
    return frames


def js_frames(text: str) -> list[Frame]:
    frames = []
    for m in _JS_FRAME.finditer(text):
        file = m["file"] or m["bare"] or ""
        if not file or ("/" not in file and "." not in file):
            continue
        func = (m["func"] or "<anonymous>").strip()
        library = "node_modules" in file or file.startswith(("node:", "internal/"))
        frames.append(Frame(_basename(file.removeprefix("file://")), func, not library))
    return frames


def go_frames(text: str) -> list[Frame]:
    """Goroutine dumps (innermost first), else `file.go:LINE:` locations of t.Error calls."""
    frames = []
    for m in _GO_STACK.finditer(text):
        func = m["func"].rsplit("/", 1)[-1]  # example.com/calc.Get → calc.Get
        library = bool(_GO_LIBRARY.search(m["file"]) or _GO_LIBRARY.search(m["func"]))
        frames.append(Frame(_basename(m["file"]), func, not library))
    if not frames:
        frames = [Frame(m["file"], "", True) for m in _GO_LOCATION.finditer(text)]
    return frames


def parse_frames(text: str) -> tuple[list[Frame], str]:
    """Frames of whichever language the text is, innermost first, and an exception type if the
    trace itself names one (pytest's location lines do)."""
    text = _ANSI.sub("", text)
    if _PY_FRAME.search(text):
        return python_frames(text), _split_type(_python_exception_line(text))[0]
    if _JAVA_FRAME.search(text) and re.search(r"\.(?:java|kt|scala|groovy):\d+\)|Native Method", text):
        return java_frames(text), ""
    frames, exc_type = pytest_frames(text)
    if frames:
        return frames, exc_type
    if _GO_STACK.search(text) or _GO_LOCATION.search(text):
        return go_frames(text), ""
    return js_frames(text), ""


def top_frames(frames: list[Frame], limit: int = TOP_FRAMES) -> list[str]:
    """The innermost in-app frames; all frames when none is in-app (a crash inside a library)."""
    chosen = [f for f in frames if f.in_app] or frames
    return [f.label() for f in chosen[:limit]]


# --- the signature ----------------------------------------------------------------------------------

# `ValueError: ...`, `java.lang.IllegalStateException: ...`, `Error: ...`, `panic: ...`
_TYPED_MESSAGE = re.compile(r"^(?P<type>(?:[A-Za-z_][\w$]*\.)*[A-Za-z_][\w$]*): ?(?P<rest>.*)$", re.DOTALL)
_TYPE_SUFFIXES = (
    "Error", "Exception", "Failure", "Failed", "Fault", "Exit", "Interrupt", "Warning", "Timeout",
)  # fmt: skip
_PYTEST_PHASE = re.compile(r'^failed on (?:setup|teardown|call) with "(?P<inner>.*)"$', re.DOTALL)
# Values that say nothing (go-junit-report writes message="Failed", some tools type="failure").
_GENERIC = frozenset({"", "failed", "failure", "error", "test failed", "assertionfailure"})


@dataclass(frozen=True)
class Signature:
    exception_type: str
    message: str  # normalized
    frames: tuple[str, ...]  # normalized, innermost first
    fingerprint: str


def _split_type(text: str, hint: str = "") -> tuple[str, str]:
    """(type, rest) when `text` starts with something that names an exception, else ("", text).

    A prefix is a type when it is qualified (`java.lang.X`), ends like one (`ValueError`,
    `SystemExit`), is Go's `panic`, or is the type the trace already named; `Expected: 4` is not."""
    match = _TYPED_MESSAGE.match(text.strip())
    if match is None:
        return "", text
    name = match["type"]
    short = name.rsplit(".", 1)[-1]
    if (
        ("." in name and short[:1].isupper())
        or short.endswith(_TYPE_SUFFIXES)
        or name == "panic"
        or (hint and short == hint.rsplit(".", 1)[-1])
    ):
        return name, match["rest"]
    return "", text


def _first_body_line(body: str) -> str:
    """A message for reports that give none: the first line that is neither a frame nor a header."""
    for line in _ANSI.sub("", body).splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("Traceback (") or _PYTEST_SEPARATOR.match(line):
            continue
        if _JAVA_FRAME.match(line) or _PY_FRAME.match(line) or _JS_FRAME.match(line):
            continue
        if match := _GO_LOCATION.match(line):
            return stripped[len(match["file"]) :].split(":", 2)[-1].strip()
        return stripped
    return ""


def _python_exception_line(body: str) -> str:
    """The line closing a native Python traceback (`ValueError: bad value`)."""
    for line in reversed(body.splitlines()):
        if line.strip() and not line.startswith((" ", "\t")) and _split_type(line)[0]:
            return line.strip()
    return ""


def signature(kind: str, exc_type: str, message: str, body: str, *, limit: int = TOP_FRAMES) -> Signature:
    """The fingerprint of one failed test case.

    `kind` is "failure" or "error" (the type of last resort), `exc_type` the report's `type`
    attribute, `message` its `message` attribute and `body` the element's text."""
    frames, trace_type = parse_frames(body)
    declared = "" if exc_type.strip().lower() in _GENERIC else exc_type.strip()
    raw = _ANSI.sub("", message).strip()
    if match := _PYTEST_PHASE.match(raw):
        raw = match["inner"]  # pytest wraps setup/teardown errors: `failed on setup with "X: msg"`
    if raw.lower() in _GENERIC:
        raw = (_python_exception_line(body) if _PY_FRAME.search(body) else "") or _first_body_line(body)
    found, raw = _split_type(raw, declared or trace_type)
    # The most qualified name any source gives: surefire's `type` and the message's prefix agree.
    candidates = [name for name in (declared, found, trace_type) if name]
    name = max(candidates, key=lambda n: ("." in n, len(n))) if candidates else kind
    if candidates and any(c.rsplit(".", 1)[-1] != name.rsplit(".", 1)[-1] for c in candidates):
        name = candidates[0]  # sources disagree: the first (declared, then message) wins
    normalized = normalize_message(raw)
    labels = tuple(top_frames(frames, limit))
    return Signature(name, normalized, labels, fingerprint_of(name, normalized, labels))


def fingerprint_of(exception_type: str, message: str, frames: tuple[str, ...] | list[str]) -> str:
    """sha256 of the versioned signature: the same inputs give the same hash on every host."""
    raw = json.dumps([FINGERPRINT_VERSION, exception_type, message, list(frames)], separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()
