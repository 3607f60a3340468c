"""`warmer mcp`: warmer's cache as a Model Context Protocol server, on the official SDK.

Agents launch it over stdio (Claude Code, Cursor, Continue do) or reach it over streamable HTTP,
where it asks for the bearer token `warmer serve` asks for (`--token` / WARMER_API_TOKEN).

Arguments that do not fit a tool's schema are answered as the 2025-06-18 specification reads
("invalid arguments" is a protocol error): a JSON-RPC -32602 error naming each bad field, before
anything is looked up or recorded. The SDK alone would answer them as a tool result with isError.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from pydantic import ValidationError

from warmer.mcp import resources, tools
from warmer.mcp.tools import Backend

MCP_PATH = "/mcp"

INSTRUCTIONS = """\
warmer holds pre-computed facts about {what}: its map, symbols, tests, routes, imports, file \
summaries, semantic search and the last commit's changes, each built at a commit of the tracked \
branch. Start with repo_map to orient yourself; use find_symbol for names, search_code for \
behaviour described in words, tests_for_file before and after editing a file. Pass task_type (what \
you are doing) so warmer pre-computes what agents keep missing. Answers fit `budget` tokens and \
say what they left out. An answer marked STALE was built before the branch head."""


class WarmerMCPServer(MCPServer):
    """MCPServer whose malformed tool calls are protocol errors, not tool results."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        if name not in {tool.name for tool in await self.list_tools()}:
            raise MCPError(code=INVALID_PARAMS, message=f"unknown tool {name!r}")
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                problems = [
                    {"field": ".".join(str(p) for p in error["loc"]) or "(arguments)", "error": error["msg"]}
                    for error in exc.__cause__.errors()
                ]
                text = "; ".join(f"{p['field']}: {p['error']}" for p in problems)
                raise MCPError(code=INVALID_PARAMS, message=f"invalid arguments for {name}: {text}",
                               data=problems) from exc  # fmt: skip
            raise


def build(backend: Backend) -> WarmerMCPServer:
    from importlib.metadata import version

    what = f"the repository {backend.repo!r}" if backend.repo else "the repositories connected to it"
    server = WarmerMCPServer(
        "warmer",
        title="warmer engineering cache",
        version=version("warmer"),
        instructions=INSTRUCTIONS.format(what=what),
        log_level="WARNING",
    )
    tools.register(server, backend)
    resources.register(server, backend)
    return server


class BearerToken:
    """ASGI middleware: every HTTP request must carry `Authorization: Bearer <token>`."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self.expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            offered = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(offered, self.expected):
                body = json.dumps({"error": "missing or wrong bearer token"}).encode()
                headers = [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Bearer realm="warmer"'),
                    (b"content-length", str(len(body)).encode()),
                ]
                await send({"type": "http.response.start", "status": 401, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def run_stdio(backend: Backend) -> None:
    build(backend).run("stdio")


def http_app(backend: Backend, token: str | None, host: str) -> Any:
    app = build(backend).streamable_http_app(streamable_http_path=MCP_PATH, host=host)
    return BearerToken(app, token) if token else app


def run_http(backend: Backend, host: str, port: int, token: str | None) -> None:
    import uvicorn

    uvicorn.run(http_app(backend, token, host), host=host, port=port, log_level="warning", lifespan="on")
