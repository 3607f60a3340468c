"""The local model's two runtimes: ONNX Runtime (default, int8 or fp32) against the torch reference.

Real texts (click's source, chunked as the generator chunks it), the real packaged weights, the real
export (once per machine, in the user's cache directory; the first run of this module pays for it).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import click
import numpy as np
import pytest

from tests.support.extracts import generation_context
from tests.support.gitrepo import make_repo
from warmer.artifacts.base import PermanentError
from warmer.artifacts.embeddings import EmbeddingIndex, index_of_result, known_hashes, onnx_export
from warmer.artifacts.embeddings.chunks import chunk_file, chunk_kind
from warmer.artifacts.embeddings.models import (
    LocalSentenceTransformer,
    embedder_for_model,
    embedder_from_env,
    packaged_model_dir,
)
from warmer.artifacts.embeddings.onnx_model import OnnxSentenceEncoder, default_cache_root
from warmer.ledger.db import Database

CLICK_FILES = ["core.py", "termui.py", "types.py"]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    source = Path(click.__file__).parent
    found: list[str] = []
    for name in CLICK_FILES:
        path = f"click/{name}"
        found += [c.text for c in chunk_file(chunk_kind(path) or "", (source / name).read_bytes(), 10**6)[1]]
    distinct = sorted(set(found))
    return random.Random(11).sample(distinct, 48)


@pytest.fixture(scope="module")
def torch_vectors(texts: list[str]) -> np.ndarray:
    return LocalSentenceTransformer().embed(texts)


def test_onnx_agrees_with_torch_on_real_code(texts: list[str], torch_vectors: np.ndarray) -> None:
    assert max(len(t) for t in texts) > 900  # some are long enough to be cut at 256 word pieces
    fp32 = OnnxSentenceEncoder(precision="fp32").embed(texts)
    int8 = OnnxSentenceEncoder(precision="int8").embed(texts)
    for vectors in (fp32, int8):
        assert vectors.dtype == np.float32 and vectors.shape == (len(texts), 384)
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    fp32_cos = (fp32 * torch_vectors).sum(axis=1)
    int8_cos = (int8 * torch_vectors).sum(axis=1)
    assert fp32_cos.min() > 0.9999  # the same function of the same word pieces
    assert int8_cos.mean() >= 0.99 and int8_cos.min() > 0.97, (int8_cos.mean(), int8_cos.min())


def test_batching_and_order_do_not_change_vectors(texts: list[str]) -> None:
    """Length-sorted, padded batches: each text's vector is the one it gets alone, in input order."""
    encoder = OnnxSentenceEncoder(precision="fp32", batch_size=5)
    together = encoder.embed(texts[:12])
    alone = np.stack([encoder.embed([t])[0] for t in texts[:12]])
    np.testing.assert_allclose(together, alone, atol=2e-5)
    np.testing.assert_allclose(encoder.embed(texts[:12][::-1]), together[::-1], atol=2e-5)
    assert encoder.embed([]).shape == (0, 384)


def test_an_int8_vector_is_a_function_of_its_text_alone(texts: list[str]) -> None:
    """Vectors are stored by chunk hash, so the default int8 encoder must give a text the same vector
    whatever else it is embedded with; in batches int8's per-batch activation scale moves it."""
    default = OnnxSentenceEncoder(precision="int8")
    first = default.embed(texts[:24])
    np.testing.assert_array_equal(default.embed(texts[:24][::-1])[::-1], first)
    np.testing.assert_array_equal(default.embed(texts[12:24] + texts[30:40])[:12], first[12:])
    batched = OnnxSentenceEncoder(precision="int8", batch_size=16)
    assert batched.model_id == default.model_id + "-batch16"  # its vectors are not interchangeable
    assert (batched.embed(texts[:24]) * first).sum(axis=1).min() < 0.9999  # and they do differ


def test_model_ids_name_the_runtime_and_precision() -> None:
    ids = {
        embedder_from_env({}).model_id,
        embedder_from_env({"WARMER_EMBEDDINGS_PRECISION": "fp32"}).model_id,
        embedder_from_env({"WARMER_EMBEDDINGS_RUNTIME": "torch"}).model_id,
    }
    assert ids == {
        "local/all-MiniLM-L6-v2/384/onnx-int8",
        "local/all-MiniLM-L6-v2/384/onnx-fp32",
        "local/all-MiniLM-L6-v2/384/torch-fp32",
    }
    for model_id in ids:  # a query is embedded by what built the index, whatever the env prefers now
        assert embedder_for_model(model_id, {"WARMER_EMBEDDINGS_RUNTIME": "torch"}).model_id == model_id
    assert embedder_from_env({"WARMER_EMBEDDINGS_THREADS": "1"}).threads == 1  # type: ignore[attr-defined]
    for env, message in (
        ({"WARMER_EMBEDDINGS_RUNTIME": "tensorrt"}, "expected onnx or torch"),
        ({"WARMER_EMBEDDINGS_PRECISION": "int4"}, "expected int8 or fp32"),
        ({"WARMER_EMBEDDINGS_RUNTIME": "torch", "WARMER_EMBEDDINGS_PRECISION": "int8"}, "fp32 only"),
        ({"WARMER_EMBEDDINGS_THREADS": "0"}, "at least 1"),
        ({"WARMER_EMBEDDINGS_THREADS": "two"}, "at least 1"),
    ):
        with pytest.raises(PermanentError, match=message):
            embedder_from_env(env)


def test_runtimes_never_share_vectors(sqlite_db: Database, tmp_path: Path) -> None:
    """Vectors are keyed by model id: an int8 index is not served torch's vectors, nor the reverse."""
    repo = make_repo(
        tmp_path / "tiny", {"a.py": "def add(a, b):\n    '''Sum of two numbers.'''\n    return a + b\n"}
    )
    ctx = generation_context(repo)
    ctx.ledger = sqlite_db
    int8 = EmbeddingIndex(OnnxSentenceEncoder()).generate(ctx)
    hashes = [c["hash"] for c in index_of_result(int8)["chunks"]]
    assert known_hashes(sqlite_db, "local/all-MiniLM-L6-v2/384/onnx-int8", hashes) == set(hashes)
    assert known_hashes(sqlite_db, "local/all-MiniLM-L6-v2/384/torch-fp32", hashes) == set()
    torch_run = EmbeddingIndex(LocalSentenceTransformer()).generate(ctx)
    assert torch_run.calls["chunks_embedded"] == len(set(hashes))  # embedded again, under its own id
    assert torch_run.entries[-1].source_hash != int8.entries[-1].source_hash


def test_the_export_happens_once_per_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    encoder = OnnxSentenceEncoder()
    encoder.embed(["warm the export"])
    path = onnx_export.exported_model(encoder.model_dir, "int8", default_cache_root(), encoder.name)
    stamp = path.stat().st_mtime_ns

    def no_second_export(*_args: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_export, "_export_fp32", no_second_export)
    monkeypatch.setattr(onnx_export, "_quantize_int8", no_second_export)
    again = onnx_export.exported_model(encoder.model_dir, "int8", default_cache_root(), encoder.name)
    assert again == path and path.stat().st_mtime_ns == stamp
    assert path.parent.parent == default_cache_root() and path.parent.name.startswith("all-MiniLM-L6-v2-")

    # Other weights (here: one changed config file beside links to the packaged ones) export elsewhere.
    source = packaged_model_dir()
    other = tmp_path / "model"
    other.mkdir()
    for item in source.iterdir():
        if item.name != "config.json":
            os.symlink(item, other / item.name)
    (other / "config.json").write_text((source / "config.json").read_text().replace("}", ', "note": 1}', 1))
    assert onnx_export.weights_digest(other) != onnx_export.weights_digest(source)
    assert onnx_export.export_dir(other, tmp_path, "m") != onnx_export.export_dir(source, tmp_path, "m")
    with pytest.raises(PermanentError, match="precision"):
        onnx_export.exported_model(source, "int4", tmp_path)
