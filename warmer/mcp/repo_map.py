"""The repository map at the budget an agent asks for, from the stored repo_map entry.

The entry holds a rendering made at the generator's budget (important files, ranked files with
their signatures, then the tree, best first). A smaller budget keeps its first lines; a larger one
adds the key files it had no room for (with their top definitions) and then the directory tree,
as repo_map's own renderer draws it, in what is left.
"""

from __future__ import annotations

from typing import Any

from warmer.artifacts.repo_map.render import directories, render_tree
from warmer.mcp.answers import Answer, headline, lookup_facts
from warmer.mcp.budget import CHARS_PER_TOKEN, Fitted, estimate_tokens, fit


def _more_key_files(payload: dict[str, Any], shown: str) -> list[str]:
    """Key files whose definitions the stored rendering has no room for, one line each."""
    lines = []
    for key_file in payload.get("key_files", []):
        definitions = key_file.get("top_definitions") or []
        if not definitions or f"\n{key_file['path']}:" in f"\n{shown}":
            continue
        names = ", ".join(f"{d['kind']} {d['name']} :{d['line']}" for d in definitions)
        lines.append(f"{key_file['path']}: {names}")
    return lines


def render(payload: dict[str, Any], budget: int, heading: str) -> Fitted:
    """`heading`, then the map's lines best first, in at most `budget` tokens: the stored map, the
    key files it left out, then the tree (the stored one, or one drawn for the room left)."""
    stored = (payload.get("rendering") or {}).get("text", "")
    ranked, tree_marker, tree = f"\n{stored}".partition("\ntree:")
    body = ranked.splitlines()[2:]  # "" and the stored heading: `heading` replaces it
    more = _more_key_files(payload, ranked)
    if more:
        body += ["more key files (top definitions :line):", *more]
    if tree_marker:
        body += ["tree:", *tree.splitlines()[1:]]
    fitted = fit([heading], body, budget, noun="lines of the map (lower-ranked files, the tree)",
                 hint="raise `budget`")  # fmt: skip
    files = payload.get("files", [])
    room = (budget * CHARS_PER_TOKEN - len(fitted.text) - 1) // CHARS_PER_TOKEN
    if fitted.truncated or tree_marker or room <= 0 or not files:
        return fitted
    drawn, _shown = render_tree("tree:", files, directories(files), room)
    if estimate_tokens(drawn) > room:
        return fitted
    return Fitted(f"{fitted.text}\n{drawn}", fitted.shown, fitted.total, budget)


def answer(result: Any, budget: int) -> Answer:
    payload = result.payload
    summary = payload.get("summary", {})
    heading = headline(result, f"{summary.get('files', '?')} files, {summary.get('lines', '?')} lines")
    fitted = render(payload, budget, heading)
    text = fitted.text
    data = {
        **lookup_facts(result),
        **fitted.facts(),
        "estimated_tokens": estimate_tokens(text),
        "summary": summary,
        "languages": payload.get("languages", []),
        "key_files": [k["path"] for k in payload.get("key_files", [])],
    }
    return Answer(text, data)
