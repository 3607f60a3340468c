"""Facts about HTTP routes in one JavaScript/TypeScript file: Express and Koa routers.

* routers: `express()`, `express.Router()`, `Router()` from express, `new Router({prefix})` from
  `@koa/router`/`koa-router`;
* routes: `x.get('/p', h)` (and every verb, `all`), chained `router.get(...).post(...)`,
  `router.route('/p').get(h).post(h2)`;
* mounts: `app.use('/api', router)`, `app.use('/api', auth, router)`, Koa's
  `app.use(router.routes())` and `router.use('/p', nested.routes())`;
* imports and exports (`import`, `require`, `export default`, `export { a as b }`,
  `module.exports`, `exports.x`), so `app.use('/sync', syncApp.handlers)` in one module reaches
  the routes declared in another.
"""

from __future__ import annotations

import re
from typing import Any

from tree_sitter import Node

from warmer.artifacts.api_inventory.syntax import first_error_line, line, parse, string_value, text, walk

JS_VERBS = frozenset({"get", "post", "put", "patch", "delete", "del", "options", "head", "all"})
_EXPRESS = re.compile(r"""(?:require\s*\(\s*|from\s+)['"]express['"]""")
_KOA = re.compile(r"""(?:require\s*\(\s*|from\s+)['"](?:@koa/router|koa-router)['"]""")
_HANDLER_NODES = frozenset({"identifier", "member_expression"})
_TYPES = frozenset(
    {
        "call_expression",
        "import_statement",
        "variable_declarator",
        "export_statement",
        "assignment_expression",
    }
)


def _reference(node: Node | None) -> str | None:
    """`app`, `this.router`, `syncApp.handlers`; None for anything that is not a name chain."""
    if node is None:
        return None
    if node.type in ("identifier", "this", "property_identifier"):
        return text(node)
    if node.type == "member_expression":
        base = _reference(node.child_by_field_name("object"))
        prop = node.child_by_field_name("property")
        return f"{base}.{text(prop)}" if base and prop is not None else None
    if node.type in ("parenthesized_expression", "as_expression", "non_null_expression", "type_assertion"):
        return _reference(node.named_children[0]) if node.named_children else None
    return None


def _method(verb: str) -> str:
    return "ANY" if verb == "all" else "DELETE" if verb == "del" else verb.upper()


class _Reader:
    def __init__(self, framework: str | None) -> None:
        self.framework = framework
        self.routes: list[dict[str, Any]] = []
        self.routers: dict[str, dict[str, Any]] = {}
        self.mounts: list[dict[str, Any]] = []
        self.imports: dict[str, dict[str, Any]] = {}
        self.exports: dict[str, str] = {}

    def node(self, node: Node) -> None:
        kind = node.type
        if kind == "call_expression":
            self.call(node)
        elif kind == "import_statement":
            self.import_statement(node)
        elif kind == "variable_declarator":
            self.declarator(node)
        elif kind == "export_statement":
            self.export(node)
        elif kind == "assignment_expression":
            self.assignment(node)

    # -- routers and routes ---------------------------------------------------------------------

    def _router_kind(self, value: Node | None) -> dict[str, Any] | None:
        """`express()`, `express.Router()`, `Router()`, `new Router({prefix: '/x'})`."""
        if value is None or value.type not in ("call_expression", "new_expression"):
            return None
        callee = value.child_by_field_name("function") or value.child_by_field_name("constructor")
        name = text(callee)
        if name not in ("express", "express.Router", "Router", "KoaRouter", "koaRouter"):
            return None
        router: dict[str, Any] = {"framework": self.framework or ("koa" if "Router" in name else "express")}
        arguments = value.child_by_field_name("arguments")
        for pair in arguments.named_children if arguments is not None else []:
            for item in pair.named_children if pair.type == "object" else []:
                if item.type == "pair" and text(item.child_by_field_name("key")).strip("'\"") == "prefix":
                    prefix = string_value(item.child_by_field_name("value"))
                    if prefix is not None:
                        router["prefix"] = prefix
        return router

    def call(self, call: Node) -> None:
        function = call.child_by_field_name("function")
        arguments = call.child_by_field_name("arguments")
        if function is None or function.type != "member_expression" or arguments is None:
            return
        verb = text(function.child_by_field_name("property"))
        target = function.child_by_field_name("object")
        args = arguments.named_children
        if verb in JS_VERBS:
            path = string_value(args[0]) if args else None
            receiver, route_path = self._receiver(target)
            if route_path is not None:  # router.route('/p').get(h)
                path = route_path
                handler_args = args
            else:
                handler_args = args[1:]
            if path is None or receiver is None or not (path.startswith("/") or path == "" or path == "*"):
                return
            last = handler_args[-1] if handler_args else None
            handler = text(last) if last is not None and last.type in _HANDLER_NODES else None
            self.routes.append(
                {
                    "method": _method(verb),
                    "path": path,
                    "handler": handler,
                    "framework": self.framework,
                    "line": line(function.child_by_field_name("property") or call),
                    "router": receiver,
                }
            )
        elif verb == "use" and args:
            self.use(call, target, args)

    def _receiver(self, target: Node | None) -> tuple[str | None, str | None]:
        """The router a (possibly chained) call is made on, and the path of a `.route('/p')` link."""
        route_path = None
        for _ in range(64):
            if target is None or target.type != "call_expression":
                break
            function = target.child_by_field_name("function")
            if function is None or function.type != "member_expression":
                return None, None
            if text(function.child_by_field_name("property")) == "route" and route_path is None:
                arguments = target.child_by_field_name("arguments")
                first = (
                    arguments.named_children[0]
                    if arguments is not None and arguments.named_children
                    else None
                )
                route_path = string_value(first)
            target = function.child_by_field_name("object")
        return _reference(target), route_path

    def use(self, call: Node, target: Node | None, args: list[Node]) -> None:
        receiver, _ = self._receiver(target)
        if receiver is None:
            return
        prefix = string_value(args[0])
        rest = args[1:] if prefix is not None else args
        if not rest:
            return
        child_node = rest[-1]
        if child_node.type == "call_expression":  # koa: router.routes()
            function = child_node.child_by_field_name("function")
            if function is None or function.type != "member_expression":
                return
            if text(function.child_by_field_name("property")) not in ("routes", "middleware"):
                return
            child_node = function.child_by_field_name("object")
        child = _reference(child_node)
        if child is None:
            return
        mount: dict[str, Any] = {
            "parent": receiver,
            "child": child,
            "prefix": prefix or "",
            "line": line(call),
        }
        if prefix is None:
            mount["quiet"] = True
        self.mounts.append(mount)

    # -- bindings -------------------------------------------------------------------------------

    def import_statement(self, node: Node) -> None:
        source = string_value(node.child_by_field_name("source"))
        if source is None:
            return
        for clause in node.named_children:
            if clause.type != "import_clause":
                continue
            for part in clause.named_children:
                if part.type == "identifier":
                    self.imports[text(part)] = {"module": source, "name": "default"}
                elif part.type == "namespace_import":
                    names = [c for c in part.named_children if c.type == "identifier"]
                    if names:
                        self.imports[text(names[0])] = {"module": source, "name": "*"}
                elif part.type == "named_imports":
                    for spec in part.named_children:
                        if spec.type == "import_specifier":
                            name = text(spec.child_by_field_name("name"))
                            alias = spec.child_by_field_name("alias")
                            self.imports[text(alias) if alias is not None else name] = {
                                "module": source,
                                "name": name,
                            }

    def _require(self, value: Node | None) -> tuple[str, str | None] | None:
        """`require('./x')` → ('./x', None); `require('./x').y` → ('./x', 'y')."""
        attribute = None
        if value is not None and value.type == "member_expression":
            attribute = text(value.child_by_field_name("property"))
            value = value.child_by_field_name("object")
        if (
            value is None
            or value.type != "call_expression"
            or text(value.child_by_field_name("function")) != "require"
        ):
            return None
        arguments = value.child_by_field_name("arguments")
        first = arguments.named_children[0] if arguments is not None and arguments.named_children else None
        spec = string_value(first)
        return (spec, attribute) if spec is not None else None

    def declarator(self, node: Node) -> None:
        name_node, value = node.child_by_field_name("name"), node.child_by_field_name("value")
        required = self._require(value)
        if required is not None and name_node is not None:
            spec, attribute = required
            if name_node.type == "identifier":
                self.imports[text(name_node)] = {"module": spec, "name": attribute or "default"}
            elif name_node.type == "object_pattern":
                for item in name_node.named_children:
                    if item.type == "shorthand_property_identifier_pattern":
                        self.imports[text(item)] = {"module": spec, "name": text(item)}
                    elif item.type == "pair_pattern":
                        key, alias = item.child_by_field_name("key"), item.child_by_field_name("value")
                        self.imports[text(alias)] = {"module": spec, "name": text(key)}
            return
        router = self._router_kind(value)
        if router is not None and name_node is not None and name_node.type == "identifier":
            self.routers[text(name_node)] = router

    def export(self, node: Node) -> None:
        declaration = node.child_by_field_name("declaration")
        value = node.child_by_field_name("value")
        if value is not None:  # export default x
            reference = _reference(value)
            if reference:
                self.exports["default"] = reference
            return
        if declaration is not None:
            for declarator in walk(declaration, frozenset({"variable_declarator", "function_declaration"})):
                name = declarator.child_by_field_name("name")
                if name is not None and name.type == "identifier":
                    self.exports[text(name)] = text(name)
            return
        source = string_value(node.child_by_field_name("source"))
        for clause in node.named_children:
            if clause.type == "export_clause":
                for spec in clause.named_children:
                    name = text(spec.child_by_field_name("name"))
                    alias = spec.child_by_field_name("alias")
                    exported = text(alias) if alias is not None else name
                    if source is not None:  # export { default as router } from './router'
                        self.imports[exported] = {"module": source, "name": name}
                        self.exports[exported] = exported
                    else:
                        self.exports[exported] = name

    def assignment(self, node: Node) -> None:
        left, right = text(node.child_by_field_name("left")), node.child_by_field_name("right")
        if right is None:
            return
        if left == "module.exports":
            reference = _reference(right)
            if reference:
                self.exports["default"] = reference
            elif right.type == "object":
                for item in right.named_children:
                    if item.type == "shorthand_property_identifier":
                        self.exports[text(item)] = text(item)
                    elif item.type == "pair":
                        value = _reference(item.child_by_field_name("value"))
                        if value:
                            self.exports[text(item.child_by_field_name("key"))] = value
        elif left.startswith(("exports.", "module.exports.")):
            reference = _reference(right)
            if reference:
                self.exports[left.rsplit(".", 1)[-1]] = reference
        router = self._router_kind(right)
        if router is not None and node.child_by_field_name("left") is not None:
            reference = _reference(node.child_by_field_name("left"))
            if reference:
                self.routers[reference] = router


def js_facts(grammar: str, source: str) -> dict[str, Any]:
    """Routes, routers, mounts, imports and exports of one JavaScript/TypeScript source."""
    framework = "express" if _EXPRESS.search(source) else "koa" if _KOA.search(source) else None
    root = parse(grammar, source.encode())
    reader = _Reader(framework)
    for node in walk(root, _TYPES):
        reader.node(node)
    facts: dict[str, Any] = {}
    error = first_error_line(root)
    if error is not None:
        facts["parse_error_line"] = error
    for key in ("routes", "routers", "mounts", "imports", "exports"):
        value = getattr(reader, key)
        if value:
            facts[key] = value
    if not (facts.get("routes") or facts.get("mounts") or facts.get("routers") or facts.get("exports")):
        facts.pop("imports", None)  # a file with no router facts: nothing to join
    return facts
