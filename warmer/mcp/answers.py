"""The part of a cache entry each agent question needs, as text for the model and as data.

Every function here is pure: it takes what `warmer.cache.agent_api` returned (a LookupResult and
its payload, or Matches) and the tool's arguments, and returns an `Answer`. The data always starts
with the lookup's own fields (hit, repo, artifact_type, commit, and whatever else the lookup layer
carries, e.g. the branch head and `stale`), so an agent can tell how fresh the answer is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from warmer.mcp.budget import Fitted, fit

HINT_NARROW = "raise `budget` or narrow the question"


@dataclass(frozen=True)
class Answer:
    text: str
    data: dict[str, Any] = field(default_factory=dict)


def lookup_facts(result: Any) -> dict[str, Any]:
    """Everything a LookupResult carries except its payload (passed through field by field, so new
    fields of the lookup layer reach agents without a change here)."""
    facts = result.as_json() if hasattr(result, "as_json") else dict(result.__dict__)
    facts.pop("payload", None)
    return facts


def headline(result: Any, what: str) -> str:
    """`flaskr symbol_index @ df71896e033d: <what>`, with the staleness the lookup reports."""
    facts = lookup_facts(result)
    commit = (facts.get("commit") or "")[:12]
    line = f"{facts['repo']} {facts['artifact_type']} @ {commit}: {what}"
    head = facts.get("head")
    if facts.get("stale"):
        line += (
            f" (STALE: built at {commit}, the branch head is {(head or '?')[:12]}; files it reads changed)"
        )
    elif head and facts.get("commit") and head != facts["commit"]:
        line += f" (built at {commit}; branch head {head[:12]})"
    return line


def miss(result: Any, path: str = "") -> Answer:
    """A recorded miss: what is missing, and whether a job is warming it now."""
    facts = lookup_facts(result)
    where = f"{facts['repo']}{' ' + path if path else ''}"
    text = f"miss: no {facts['artifact_type']} entry for {where} yet (recorded"
    if facts.get("warming_job"):
        text += f"; job {facts['warming_job']} is warming it"
    text += "). Ask again later, or use another tool meanwhile."
    return Answer(text, facts)


def _with(facts: dict[str, Any], fitted: Fitted, **extra: Any) -> dict[str, Any]:
    return {**facts, **fitted.facts(), **extra}


# symbols ---------------------------------------------------------------------------------------


def symbol_line(symbol: dict[str, Any]) -> str:
    """`flaskr/auth.py:84-109  function login  def login()  — first doc line  [match]`"""
    name = f"{symbol['parent']}.{symbol['name']}" if symbol.get("parent") else symbol["name"]
    where = f"{symbol['file']}:{symbol['start_line']}-{symbol['end_line']}"
    line = f"{where}  {symbol['kind']} {name}"
    if symbol.get("signature"):
        line += f"  {symbol['signature']}"
    if symbol.get("doc"):
        line += f"  — {symbol['doc']}"
    if symbol.get("match"):
        line += f"  [{symbol['match']}]"
    return line


def symbols(found: Any, query: str, mode: str, budget: int) -> Answer:
    result = found.lookup
    items = [symbol_line(s) for s in found.matches]
    what = (
        f"{len(items)} {mode} match(es) for {query!r}" if items else f"no symbol matches {query!r} ({mode})"
    )
    fitted = fit([headline(result, what)], items, budget, noun="symbols", hint=HINT_NARROW)
    shown = found.matches[: fitted.shown]
    return Answer(fitted.text, _with(lookup_facts(result), fitted, query=query, match=mode, matches=shown))


# semantic search -------------------------------------------------------------------------------


def search(found: Any, query: str, budget: int) -> Answer:
    result = found.lookup
    items = [
        f"{m['score']:.3f}  {m['path']}:{m['start_line']}-{m['end_line']}"
        + (f"  {m['symbol']}" if m.get("symbol") else "")
        + (f"  ({m['kind']})" if m.get("kind") else "")
        for m in found.matches
    ]
    fitted = fit(
        [
            headline(
                result, f"{len(items)} chunk(s) closest in meaning to {query!r} (cosine score, file:lines)"
            )
        ],
        items,
        budget,
        noun="chunks",
        hint="raise `budget` or lower `k`",
    )
    shown = found.matches[: fitted.shown]
    return Answer(fitted.text, _with(lookup_facts(result), fitted, query=query, matches=shown))


# tests -----------------------------------------------------------------------------------------


def tests_for(result: Any, path: str, budget: int) -> Answer:
    """The tests of a source file (or, for a test file, the sources it tests), with each link's reasons."""
    payload = result.payload
    links = payload.get("links", [])
    as_source = [link for link in links if link["source"] == path]
    as_test = [link for link in links if link["test"] == path]
    facts = lookup_facts(result)
    if as_source:
        what = f"{len(as_source)} test file(s) for {path}"
        items = [
            f"{link['test']}  ({link['confidence']}: {'; '.join(link['reasons'])})" for link in as_source
        ]
    elif as_test:
        what = f"{path} is a test; it tests {len(as_test)} source file(s)"
        items = [
            f"{link['source']}  ({link['confidence']}: {'; '.join(link['reasons'])})" for link in as_test
        ]
    else:
        untested = path in set(payload.get("untested_sources", []))
        reason = (
            "it is a source file no test names or imports"
            if untested
            else "the test map knows no source or test at this path"
        )
        what = f"no tests found for {path}: {reason}"
        items = []
    fitted = fit([headline(result, what)], items, budget, noun="links", hint=HINT_NARROW)
    chosen = (as_source or as_test)[: fitted.shown]
    role = "source" if as_source else "test" if as_test else "unknown"
    return Answer(fitted.text, _with(facts, fitted, file=path, role=role, links=chosen))


# routes ----------------------------------------------------------------------------------------


def routes(result: Any, method: str | None, path_contains: str | None, budget: int) -> Answer:
    payload = result.payload
    chosen = [
        route
        for route in payload.get("routes", [])
        if (method is None or route["method"].upper() == method.upper())
        and (path_contains is None or path_contains in route["path"])
    ]
    items = [
        f"{route['method']} {route['path']}  {route.get('handler') or '(inline)'}  "
        f"{route['file']}:{route['line']}  ({route['framework']})"
        for route in chosen
    ]
    contracts = payload.get("contracts", [])
    filters = " ".join(f for f in (method and method.upper(), path_contains and f"~{path_contains}") if f)
    what = f"{len(items)} route(s){' ' + filters if filters else ''}" + (
        f"; {len(contracts)} API contract file(s)" if contracts else ""
    )
    fitted = fit([headline(result, what)], items, budget, noun="routes", hint=HINT_NARROW)
    return Answer(fitted.text, _with(lookup_facts(result), fitted, routes=chosen[: fitted.shown]))


# dependencies ----------------------------------------------------------------------------------


def module_path(name: str, known: set[str]) -> str:
    """A repository path for `name`, which may be a path or a dotted Python module (`flaskr.db`)."""
    if name in known or "/" in name or not name.replace(".", "").replace("_", "").isalnum():
        return name
    stem = name.replace(".", "/")
    for candidate in (f"{stem}.py", f"{stem}/__init__.py", f"src/{stem}.py", f"src/{stem}/__init__.py"):
        if candidate in known:
            return candidate
    return name


def dependencies(result: Any, module: str, budget: int) -> Answer:
    """What a module imports inside the repository, who imports it, and the packages the repository
    declares (the graph records external imports per repository, not per file)."""
    payload = result.payload
    edges = payload.get("internal_edges", [])
    known = {e["from"] for e in edges} | {e["to"] for e in edges}
    path = module_path(module, known)
    imports = sorted(e["to"] for e in edges if e["from"] == path)
    imported_by = sorted(e["from"] for e in edges if e["to"] == path)
    items = [f"imports {target}" for target in imports] + [f"imported by {source}" for source in imported_by]
    declared = [
        f"{d['name']}{d.get('spec') or ''} ({d.get('group') or 'runtime'}, {d['manifest']})"
        for d in payload.get("dependencies", [])
    ]
    if path not in known:
        what = f"{path}: no import inside the repository either way"
    else:
        what = f"{path} imports {len(imports)} module(s) of the repository; {len(imported_by)} import it"
    header = [headline(result, what)]
    if declared:
        header.append("declared packages: " + ", ".join(declared[:30]) + (" …" if len(declared) > 30 else ""))
    fitted = fit(header, items, budget, noun="import edges", hint=HINT_NARROW)
    imports_shown = imports[: fitted.shown]
    imported_by_shown = imported_by[: max(0, fitted.shown - len(imports))]
    data = _with(
        lookup_facts(result), fitted, module=path, imports=imports_shown, imported_by=imported_by_shown
    )
    data["declared_dependencies"] = payload.get("dependencies", [])
    return Answer(fitted.text, data)


# file summary ----------------------------------------------------------------------------------


def file_summary(result: Any, path: str, budget: int) -> Answer:
    payload = result.payload
    header = [headline(result, path), payload.get("summary") or "(no summary text)"]
    if payload.get("purpose"):
        header.append(f"purpose: {payload['purpose']}")
    facts_line = ", ".join(
        f"{key} {payload[key]}" for key in ("role", "language", "lines") if payload.get(key) is not None
    )
    if facts_line:
        header.append(facts_line)
    items = [
        f"{PurePosixPath(path).name}:{s['line']}  {s['kind']} {s['name']}"
        for s in payload.get("main_symbols", [])
    ]
    fitted = fit(header, items, budget, noun="main symbols", hint=HINT_NARROW)
    summary = {k: v for k, v in payload.items() if k != "main_symbols"}
    summary["main_symbols"] = payload.get("main_symbols", [])[: fitted.shown]
    return Answer(fitted.text, _with(lookup_facts(result), fitted, summary=summary))


# recent changes --------------------------------------------------------------------------------


def recent_changes(result: Any, budget: int) -> Answer:
    """The last commit's change summary: its own text rendering, cut by whole lines to the budget."""
    payload = result.payload
    lines = (payload.get("text") or "").splitlines()
    subject = payload.get("subject") or ""
    header = [headline(result, f"commit {(payload.get('commit') or '')[:12]} {subject}")]
    fitted = fit(header, lines, budget, noun="lines of the change summary", hint="raise `budget`")
    data = {
        key: payload.get(key)
        for key in ("commit", "base_commit", "subject", "author", "authored_at", "totals", "truncated")
    }
    data["changed_files"] = [f["path"] for f in payload.get("files", [])]
    data["symbols"] = payload.get("symbols", {})
    data["affected_tests"] = payload.get("affected_tests")
    return Answer(fitted.text, {**lookup_facts(result), **fitted.facts(), "change": data})
