"""`warmer mcp` through the official SDK's own client, over stdio and over streamable HTTP.

The repository is real code nobody here wrote: Flask's tutorial application (flaskr) from the
Flask 3.0.3 sdist, committed first without its tests, warmed (all seven connect artifacts, the
embedding model included), then its tests committed and pushed through the commit trigger. The
answers are checked against Python's `ast` and the files themselves.
"""

from __future__ import annotations

import ast
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError
from sqlalchemy import func, select

from tests.support.corpora import pypi_sdist
from tests.support.gitrepo import commit, git
from warmer.cache import hit_recorder
from warmer.ledger.db import Database
from warmer.ledger.models import CacheLookup

WARMER = str(Path(sys.executable).parent / "warmer")
TOOLS = {
    "repo_map", "find_symbol", "search_code", "tests_for_file", "list_routes",
    "module_dependencies", "file_summary", "recent_changes",
}  # fmt: skip
TOKEN = "s3cret-token"
HTTP_PORT = int(os.environ.get("WARMER_TEST_PORT_BASE", "18181")) + 640


@pytest.fixture(scope="module")
def flaskr(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The warmed repository, the environment every `warmer` process of these tests shares, and a
    second repository connected but never warmed (every lookup on it is a miss)."""
    root = tmp_path_factory.mktemp("mcp")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEPTRUSTS_CACHE_WARMER_")}
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "WARMER_ARTIFACT_MODULES", "WARMER_API_TOKEN"):
        env.pop(name, None)
    (root / "no-config.yaml").write_text("")  # every default, whatever config/ holds
    env |= {"WARMER_DATA_DIR": str(root / "data"), "WARMER_CONFIG": str(root / "no-config.yaml")}
    tutorial = pypi_sdist("flask", "3.0.3") / "examples" / "tutorial"
    repo = root / "flaskr"
    shutil.copytree(tutorial, repo, ignore=shutil.ignore_patterns("tests"))
    git(repo, "init", "--quiet", "-b", "main")
    commit(repo, "flaskr without its tests")
    warm = subprocess.run([WARMER, "warm", str(repo)], env=env, capture_output=True, text=True, timeout=600)
    assert warm.returncode == 0, warm.stderr + warm.stdout
    shutil.copytree(tutorial / "tests", repo / "tests")
    head = commit(repo, "flaskr's tests")
    pushed = subprocess.run([WARMER, "commit", "flaskr", "--now"], env=env, capture_output=True, text=True)
    assert pushed.returncode == 0, pushed.stderr + pushed.stdout
    bare = root / "unwarmed"
    bare.mkdir()
    git(bare, "init", "--quiet", "-b", "main")
    (bare / "main.py").write_text("print('hello')\n")
    commit(bare, "one file")
    connected = subprocess.run([WARMER, "connect", str(bare)], env=env, capture_output=True, text=True)
    assert connected.returncode == 0, connected.stderr
    return {"repo": repo, "env": env, "head": head, "ledger": root / "data" / "warmer.db"}


def lookups(flaskr: dict[str, Any], **where: Any) -> int:
    db = Database(f"sqlite:///{flaskr['ledger']}")
    try:
        with db.session() as session:
            query = select(func.count()).select_from(CacheLookup)
            for column, value in where.items():
                query = query.where(getattr(CacheLookup, column) == value)
            return session.execute(query).scalar_one()
    finally:
        db.dispose()


def eventually(count: Callable[[], int], expected: int, *, wait: float = 10.0) -> int:
    """`count()` once it reaches `expected` (the server writes hits in batches), or when time is up."""
    deadline = time.monotonic() + wait
    while (found := count()) != expected and time.monotonic() < deadline:
        time.sleep(hit_recorder.FLUSH_SECS / 5)
    return found


def stdio_client(flaskr: dict[str, Any]) -> Client:
    return Client(StdioServerParameters(command=WARMER, args=["mcp", "--repo", "flaskr"], env=flaskr["env"]))


def http_client(token: str) -> Client:
    from mcp.client.streamable_http import streamable_http_client

    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=120)
    return Client(streamable_http_client(f"http://127.0.0.1:{HTTP_PORT}/mcp", http_client=http))


@pytest.fixture(scope="module")
def http_server(flaskr: dict[str, Any]) -> Iterator[None]:
    args = [WARMER, "mcp", "--transport", "http", "--repo", "flaskr", "--port", str(HTTP_PORT)]
    process = subprocess.Popen(args, env={**flaskr["env"], "WARMER_API_TOKEN": TOKEN}, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", HTTP_PORT), timeout=1).close()
            break
        except OSError:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            assert time.monotonic() < deadline, "warmer mcp --transport http did not listen"
            time.sleep(0.2)
    yield
    process.terminate()
    process.wait(timeout=30)


def call(client: Client, tool: str, **arguments: Any) -> Any:
    return session(client, lambda c: c.call_tool(tool, arguments))


def _defs(path: Path) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.FunctionDef)}


def _route_line(path: Path, rule: str) -> int:
    """The line of the `@bp.route(rule, ...)` decorator, by Python's own parser."""
    for node in _defs(path).values():
        for decorator in node.decorator_list:
            if isinstance(decorator, ast.Call) and ast.literal_eval(decorator.args[0]) == rule:
                return decorator.lineno
    raise AssertionError(f"no route {rule} in {path}")


def _importers(repo: Path, module: str) -> set[str]:
    """Files whose `from X import` or `import X` names `module`, by Python's own parser."""
    found = set()
    for path in repo.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            if isinstance(node, ast.ImportFrom) and node.level:  # `from . import db`, `from .db import`
                package = ".".join(path.relative_to(repo).parent.parts)
                names = [
                    f"{package}.{node.module}" if node.module else f"{package}.{a.name}" for a in node.names
                ]
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if module in names:
                found.add(str(path.relative_to(repo)))
    return found


async def exercise_every_tool(client: Client, flaskr: dict[str, Any]) -> None:
    """List the tools and call each on the warmed repository; check the answers against the code."""
    repo: Path = flaskr["repo"]
    assert {tool.name for tool in (await client.list_tools()).tools} == TOOLS

    before = lookups(flaskr, task_type="bug_fix")
    found = await client.call_tool(
        "find_symbol", {"query": "login_required", "match": "exact", "task_type": "bug_fix"}
    )
    (symbol,) = found.structured_content["matches"]
    oracle = _defs(repo / "flaskr/auth.py")["login_required"]
    assert (symbol["file"], symbol["start_line"], symbol["end_line"]) == (
        "flaskr/auth.py", oracle.lineno, oracle.end_lineno,
    )  # fmt: skip
    assert (
        f"flaskr/auth.py:{oracle.lineno}-{oracle.end_lineno}  function login_required"
        in found.content[0].text
    )
    assert found.structured_content["hit"] and found.structured_content["commit"]
    # A fresh hit is written with the server's next batch (hit_recorder.FLUSH_SECS), a miss at once.
    hits = lambda: lookups(flaskr, task_type="bug_fix", artifact_type="symbol_index", hit=True)  # noqa: E731
    assert eventually(hits, before + 1) == before + 1

    small = await client.call_tool("repo_map", {"budget": 120})
    assert len(small.content[0].text) <= 120 * 4 and small.structured_content["truncated"]
    assert "more lines of the map" in small.content[0].text.splitlines()[-1]
    whole = await client.call_tool("repo_map", {"budget": 20_000})
    assert not whole.structured_content["truncated"] and "flaskr/db.py" in whole.content[0].text
    assert "\ntree:" in whole.content[0].text

    query = "register a new user with a username and password"
    searched = await client.call_tool("search_code", {"query": query, "k": 3})
    assert "flaskr/auth.py" in {m["path"] for m in searched.structured_content["matches"]}

    tests = (await client.call_tool("tests_for_file", {"path": "flaskr/db.py"})).structured_content
    assert "tests/test_db.py" in {link["test"] for link in tests["links"]} and tests["role"] == "source"

    listed = await client.call_tool("list_routes", {"method": "POST", "path_contains": "/auth"})
    routes = listed.structured_content["routes"]
    login = next(r for r in routes if r["path"] == "/auth/login")
    assert (login["file"], login["line"]) == (
        "flaskr/auth.py",
        _route_line(repo / "flaskr/auth.py", "/login"),
    )
    assert {r["method"] for r in routes} == {"POST"}

    deps = (await client.call_tool("module_dependencies", {"module": "flaskr.db"})).structured_content
    assert deps["module"] == "flaskr/db.py"
    assert set(deps["imported_by"]) == _importers(repo, "flaskr.db") and deps["imports"] == []
    assert {d["name"] for d in deps["declared_dependencies"]} >= {"flask"}

    summary = (await client.call_tool("file_summary", {"path": "flaskr/auth.py"})).structured_content
    assert summary["hit"] and summary["path"] == "flaskr/auth.py"
    assert {"name": "login_required", "kind": "function", "line": oracle.lineno} in summary["summary"][
        "main_symbols"
    ]

    change = (await client.call_tool("recent_changes", {})).structured_content["change"]
    assert change["commit"] == flaskr["head"] and change["subject"] == "flaskr's tests"
    assert change["changed_files"] == sorted(git(repo, "diff", "--name-only", "HEAD~1", "HEAD").split())

    resource = await client.read_resource("warmer://flaskr/file_summary/flaskr/db.py")
    assert '"path": "flaskr/db.py"' in resource.contents[0].text


def session(client: Client, work: Any) -> Any:
    """Run `work(client)` inside one connected session; what it raises is raised as it was (not
    wrapped in the session's task group)."""

    async def run() -> tuple[Any, BaseException | None]:
        async with client:
            try:
                return await work(client), None
            except (Exception, AssertionError) as exc:
                return None, exc

    value, error = anyio.run(run)
    if error is not None:
        raise error
    return value


def test_every_tool_over_stdio(flaskr: dict[str, Any]) -> None:
    session(stdio_client(flaskr), lambda client: exercise_every_tool(client, flaskr))


def test_every_tool_over_http_with_the_token(flaskr: dict[str, Any], http_server: None) -> None:
    session(http_client(TOKEN), lambda client: exercise_every_tool(client, flaskr))


def settled_lookups(flaskr: dict[str, Any]) -> int:
    """The lookup count once the HTTP server's batched hits (an earlier test's) are all written."""
    seen = lookups(flaskr)
    while True:
        time.sleep(3 * hit_recorder.FLUSH_SECS)
        now = lookups(flaskr)
        if now == seen:
            return now
        seen = now


def test_a_wrong_token_is_refused_and_nothing_is_recorded(flaskr: dict[str, Any], http_server: None) -> None:
    before = settled_lookups(flaskr)
    for headers in ({"Authorization": "Bearer wrong"}, {}):
        response = httpx2.post(
            f"http://127.0.0.1:{HTTP_PORT}/mcp", headers={**headers, "Accept": "application/json, text/event-stream"},
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                  "params": {"name": "repo_map", "arguments": {}}},
        )  # fmt: skip
        assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")
    with pytest.raises(ExceptionGroup) as refused:  # the SDK's client cannot even start a session
        call(http_client("wrong"), "repo_map")
    assert refused.group_contains(MCPError, match="error response", depth=None)
    assert settled_lookups(flaskr) == before


def test_a_miss_on_an_absent_artifact_is_recorded_with_the_task_type(flaskr: dict[str, Any]) -> None:
    before = lookups(flaskr, repo_name="unwarmed", hit=False, task_type="feature")
    answer = call(stdio_client(flaskr), "repo_map", repo="unwarmed", task_type="feature")
    assert not answer.is_error and answer.structured_content["hit"] is False
    assert answer.content[0].text.startswith("miss: no repo_map entry for unwarmed yet (recorded")
    assert lookups(flaskr, repo_name="unwarmed", hit=False, task_type="feature") == before + 1

    with pytest.raises(MCPError) as refused:
        session(stdio_client(flaskr), lambda client: client.read_resource("warmer://unwarmed/symbol_index"))
    assert refused.value.error.code == -32002 and "miss" in refused.value.error.message
    assert lookups(flaskr, repo_name="unwarmed", hit=False, artifact_type="symbol_index") == 1


@pytest.mark.parametrize(
    ("tool", "arguments", "says"),
    [
        ("find_symbol", {"query": "get_db", "budget": 1}, "budget"),
        ("find_symbol", {"query": "get_db", "limit": "many"}, "limit"),
        ("find_symbol", {"match": "exact"}, "query"),
        ("find_symbol", {"query": "get_db", "match": "regex"}, "match"),
        ("tests_for_file", {"path": "../../etc/passwd"}, "invalid path"),
        ("file_summary", {"path": "/etc/passwd"}, "invalid path"),
        ("repo_map", {"repo": "no-such-repo"}, "unknown repository"),
        ("recent_changes", {"task_type": "x" * 101}, "task_type"),
        ("no_such_tool", {}, "unknown tool"),
    ],
)
def test_bad_arguments_are_a_protocol_error_and_record_nothing(
    flaskr: dict[str, Any], tool: str, arguments: dict[str, Any], says: str
) -> None:
    before = lookups(flaskr)
    with pytest.raises(MCPError) as refused:
        call(stdio_client(flaskr), tool, **arguments)
    assert refused.value.error.code == -32602 and says in refused.value.error.message
    assert lookups(flaskr) == before
