"""The packaged all-MiniLM-L6-v2 through ONNX Runtime: the default local embedder, faster than torch.

The graph is exported from the packaged weights on first use (`onnx_export.py`, once per machine) and
returns unit vectors. Texts are tokenized in one call, sorted by token count and cut into batches padded
to their longest member; results come back in input order.

One text per run by default: int8 quantizes activations with one scale per batch tensor, so in a
batch of 16 a text's vector moved with its batch-mates (cosine as low as 0.984 against the same text
embedded alone), and a vector stored by its chunk hash must be a function of the text. Batch 1 was
also the fastest in bench/embeddings.py's sweep (228 chunks/s against 195 for batch 16, 2 threads):
no padding.

Its `model_id` names the runtime and precision (`local/all-MiniLM-L6-v2/384/onnx-int8`): vectors are
stored under it, so int8 vectors never stand in for fp32 or torch ones; int8 in larger batches is
named apart (`onnx-int8-batch16`), its vectors depending on the batch.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from warmer.artifacts.base import PermanentError
from warmer.artifacts.embeddings.models import (
    LOCAL_MODEL_NAME,
    EmbeddingsUnavailable,
    available_cores,
    configured_dim,
    missing_module,
    packaged_model_dir,
)

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

ONNX_MESSAGE = (
    "the ONNX embedder needs onnxruntime and onnx (pip install 'warmer[embeddings]'); "
    "WARMER_EMBEDDINGS_RUNTIME=torch uses the torch model instead"
)
# Texts per ONNX Runtime call: measured in bench/embeddings.py (see the module's docstring).
ONNX_BATCH_SIZE = 1

_sessions: dict[tuple[str, int], Any] = {}
_sessions_lock = threading.Lock()


def require_onnx() -> None:
    if any(missing_module(name) for name in ("numpy", "onnxruntime", "tokenizers")):
        raise EmbeddingsUnavailable(ONNX_MESSAGE)


def default_cache_root() -> Path:
    """Exported graphs are derived files, rebuilt at will: WARMER_MODEL_CACHE, else the user's cache
    directory ($XDG_CACHE_HOME/warmer/models, ~/.cache/warmer/models). Not the data directory: every
    ledger, test and worker on a machine shares one export."""
    import os

    if os.environ.get("WARMER_MODEL_CACHE"):
        return Path(os.environ["WARMER_MODEL_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "warmer" / "models"


class OnnxSentenceEncoder:
    """A sentence-transformers model directory run by ONNX Runtime on this machine's CPU."""

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        precision: str = "int8",
        threads: int | None = None,
        batch_size: int = ONNX_BATCH_SIZE,
        cache_root: str | Path | None = None,
    ) -> None:
        require_onnx()
        from warmer.artifacts.embeddings.onnx_export import PRECISIONS

        if precision not in PRECISIONS:
            raise PermanentError(f"ONNX precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.model_dir = Path(model_dir) if model_dir is not None else packaged_model_dir()
        self.name = LOCAL_MODEL_NAME if model_dir is None else self.model_dir.name
        self.precision = precision
        self.threads = threads or available_cores()
        self.batch_size = batch_size
        self.cache_root = Path(cache_root) if cache_root is not None else default_cache_root()
        self.dim = configured_dim(self.model_dir)
        batched = f"-batch{batch_size}" if precision == "int8" and batch_size > 1 else ""
        self.model_id = f"local/{self.name}/{self.dim}/onnx-{precision}{batched}"
        self._tokenizer: Any = None

    def __repr__(self) -> str:
        return f"OnnxSentenceEncoder({self.model_id!r}, threads={self.threads}, batch_size={self.batch_size})"

    def session(self) -> Any:
        """The process's ONNX Runtime session for this model and thread count, created on first use."""
        from warmer.artifacts.embeddings.onnx_export import exported_model

        path = exported_model(self.model_dir, self.precision, self.cache_root, self.name)
        key = (str(path), self.threads)
        with _sessions_lock:
            if key not in _sessions:
                _sessions[key] = self._open(path)
            return _sessions[key]

    def _open(self, path: Path) -> Any:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1  # one request at a time: parallelism is inside each operator
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: the optimizer's notices are not the worker's business
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        log.info("loaded embedding model %s from %s (%d threads)", self.model_id, path, self.threads)
        return session

    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from warmer.artifacts.embeddings.tokenize import BatchTokenizer

            self._tokenizer = BatchTokenizer(self.model_dir)
        return self._tokenizer

    def embed(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        session = self.session()
        tokenizer = self.tokenizer()
        ids = tokenizer.encode(texts)
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))  # longest first, so batches are even
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            batch = tokenizer.pad([ids[i] for i in rows])
            vectors = session.run(
                None, {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask}
            )[0]
            out[rows] = vectors
        return out


__all__ = ["ONNX_BATCH_SIZE", "OnnxSentenceEncoder", "default_cache_root", "require_onnx"]
