"""API contracts in one file: OpenAPI/Swagger documents, GraphQL schemas and protobuf services.

OpenAPI is read with PyYAML's composer (JSON documents too: they are YAML), which keeps the line of
every node, so each operation points at its line. GraphQL and proto are small grammars; a scanner
over comment- and string-blanked text (same length, same newlines, so offsets are lines) is enough
for the root-type fields and `rpc` lines an inventory needs.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

OPENAPI_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _blank(text: str, pattern: re.Pattern[str]) -> str:
    """Replace each match with spaces, keeping newlines so offsets still map to lines."""
    return pattern.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _mapping(node: yaml.Node | None) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): v for k, v in node.value if isinstance(k, yaml.ScalarNode)}


def _scalar(node: yaml.Node | None) -> str | None:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else None


def openapi_contracts(text: str) -> list[dict[str, Any]] | None:
    """Operations of an OpenAPI 3 / Swagger 2 document; None when the file is not one.

    Raises yaml.YAMLError when a file that says `openapi`/`swagger` does not parse.
    """
    root = _mapping(yaml.compose(text, Loader=_Loader))
    version = _scalar(root.get("openapi")) or _scalar(root.get("swagger"))
    if version is None or "paths" not in root:
        return None
    kind_version = ("openapi" if "openapi" in root else "swagger") + " " + version
    contracts = []
    for path, item in _mapping(root["paths"]).items():
        pairs = item.value if isinstance(item, yaml.MappingNode) else []
        for key, operation in pairs:
            method = _scalar(key)
            if method not in OPENAPI_METHODS:
                continue
            assert method is not None
            fields = _mapping(operation)
            contracts.append(
                {
                    "kind": "openapi",
                    "spec": kind_version,
                    "method": method.upper(),
                    "path": path,
                    "operation_id": _scalar(fields.get("operationId")),
                    "summary": _scalar(fields.get("summary")),
                    "line": key.start_mark.line + 1,
                }
            )
    return contracts


_GQL_NOISE = re.compile(r'"""[\s\S]*?"""|"(?:[^"\\\n]|\\.)*"|#[^\n]*')
_GQL_SCHEMA = re.compile(r"\bschema\b[^{]*\{([^}]*)\}")
_GQL_ROOT_ENTRY = re.compile(r"\b(query|mutation|subscription)\s*:\s*(\w+)")
_GQL_TYPE = re.compile(r"\b(?:extend\s+)?type\s+(\w+)[^{]*\{")
_GQL_FIELD = re.compile(r"(\w+)\s*(\([^)]*\))?\s*:\s*([\w\[\]!]+)")


def _block_end(text: str, open_brace: int) -> int:
    depth = 0
    for index in range(open_brace, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    return len(text)


def graphql_contracts(text: str) -> list[dict[str, Any]]:
    """Fields of the Query, Mutation and Subscription root types (renamed by `schema {}` if so)."""
    clean = _blank(text, _GQL_NOISE)
    roots = {"Query": "query", "Mutation": "mutation", "Subscription": "subscription"}
    schema = _GQL_SCHEMA.search(clean)
    if schema:
        roots = {name: op for op, name in _GQL_ROOT_ENTRY.findall(schema.group(1))}
    contracts = []
    for match in _GQL_TYPE.finditer(clean):
        operation = roots.get(match.group(1))
        if operation is None:
            continue
        start, end = match.end(), _block_end(clean, match.end() - 1)
        position = start
        while True:
            field = _GQL_FIELD.search(clean, position, end)
            if field is None:
                break
            contracts.append(
                {
                    "kind": "graphql",
                    "operation": operation,
                    "type": match.group(1),
                    "name": field.group(1),
                    "arguments": " ".join(field.group(2).split()) if field.group(2) else None,
                    "returns": field.group(3),
                    "line": _line(clean, field.start()),
                }
            )
            position = field.end()
    return contracts


_PROTO_NOISE = re.compile(r"/\*[\s\S]*?\*/|//[^\n]*")
_PROTO_PACKAGE = re.compile(r"\bpackage\s+([\w.]+)\s*;")
_PROTO_SERVICE = re.compile(r"\bservice\s+(\w+)\s*\{")
_PROTO_RPC = re.compile(
    r"\brpc\s+(\w+)\s*\(\s*(stream\s+)?([\w.]+)\s*\)\s*returns\s*\(\s*(stream\s+)?([\w.]+)\s*\)"
)


def proto_contracts(text: str) -> list[dict[str, Any]]:
    """`rpc Name(Req) returns (Resp)` of every service, with the package-qualified service name."""
    clean = _blank(text, _PROTO_NOISE)
    package = _PROTO_PACKAGE.search(clean)
    prefix = package.group(1) + "." if package else ""
    contracts = []
    for service in _PROTO_SERVICE.finditer(clean):
        end = _block_end(clean, service.end() - 1)
        for rpc in _PROTO_RPC.finditer(clean, service.end(), end):
            contracts.append(
                {
                    "kind": "grpc",
                    "service": prefix + service.group(1),
                    "method": rpc.group(1),
                    "request": rpc.group(3),
                    "response": rpc.group(5),
                    "client_streaming": bool(rpc.group(2)),
                    "server_streaming": bool(rpc.group(4)),
                    "line": _line(clean, rpc.start()),
                }
            )
    return contracts
