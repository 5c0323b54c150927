"""How alike two harvested records are: titles, full text and embeddings, as one pair score.

Pure and vectorised: `Similarity` is built once over every record taking part in resolution;
`pair` scores one pair and `neighbours` yields, for a group of records, the pairs among each
record's nearest neighbours (blocking), so the work grows with n * k, not n squared, in memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

_WORD = re.compile(r"[a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
CHUNK = 2048


class SimilarityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weights: dict[str, float] = Field(
        default_factory=lambda: {"title": 0.45, "text": 0.35, "embedding": 0.2})
    title_stopwords: list[str] = Field(default_factory=list)
    neighbours: int = Field(10, ge=1, le=200)


def title_tokens(title: str, stopwords: frozenset[str]) -> list[str]:
    """Words of a title; "owner/RepoName" and "Repo_Name" give their parts."""
    text = _CAMEL.sub(" ", title).lower()
    return [w for w in _WORD.findall(text) if w not in stopwords]


class Similarity:
    def __init__(self, titles: Sequence[str], texts: Sequence[str],
                 embeddings: np.ndarray | None, cfg: SimilarityConfig) -> None:
        n = len(titles)
        self.cfg = cfg
        stop = frozenset(w.lower() for w in cfg.title_stopwords)
        self._title = _tfidf([" ".join(title_tokens(t, stop)) for t in titles], sublinear=False)
        self._text = _tfidf(list(texts), sublinear=True, stop_words="english")
        if embeddings is not None and len(embeddings) == n and n:
            emb = np.nan_to_num(np.asarray(embeddings, dtype=np.float32))
            norms = np.linalg.norm(emb, axis=1, keepdims=True)
            self._has_emb = norms[:, 0] > 0
            self._emb = emb / np.where(norms > 0, norms, 1.0)
        else:
            self._has_emb = np.zeros(n, dtype=bool)
            self._emb = None
        w = cfg.weights
        self._w = (w.get("title", 0.0), w.get("text", 0.0), w.get("embedding", 0.0))

    def _combine(self, title: np.ndarray, text: np.ndarray, emb: np.ndarray | None,
                 has_emb: np.ndarray) -> np.ndarray:
        wt, wx, we = self._w
        base = wt * title + wx * text
        if emb is None:
            return base / max(wt + wx, 1e-9)
        with_emb = (base + we * emb) / max(wt + wx + we, 1e-9)
        return np.where(has_emb, with_emb, base / max(wt + wx, 1e-9))

    def pair(self, i: int, j: int) -> float:
        title = float(self._title[i].multiply(self._title[j]).sum())
        text = float(self._text[i].multiply(self._text[j]).sum())
        emb = float(self._emb[i] @ self._emb[j]) if self._emb is not None else None
        both = bool(self._has_emb[i] and self._has_emb[j])
        score = self._combine(np.array([title]), np.array([text]),
                              None if emb is None else np.array([emb]), np.array([both]))
        return round(float(score[0]), 4)

    def neighbours(self, group: Sequence[int], floor: float) -> Iterator[tuple[int, int, float]]:
        """Pairs (i < j) within `group` among each record's k best matches, scoring >= floor."""
        idx = np.asarray(group, dtype=np.int64)
        if len(idx) < 2:
            return
        k = min(self.cfg.neighbours, len(idx) - 1)
        title, text = self._title[idx], self._text[idx]
        emb = self._emb[idx] if self._emb is not None else None
        has = self._has_emb[idx]
        seen: set[tuple[int, int]] = set()
        for start in range(0, len(idx), CHUNK):
            rows = slice(start, min(start + CHUNK, len(idx)))
            scores = self._combine(
                (title[rows] @ title.T).toarray(), (text[rows] @ text.T).toarray(),
                None if emb is None else emb[rows] @ emb.T,
                has[rows][:, None] & has[None, :])
            for r in range(scores.shape[0]):
                scores[r, start + r] = -1.0
            best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
            for r, cols in enumerate(best):
                for c in cols:
                    s = float(scores[r, c])
                    a, b = sorted((int(idx[start + r]), int(idx[c])))
                    if s >= floor and (a, b) not in seen:
                        seen.add((a, b))
                        yield a, b, round(s, 4)


def _tfidf(docs: list[str], *, sublinear: bool, stop_words: str | None = None) -> sparse.csr_matrix:
    if not any(d.strip() for d in docs):
        return sparse.csr_matrix((len(docs), 1), dtype=np.float64)
    vec = TfidfVectorizer(sublinear_tf=sublinear, stop_words=stop_words, min_df=1,
                          token_pattern=r"(?u)\b[a-z0-9][a-z0-9\-]*[a-z0-9]\b|\b[a-z0-9]\b",
                          lowercase=True)
    try:
        return vec.fit_transform(docs).tocsr()
    except ValueError:          # every document was only stop words
        return sparse.csr_matrix((len(docs), 1), dtype=np.float64)
