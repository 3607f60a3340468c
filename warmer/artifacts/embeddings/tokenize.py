"""Word pieces for the ONNX encoder, exactly as sentence-transformers makes them, without torch.

The packaged `tokenizer.json` is read by the `tokenizers` library (Rust, the same one transformers'
fast tokenizer wraps). Its file says truncate and pad to 128; sentence-transformers overrides both
with `max_seq_length` from `sentence_bert_config.json` (256 for all-MiniLM-L6-v2) and pads a batch
to its longest text, so this does the same: the vectors match the torch path's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from warmer.artifacts.base import PermanentError

if TYPE_CHECKING:
    import numpy as np

DEFAULT_MAX_SEQ_LENGTH = 256


@dataclass(frozen=True)
class Batch:
    input_ids: np.ndarray  # int64 (texts, longest), zero-padded on the right
    attention_mask: np.ndarray  # int64, 1 on real tokens


def max_seq_length(model_dir: Path) -> int:
    """The length sentence-transformers truncates to for this model."""
    try:
        config = json.loads((model_dir / "sentence_bert_config.json").read_text())
        return int(config.get("max_seq_length") or DEFAULT_MAX_SEQ_LENGTH)
    except FileNotFoundError:
        return DEFAULT_MAX_SEQ_LENGTH
    except (OSError, ValueError, TypeError) as exc:
        raise PermanentError(f"cannot read {model_dir / 'sentence_bert_config.json'}: {exc}") from exc


class BatchTokenizer:
    def __init__(self, model_dir: Path, max_length: int | None = None) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:
            from warmer.artifacts.embeddings.models import EmbeddingsUnavailable

            raise EmbeddingsUnavailable() from exc
        path = model_dir / "tokenizer.json"
        if not path.is_file():
            raise PermanentError(
                f"{model_dir} has no tokenizer.json: the ONNX runtime needs a fast tokenizer"
            )
        self.max_length = max_length or max_seq_length(model_dir)
        self._tokenizer = Tokenizer.from_file(str(path))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=self.max_length)

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids per text, [CLS] … [SEP], at most `max_length` of them."""
        return [encoding.ids for encoding in self._tokenizer.encode_batch(texts)]

    @staticmethod
    def pad(ids: list[list[int]]) -> Batch:
        """One batch, padded to its longest member (a batch of similar lengths wastes nothing)."""
        import numpy as np

        longest = max(len(row) for row in ids)
        input_ids = np.zeros((len(ids), longest), dtype=np.int64)
        mask = np.zeros((len(ids), longest), dtype=np.int64)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return Batch(input_ids, mask)


__all__ = ["Batch", "BatchTokenizer", "max_seq_length"]
