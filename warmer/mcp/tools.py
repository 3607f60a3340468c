"""The tools an agent calls while coding, each one lookup through `warmer.cache.agent_api`.

Every call is a recorded hit or miss under the agent's task type (the argument, or the server's
`--task-type`), so the miss trigger warms what agents keep asking for and the console's Analytics
count agent traffic. Malformed arguments (the schema's, or the lookup layer's: a path escaping the
repository, an unknown repository) are answered with a JSON-RPC "invalid params" error and record
nothing; a miss is an ordinary answer that says what is missing and which job is warming it.

Tools run on the SDK's worker threads: the lookups are blocking database calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS, CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from warmer.cache import agent_api
from warmer.ledger.db import Database
from warmer.mcp import answers
from warmer.mcp import repo_map as repo_map_answer
from warmer.mcp.budget import DEFAULT_BUDGET, MAX_BUDGET, MIN_BUDGET
from warmer.settings import Settings

T = TypeVar("T")
MAX_PATH = 4096
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)

Repo = Annotated[
    str | None,
    Field(description="Repository name in warmer (default: the server's --repo).", max_length=200),
]
Budget = Annotated[
    int,
    Field(
        ge=MIN_BUDGET,
        le=MAX_BUDGET,
        description="Most tokens the answer may take (≈4 characters each); what does not fit is "
        "named in a last line.",
    ),
]
TaskType = Annotated[
    str | None,
    Field(
        description="What you are doing, e.g. bug_fix, feature, code_review, refactor, explain "
        "(counted so warmer pre-computes what agents keep missing; default: the server's).",
        max_length=100,
    ),
]
Path = Annotated[
    str,
    Field(description="A file's path relative to the repository root, e.g. src/app/models.py.", min_length=1),
]


@dataclass(frozen=True)
class Backend:
    """What the tools look things up in, and the defaults for arguments an agent leaves out."""

    db: Database
    settings: Settings
    repo: str | None
    task_type: str


def result(answer: answers.Answer) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=answer.text)], structured_content=answer.data
    )


def invalid(message: str) -> MCPError:
    return MCPError(code=INVALID_PARAMS, message=message)


class Lookups:
    """The tool bodies: resolve defaults, look up, shape; expected failures become protocol errors."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def repo(self, repo: str | None) -> str:
        chosen = repo or self.backend.repo
        if not chosen:
            raise invalid("`repo` is required: this server was started without --repo")
        return chosen

    @staticmethod
    def file(path: str) -> str:
        """A path the tool reads out of a whole-repository entry, held to the lookup layer's rule."""
        from warmer.git.snapshot import safe_path

        if len(path) > MAX_PATH or not safe_path(path):
            raise invalid(f"invalid path {path[:80]!r}: must be a relative path inside the repository")
        return path

    def task(self, task_type: str | None) -> str:
        return task_type or self.backend.task_type

    def run(self, work: Callable[[], answers.Answer]) -> CallToolResult:
        return result(self.guarded(work))

    @staticmethod
    def guarded(work: Callable[[], T]) -> T:
        """`work()`, with the lookup layer's refusals as protocol errors (nothing was recorded)."""
        from sqlalchemy.exc import OperationalError

        from warmer.cache.lookup import InvalidLookup
        from warmer.ledger.repositories import UnknownRepository

        try:
            return work()
        except (InvalidLookup, UnknownRepository) as exc:
            raise invalid(str(exc).strip("\"'")) from exc
        except OperationalError as exc:
            first = str(exc.orig).strip().splitlines()[0] if exc.orig else "unreachable"
            raise MCPError(
                code=INTERNAL_ERROR, message=f"the ledger database is unavailable: {first}"
            ) from exc

    def entry(self, repo: str | None, artifact: str, task_type: str | None, path: str = "") -> Any:
        b = self.backend
        return agent_api.get(b.db, self.repo(repo), artifact, task_type=self.task(task_type), path=path,
                             settings=b.settings)  # fmt: skip

    def answer_entry(
        self,
        repo: str | None,
        artifact: str,
        task_type: str | None,
        shape: Callable[[Any], answers.Answer],
        path: str = "",
    ) -> CallToolResult:
        def work() -> answers.Answer:
            found = self.entry(repo, artifact, task_type, path)
            return shape(found) if found.hit else answers.miss(found, path)

        return self.run(work)


def register(server: MCPServer, backend: Backend) -> None:
    """Add warmer's tools to `server`."""
    look = Lookups(backend)

    @server.tool(annotations=READ_ONLY)
    def repo_map(
        repo: Repo = None, budget: Budget = DEFAULT_BUDGET, task_type: TaskType = None
    ) -> CallToolResult:
        """The repository's map for orienting yourself: size and languages, its most important files
        ranked by how much the rest of the code refers to them, their key definitions with signatures,
        then the directory tree, as much as fits `budget` tokens."""
        return look.answer_entry(repo, "repo_map", task_type, lambda r: repo_map_answer.answer(r, budget))

    @server.tool(annotations=READ_ONLY)
    def find_symbol(
        query: Annotated[
            str,
            Field(
                min_length=1,
                max_length=agent_api.MAX_SYMBOL_QUERY,
                description="A name (`login`, `Blueprint.route` narrows to a class) or part of one.",
            ),
        ],
        match: Annotated[
            Literal["exact", "prefix", "fuzzy"],
            Field(
                description="exact: that name; prefix: names starting with it; fuzzy: close names and typos."
            ),
        ] = "fuzzy",
        limit: Annotated[int, Field(ge=1, le=200, description="Most matches to return.")] = 20,
        repo: Repo = None,
        budget: Budget = DEFAULT_BUDGET,
        task_type: TaskType = None,
    ) -> CallToolResult:
        """Where functions, classes, methods and constants are defined: file and line range, kind,
        signature, parent class and first doc line, from the cached symbol index."""

        def work() -> answers.Answer:
            b = backend
            found = agent_api.symbols(b.db, look.repo(repo), query, mode=match, limit=limit,
                                      task_type=look.task(task_type), settings=b.settings)  # fmt: skip
            if not found.lookup.hit:
                return answers.miss(found.lookup)
            return answers.symbols(found, query, match, budget)

        return look.run(work)

    @server.tool(annotations=READ_ONLY)
    def search_code(
        query: Annotated[
            str,
            Field(
                min_length=1,
                max_length=agent_api.MAX_SEARCH_QUERY,
                description="What the code does, in words: `where passwords are checked`.",
            ),
        ],
        k: Annotated[int, Field(ge=1, le=agent_api.MAX_SEARCH_K, description="How many chunks.")] = 10,
        repo: Repo = None,
        budget: Budget = DEFAULT_BUDGET,
        task_type: TaskType = None,
    ) -> CallToolResult:
        """Semantic search: the code chunks (file:lines, enclosing symbol) closest in meaning to a
        description, from the cached embedding index. Use find_symbol when you know a name."""

        def work() -> answers.Answer:
            b = backend
            found = agent_api.search(b.db, look.repo(repo), query, k=k, task_type=look.task(task_type),
                                     settings=b.settings)  # fmt: skip
            return answers.search(found, query, budget) if found.lookup.hit else answers.miss(found.lookup)

        return look.run(work)

    @server.tool(annotations=READ_ONLY)
    def tests_for_file(
        path: Path, repo: Repo = None, budget: Budget = DEFAULT_BUDGET, task_type: TaskType = None
    ) -> CallToolResult:
        """The test files that exercise a source file, each with why (naming convention, imports),
        or, for a test file, the sources it tests. Run these after changing the file."""
        look.file(path)
        return look.answer_entry(repo, "test_map", task_type, lambda r: answers.tests_for(r, path, budget))

    @server.tool(annotations=READ_ONLY)
    def list_routes(
        method: Annotated[
            str | None, Field(description="Only this HTTP method, e.g. POST.", max_length=10)
        ] = None,
        path_contains: Annotated[
            str | None, Field(description="Only routes whose path contains this, e.g. /auth.", max_length=200)
        ] = None,
        repo: Repo = None,
        budget: Budget = DEFAULT_BUDGET,
        task_type: TaskType = None,
    ) -> CallToolResult:
        """The HTTP routes the code declares (Flask, FastAPI, Django, Express, Spring, Go …): method,
        path, handler, file:line and framework."""
        return look.answer_entry(repo, "api_inventory", task_type,
                                 lambda r: answers.routes(r, method, path_contains, budget))  # fmt: skip

    @server.tool(annotations=READ_ONLY)
    def module_dependencies(
        module: Annotated[
            str,
            Field(
                min_length=1,
                max_length=4096,
                description="A file path (flaskr/db.py) or a dotted module (flaskr.db).",
            ),
        ],
        repo: Repo = None,
        budget: Budget = DEFAULT_BUDGET,
        task_type: TaskType = None,
    ) -> CallToolResult:
        """What a module imports from the repository and which modules import it (who breaks if it
        changes), plus the packages the repository's manifests declare."""
        look.file(module)
        return look.answer_entry(repo, "dependency_graph", task_type,
                                 lambda r: answers.dependencies(r, module, budget))  # fmt: skip

    @server.tool(annotations=READ_ONLY)
    def file_summary(
        path: Path, repo: Repo = None, budget: Budget = DEFAULT_BUDGET, task_type: TaskType = None
    ) -> CallToolResult:
        """What a file is for, its role (library, test, entry point, config …) and its main symbols
        with their lines, without reading the whole file."""
        return look.answer_entry(repo, "file_summary", task_type,
                                 lambda r: answers.file_summary(r, path, budget), path=path)  # fmt: skip

    @server.tool(annotations=READ_ONLY)
    def recent_changes(
        repo: Repo = None, budget: Budget = DEFAULT_BUDGET, task_type: TaskType = None
    ) -> CallToolResult:
        """What the last commit on the tracked branch changed: message, author, files with lines
        added/removed, symbols added/removed/changed, the tests affected, manifest changes."""
        return look.answer_entry(repo, "recent_change_summary", task_type,
                                 lambda r: answers.recent_changes(r, budget))  # fmt: skip
