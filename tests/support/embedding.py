"""The real embedding model behind a memo: a text it embedded once is not run through it again.

The model is deterministic for a text within one batch shape, so the memo changes no answer; it
saves wall time when tests embed the same corpus more than once. It records what was asked.
"""

from __future__ import annotations

import numpy as np

from warmer.artifacts.embeddings.models import Embedder


class RecordingEmbedder:
    """The real model behind a memo, recording every text the generator asked to embed."""

    def __init__(self, model: Embedder, memo: dict[str, np.ndarray]) -> None:
        self.model, self.memo = model, memo
        self.model_id, self.dim = model.model_id, model.dim
        self.requested: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.requested.extend(texts)
        new = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if new:
            self.memo.update(zip(new, self.model.embed(new), strict=True))
        return np.stack([self.memo[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)
