"""Answers sized for a model's context: a token budget, and a last line saying what was left out.

Tokens are estimated as repo_map estimates them (characters / CHARS_PER_TOKEN), so a budget means
the same thing in every tool. Items are never cut in the middle: an answer holds whole symbols,
whole routes, whole lines, and when some did not fit, the note names how many and how to see them.
"""

from __future__ import annotations

from dataclasses import dataclass

from warmer.artifacts.repo_map.render import CHARS_PER_TOKEN, estimate_tokens

DEFAULT_BUDGET = 2000
MIN_BUDGET = 50
MAX_BUDGET = 100_000

__all__ = ["CHARS_PER_TOKEN", "DEFAULT_BUDGET", "Fitted", "estimate_tokens", "fit"]


@dataclass(frozen=True)
class Fitted:
    """A rendered answer: `shown` of `total` items, in at most the budget's tokens."""

    text: str
    shown: int
    total: int
    budget: int

    @property
    def truncated(self) -> bool:
        return self.shown < self.total

    def facts(self) -> dict[str, int | bool]:
        return {"shown": self.shown, "total": self.total, "truncated": self.truncated, "budget": self.budget}


def _note(left: int, noun: str, budget: int, hint: str) -> str:
    return f"… {left} more {noun} not shown (budget {budget} tokens): {hint}"


def fit(header: list[str], items: list[str], budget: int, *, noun: str, hint: str) -> Fitted:
    """`header` lines, then as many whole `items` (each one or more lines) as fit in `budget` tokens,
    in order, then, if any were left out, one line saying how many and how to get them."""
    room = budget * CHARS_PER_TOKEN
    text = "\n".join(header)
    if len(text) > room:  # not even the header fits: cut it, and say so
        cut = text[: max(0, room - 2)].rsplit("\n", 1)[0]
        return Fitted(cut + "\n…" if cut else "…", 0, len(items), budget)
    used = len(text)
    shown = 0
    for index, item in enumerate(items):
        # An item fits only if the note about what remains after it would still fit too.
        left_after = len(items) - index - 1
        reserve = len(_note(left_after, noun, budget, hint)) + 1 if left_after else 0
        if used + 1 + len(item) + reserve > room:
            break
        used += 1 + len(item)
        shown += 1
    lines = [*header, *items[:shown]]
    if shown < len(items):
        lines.append(_note(len(items) - shown, noun, budget, hint))
    return Fitted("\n".join(line for line in lines), shown, len(items), budget)
