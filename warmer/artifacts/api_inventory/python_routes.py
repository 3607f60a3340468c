"""HTTP routes declared in one Python file: Flask, FastAPI and Django, read with Python's `ast`.

`ast` is exact and fast, and needs no grammar. What is found:

* Flask: `@x.route("/p", methods=[...])` (GET when no methods), `@x.get/post/...("/p")`,
  `x.add_url_rule("/p", endpoint, view_func, methods=[...])`; a `Blueprint(..., url_prefix="/a")`
  assigned in the same file prefixes the routes declared on it.
* FastAPI: `@x.get/post/put/patch/delete/options/head/trace("/p")`, `@x.api_route("/p", methods=[...])`,
  `@x.websocket("/p")`; an `APIRouter(prefix="/a")` assigned in the same file prefixes its routes.
* Django: `path("p/", view)`, `re_path(r"^p$", view)` and the old `url(...)`, with `include("mod.urls")`
  recorded as `include` (the reduce joins prefixes across files when the included module is present).

Prefixes given when a router is mounted elsewhere (`include_router(r, prefix=...)`,
`register_blueprint(bp, url_prefix=...)`) are not followed: routes keep the path declared here.
"""

from __future__ import annotations

import ast
from typing import Any

HTTP_VERBS = ("get", "post", "put", "patch", "delete", "options", "head", "trace")
_DJANGO_CALLS = frozenset({"path", "re_path", "url"})
_FRAMEWORKS = ("fastapi", "flask", "django")


def _imports(tree: ast.Module) -> set[str]:
    """Top-level package names the file imports (`flask`, `fastapi`, `django` ...)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


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


def _receiver(func: ast.AST) -> tuple[str, str] | None:
    """(`app`, `route`) for `app.route`; the receiver may be a dotted name (`self.app`)."""
    if not isinstance(func, ast.Attribute):
        return None
    try:
        return ast.unparse(func.value), func.attr
    except (ValueError, TypeError):
        return None


def _prefixes(tree: ast.Module) -> dict[str, str]:
    """Names bound to `Blueprint(..., url_prefix=...)` or `APIRouter(prefix=...)` in this file."""
    prefixes: dict[str, str] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Call)):
            continue
        call = node.value
        callee = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", None)
        prefix = None
        if callee == "Blueprint":
            prefix = _string(_keyword(call, "url_prefix"))
        elif callee == "APIRouter":
            prefix = _string(_keyword(call, "prefix"))
        if prefix is None:
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if isinstance(target, ast.Name):
                prefixes[target.id] = prefix
    return prefixes


def _join(prefix: str, path: str) -> str:
    if not prefix:
        return path
    return prefix.rstrip("/") + ("/" + path.lstrip("/") if path else "")


def _route(method: str | None, path: str, handler: str | None, framework: str, line: int) -> dict[str, Any]:
    return {"method": method, "path": path, "handler": handler, "framework": framework, "line": line}


def _decorated(
    tree: ast.Module, framework: str, prefixes: dict[str, str], handlers: dict[int, str]
) -> list[dict[str, Any]]:
    """Routes declared by decorators on functions and methods."""
    routes: list[dict[str, Any]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for decorator in node.decorator_list:
            if not isinstance(decorator, ast.Call):
                continue
            found = _receiver(decorator.func)
            if found is None:
                continue
            receiver, attr = found
            path = _string(decorator.args[0]) if decorator.args else _string(_keyword(decorator, "path"))
            if path is None and framework == "flask":
                path = _string(_keyword(decorator, "rule"))
            if path is None:
                continue
            methods: list[str] | None
            if attr in HTTP_VERBS:
                methods = [attr.upper()]
            elif (attr, framework) in (("route", "flask"), ("api_route", "fastapi")):
                methods = _strings(_keyword(decorator, "methods")) or ["GET"]
            elif attr == "websocket":
                methods = ["WEBSOCKET"]
            else:
                continue
            full = _join(prefixes.get(receiver, ""), path)
            for method in methods:
                routes.append(_route(method, full, handlers[id(node)], framework, decorator.lineno))
    return routes


def _url_rules(tree: ast.Module, prefixes: dict[str, str]) -> list[dict[str, Any]]:
    """Flask `add_url_rule(rule, endpoint=None, view_func=None, methods=...)` calls."""
    routes: list[dict[str, Any]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        found = _receiver(node.func)
        if found is None or found[1] != "add_url_rule":
            continue
        path = _string(node.args[0]) if node.args else _string(_keyword(node, "rule"))
        if path is None:
            continue
        view = node.args[2] if len(node.args) > 2 else _keyword(node, "view_func")
        handler = ast.unparse(view) if view is not None else None
        methods = _strings(_keyword(node, "methods")) or ["GET"]
        full = _join(prefixes.get(found[0], ""), path)
        routes.extend(_route(m, full, handler, "flask", node.lineno) for m in methods)
    return routes


def _django(tree: ast.Module) -> list[dict[str, Any]]:
    """`path()`/`re_path()`/`url()` calls whose first argument is a literal route."""
    routes: list[dict[str, Any]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or len(node.args) < 2:
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in _DJANGO_CALLS:
            continue
        path = _string(node.args[0])
        if path is None:
            continue
        view = node.args[1]
        route = _route(None, path, None, "django", node.lineno)
        route["regex"] = name != "path"
        if (
            isinstance(view, ast.Call)
            and isinstance(view.func, ast.Name)
            and view.func.id == "include"
            and view.args
        ):
            target = view.args[0]
            if isinstance(target, ast.Tuple) and target.elts:  # include((patterns, app_name))
                target = target.elts[0]
            route["include"] = _string(target) or ast.unparse(target)
        else:
            route["handler"] = ast.unparse(view)
        routes.append(route)
    return routes


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


def python_routes(text: str) -> list[dict[str, Any]]:
    """Every route of one Python source; raises SyntaxError when a file naming a framework does not parse."""
    if not any(framework in text for framework in _FRAMEWORKS):
        return []  # most files cannot import a web framework: no parse, no tree walks
    tree = ast.parse(text)
    imported = _imports(tree)
    if not imported & set(_FRAMEWORKS):
        return []
    routes: list[dict[str, Any]] = []
    handlers = _qualified_names(tree)
    prefixes = _prefixes(tree)
    if "fastapi" in imported:
        routes += _decorated(tree, "fastapi", prefixes, handlers)
    elif "flask" in imported:
        routes += _decorated(tree, "flask", prefixes, handlers)
        routes += _url_rules(tree, prefixes)
    if "django" in imported:
        routes += _django(tree)
    return sorted(routes, key=lambda r: (r["line"], r["path"], r["method"] or ""))
