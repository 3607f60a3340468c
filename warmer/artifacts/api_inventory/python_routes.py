"""Facts about HTTP routes in one Python file: Flask, FastAPI, Flask-RESTful (and Django, see
`django_routes.py`), read with Python's `ast`.

Recorded per file, joined per commit by `compose.py`:

* routes: `@x.route("/p", methods=[...])` (GET when no methods), `@x.get/post/...("/p")`,
  `x.add_url_rule("/p", endpoint, view_func, methods=[...])`, FastAPI `@x.api_route`/`@x.websocket`,
  Flask-RESTful `api.add_resource(Resource, "/p", ...)` (methods from the resource class), each
  on the router it names (`x`);
* routers: `Blueprint(..., url_prefix=...)`, `APIRouter(prefix=...)`, `Flask()`, `FastAPI()`,
  `Api(bp, prefix=...)` with their own prefix and framework;
* mounts: `register_blueprint(bp, url_prefix=...)` (a prefix given here replaces the blueprint's
  own, as in Flask), `include_router(r, prefix=...)` (added before the router's own, as in FastAPI),
  and `Api(bp)`;
* imports, so a module that registers routes on a blueprint imported from elsewhere, and never
  names Flask itself, is joined to that blueprint.

A decorator on a name this file neither defines as a router nor imports is not a route.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from warmer.artifacts.api_inventory.django_routes import django_facts
from warmer.artifacts.api_inventory.python_views import view_facts

HTTP_VERBS = ("get", "post", "put", "patch", "delete", "options", "head", "trace")
_ROUTER_CALLS = {
    "Flask": ("flask", None),
    "Blueprint": ("flask", "url_prefix"),
    "FastAPI": ("fastapi", None),
    "APIRouter": ("fastapi", "prefix"),
    "Api": ("flask", "prefix"),  # Flask-RESTful / Flask-RESTX
}
_MOUNTS = {"register_blueprint": ("url_prefix", True), "include_router": ("prefix", False)}


def _string(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _strings(node: ast.AST | None) -> list[str] | None:
    """The literal strings of a list/tuple/set (`methods=["GET", "POST"]`), or None if not literal."""
    if not isinstance(node, ast.List | ast.Tuple | ast.Set):
        return None
    values = [_string(element) for element in node.elts]
    return None if any(v is None for v in values) else [v.upper() for v in values if v is not None]


def _name(node: ast.AST) -> str | None:
    """`app`, `self.app`, `api.v1.router` for a Name/Attribute chain; None for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _name(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _callee(call: ast.Call) -> str | None:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def imports(tree: ast.Module) -> dict[str, dict[str, Any]]:
    """Local name → what it imports (`{"module": "pkg.api", "name": "bp", "level": 0}`), anywhere in
    the file (imports inside functions bind routers too)."""
    found: dict[str, dict[str, Any]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    found[alias.asname] = {"module": alias.name, "name": None, "level": 0}
                else:
                    head = alias.name.split(".")[0]
                    found.setdefault(head, {"module": head, "name": None, "level": 0})
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name != "*":
                    found[alias.asname or alias.name] = {
                        "module": node.module or "",
                        "name": alias.name,
                        "level": node.level,
                    }
    return found


def _frameworks(imported: dict[str, dict[str, Any]]) -> set[str]:
    roots = {(i["module"] or "").split(".")[0] for i in imported.values() if not i.get("level")}
    found = {f for f in ("flask", "fastapi") if f in roots}
    if {"flask_restful", "flask_restx", "flask_smorest"} & roots:
        found.add("flask")
    if "starlette" in roots:
        found.add("fastapi")
    return found


def _route(
    method: str | None, path: str, handler: str | None, framework: str | None, line: int
) -> dict[str, Any]:
    return {"method": method, "path": path, "handler": handler, "framework": framework, "line": line}


def _prefix(call: ast.Call, keyword: str | None) -> tuple[str | None, str | None]:
    """(literal prefix, source text of a prefix that is not a literal)."""
    node = _keyword(call, keyword) if keyword else None
    if node is None:
        return None, None
    literal = _string(node)
    return (literal, None) if literal is not None else (None, ast.unparse(node))


class _Collector:
    def __init__(self, tree: ast.Module, frameworks: set[str]) -> None:
        self.tree = tree
        self.default = next(iter(frameworks)) if len(frameworks) == 1 else None
        self.routes: list[dict[str, Any]] = []
        self.routers: dict[str, dict[str, Any]] = {}
        self.mounts: list[dict[str, Any]] = []
        self.handlers = _qualified_names(tree)

    def run(self) -> None:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Call):
                self._router(node, node.value)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self._decorators(node)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                self._call(node)

    def _router(self, node: ast.Assign | ast.AnnAssign, call: ast.Call) -> None:
        callee = _callee(call)
        if callee not in _ROUTER_CALLS:
            return
        framework, keyword = _ROUTER_CALLS[callee]
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        prefix, dynamic = _prefix(call, keyword)
        for target in targets:
            name = _name(target)
            if name is None:
                continue
            self.routers[name] = {"prefix": prefix or "", "framework": framework}
            if dynamic:
                self.routers[name]["dynamic"] = dynamic
            if callee == "Api" and call.args:  # Api(bp): its resources are served under bp
                parent = _name(call.args[0])
                if parent:
                    self.mounts.append({"parent": parent, "child": name, "prefix": "", "line": call.lineno})

    def _decorators(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in function.decorator_list:
            if not isinstance(decorator, ast.Call) or not isinstance(decorator.func, ast.Attribute):
                continue
            receiver, attr = _name(decorator.func.value), decorator.func.attr
            if receiver is None:
                continue
            path = _string(decorator.args[0]) if decorator.args else None
            if path is None:
                path = _string(_keyword(decorator, "path")) or _string(_keyword(decorator, "rule"))
            # Flask and Starlette refuse a rule without a leading slash (FastAPI allows "" under a
            # prefix): `@mock.patch("pkg.mod.name")` is a test double, not a PATCH route.
            if path is None or (path and not path.startswith("/")):
                continue
            framework = self.default
            if attr in HTTP_VERBS:
                methods = [attr.upper()]
            elif attr in ("route", "api_route"):
                methods = _strings(_keyword(decorator, "methods")) or ["GET"]
                framework = framework or ("flask" if attr == "route" else "fastapi")
            elif attr in ("websocket", "websocket_route"):
                methods = ["WEBSOCKET"]
            else:
                continue
            for method in methods:
                route = _route(method, path, self.handlers[id(function)], framework, decorator.lineno)
                route["router"] = receiver
                self.routes.append(route)

    def _call(self, call: ast.Call) -> None:
        assert isinstance(call.func, ast.Attribute)
        receiver, attr = _name(call.func.value), call.func.attr
        if receiver is None:
            return
        if attr in _MOUNTS and call.args:
            keyword, replace = _MOUNTS[attr]
            child = _name(call.args[0])
            prefix, dynamic = _prefix(call, keyword)
            if child:
                mount = {"parent": receiver, "child": child, "prefix": prefix or "", "line": call.lineno}
                if replace and (prefix is not None or dynamic):
                    mount["replace"] = True
                if dynamic:
                    mount["dynamic"] = dynamic
                self.mounts.append(mount)
        elif attr == "add_url_rule":
            path = _string(call.args[0]) if call.args else _string(_keyword(call, "rule"))
            if path is None:
                return
            view = call.args[2] if len(call.args) > 2 else _keyword(call, "view_func")
            handler = ast.unparse(view) if view is not None else None
            for method in _strings(_keyword(call, "methods")) or ["GET"]:
                route = _route(method, path, handler, "flask", call.lineno)
                route["router"] = receiver
                self.routes.append(route)
        elif attr == "add_resource" and call.args:
            resource = _name(call.args[0])
            for argument in call.args[1:]:
                path = _string(argument)
                if path is None or resource is None:
                    continue
                route = _route(None, path, resource, "flask", call.lineno)
                route.update(router=receiver, view=resource)
                self.routes.append(route)


def _qualified_names(tree: ast.Module) -> dict[int, str]:
    """`Class.method` or `function` for every def, keyed by node id."""
    names: dict[int, str] = {}

    def visit(node: ast.AST, owner: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                qualified = f"{owner}.{child.name}" if owner else child.name
                if not isinstance(child, ast.ClassDef):
                    names[id(child)] = qualified
                visit(child, qualified)
            else:
                visit(child, owner)

    visit(tree, "")
    return names


_FROM_IMPORT = re.compile(r"^from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]+)", re.MULTILINE)


def reexports(text: str) -> dict[str, Any]:
    """The `from x import a as b` bindings of a file that declares nothing: what a package's
    `__init__.py` re-exports (`from .resources import api`), read without a parse."""
    found: dict[str, dict[str, Any]] = {}
    for dots, module, names in _FROM_IMPORT.findall(text):
        for item in names.strip("()").replace("\\", " ").split(","):
            parts = item.split("#")[0].split()
            if not parts or parts[0] == "*":
                continue
            local = parts[2] if len(parts) == 3 and parts[1] == "as" else parts[0]
            found[local] = {"module": module, "name": parts[0], "level": len(dots)}
    return {"imports": found} if found else {}


def python_facts(text: str, declares: bool = True) -> dict[str, Any]:
    """Routes, routers, mounts, imports and views of one Python source (only its re-exports when
    the caller found no sign of a route in it: `declares=False`).

    Raises SyntaxError when a file that may declare routes does not parse.
    """
    if not declares:
        return reexports(text)
    tree = ast.parse(text)
    imported = imports(tree)
    collector = _Collector(tree, _frameworks(imported))
    collector.run()
    facts: dict[str, Any] = {}
    django = django_facts(tree, imported)
    routes = collector.routes + django.pop("routes", [])
    if routes:
        facts["routes"] = sorted(routes, key=lambda r: (r["line"], r["path"], r["method"] or ""))
    routers = {**collector.routers, **django.pop("routers", {})}
    if routers:
        facts["routers"] = routers
    mounts = collector.mounts + django.pop("mounts", [])
    if mounts:
        facts["mounts"] = mounts
    views = view_facts(tree)
    if views:
        facts["views"] = views
    if facts:
        facts["imports"] = imported
    return facts
