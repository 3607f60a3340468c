"""embedding_index on real code (click's source) with the real all-MiniLM-L6-v2 model (ONNX int8, the default).

The model is loaded once for the module and wrapped in a memo: a text the real model embedded once is
not run through it again by a later test. The wrapper records what the generator asks for, which is
what the reuse tests check; the memo only saves wall time.
"""

from __future__ import annotations

import hashlib
import http.server
import itertools
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import numpy as np
import pytest

from tests.support.embedding import RecordingEmbedder
from tests.support.extracts import CountingCache, generation_context
from tests.support.gitrepo import commit, make_repo, write
from warmer.artifacts.base import GenerationContext, PermanentError
from warmer.artifacts.embeddings import EmbeddingIndex, file_source_hash, index_of_result, known_hashes
from warmer.artifacts.embeddings import chunks as chunking
from warmer.artifacts.embeddings.models import (
    EXTRA_MESSAGE,
    Embedder,
    EmbeddingRequestRejected,
    EmbeddingServiceError,
    EmbeddingsUnavailable,
    LocalSentenceTransformer,
    OpenAICompatibleEmbedder,
    embedder_from_env,
)
from warmer.artifacts.embeddings.onnx_model import ONNX_MESSAGE
from warmer.artifacts.embeddings.search import clear_cache, search_index
from warmer.ledger import migrate
from warmer.ledger.db import Database

CLICK_FILES = ["formatting.py", "decorators.py", "exceptions.py", "_textwrap.py", "globals.py"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def real_model() -> Embedder:
    return embedder_from_env({})  # what a worker runs: the packaged model on ONNX Runtime, int8


@pytest.fixture(scope="module")
def memo() -> dict[str, np.ndarray]:
    return {}


@pytest.fixture
def embedder(real_model: Embedder, memo: dict[str, np.ndarray]) -> RecordingEmbedder:
    return RecordingEmbedder(real_model, memo)


@pytest.fixture(scope="module")
def click_files() -> dict[str, str | bytes]:
    source = Path(click.__file__).parent
    return {f"click/{name}": (source / name).read_text() for name in CLICK_FILES}


@pytest.fixture
def corpus(tmp_path: Path, click_files: dict[str, str | bytes]) -> Path:
    return make_repo(tmp_path / "clicklib", click_files)


@pytest.fixture(autouse=True)
def _fresh_search_cache() -> Iterator[None]:
    clear_cache()  # each test's database is new: vectors cached for an old one would be wrong
    yield
    clear_cache()


def context(repo: Path, db: Database | None, **kwargs: Any) -> GenerationContext:
    ctx = generation_context(repo, **kwargs)
    ctx.ledger = db
    return ctx


# --- the generator and search, on both ledgers ----------------------------------------------------


def test_query_finds_the_function_it_describes(
    ledger: Database, corpus: Path, embedder: RecordingEmbedder
) -> None:
    ctx = context(corpus, ledger)
    result = EmbeddingIndex(embedder).generate(ctx)

    *files, entry = result.entries
    payload = index_of_result(result)
    # The manifest's inputs are the tree and the model: another model's index is another entry;
    # a file's, its blob and the model.
    model_and_tree = hashlib.sha256(f"{ctx.snapshot.tree_id}:{payload['model']}".encode()).hexdigest()
    assert entry.path == "" and entry.source_hash == model_and_tree
    assert sorted(f.path for f in files) == sorted(payload["files"])
    for file in files:
        assert file.source_hash == file_source_hash(payload["files"][file.path]["blob"], payload["model"])
        assert "path" not in file.payload["chunks"][0]  # the entry's path says it once
    assert "chunks" not in entry.payload and entry.payload["counts"]["chunks"] == len(payload["chunks"])
    assert payload["artifact_type"] == "embedding_index" and payload["tree"] == ctx.snapshot.tree_id
    assert payload["model"] == "local/all-MiniLM-L6-v2/384/onnx-int8" and payload["dim"] == 384
    assert set(payload["files"]) == {f"click/{name}" for name in CLICK_FILES}
    assert sum(f["chunks"] for f in payload["files"].values()) == len(payload["chunks"])
    unique = {c["hash"] for c in payload["chunks"]}
    assert result.calls == {"extracted": 5, "reused": 0, "chunks_embedded": len(unique), "chunks_reused": 0}
    assert len(embedder.requested) == len(unique)  # each distinct text once
    assert known_hashes(ledger, payload["model"], sorted(unique)) == unique
    wrap = next(c for c in payload["chunks"] if c["symbol"] == "HelpFormatter.write_paragraph")
    assert (wrap["path"], wrap["kind"], wrap["start_line"]) == ("click/formatting.py", "method", 208)

    cases = {
        "wrap a long paragraph of text so its lines fit a given width": "wrap_text",
        "exception raised when the user aborts the program": "Abort",
        "decorator adding an option that asks the user to confirm": "confirmation_option",
    }
    for query, symbol in cases.items():
        hits = search_index(ledger, payload, query, k=3, embedder=embedder)
        assert len(hits) == 3
        assert symbol in [(h["symbol"] or "").split(".")[0] for h in hits], (query, hits)
        assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]
        assert set(hits[0]) == {"path", "start_line", "end_line", "symbol", "kind", "score"}


def test_second_run_on_the_same_commit_embeds_nothing(
    ledger: Database, corpus: Path, embedder: RecordingEmbedder
) -> None:
    cache = CountingCache()
    first = EmbeddingIndex(embedder).generate(context(corpus, ledger, cache=cache))
    embedder.requested.clear()
    second = EmbeddingIndex(embedder).generate(context(corpus, ledger, cache=cache))
    assert second.calls["chunks_embedded"] == 0 and second.calls["extracted"] == 0
    assert second.calls["chunks_reused"] == first.calls["chunks_embedded"] > 100
    assert embedder.requested == []
    assert index_of_result(second) == index_of_result(first)


def test_commit_editing_one_function_embeds_only_its_chunk(
    ledger: Database, corpus: Path, embedder: RecordingEmbedder
) -> None:
    cache = CountingCache()
    EmbeddingIndex(embedder).generate(context(corpus, ledger, cache=cache))
    path = corpus / "click/formatting.py"
    source = path.read_text()
    edited = source.replace("widths: dict[int, int] = {}", "widths: dict[int, int] = {}  # column → width")
    assert edited != source
    write(corpus, {"click/formatting.py": edited})
    commit(corpus, "comment measure_table")

    embedder.requested.clear()
    result = EmbeddingIndex(embedder).generate(
        context(corpus, ledger, cache=cache, scope=["click/formatting.py"])
    )
    assert result.calls["extracted"] == 1 and result.calls["reused"] == 4
    assert result.calls["chunks_embedded"] == 1
    [text] = embedder.requested
    assert text.startswith("def measure_table(") and "column → width" in text
    payload = index_of_result(result)  # nothing stored by a runner here: every file's entry is emitted
    assert len(payload["files"]) == 5
    hits = search_index(ledger, payload, "measure the width of each table column", k=3, embedder=embedder)
    assert "measure_table" in [h["symbol"] for h in hits]


def test_commits_refreshed_in_place_equal_a_from_scratch_build(
    ledger: Database, corpus: Path, embedder: RecordingEmbedder, tmp_path: Path
) -> None:
    """An edit, a new file, a deletion and a rename, each refreshed from the kept extracts and
    vectors, give the index a from-scratch build of the same commit gives in an empty ledger."""
    cache = CountingCache()
    EmbeddingIndex(embedder).generate(context(corpus, ledger, cache=cache))
    formatting = (corpus / "click/formatting.py").read_text()
    decorators = (corpus / "click/decorators.py").read_text()
    steps = [
        ({"click/formatting.py": formatting + "\n\ndef extra():\n    return 1\n"}, []),
        ({"click/new_module.py": 'def brand_new(x):\n    """Double x."""\n    return 2 * x\n'}, []),
        ({}, ["click/globals.py"]),
        ({"click/decorating.py": decorators.replace("def ", "def  ", 1)}, ["click/decorators.py"]),
    ]
    for index, (changed, deleted) in enumerate(steps):
        write(corpus, changed)
        for name in deleted:
            (corpus / name).unlink()
        commit(corpus, f"step {index}")
        scope = sorted(changed) + deleted
        refreshed = EmbeddingIndex(embedder).generate(context(corpus, ledger, cache=cache, scope=scope))
        fresh_db = Database(f"sqlite:///{tmp_path / f'fresh-{index}.db'}")
        migrate.upgrade(fresh_db)
        try:
            fresh = EmbeddingIndex(embedder).generate(context(corpus, fresh_db, cache=CountingCache()))
        finally:
            fresh_db.dispose()
        assert index_of_result(refreshed) == index_of_result(fresh), f"step {index}"
        assert refreshed.entries[-1].source_hash == fresh.entries[-1].source_hash


def test_identical_content_in_another_repository_reuses_vectors(
    ledger: Database, tmp_path: Path, click_files: dict[str, str | bytes], embedder: RecordingEmbedder
) -> None:
    first = make_repo(tmp_path / "one", click_files)
    EmbeddingIndex(embedder).generate(context(first, ledger))
    other = make_repo(tmp_path / "two", {f"copy/{p}": c for p, c in click_files.items()})
    embedder.requested.clear()
    result = EmbeddingIndex(embedder).generate(context(other, ledger))  # and a fresh extract cache
    assert result.calls["chunks_embedded"] == 0 and result.calls["extracted"] == 5
    assert embedder.requested == []
    assert all(c["path"].startswith("copy/click/") for c in index_of_result(result)["chunks"])


def test_cached_extracts_with_vectors_missing_are_rechunked(
    tmp_path: Path, sqlite_db: Database, corpus: Path, embedder: RecordingEmbedder
) -> None:
    """Extracts cached, vectors absent (another ledger, a model change): the texts come from the blobs."""
    cache = CountingCache()
    EmbeddingIndex(embedder).generate(context(corpus, sqlite_db, cache=cache))
    elsewhere = Database(f"sqlite:///{tmp_path / 'other.db'}")
    from warmer.ledger import migrate

    migrate.upgrade(elsewhere)
    embedder.requested.clear()
    result = EmbeddingIndex(embedder).generate(context(corpus, elsewhere, cache=cache))
    assert result.calls["extracted"] == 0 and result.calls["chunks_embedded"] > 100
    hashes = {chunking.chunk_hash(t) for t in embedder.requested}
    assert hashes == {c["hash"] for c in index_of_result(result)["chunks"]}
    elsewhere.dispose()


def test_without_a_ledger_the_error_is_clear(corpus: Path, embedder: RecordingEmbedder) -> None:
    with pytest.raises(PermanentError, match="needs the ledger"):
        EmbeddingIndex(embedder).generate(context(corpus, None))


def test_skipped_files_are_reported(sqlite_db: Database, tmp_path: Path, embedder: RecordingEmbedder) -> None:
    repo = make_repo(
        tmp_path / "mixed",
        {
            "docs/guide.md": "# Guide\n\nHow to install the tool and run it.\n",
            "data/blob.py": b"\x00\x01binary",
            "latin.py": "caf\xe9 = 1\n".encode("latin-1"),
            "bundle.js": "var a=1;" * 2000,
            "logo.png": b"\x89PNG",
        },
    )
    payload = index_of_result(EmbeddingIndex(embedder).generate(context(repo, sqlite_db)))
    assert {(s["path"], s["reason"]) for s in payload["skipped"]} == {
        ("data/blob.py", "binary"),
        ("latin.py", "non_utf8"),
        ("bundle.js", "minified"),
    }
    assert [(c["path"], c["symbol"], c["kind"]) for c in payload["chunks"]] == [
        ("docs/guide.md", "Guide", "section")
    ]


# --- the optional extra ---------------------------------------------------------------------------


def test_missing_extra_is_a_clear_permanent_error(
    monkeypatch: pytest.MonkeyPatch, corpus: Path, sqlite_db: Database
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(EmbeddingsUnavailable) as caught:
        LocalSentenceTransformer()
    assert str(caught.value) == EXTRA_MESSAGE
    assert isinstance(caught.value, PermanentError)
    with pytest.raises(EmbeddingsUnavailable, match="pip install 'warmer\\[embeddings\\]'"):
        embedder_from_env({"WARMER_EMBEDDINGS_RUNTIME": "torch"})
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(EmbeddingsUnavailable, match="WARMER_EMBEDDINGS_RUNTIME=torch"):
        embedder_from_env({})
    import warmer.artifacts.embeddings as package

    monkeypatch.setattr(package, "_default_embedder", None)
    with pytest.raises(EmbeddingsUnavailable):
        EmbeddingIndex().generate(context(corpus, sqlite_db))


def test_the_package_imports_without_the_extra() -> None:
    code = (
        "import sys\n"
        "for name in ('torch', 'sentence_transformers', 'numpy', 'onnxruntime'): sys.modules[name] = None\n"
        "from warmer.artifacts.embeddings import EmbeddingIndex\n"
        "from warmer.artifacts.embeddings.search import search_index\n"
        "from warmer.artifacts.embeddings.models import embedder_from_env\n"
        "try:\n    embedder_from_env({})\nexcept Exception as exc:\n    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"EmbeddingsUnavailable {ONNX_MESSAGE}"


# --- chunking -------------------------------------------------------------------------------------


def test_long_function_becomes_overlapping_windows() -> None:
    body = "".join(f"    total_{i} = compute_value(items[{i}], factor={i}) + offset\n" for i in range(200))
    source = f"import os\n\n\ndef long_function(items, offset):\n{body}    return total_0\n"
    payload, chunks = chunking.chunk_file("python", source.encode(), 1_000_000)
    windows = [c for c in chunks if c.symbol == "long_function"]
    assert len(windows) > 5 and all(c.kind == "function" for c in windows)
    assert all(chunking.estimate_tokens(c.text) <= chunking.MAX_TOKENS for c in windows)
    assert windows[0].start_line == 4 and windows[-1].end_line == 205
    for before, after in itertools.pairwise(windows):
        assert 0 <= before.end_line - after.start_line + 1 <= chunking.OVERLAP_LINES  # small overlap, no gap
    lines = source.split("\n")
    for chunk in windows:
        assert chunk.text == "\n".join(lines[chunk.start_line - 1 : chunk.end_line])
    assert [c["hash"] for c in payload["chunks"]] == [c.hash for c in chunks]
    assert "text" not in payload["chunks"][0]  # metadata only


def test_a_long_class_becomes_its_methods_and_a_header() -> None:
    methods = "".join(
        f"    def method_{i}(self, value):\n        '''Handle case {i}.'''\n"
        f"        return self.transform(value, {i}) * self.scale + {i}\n\n"
        for i in range(20)
    )
    source = f'@decorated\nclass Handler(Base):\n    """Handles things."""\n\n    scale = 2\n\n{methods}'
    chunks = chunking.code_chunks(chunking.split_lines(source), _symbols(source))
    assert chunks[0].kind == "class_header" and chunks[0].symbol == "Handler"
    assert chunks[0].start_line == 1 and "scale = 2" in chunks[0].text  # the decorator belongs to the class
    assert [c.symbol for c in chunks[1:]] == [f"Handler.method_{i}" for i in range(20)]
    assert {c.kind for c in chunks[1:]} == {"method"}


def _symbols(source: str) -> list[dict[str, Any]]:
    from warmer.artifacts.symbols.extract import extract_symbols

    return extract_symbols("x.py", "python", source.encode())["symbols"]


def test_markdown_is_split_into_paragraphs_under_headings() -> None:
    text = (
        "# Project\n\nIntro paragraph.\n\nSecond intro paragraph.\n\n"
        "## Install\n\nRun pip install.\n\n## Usage\n\n"
        + "\n\n".join(f"Step {i} " + "word " * 60 for i in range(6))
    )
    chunks = chunking.text_chunks(chunking.split_lines(text), markdown=True)
    assert [c.symbol for c in chunks][:2] == ["Project", "Install"]
    assert (
        chunks[0].text == "# Project\n\nIntro paragraph.\n\nSecond intro paragraph."
    )  # merged while they fit
    usage = [c for c in chunks if c.symbol == "Usage"]
    assert len(usage) >= 2 and usage[0].text.startswith("## Usage")
    assert all(chunking.estimate_tokens(c.text) <= chunking.MAX_TOKENS for c in chunks)
    assert {c.kind for c in chunks} == {"section"}


def test_a_one_megabyte_single_line_file() -> None:
    line = "x=" + ",".join(str(i) for i in range(200_000))
    line = line[:1_000_000]
    payload, chunks = chunking.chunk_file("javascript", line.encode(), 2_000_000)
    assert payload["skipped"] == "minified" and chunks == []
    assert chunking.chunk_file("javascript", line.encode(), 500_000)[0]["skipped"] == "too_large"
    pieces = chunking.text_chunks([line])  # the chunker itself still bounds every piece
    assert len(pieces) > 100 and "".join(p.text for p in pieces) == line
    assert all(p.start_line == p.end_line == 1 for p in pieces)
    assert max(chunking.estimate_tokens(p.text) for p in pieces) <= chunking.MAX_TOKENS


def test_chunk_kinds_by_path() -> None:
    assert chunking.chunk_kind("src/app.py") == "python"
    assert chunking.chunk_kind("ui/view.tsx") == "tsx"
    assert chunking.chunk_kind("README.md") == "markdown"
    assert chunking.chunk_kind("docs/index.rst") == "prose"
    assert chunking.chunk_kind("README") == "prose"
    assert chunking.chunk_kind("config/app.yaml") == "config"
    assert chunking.chunk_kind("scripts/run.sh") == "lines"
    for ignored in ("package-lock.json", "dist/app.min.js", "logo.png", "LICENSE"):
        assert chunking.chunk_kind(ignored) is None


# --- OpenAI-compatible endpoint -------------------------------------------------------------------


class _Endpoint(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []
    status = 200

    def do_POST(self) -> None:  # http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if type(self).status != 200:
            self.send_response(type(self).status)
            self.end_headers()
            self.wfile.write(b'{"error": "bad key sk-secret-123"}')
            return
        # Unnormalized vectors, answered in reverse order: the client must sort by index and normalize.
        data = [
            {"index": i, "embedding": [float(len(t)), 1.0, 0.0, 2.0]} for i, t in enumerate(body["input"])
        ]
        answer = json.dumps({"object": "list", "data": data[::-1], "model": body["model"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    _Endpoint.seen, _Endpoint.status = [], 200
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_openai_compatible_embedder(endpoint: str) -> None:
    embedder = embedder_from_env(
        {
            "WARMER_EMBEDDINGS_PROVIDER": "openai",
            "WARMER_EMBEDDINGS_URL": endpoint + "/",
            "WARMER_EMBEDDINGS_MODEL": "text-embedding-3-small",
            "WARMER_EMBEDDINGS_API_KEY": "sk-secret-123",
        }
    )
    assert isinstance(embedder, OpenAICompatibleEmbedder)
    assert embedder.model_id == "openai/text-embedding-3-small/4"  # dimension learned from one probe
    assert "sk-secret" not in repr(embedder)
    vectors = embedder.embed(["a", "bbb"])
    assert vectors.dtype == np.float32 and vectors.shape == (2, 4)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(vectors[1], np.array([3, 1, 0, 2]) / np.sqrt(14), rtol=1e-6)
    request = _Endpoint.seen[-1]
    assert request == {
        "path": "/v1/embeddings",
        "auth": "Bearer sk-secret-123",
        "body": {"model": "text-embedding-3-small", "input": ["a", "bbb"]},
    }

    _Endpoint.status = 401
    with pytest.raises(EmbeddingRequestRejected) as rejected:
        embedder.embed(["c"])
    assert "HTTP 401" in str(rejected.value) and "sk-secret" not in str(rejected.value)
    _Endpoint.status = 503
    with pytest.raises(EmbeddingServiceError, match="HTTP 503"):
        embedder.embed(["c"])


def test_openai_embedder_errors() -> None:
    unreachable = OpenAICompatibleEmbedder("http://127.0.0.1:9", "m", dim=4, timeout=2)
    with pytest.raises(
        EmbeddingServiceError, match=re.escape("embeddings request to http://127.0.0.1:9/embeddings")
    ):
        unreachable.embed(["x"])
    with pytest.raises(PermanentError, match="WARMER_EMBEDDINGS_URL"):
        embedder_from_env({"WARMER_EMBEDDINGS_PROVIDER": "openai"})
    with pytest.raises(PermanentError, match="expected local or openai"):
        embedder_from_env({"WARMER_EMBEDDINGS_PROVIDER": "cohere"})


# --- search input ---------------------------------------------------------------------------------


def test_bad_search_input(sqlite_db: Database, embedder: RecordingEmbedder) -> None:
    payload = {"model": embedder.model_id, "dim": 384, "commit": "c", "tree": "t", "chunks": []}
    for query in ("", "   ", None, "x" * 2001):
        with pytest.raises(ValueError, match="query"):
            search_index(sqlite_db, payload, query, embedder=embedder)  # type: ignore[arg-type]
    for k in (0, 101, -1, True, "5", 2.5):
        with pytest.raises(ValueError, match="k must be"):
            search_index(sqlite_db, payload, "wrap text", k=k, embedder=embedder)  # type: ignore[arg-type]
    assert search_index(sqlite_db, payload, "x" * 2000, k=100, embedder=embedder) == []
    with pytest.raises(ValueError, match="built with openai/other/384"):
        search_index(sqlite_db, {**payload, "model": "openai/other/384"}, "wrap text", embedder=embedder)
