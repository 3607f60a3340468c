"""Which HTTP methods a Python view serves: Django function and class-based views, Django REST
framework views and ViewSets, Flask-RESTful resources.

The extract records, per file, what each view says about itself (decorators such as
`@require_http_methods([...])`/`@api_view([...])`, the verb methods a class defines, its bases,
DRF `@action`s and `lookup_field`). The reduce follows base classes across modules and knows the
methods of the frameworks' own generic classes, so a route says `GET`/`POST` rather than nothing;
`ANY` only when nothing narrows it (a plain function view serves every method).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

VERBS = ("get", "post", "put", "patch", "delete", "head", "options", "trace")
_DECORATOR_METHODS = {
    "require_GET": ["GET"],
    "require_POST": ["POST"],
    "require_safe": ["GET", "HEAD"],
}
# Methods the frameworks' own classes serve (Django generic views, DRF generics).
GENERIC_METHODS = {
    "TemplateView": ["GET"],
    "DetailView": ["GET"],
    "ListView": ["GET"],
    "ArchiveIndexView": ["GET"],
    "YearArchiveView": ["GET"],
    "MonthArchiveView": ["GET"],
    "DayArchiveView": ["GET"],
    "DateDetailView": ["GET"],
    "FormView": ["GET", "POST", "PUT"],
    "CreateView": ["GET", "POST", "PUT"],
    "UpdateView": ["GET", "POST", "PUT"],
    "DeleteView": ["GET", "POST", "DELETE"],
    "RedirectView": ["GET", "HEAD", "POST", "OPTIONS", "DELETE", "PUT", "PATCH"],
    "LoginView": ["GET", "POST", "PUT"],
    "LogoutView": ["POST"],
    "PasswordChangeView": ["GET", "POST", "PUT"],
    "PasswordChangeDoneView": ["GET"],
    "PasswordResetView": ["GET", "POST", "PUT"],
    "PasswordResetDoneView": ["GET"],
    "PasswordResetConfirmView": ["GET", "POST", "PUT"],
    "PasswordResetCompleteView": ["GET"],
    "ListAPIView": ["GET"],
    "RetrieveAPIView": ["GET"],
    "CreateAPIView": ["POST"],
    "DestroyAPIView": ["DELETE"],
    "UpdateAPIView": ["PUT", "PATCH"],
    "ListCreateAPIView": ["GET", "POST"],
    "RetrieveUpdateAPIView": ["GET", "PUT", "PATCH"],
    "RetrieveDestroyAPIView": ["GET", "DELETE"],
    "RetrieveUpdateDestroyAPIView": ["GET", "PUT", "PATCH", "DELETE"],
}
# DRF ViewSet actions each framework class brings, and the method/route each action is served on.
VIEWSET_ACTIONS = {
    "ModelViewSet": ["list", "create", "retrieve", "update", "partial_update", "destroy"],
    "ReadOnlyModelViewSet": ["list", "retrieve"],
    "ListModelMixin": ["list"],
    "CreateModelMixin": ["create"],
    "RetrieveModelMixin": ["retrieve"],
    "UpdateModelMixin": ["update", "partial_update"],
    "DestroyModelMixin": ["destroy"],
    "ViewSet": [],
    "GenericViewSet": [],
    "ViewSetMixin": [],
}
ACTIONS = {
    "list": ("list", "GET"),
    "create": ("list", "POST"),
    "retrieve": ("detail", "GET"),
    "update": ("detail", "PUT"),
    "partial_update": ("detail", "PATCH"),
    "destroy": ("detail", "DELETE"),
}


def _strings(node: ast.AST | None) -> list[str]:
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return [
            e.value.upper() for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
        ]
    return []


def _decorator_name(node: ast.AST) -> str | None:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Attribute):
        return target.attr
    return target.id if isinstance(target, ast.Name) else None


def _function_methods(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str] | None:
    for decorator in function.decorator_list:
        name = _decorator_name(decorator)
        if name in _DECORATOR_METHODS:
            return _DECORATOR_METHODS[name]
        if name == "require_http_methods" and isinstance(decorator, ast.Call) and decorator.args:
            return _strings(decorator.args[0]) or None
        if name == "api_view":
            if isinstance(decorator, ast.Call):
                given = (
                    decorator.args[0]
                    if decorator.args
                    else next((k.value for k in decorator.keywords if k.arg == "http_method_names"), None)
                )
                return _strings(given) or ["GET"]
            return ["GET"]
    return None


def _action(function: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, Any] | None:
    """A DRF `@action(detail=..., methods=[...], url_path=...)` on a ViewSet method."""
    for decorator in function.decorator_list:
        if _decorator_name(decorator) != "action" or not isinstance(decorator, ast.Call):
            continue
        keywords = {k.arg: k.value for k in decorator.keywords}
        detail = keywords.get("detail")
        url_path = keywords.get("url_path")
        return {
            "name": function.name,
            "detail": bool(isinstance(detail, ast.Constant) and detail.value),
            "methods": _strings(keywords.get("methods")) or ["GET"],
            "url_path": url_path.value
            if isinstance(url_path, ast.Constant) and isinstance(url_path.value, str)
            else function.name,
        }
    return None


def _base(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _base(node.value)
        return f"{inner}.{node.attr}" if inner else node.attr
    return None


def _as_view(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute) and call.func.attr == "as_view":
        return _base(call.func.value)
    return None


def view_facts(tree: ast.Module) -> dict[str, dict[str, Any]]:
    """Module-level functions and classes that may be views, with what they say about methods."""
    views: dict[str, dict[str, Any]] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            methods = _function_methods(node)
            views[node.name] = {"kind": "function", **({"methods": methods} if methods else {})}
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            view = _as_view(node.value)  # `logout = LogoutView.as_view(...)`
            for target in node.targets:
                if view and isinstance(target, ast.Name):
                    views[target.id] = {"kind": "alias", "view": view}
        elif isinstance(node, ast.ClassDef):
            defined = [item for item in node.body if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)]
            fact: dict[str, Any] = {
                "kind": "class",
                "bases": [b for b in (_base(base) for base in node.bases) if b],
                "verbs": [f.name.upper() for f in defined if f.name in VERBS],
                "actions": [f.name for f in defined if f.name in ACTIONS],
            }
            extra = [a for a in (_action(f) for f in defined) if a]
            if extra:
                fact["extra_actions"] = extra
            for item in node.body:
                if not isinstance(item, ast.Assign):
                    continue
                names = [t.id for t in item.targets if isinstance(t, ast.Name)]
                if {"lookup_field", "lookup_url_kwarg"} & set(names) and isinstance(item.value, ast.Constant):
                    fact.setdefault("lookup", str(item.value.value))
                elif "http_method_names" in names:
                    fact["allowed"] = _strings(item.value)
            views[node.name] = fact
    return views


Lookup = Callable[[str, str], tuple[str, dict[str, Any]] | None]  # (file, ref) → (file, view fact)


def _class_chain(lookup: Lookup, file: str, fact: dict[str, Any], depth: int = 0) -> list[tuple[str, Any]]:
    """The class and its bases, depth first: ("fact", view fact) or ("generic", framework class name)."""
    chain: list[tuple[str, Any]] = [("fact", fact)]
    if depth > 8:
        return chain
    for base in fact.get("bases", []):
        found = lookup(file, base)
        if found is not None and found[1].get("kind") == "class":
            chain += _class_chain(lookup, found[0], found[1], depth + 1)
        else:
            chain.append(("generic", base.rsplit(".", 1)[-1]))
    return chain


def view_methods(lookup: Lookup, file: str, ref: str) -> list[str] | None:
    """The methods a Django/DRF/Flask-RESTful view serves; None when nothing narrows it."""
    found = lookup(file, ref)
    if found is None:
        generic = GENERIC_METHODS.get(ref.rsplit(".", 1)[-1])
        return list(generic) if generic else None
    view_file, fact = found
    if fact["kind"] == "alias":
        return view_methods(lookup, view_file, fact["view"]) if fact["view"] != ref else None
    if fact["kind"] == "function":
        return fact.get("methods")
    methods: list[str] = []
    for kind, item in _class_chain(lookup, view_file, fact):
        if kind == "fact":
            if item.get("allowed"):
                return sorted(set(methods) | set(item["allowed"]))
            methods += [m for m in item.get("verbs", []) if m not in methods]
        else:
            methods += [m for m in GENERIC_METHODS.get(item, []) if m not in methods]
    return methods or None


def viewset_routes(lookup: Lookup, file: str, ref: str) -> list[tuple[str, str, str]] | None:
    """(route kind `list`/`detail`/extra url path, method, action) of a DRF ViewSet; None if not one."""
    found = lookup(file, ref)
    if found is None:
        if ref.rsplit(".", 1)[-1] not in VIEWSET_ACTIONS:
            return None
        actions = VIEWSET_ACTIONS[ref.rsplit(".", 1)[-1]]
        return [(*ACTIONS[a], a) for a in actions]
    actions: list[str] = []
    extra: list[dict[str, Any]] = []
    is_viewset = False
    for kind, item in _class_chain(lookup, found[0], found[1]):
        if kind == "fact":
            actions += item.get("actions", [])
            extra += item.get("extra_actions", [])
        else:
            if item in VIEWSET_ACTIONS or item.endswith("ViewSet"):
                is_viewset = True
            actions += VIEWSET_ACTIONS.get(item, [])
    if not is_viewset:
        return None
    routes = []
    for action in dict.fromkeys(actions):
        kind, method = ACTIONS[action]
        routes.append((kind, method, action))
    for item in extra:
        for method in item["methods"]:
            routes.append(
                (("detail:" if item["detail"] else "list:") + item["url_path"], method, item["name"])
            )
    return routes


def lookup_field(lookup: Lookup, file: str, ref: str) -> str:
    found = lookup(file, ref)
    if found is None:
        return "pk"
    for kind, item in _class_chain(lookup, found[0], found[1]):
        if kind == "fact" and item.get("lookup"):
            return str(item["lookup"])
    return "pk"
