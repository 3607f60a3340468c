"""Facts about HTTP routes in one Go file: net/http, gorilla/mux, chi, gin and echo.

Variables are scoped by the function they live in (`Routes.v1`), so two functions' `r` are two
routers. Recorded:

* routes: gin/echo `r.GET("/p", h)`, chi `r.Get(...)`/`r.Method("GET", ...)`/`r.MethodFunc`,
  `HandleFunc`/`Handle` (Go 1.22 `"GET /p"` patterns, gorilla's chained `.Methods(...)`), gorilla's
  `r.Methods("GET").Path("/p").Handler(h)` and `r.Path("/p").Methods("GET")...` chains;
* mounts: `v1 := r.Group("/v1")` (gin, echo), `s := r.PathPrefix("/v1").Subrouter()` (gorilla),
  chi's `r.Route("/p", func(r chi.Router) {...})`, `r.Group(func(r chi.Router) {...})` and
  `r.Mount("/p", sub)`; a router passed to a function (`api.Register(v1)`) mounts that function's
  parameter, and `r.Mount("/p", adminRouter())` mounts the router the function returns;
* functions: each function's parameters and the variable it returns, for those joins;
* imports: alias → import path, so `pkg.Register` finds its package's directory.
"""

from __future__ import annotations

import re
from typing import Any

from tree_sitter import Node

from warmer.artifacts.api_inventory.syntax import first_error_line, line, parse, string_value, text

GO_UPPER_VERBS = frozenset(
    {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "CONNECT", "TRACE", "Any"}
)
GO_CHI_VERBS = frozenset({"Get", "Post", "Put", "Patch", "Delete", "Options", "Head", "Connect", "Trace"})
GO_HANDLE = frozenset({"HandleFunc", "Handle"})
_FINAL = frozenset({"Handler", "HandlerFunc"})
_GROUPS = frozenset({"Group", "Subrouter", "PathPrefix"})
_GO_VERB_PATTERN = re.compile(r"^([A-Z]+)\s+(/\S*)$")  # Go 1.22 ServeMux: "GET /items/{id}"
_HANDLER_NODES = frozenset({"identifier", "selector_expression"})
_FRAMEWORKS = (
    ("gin", '"github.com/gin-gonic/gin"'),
    ("echo", '"github.com/labstack/echo'),
    ("chi", '"github.com/go-chi/chi'),
    ("gorilla/mux", '"github.com/gorilla/mux"'),
    ("net/http", '"net/http"'),
)


_OWN_PACKAGE = re.compile(r"^package (gin|echo|chi|mux)\b", re.MULTILINE)


def _frameworks(source: str) -> set[str]:
    """The frameworks a file imports; a framework's own package (its tests, examples) counts too."""
    found = {name for name, marker in _FRAMEWORKS if marker in source}
    own = _OWN_PACKAGE.search(source)
    if own:
        found.add("gorilla/mux" if own.group(1) == "mux" else own.group(1))
    return found


def _handler(arguments: list[Node]) -> str | None:
    last = arguments[-1] if arguments else None
    return text(last) if last is not None and last.type in _HANDLER_NODES else None


def _imports(root: Node) -> dict[str, str]:
    found: dict[str, str] = {}
    for declaration in root.named_children:
        if declaration.type != "import_declaration":
            continue
        stack = list(declaration.named_children)
        while stack:
            node = stack.pop()
            if node.type == "import_spec":
                path = string_value(node.child_by_field_name("path")) or ""
                alias = node.child_by_field_name("name")
                found[text(alias) if alias is not None else path.rsplit("/", 1)[-1]] = path
            else:
                stack.extend(node.named_children)
    return found


def _params(parameters: Node | None) -> list[str | None]:
    names: list[str | None] = []
    for declaration in parameters.named_children if parameters is not None else []:
        if declaration.type not in ("parameter_declaration", "variadic_parameter_declaration"):
            continue
        identifiers = [c for c in declaration.named_children if c.type == "identifier"]
        names += [text(i) for i in identifiers] or [None]
    return names


class _Reader:
    def __init__(self, frameworks: set[str]) -> None:
        self.verb_framework = next((f for f in ("gin", "echo") if f in frameworks), None)
        self.handle_framework = next((f for f in ("gorilla/mux", "chi", "net/http") if f in frameworks), None)
        self.chi = "chi" in frameworks
        self.routes: list[dict[str, Any]] = []
        self.mounts: list[dict[str, Any]] = []
        self.functions: dict[str, dict[str, Any]] = {}
        self.routers: dict[str, dict[str, Any]] = {}  # groups made here: known even with no routes

    def top(self, root: Node) -> None:
        for node in root.named_children:
            if node.type in ("function_declaration", "method_declaration"):
                name = text(node.child_by_field_name("name"))
                receiver = _receiver_type(node.child_by_field_name("receiver"))
                name = f"{receiver}.{name}" if receiver else name
                params = _params(node.child_by_field_name("parameters"))
                function = self.functions.setdefault(name, {"params": params})
                body = node.child_by_field_name("body")
                if body is not None:
                    self.visit(body, name, function)
            else:
                self.visit(node, "", None)

    def visit(self, node: Node, scope: str, function: dict[str, Any] | None) -> None:
        stack = [node]
        while stack:
            current = stack.pop()
            if current.type == "call_expression" and self.call(current, scope, function):
                continue  # a chi Route/Group closure was visited in its own scope
            if current.type in ("short_var_declaration", "assignment_statement"):
                self.assignment(current, scope)
            elif current.type == "return_statement" and function is not None:
                values = [c for c in current.named_children if c.type == "expression_list"]
                first = values[0].named_children[0] if values and values[0].named_children else None
                if first is not None and first.type == "identifier":
                    function.setdefault("returns", text(first))
            stack.extend(reversed(current.named_children))

    def _ref(self, scope: str, node: Node) -> str:
        return f"{scope}.{text(node)}" if scope else text(node)

    def assignment(self, node: Node, scope: str) -> None:
        """`v1 := r.Group("/v1")`, `s := r.PathPrefix("/v1").Subrouter()`."""
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is None or right is None or not left.named_children or not right.named_children:
            return
        target, value = left.named_children[0], right.named_children[0]
        prefix, parent = None, None
        if value.type == "call_expression":
            function = value.child_by_field_name("function")
            if function is not None and function.type == "selector_expression":
                field = text(function.child_by_field_name("field"))
                operand = function.child_by_field_name("operand")
                arguments = value.child_by_field_name("arguments")
                args = arguments.named_children if arguments is not None else []
                if field in ("Group", "PathPrefix") and args:
                    prefix, parent = string_value(args[0]), operand
                elif field == "Subrouter" and operand is not None and operand.type == "call_expression":
                    inner = operand.child_by_field_name("function")
                    inner_args = operand.child_by_field_name("arguments")
                    if (
                        inner is not None
                        and inner.type == "selector_expression"
                        and inner_args is not None
                        and text(inner.child_by_field_name("field")) == "PathPrefix"
                        and inner_args.named_children
                    ):
                        prefix = string_value(inner_args.named_children[0])
                        parent = inner.child_by_field_name("operand")
        if prefix is not None and parent is not None:
            self.routers[self._ref(scope, target)] = {}
            self.mounts.append(
                {
                    "parent": self._ref(scope, parent),
                    "child": self._ref(scope, target),
                    "prefix": prefix,
                    "line": line(node),
                }
            )

    def _route(
        self,
        method: str | None,
        path: str,
        handler: str | None,
        framework: str | None,
        node: Node,
        receiver: str,
    ) -> None:
        self.routes.append(
            {
                "method": method,
                "path": path,
                "handler": handler,
                "framework": framework,
                "line": line(node),
                "router": receiver,
            }
        )

    def call(self, call: Node, scope: str, function: dict[str, Any] | None) -> bool:
        callee = call.child_by_field_name("function")
        arguments = call.child_by_field_name("arguments")
        args = arguments.named_children if arguments is not None else []
        if callee is None:
            return False
        if callee.type == "identifier" or callee.type == "selector_expression":
            self._passes(call, callee, args, scope)
        if callee.type != "selector_expression":
            return False
        verb, operand = text(callee.child_by_field_name("field")), callee.child_by_field_name("operand")
        if operand is None:
            return False
        receiver = self._ref(scope, operand)
        first = string_value(args[0]) if args else None
        if verb in GO_UPPER_VERBS and self.verb_framework and first is not None and first.startswith("/"):
            self._route(
                "ANY" if verb == "Any" else verb, first, _handler(args), self.verb_framework, call, receiver
            )
        elif verb in GO_CHI_VERBS and self.chi and first is not None and first.startswith("/"):
            self._route(verb.upper(), first, _handler(args), "chi", call, receiver)
        elif verb in ("Method", "MethodFunc") and self.chi and len(args) >= 2 and first is not None:
            path = string_value(args[1])
            if path is not None:
                self._route(first.upper(), path, _handler(args), "chi", call, receiver)
        elif verb in GO_HANDLE and self.handle_framework and first is not None:
            self._handle(call, first, args, receiver)
        elif verb in _FINAL:
            self._gorilla_chain(call, operand, args, scope)
        elif verb in ("Route", "Group") and self.chi and args and args[-1].type == "func_literal":
            return self._chi_closure(call, verb, first, args[-1], scope, receiver)
        elif verb == "Mount" and len(args) >= 2 and first is not None:
            self._mount(call, first, args[1], scope, receiver)
        return False

    def _handle(self, call: Node, first: str, args: list[Node], receiver: str) -> None:
        pattern = _GO_VERB_PATTERN.match(first)
        methods: list[str | None] = [pattern.group(1)] if pattern else [None]
        path = pattern.group(2) if pattern else first
        if not path.startswith("/"):
            return
        chained = _chained_methods(call)
        for method in chained or methods:
            self._route(method, path, _handler(args), self.handle_framework, call, receiver)

    def _gorilla_chain(self, call: Node, operand: Node, args: list[Node], scope: str) -> None:
        """`r.Methods("GET").Path("/p").Handler(h)` / `r.Path("/p").Methods("GET").HandlerFunc(h)`."""
        methods: list[str] = []
        path = None
        node: Node | None = operand
        while node is not None and node.type == "call_expression":
            function = node.child_by_field_name("function")
            arguments = node.child_by_field_name("arguments")
            if function is None or function.type != "selector_expression" or arguments is None:
                return
            field = text(function.child_by_field_name("field"))
            values = [string_value(a) for a in arguments.named_children]
            if field == "Methods":
                methods += [v for v in values if v]
            elif field == "Path" and values and values[0] is not None:
                path = values[0]
            elif field not in (
                "Name",
                "Queries",
                "Headers",
                "Schemes",
                "Host",
                "HeadersRegexp",
                "MatcherFunc",
            ):
                return
            node = function.child_by_field_name("operand")
        if path is None or node is None or self.handle_framework is None:
            return
        receiver = self._ref(scope, node)
        for method in methods or [None]:
            self._route(method, path, _handler(args), self.handle_framework, call, receiver)

    def _chi_closure(
        self, call: Node, verb: str, first: str | None, closure: Node, scope: str, receiver: str
    ) -> bool:
        if verb == "Route" and first is None:
            return False
        inner = f"{scope}@{line(closure)}"
        params = _params(closure.child_by_field_name("parameters"))
        if params and params[0]:
            self.routers[f"{inner}.{params[0]}"] = {}
            self.mounts.append(
                {
                    "parent": receiver,
                    "child": f"{inner}.{params[0]}",
                    "prefix": first if verb == "Route" else "",
                    "line": line(call),
                }
            )
        body = closure.child_by_field_name("body")
        if body is not None:
            self.visit(body, inner, None)
        return True

    def _mount(self, call: Node, prefix: str, child: Node, scope: str, receiver: str) -> None:
        mount: dict[str, Any] = {"parent": receiver, "prefix": prefix, "line": line(call)}
        if child.type == "call_expression":
            function = child.child_by_field_name("function")
            if function is None:
                return
            if function.type == "selector_expression":
                operand = function.child_by_field_name("operand")
                mount["child"] = {
                    "call": text(function.child_by_field_name("field")),
                    "pkg": text(operand),
                    "returns": True,
                }
                if _composite_type(operand):
                    mount["child"]["recv"] = _composite_type(operand)
            else:
                mount["child"] = {"call": text(function), "pkg": None, "returns": True}
        elif child.type in ("identifier", "selector_expression"):
            mount["child"] = self._ref(scope, child)
        else:
            return
        self.mounts.append(mount)

    def _passes(self, call: Node, callee: Node, args: list[Node], scope: str) -> None:
        """`Register(v1)` / `api.Register(v1, db)`: each plain-name argument may be a router handed on."""
        if callee.type == "selector_expression":
            name = text(callee.child_by_field_name("field"))
            operand = callee.child_by_field_name("operand")
            qualifier = text(operand) if operand is not None else None
        else:
            name, qualifier = text(callee), None
        if name in GO_UPPER_VERBS or name in GO_CHI_VERBS or name in GO_HANDLE or name in _GROUPS:
            return
        for index, argument in enumerate(args):
            if argument.type in ("identifier", "selector_expression"):
                self.mounts.append(
                    {
                        "parent": self._ref(scope, argument),
                        "child": {"call": name, "pkg": qualifier, "arg": index},
                        "prefix": "",
                        "line": line(call),
                        "quiet": True,
                    }
                )


def _receiver_type(receiver: Node | None) -> str | None:
    """`todosResource` for `func (rs *todosResource) Routes()`: methods are keyed `Type.Method`."""
    if receiver is None:
        return None
    for declaration in receiver.named_children:
        kind = declaration.child_by_field_name("type")
        while kind is not None and kind.type in ("pointer_type", "generic_type"):
            kind = kind.named_children[0] if kind.named_children else None
        if kind is not None:
            return text(kind)
    return None


def _composite_type(node: Node | None) -> str | None:
    """`todosResource` for the operand `todosResource{}` or `&todosResource{}`."""
    if node is not None and node.type == "unary_expression" and node.named_children:
        node = node.named_children[-1]
    if node is not None and node.type == "composite_literal":
        return text(node.child_by_field_name("type"))
    return None


def _chained_methods(call: Node) -> list[str]:
    """`r.HandleFunc("/x", h).Methods("GET", "POST")`: the methods chained onto the route."""
    selector = call.parent
    if selector is None or selector.type != "selector_expression":
        return []
    if text(selector.child_by_field_name("field")) != "Methods" or selector.parent is None:
        return []
    arguments = selector.parent.child_by_field_name("arguments")
    if arguments is None:
        return []
    return [v for v in (string_value(a) for a in arguments.named_children) if v]


def go_facts(source: str) -> dict[str, Any]:
    """Routes, mounts, functions and imports of one Go source."""
    frameworks = _frameworks(source)
    if not frameworks:
        return {}
    root = parse("go", source.encode())
    reader = _Reader(frameworks)
    reader.top(root)
    facts: dict[str, Any] = {}
    error = first_error_line(root)
    if error is not None:
        facts["parse_error_line"] = error
    if reader.routes:
        facts["routes"] = reader.routes
    if reader.mounts:
        facts["mounts"] = reader.mounts
    if reader.routers:
        facts["routers"] = reader.routers
    functions = {name: f for name, f in reader.functions.items() if any(f["params"]) or f.get("returns")}
    if functions and (reader.routes or reader.mounts or functions):
        facts["functions"] = functions
        facts["imports"] = _imports(root)
    return facts
