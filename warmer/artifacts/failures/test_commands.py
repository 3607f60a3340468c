"""Whether a shell command from CI configuration runs tests: pytest, go test, npm test, make check, ...

Commands are split on `&&`, `||`, `;` and pipes; each segment is tokenized with shlex, environment
assignments and wrappers (`sudo`, `env`, `npx`, `poetry run`, `uv run`, ...) are peeled off, and what
is left is matched against known test runners and test subcommands.
"""

from __future__ import annotations

import posixpath
import re
import shlex

_SEGMENT_SPLIT = re.compile(r"&&|\|\||;|\|")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# A Python interpreter, or a variable naming one (`$(PY) -m pytest` in a Makefile).
_PYTHON = re.compile(r"^(?:python(?:\d(?:\.\d+)?)?|py|pypy3?|\$[({]\w+[)}])$")
_RUNNERS = frozenset(
    {"pytest", "py.test", "tox", "nox", "jest", "vitest", "mocha", "rspec", "phpunit", "ctest", "gotestsum",
     "karma", "ava", "nosetests", "trial", "behave", "unittest", "nose2", "ward", "tap"}
)  # fmt: skip
_SUBCOMMAND_TEST = frozenset({"go", "cargo", "dotnet", "mix", "bazel", "bazelisk", "swift", "deno", "flutter",
                              "dart", "bun", "zig", "stack", "cabal", "sbt", "lein"})  # fmt: skip
_PREFIXES = frozenset({"sudo", "env", "time", "nice", "exec", "command", "npx", "bunx", "pnpx", "xvfb-run"})
# `make test`, `make check`, `make integration-test`, `make test_unit`, `make spec`
MAKE_TEST_GOAL = re.compile(r"(?:^|[-_:/])(?:tests?|check|spec)(?:$|[-_:])|^test")
_RUN_WRAPPERS = frozenset({"poetry", "uv", "pipenv", "pdm", "rye", "hatch", "conda", "bundle"})


def _tokens(segment: str) -> list[str]:
    try:
        return shlex.split(segment)
    except ValueError:  # an unbalanced quote in a CI snippet: words are still words
        return segment.split()


def _unwrap(tokens: list[str]) -> list[str]:
    """The command a line really runs: past env assignments, sudo, `poetry run`, `python -m` ..."""
    for _ in range(8):
        while tokens and _ASSIGNMENT.match(tokens[0]):
            tokens = tokens[1:]
        if not tokens:
            return tokens
        head = posixpath.basename(tokens[0])
        if head in _PREFIXES:
            tokens = [t for t in tokens[1:] if not t.startswith("-")] if head == "xvfb-run" else tokens[1:]
        elif head == "timeout" and len(tokens) > 2:
            tokens = tokens[2:]
        elif head in _RUN_WRAPPERS and len(tokens) > 2 and tokens[1] in ("run", "exec"):
            tokens = tokens[2:]
            while tokens and tokens[0].startswith("-"):  # `uv run --frozen`, `conda run -n env`
                tokens = (
                    tokens[2:]
                    if tokens[0] in ("-n", "-p", "--name", "--prefix", "-e", "--env")
                    else tokens[1:]
                )
        elif head == "coverage" and len(tokens) > 1 and tokens[1] == "run":
            tokens = [t for t in tokens[2:] if not t.startswith("--")]
            tokens = tokens[1:] if tokens[:1] == ["-m"] else tokens
        elif _PYTHON.match(head) and "-m" in tokens[1:3]:
            tokens = tokens[tokens.index("-m") + 1 :]
        else:
            return tokens
    return tokens


def _runs_tests(tokens: list[str]) -> bool:
    tokens = _unwrap(tokens)
    if not tokens:
        return False
    head = posixpath.basename(tokens[0])
    args = [t for t in tokens[1:] if not t.startswith("-")]
    first = args[0] if args else ""
    if head in _RUNNERS or (head in ("playwright", "cypress") and first in ("test", "run")):
        return True
    if head in _SUBCOMMAND_TEST:
        return first in ("test", "nextest")
    if head in ("npm", "yarn", "pnpm"):
        script = args[1] if first in ("run", "run-script") and len(args) > 1 else first
        return script in ("t", "tst") or script.startswith("test") or script in _RUNNERS
    if head in ("mvn", "mvnw", "./mvnw"):
        return any(a in ("test", "verify", "integration-test", "surefire:test") for a in args)
    if head in ("gradle", "gradlew"):
        return any(a in ("test", "check", "connectedCheck") or a.endswith(":test") for a in args)
    if head in ("make", "gmake", "$(MAKE)", "${MAKE}"):
        return any(MAKE_TEST_GOAL.search(a) for a in args if "=" not in a)
    if head in ("rake", "rails"):
        return first in ("test", "spec") or first.startswith(("test:", "spec:"))
    if _PYTHON.match(head) or head.endswith("manage.py"):
        return "manage.py" in " ".join(tokens[:2]) and "test" in args
    return False


def is_test_command(command: str) -> bool:
    """Whether a shell line runs a test suite (`pip install pytest` does not; `poetry run pytest` does)."""
    return any(_runs_tests(_tokens(segment)) for segment in _SEGMENT_SPLIT.split(command))


# --- GitHub Actions ---------------------------------------------------------------------------------
