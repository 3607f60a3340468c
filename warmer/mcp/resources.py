"""Every artifact as an MCP resource: the whole cache entry as JSON, one recorded lookup per read.

    warmer://{repo}/{artifact_type}            the whole-repository entry (repo_map, symbol_index …)
    warmer://{repo}/{artifact_type}/{+path}    a per-file entry (file_summary of one file …)

Reads use the server's task type. A miss is the protocol's "resource not found" error (-32002),
with the job warming it in the error's data; a malformed URI is "invalid params".
"""

from __future__ import annotations

import json

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.resources import FunctionResource
from mcp.shared.exceptions import MCPError

from warmer.cache.lookup import known_artifact_types
from warmer.mcp.tools import Backend, Lookups

RESOURCE_NOT_FOUND = -32002  # the MCP specification's code for a resource that does not exist
MIME = "application/json"


def register(server: MCPServer, backend: Backend) -> None:
    look = Lookups(backend)

    def read(repo: str, artifact_type: str, path: str = "") -> str:
        def work() -> str:
            found = look.entry(repo, artifact_type, None, path)
            if not found.hit:
                where = f"{found.repo}{' ' + path if path else ''}"
                raise MCPError(
                    code=RESOURCE_NOT_FOUND,
                    message=f"miss: no {artifact_type} entry for {where} yet (recorded)",
                    data={"hit": False, "warming_job": found.warming_job},
                )
            return json.dumps(found.as_json(), sort_keys=True)

        return look.guarded(work)

    @server.resource(
        "warmer://{repo}/{artifact_type}", name="artifact", mime_type=MIME,
        description="A repository's whole cache entry of one artifact type, as JSON.",
    )  # fmt: skip
    def artifact(repo: str, artifact_type: str) -> str:
        return read(repo, artifact_type)

    @server.resource(
        "warmer://{repo}/{artifact_type}/{+path}", name="file artifact", mime_type=MIME,
        description="The cache entry of one file (e.g. file_summary), as JSON.",
    )  # fmt: skip
    def file_artifact(repo: str, artifact_type: str, path: str) -> str:
        return read(repo, artifact_type, path)

    if backend.repo:  # a server for one repository lists its artifacts by name
        for artifact_type in sorted(known_artifact_types()):
            server.add_resource(
                FunctionResource(
                    uri=f"warmer://{backend.repo}/{artifact_type}",
                    name=f"{backend.repo} {artifact_type}",
                    description=f"{backend.repo}'s {artifact_type} entry, as JSON.",
                    mime_type=MIME,
                    fn=lambda artifact_type=artifact_type: read(backend.repo or "", artifact_type),
                )
            )
