"""An LLM summarizer for file_summary: any OpenAI-compatible chat-completions endpoint, configured by
environment, with the deterministic summarizer as the fallback for every file the model cannot answer.

    WARMER_LLM_URL      base URL, e.g. https://api.openai.com/v1 or http://localhost:11434/v1 (Ollama)
    WARMER_LLM_MODEL    the model name the endpoint expects
    WARMER_LLM_API_KEY  sent as a bearer token; never logged, never part of an id

The model sees the facts the deterministic summarizer uses (path, role, purpose, main symbols, routes,
frameworks), not the file itself: a summary costs a few hundred tokens, and no source leaves the machine
beyond names and the module's own docstring line.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from warmer.artifacts.file_summary.roles import DeterministicSummarizer

log = logging.getLogger(__name__)
MAX_SUMMARY_CHARS = 600
_SYSTEM = (
    "You write the summary an AI coding agent reads before opening a source file. Given facts about the "
    "file, answer with 1-3 plain sentences: what the file is for, its role, and its main symbols. No "
    "markdown, no speculation beyond the facts."
)


class LlmError(RuntimeError):
    """The endpoint did not give a usable answer."""


class OpenAICompatibleSummarizer:
    """Summaries from a chat-completions endpoint; a failed call falls back to the deterministic text."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 30) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"WARMER_LLM_URL must be an http(s) URL (got {base_url[:60]!r})")
        if not model.strip():
            raise ValueError("WARMER_LLM_MODEL must name the model when WARMER_LLM_URL is set")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.api_key, self.timeout = model, api_key, timeout
        self.fallback = DeterministicSummarizer()
        # Part of the generator version (short: the ledger's column is 50 characters): entries written by
        # another model or endpoint are never served as this one's.
        self.id = "llm-" + hashlib.sha256(f"{model}@{base_url.rstrip('/')}".encode()).hexdigest()[:12]
        self.failures = 0

    def summarize(self, facts: dict[str, Any]) -> str:
        try:
            text = self._ask(facts)
        except LlmError as exc:
            self.failures += 1
            log.warning("file_summary: the LLM could not summarize %s (%s); using the deterministic summary",
                        facts.get("path"), exc)  # fmt: skip
            facts["summary_source"] = "deterministic (LLM unavailable)"
            return self.fallback.summarize(facts)
        facts["summary_source"] = self.model
        return text

    def _ask(self, facts: dict[str, Any]) -> str:
        shown = {k: facts.get(k) for k in ("path", "language", "role", "purpose", "main_symbols", "routes",
                                           "frameworks", "lines")}  # fmt: skip
        body = json.dumps({
            "model": self.model,
            "temperature": 0,
            "max_tokens": 160,
            "messages": [
                {"role": "system", "content": _SYSTEM},
                {"role": "user", "content": json.dumps(shown, sort_keys=True)},
            ],
        }).encode()  # fmt: skip
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise LlmError(f"HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise LlmError(f"unreachable: {getattr(exc, 'reason', exc)}") from None
        except json.JSONDecodeError:
            raise LlmError("the answer is not JSON") from None
        try:
            text = str(answer["choices"][0]["message"]["content"]).strip()
        except (KeyError, IndexError, TypeError):
            raise LlmError("the answer has no choices[0].message.content") from None
        if not text:
            raise LlmError("an empty summary")
        return " ".join(text.split())[:MAX_SUMMARY_CHARS]


def summarizer_from_env(env: Mapping[str, str] | None = None) -> OpenAICompatibleSummarizer | None:
    """The configured LLM summarizer, or None when WARMER_LLM_URL is unset (deterministic only)."""
    env = os.environ if env is None else env
    url = (env.get("WARMER_LLM_URL") or "").strip()
    if not url:
        return None
    timeout = float(env.get("WARMER_LLM_TIMEOUT_SECS") or 30)
    return OpenAICompatibleSummarizer(
        url, env.get("WARMER_LLM_MODEL", ""), env.get("WARMER_LLM_API_KEY"), timeout
    )
