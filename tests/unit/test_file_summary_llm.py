"""The LLM summarizer against a real HTTP endpoint speaking the OpenAI chat-completions protocol."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.extracts import generation_context
from warmer.artifacts.file_summary import FileSummary
from warmer.artifacts.file_summary.llm import OpenAICompatibleSummarizer, summarizer_from_env


class Endpoint:
    """A chat-completions server on an ephemeral port that records what it was asked."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append((self.path, dict(self.headers.items()), body))
                facts = json.loads(body["messages"][1]["content"])
                answer = {
                    "choices": [
                        {
                            "message": {
                                "role": "assistant",
                                "content": f"  The {facts['role']} file {facts['path']}.\n",
                            }
                        }
                    ]
                }
                data = json.dumps(answer).encode()
                self.send_response(outer.status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    server = Endpoint()
    yield server
    server.server.shutdown()


def _summaries(generator: FileSummary, repo: Path) -> dict[str, dict[str, Any]]:
    result = generator.generate(generation_context(repo))
    return {entry.path: entry.payload for entry in result.entries if entry.path}


def test_the_model_writes_the_summary_from_the_facts(endpoint: Endpoint, small_repo: Path) -> None:
    generator = FileSummary(OpenAICompatibleSummarizer(endpoint.url, "tiny-model", api_key="k-123"))
    summaries = _summaries(generator, small_repo)
    main = summaries["app/main.py"]
    assert (
        main["summary"] == f"The {main['role']} file app/main.py." and main["summary_source"] == "tiny-model"
    )
    assert main["generator_version"].startswith("4+llm-") and "k-123" not in main["generator_version"]
    path, headers, body = endpoint.requests[0]
    assert path == "/v1/chat/completions" and headers["Authorization"] == "Bearer k-123"
    assert body["model"] == "tiny-model" and body["temperature"] == 0
    assert {"path", "role", "main_symbols"} <= set(json.loads(body["messages"][1]["content"]))


def test_a_failing_endpoint_falls_back_to_the_deterministic_summary(
    endpoint: Endpoint, small_repo: Path
) -> None:
    endpoint.status = 503
    llm = OpenAICompatibleSummarizer(endpoint.url, "tiny-model")
    main = _summaries(FileSummary(llm), small_repo)["app/main.py"]
    assert main["summary"] == _summaries(FileSummary(), small_repo)["app/main.py"]["summary"]
    assert main["summary_source"] == "deterministic (LLM unavailable)" and llm.failures >= 1

    unreachable = OpenAICompatibleSummarizer("http://127.0.0.1:9/v1", "m", timeout=2)
    assert (
        "Defines function main" in _summaries(FileSummary(unreachable), small_repo)["app/main.py"]["summary"]
    )


def test_configuration_from_the_environment() -> None:
    assert summarizer_from_env({}) is None
    llm = summarizer_from_env({"WARMER_LLM_URL": "http://llm.local/v1", "WARMER_LLM_MODEL": "m"})
    assert llm is not None and llm.url == "http://llm.local/v1/chat/completions"
    with pytest.raises(ValueError, match="WARMER_LLM_MODEL"):
        summarizer_from_env({"WARMER_LLM_URL": "http://llm.local/v1"})
    with pytest.raises(ValueError, match="http"):
        summarizer_from_env({"WARMER_LLM_URL": "llm.local", "WARMER_LLM_MODEL": "m"})
    assert FileSummary().version == "4"  # unset: deterministic, the plain version
