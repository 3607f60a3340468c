"""Facts about Django URL configuration in one file: `path()`/`re_path()`/`url()`, `include()`,
and Django REST framework routers.

Every pattern belongs to the list it is written in (`urlpatterns`, or `extra = [...]` that another
pattern includes), so inline `include([...])` lists, `urlpatterns += other` and
`include(router.urls)` are mounts like any other framework's. A view is recorded as a reference
(`staff.view_ticket`, `ArchiveView` for `ArchiveView.as_view()`, the view inside a wrapper such as
`login_required(View.as_view())`): the reduce reads its methods (see `python_views.py`).
`router.register("tickets", TicketViewSet)` is one fact the reduce expands into the list and
detail routes the ViewSet's actions serve.

Paths compose by concatenation, as Django does, and are written as one template at the end:
`^api/` + `^tickets/(?P<pk>[^/.]+)/$` is served as `/api/tickets/{pk}/`.
"""

from __future__ import annotations

import ast
import re
from typing import Any

_PATTERN_CALLS = frozenset({"path", "re_path", "url"})
_DRF_ROUTERS = frozenset({"DefaultRouter", "SimpleRouter", "ExtendedDefaultRouter", "NestedSimpleRouter"})
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")
_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)")


def _string(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _name(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _callee(node: ast.AST) -> str | None:
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def view_reference(node: ast.AST) -> str | None:
    """The view a pattern serves, through `.as_view(...)` and wrappers like `login_required(...)`."""
    for _ in range(8):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and node.func.attr == "as_view":
                return _name(node.func.value)
            if not node.args:
                return None
            node = node.args[0]
        else:
            return _name(node)
    return None


def django_template(path: str) -> str:
    """One path template for a composed Django pattern: converters and named groups as `{name}`,
    anchors dropped, escapes undone, an optional trailing slash written as `/`."""
    text = _NAMED_GROUP.sub(r"{\1}", path)
    text = _CONVERTER.sub(r"{\1}", text)
    text = text.replace("^", "").replace("$", "").replace("/?", "/")
    text = re.sub(r"\\(.)", r"\1", text)
    text = "/" + text.lstrip("/")
    return re.sub(r"/{2,}", "/", text)


class _Collector:
    def __init__(self) -> None:
        self.routes: list[dict[str, Any]] = []
        self.routers: dict[str, dict[str, Any]] = {}
        self.mounts: list[dict[str, Any]] = []

    def statements(self, body: list[ast.stmt]) -> None:
        for statement in body:
            if (
                isinstance(statement, ast.Assign | ast.AugAssign | ast.AnnAssign)
                and statement.value is not None
            ):
                targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                names = [n for n in (_name(t) for t in targets) if n]
                owner = names[0] if names else "urlpatterns"
                self.value(statement.value, owner, direct=True)
                if isinstance(statement.value, ast.Call) and _callee(statement.value) in _DRF_ROUTERS:
                    self._router(owner, statement.value)
            elif isinstance(statement, ast.Expr):
                self.value(statement.value, "urlpatterns")
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(statement, field, None)
                if isinstance(inner, list) and not isinstance(statement, ast.FunctionDef | ast.ClassDef):
                    self.statements(
                        [s for s in inner if isinstance(s, ast.stmt)]
                        + [s for h in inner if isinstance(h, ast.ExceptHandler) for s in h.body]
                    )

    def _router(self, name: str, call: ast.Call) -> None:
        slash = next((k.value for k in call.keywords if k.arg == "trailing_slash"), None)
        trailing = "/" if slash is None or (isinstance(slash, ast.Constant) and slash.value is True) else ""
        if isinstance(slash, ast.Constant) and isinstance(slash.value, str):
            trailing = slash.value
        self.routers[name] = {
            "framework": "django",
            "drf": _callee(call),
            "trailing_slash": trailing,
            "line": call.lineno,
        }

    def value(self, node: ast.AST, owner: str, direct: bool = False) -> None:
        """Patterns inside an expression belong to `owner`; a name assigned or added to a pattern
        list (`urlpatterns += router.urls`, `urlpatterns = base + extra`) is a mount (`direct`)."""
        if isinstance(node, ast.List | ast.Tuple):
            for element in node.elts:
                self.value(element, owner)
        elif isinstance(node, ast.BinOp):
            self.value(node.left, owner, direct)
            self.value(node.right, owner, direct)
        elif (
            direct
            and isinstance(node, ast.Name | ast.Attribute)
            and (owner == "urlpatterns" or (isinstance(node, ast.Attribute) and node.attr == "urls"))
        ):
            child = _name(node)
            if child:
                child = child.removesuffix(".urls")
                self.mounts.append({"parent": owner, "child": child, "prefix": "", "line": node.lineno})
        elif isinstance(node, ast.Call):
            self.call(node, owner)

    def call(self, node: ast.Call, owner: str) -> None:
        callee = _callee(node)
        if callee == "register" and isinstance(node.func, ast.Attribute) and len(node.args) >= 2:
            prefix, router = _string(node.args[0]), _name(node.func.value)
            viewset = _name(node.args[1])
            if prefix is not None and router and viewset:
                self.routes.append(
                    {
                        "method": None,
                        "path": prefix,
                        "handler": viewset,
                        "framework": "django",
                        "line": node.lineno,
                        "router": router,
                        "view": viewset,
                        "drf": True,
                    }
                )
            return
        if callee not in _PATTERN_CALLS or len(node.args) < 2:
            for argument in node.args:  # e.g. `format_suffix_patterns([...])`
                self.value(argument, owner)
            return
        path = _string(node.args[0])
        if path is None:
            return
        target = node.args[1]
        if _callee(target) == "include" and isinstance(target, ast.Call) and target.args:
            self.include(target.args[0], path, node.lineno, owner, callee != "path")
            return
        if isinstance(target, ast.Attribute) and target.attr == "urls":  # `admin.site.urls`, `router.urls`
            self.include(target, path, node.lineno, owner, callee != "path")
            return
        view = view_reference(target)
        try:
            handler = ast.unparse(target)
        except (ValueError, TypeError):
            handler = None
        route = {
            "method": None,
            "path": path,
            "handler": handler,
            "framework": "django",
            "line": node.lineno,
            "router": owner,
            "regex": callee != "path",
        }
        if view:
            route["view"] = view
        self.routes.append(route)

    def include(self, target: ast.AST, prefix: str, line: int, owner: str, regex: bool) -> None:
        if isinstance(target, ast.Tuple) and target.elts:  # include((patterns, app_name))
            target = target.elts[0]
        module = _string(target)
        mount: dict[str, Any] = {"parent": owner, "prefix": prefix, "line": line}
        if module is not None:
            mount["child"] = {"module": module}
        elif isinstance(target, ast.List):
            inline = f"include@{line}"
            self.value(target, inline)
            mount["child"] = inline
        else:
            child = _name(target)
            if child is None:
                return
            mount["child"] = child.removesuffix(".urls")
        self.mounts.append(mount)


def django_facts(tree: ast.Module, imported: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The URL patterns, DRF routers and includes of a module that imports Django or DRF."""
    roots = {(i["module"] or "").split(".")[0] for i in imported.values() if not i.get("level")}
    if not {"django", "rest_framework"} & roots:
        return {}
    collector = _Collector()
    collector.statements(tree.body)
    facts: dict[str, Any] = {}
    if collector.routes:
        facts["routes"] = collector.routes
    if collector.routers:
        facts["routers"] = collector.routers
    if collector.mounts:
        facts["mounts"] = collector.mounts
    return facts
