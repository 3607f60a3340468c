"""The packaged sentence-transformers model as an ONNX graph: exported here, once per machine, never fetched.

The graph is the whole sentence encoder (BERT, mean pooling over the attention mask, L2 normalization),
so ONNX Runtime returns the final unit vectors. Steps, each measured on this machine kind (2 cores,
AVX-512 VNNI):

1. `torch.onnx.export` of the model loaded with eager attention: its MatMul/Softmax pattern is the one
   ONNX Runtime's BERT optimizer recognizes (the SDPA kernel's export is not fused).
2. `onnxruntime.transformers.optimizer`: fused EmbedLayerNormalization, Attention, SkipLayerNormalization
   and BiasGelu kernels.
3. int8: dynamic quantization of the weights, **per channel**. Per-tensor int8 agreed with torch at a
   mean cosine of only 0.94 on sqlalchemy chunks; per channel holds 0.99+ (bench/embeddings.py).

The files are cached under a directory named by the weights' sha256 and `RECIPE`, so new weights or a
changed recipe export anew and the same weights never export twice. Concurrent processes (a prefork
worker's children) take a file lock; files appear by atomic rename, never half-written. Each export is
checked against the torch model on probe texts before it is kept.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from warmer.artifacts.base import PermanentError

log = logging.getLogger(__name__)

RECIPE = "1"  # bump whenever a step below changes what is written
PRECISIONS = ("fp32", "int8")
OPSET = 17
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "config.json", "tokenizer.json", "modules.json")
# Probe texts for the self-check: code, prose, and one longer than the model's 256 word pieces.
PROBES = [
    "def fetch_rows(cursor, size=100):\n    return cursor.fetchmany(size)",
    "Connection pooling keeps database connections open for reuse.",
    "class Session:\n" + "    def method(self, value):\n        return value * 2\n" * 40,
]
MIN_FP32_AGREEMENT = 0.9999  # the fp32 graph computes what torch computes
MIN_INT8_AGREEMENT = 0.97  # per probe; the corpus-wide mean is measured by the bench


def weights_digest(model_dir: Path) -> str:
    """sha256 over the files that decide the vectors (weights, architecture, tokenizer), by name."""
    digest = hashlib.sha256()
    for name in WEIGHT_FILES:
        path = model_dir / name
        if not path.is_file():
            continue
        digest.update(f"{name}\0{path.stat().st_size}\0".encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _cached_digest(model_dir: Path, cache_root: Path) -> str:
    """`weights_digest`, remembered by the files' sizes and mtimes: a process start does not re-read
    90 MB of weights to find the file it exported last time."""
    stamp = [
        (name, (model_dir / name).stat().st_size, (model_dir / name).stat().st_mtime_ns)
        for name in WEIGHT_FILES
        if (model_dir / name).is_file()
    ]
    key = hashlib.sha256(json.dumps([str(model_dir.resolve()), stamp]).encode()).hexdigest()[:24]
    memo = cache_root / "digests" / key
    try:
        return memo.read_text().strip()
    except OSError:
        pass
    value = weights_digest(model_dir)
    _write_atomic(memo, value.encode())
    return value


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, prefix=".tmp-") as handle:
        handle.write(data)
    os.replace(handle.name, path)


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def export_dir(model_dir: Path, cache_root: Path, name: str) -> Path:
    """Where this model's exports live: one directory per (weights, recipe)."""
    return cache_root / f"{name}-{_cached_digest(model_dir, cache_root)[:16]}-r{RECIPE}"


def exported_model(model_dir: Path, precision: str, cache_root: Path, name: str | None = None) -> Path:
    """The ONNX file of `model_dir` at `precision`, exporting it first if this machine has not yet."""
    if precision not in PRECISIONS:
        raise PermanentError(f"ONNX precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    directory = export_dir(model_dir, cache_root, name or model_dir.name)
    target = directory / f"model-{precision}.onnx"
    if target.is_file():
        return target
    with _locked(directory), _quiet_onnxruntime():
        if target.is_file():  # another process exported it while this one waited
            return target
        reference = _reference(model_dir)
        fp32 = directory / "model-fp32.onnx"
        if not fp32.is_file():
            _export_fp32(model_dir, fp32, reference)
        if precision == "int8":
            _quantize_int8(model_dir, fp32, target, reference)
    return target


class _DropOnnxRuntimeRecords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or "onnxruntime" not in record.pathname


@contextmanager
def _quiet_onnxruntime() -> Iterator[None]:
    """The optimizer and quantizer log a line per tensor on the root logger: keep them out of the
    worker's log while they run (warnings still pass)."""
    drop = _DropOnnxRuntimeRecords()
    handlers = logging.getLogger().handlers
    for handler in handlers:
        handler.addFilter(drop)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(drop)


# --- the steps --------------------------------------------------------------------------------------


def _torch_encoder(model_dir: Path):  # type: ignore[no-untyped-def]
    """BERT with eager attention, mean pooling and normalization, as one torch module."""
    import torch
    import transformers

    transformers.logging.disable_progress_bar()
    bert = transformers.AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

    class SentenceEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            tokens = self.bert(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),  # one segment: every text is a single sentence
            )[0]
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    return SentenceEncoder().eval()


def _probe_inputs(model_dir: Path) -> tuple[object, object]:
    from warmer.artifacts.embeddings.tokenize import BatchTokenizer

    tokenizer = BatchTokenizer(model_dir)
    batch = tokenizer.pad(tokenizer.encode(PROBES))
    return batch.input_ids, batch.attention_mask


def _reference(model_dir: Path):  # type: ignore[no-untyped-def]
    """The torch encoder's vectors of the probes: what every export must reproduce."""
    import torch

    ids, mask = _probe_inputs(model_dir)
    with torch.inference_mode():
        return _torch_encoder(model_dir)(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()


def _check(model_dir: Path, onnx_path: Path, minimum: float, reference: object) -> None:
    import numpy as np
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    ids, mask = _probe_inputs(model_dir)
    vectors = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
    agreement = (np.asarray(vectors) * np.asarray(reference)).sum(axis=1)
    if float(agreement.min()) < minimum:
        raise PermanentError(
            f"the ONNX export {onnx_path.name} agrees with torch at cosine {agreement.min():.4f} "
            f"on a probe text (at least {minimum} required); it was not kept"
        )


def _export_fp32(model_dir: Path, target: Path, reference: object) -> None:
    import torch
    from onnxruntime.transformers import optimizer

    config = json.loads((model_dir / "config.json").read_text())
    ids, mask = _probe_inputs(model_dir)
    encoder = _torch_encoder(model_dir)
    log.info("exporting %s to ONNX (once per machine) into %s", model_dir.name, target.parent)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        raw = Path(scratch) / "raw.onnx"
        torch.onnx.export(
            encoder,
            (torch.from_numpy(ids), torch.from_numpy(mask)),
            str(raw),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "embedding": {0: "batch"},
            },
            opset_version=OPSET,
            dynamo=False,  # the TorchScript exporter: no onnxscript dependency, a graph the optimizer fuses
        )
        fused = optimizer.optimize_model(
            str(raw),
            model_type="bert",
            num_heads=int(config["num_attention_heads"]),
            hidden_size=int(config["hidden_size"]),
        )
        staged = Path(scratch) / "model.onnx"
        fused.save_model_to_file(str(staged))
        _check(model_dir, staged, MIN_FP32_AGREEMENT, reference)
        os.replace(staged, target)


def _quantize_int8(model_dir: Path, fp32: Path, target: Path, reference: object) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        staged = Path(scratch) / "model.onnx"
        quantize_dynamic(
            str(fp32),
            str(staged),
            weight_type=QuantType.QInt8,
            per_channel=True,
            # The fused contrib ops have no ONNX shape inference: their outputs are float.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        _check(model_dir, staged, MIN_INT8_AGREEMENT, reference)
        os.replace(staged, target)


__all__ = ["PRECISIONS", "RECIPE", "export_dir", "exported_model", "weights_digest"]
