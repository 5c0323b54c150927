"""Relevance as pure functions: configuration, text, the classifiers, cross-validation, tags."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.multiclass import OneVsRestClassifier

from sonoharvest.records import clean_text

KINDS = ("dataset", "model", "other")
Band = Literal["likely", "review", "unlikely"]


# --- configuration -----------------------------------------------------------------------

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmbedderConfig(_Strict):
    model: str = "bundled"
    batch_size: int = Field(64, ge=1)
    max_chars: int = Field(2000, ge=100)


class ClassifierConfig(_Strict):
    C: float = Field(30.0, gt=0)
    embedding_weight: float = Field(0.75, gt=0)
    char_ngrams: tuple[int, int] = (3, 5)
    min_df: int = Field(2, ge=1)
    folds: int = Field(5, ge=2)
    seed: int = 0


class BandsConfig(_Strict):
    review_recall: float = Field(0.95, gt=0, le=1)
    likely_precision: float = Field(0.97, gt=0, le=1)
    unlikely_review_sample: float = Field(0.03, ge=0, le=1)


class TrainingConfig(_Strict):
    seed_file: str = "relevance/seed.jsonl"
    min_f1_gain: float = 0.0


class KindsConfig(_Strict):
    trusted_hints: list[str] = ["dataset", "model"]


class RelevanceConfig(_Strict):
    version: int = Field(ge=1)
    embedder: EmbedderConfig = EmbedderConfig()
    classifier: ClassifierConfig = ClassifierConfig()
    bands: BandsConfig = BandsConfig()
    training: TrainingConfig = TrainingConfig()
    kinds: KindsConfig = KindsConfig()
    anatomy: dict[str, list[str]]
    tasks: dict[str, list[str]]


def load_config(rubrics_dir: Path) -> RelevanceConfig:
    """Read rubrics/relevance.yaml; an invalid file fails with the place that is wrong."""
    path = rubrics_dir / "relevance.yaml"
    try:
        data = yaml.safe_load(path.read_text())
        return RelevanceConfig.model_validate(data)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} is missing; restore it from the repository.") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path} is not valid YAML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"{path}: {where}: {first['msg']}") from None


# --- text --------------------------------------------------------------------------------

def record_text(title: str, description: str = "", keywords: list[str] | None = None,
                max_chars: int = 2000) -> str:
    """What is embedded: the title, the keywords, then the start of the description."""
    parts = [clean_text(title)]
    if keywords:
        parts.append(", ".join(clean_text(k) for k in keywords if k))
    parts.append(clean_text(description))
    return ". ".join(p for p in parts if p)[:max_chars]


# --- classifiers -------------------------------------------------------------------------

class TextClassifier:
    """Logistic regression over [weighted sentence embedding, tf-idf of character n-grams]."""

    def __init__(self, cfg: ClassifierConfig) -> None:
        self.cfg = cfg
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(cfg.char_ngrams),
                                          min_df=cfg.min_df, sublinear_tf=True, lowercase=True)
        self.model: LogisticRegression | OneVsRestClassifier | None = None

    def _features(self, vectors: np.ndarray, texts: list[str], fit: bool = False) -> csr_matrix:
        grams = self.vectorizer.fit_transform(texts) if fit else self.vectorizer.transform(texts)
        return hstack([csr_matrix(vectors * self.cfg.embedding_weight), grams]).tocsr()

    def fit(self, vectors: np.ndarray, texts: list[str], labels: np.ndarray) -> TextClassifier:
        # liblinear: as accurate as lbfgs here and about 7x faster on these sparse features;
        # it is binary, so several classes go one-versus-rest.
        base = LogisticRegression(C=self.cfg.C, max_iter=5000, class_weight="balanced",
                                  solver="liblinear", dual=True)
        self.model = base if len(set(labels.tolist())) <= 2 else OneVsRestClassifier(base)
        self.model.fit(self._features(vectors, texts, fit=True), labels)
        return self

    def predict_proba(self, vectors: np.ndarray, texts: list[str]) -> np.ndarray:
        return self.model.predict_proba(self._features(vectors, texts))

    @property
    def classes(self) -> list[Any]:
        return list(self.model.classes_)


@dataclass(frozen=True)
class Thresholds:
    review: float
    likely: float

    def band(self, p: float) -> Band:
        return "likely" if p >= self.likely else "review" if p >= self.review else "unlikely"


def choose_thresholds(scores: np.ndarray, labels: np.ndarray, bands: BandsConfig) -> Thresholds:
    """Review starts where recall reaches the target; likely where precision does."""
    positives = np.sort(scores[labels == 1])
    review = float(positives[int(np.floor((1 - bands.review_recall) * len(positives)))])
    likely = 1.0
    for t in np.unique(scores)[::-1]:
        picked = scores >= t
        if labels[picked].mean() < bands.likely_precision:
            break
        likely = float(t)
    return Thresholds(review=review, likely=max(likely, review))


def metrics_at(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    picked = scores >= threshold
    tp = int((picked & (labels == 1)).sum())
    precision = tp / max(int(picked.sum()), 1)
    recall = tp / max(int((labels == 1).sum()), 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def work_saved(scores: np.ndarray, labels: np.ndarray, threshold: float, recall: float) -> float:
    """WSS@recall: share of records a curator need not read, minus what random order saves."""
    return float((scores < threshold).mean() - (1 - recall))


def cross_validated_scores(vectors: np.ndarray, texts: list[str], labels: np.ndarray,
                           cfg: ClassifierConfig) -> np.ndarray:
    """Out-of-fold probabilities of the positive class."""
    scores = np.zeros(len(labels))
    folds = StratifiedKFold(cfg.folds, shuffle=True, random_state=cfg.seed)
    for train, test in folds.split(vectors, labels):
        model = TextClassifier(cfg).fit(vectors[train], [texts[i] for i in train], labels[train])
        scores[test] = model.predict_proba(vectors[test], [texts[i] for i in test])[:, 1]
    return scores


def cross_validated_kind_accuracy(vectors: np.ndarray, texts: list[str], kinds: list[str],
                                  cfg: ClassifierConfig) -> float:
    labels = np.array(kinds)
    hits = 0
    folds = StratifiedKFold(cfg.folds, shuffle=True, random_state=cfg.seed)
    for train, test in folds.split(vectors, labels):
        model = TextClassifier(cfg).fit(vectors[train], [texts[i] for i in train], labels[train])
        probs = model.predict_proba(vectors[test], [texts[i] for i in test])
        predicted = np.array(model.classes)[probs.argmax(axis=1)]
        hits += int((predicted == labels[test]).sum())
    return hits / len(labels)


@dataclass
class Bundle:
    """Everything a trained relevance model needs at prediction time (pickled to disk)."""

    config_version: int
    embedder: str
    relevance: TextClassifier
    kind: TextClassifier
    thresholds: Thresholds
    review_sample: float
    trusted_hints: list[str]
    examples: np.ndarray                 # seed vectors, for "similar labelled records"
    example_titles: list[str]
    example_labels: list[int]
    metrics: dict[str, Any] = field(default_factory=dict)


def train_bundle(cfg: RelevanceConfig, embedder_id: str, vectors: np.ndarray, texts: list[str],
                 titles: list[str], labels: np.ndarray, kinds: list[str]) -> Bundle:
    """Cross-validate (for metrics and band cut-offs), then fit on everything."""
    scores = cross_validated_scores(vectors, texts, labels, cfg.classifier)
    thresholds = choose_thresholds(scores, labels, cfg.bands)
    at_review = metrics_at(scores, labels, thresholds.review)
    metrics = {
        "examples": len(labels), "positives": int(labels.sum()),
        "precision": at_review["precision"], "recall": at_review["recall"],
        "f1": at_review["f1"],
        "wss_at_recall": work_saved(scores, labels, thresholds.review, at_review["recall"]),
        "at_0_5": metrics_at(scores, labels, 0.5),
        "kind_accuracy": cross_validated_kind_accuracy(vectors, texts, kinds, cfg.classifier),
        "thresholds": {"review": thresholds.review, "likely": thresholds.likely},
    }
    return Bundle(
        config_version=cfg.version, embedder=embedder_id,
        relevance=TextClassifier(cfg.classifier).fit(vectors, texts, labels),
        kind=TextClassifier(cfg.classifier).fit(vectors, texts, np.array(kinds)),
        thresholds=thresholds, review_sample=cfg.bands.unlikely_review_sample,
        trusted_hints=list(cfg.kinds.trusted_hints), examples=vectors,
        example_titles=titles, example_labels=[int(v) for v in labels], metrics=metrics,
    )


@dataclass(frozen=True)
class Prediction:
    relevance: float
    relevant: bool
    band: Band
    review_sample: bool
    kind: str
    anatomy: list[str]
    tasks: list[str]
    evidence: dict[str, Any]


def predict(bundle: Bundle, tagger: Tagger, vectors: np.ndarray, texts: list[str],
            keys: list[str], hints: list[str | None]) -> list[Prediction]:
    """Score records. `keys` make the review sample stable; `hints` are source-stated kinds."""
    if not texts:
        return []
    positive = list(bundle.relevance.classes).index(1)
    scores = bundle.relevance.predict_proba(vectors, texts)[:, positive]
    kind_probs = bundle.kind.predict_proba(vectors, texts)
    kind_names = bundle.kind.classes
    similar = vectors @ bundle.examples.T
    out = []
    for i, text in enumerate(texts):
        p = float(scores[i])
        band = bundle.thresholds.band(p)
        kind = hints[i] if hints[i] in bundle.trusted_hints \
            else kind_names[int(kind_probs[i].argmax())]
        anatomy, tasks, phrases = tagger.tags(text)
        nearest = np.argsort(-similar[i])[:3]
        out.append(Prediction(
            relevance=round(p, 4), relevant=p >= bundle.thresholds.review, band=band,
            review_sample=band == "unlikely" and _sampled(keys[i], bundle.review_sample),
            kind=kind, anatomy=anatomy, tasks=tasks,
            evidence={"phrases": phrases, "similar": [
                {"title": bundle.example_titles[j], "relevant": bool(bundle.example_labels[j]),
                 "similarity": round(float(similar[i, j]), 3)} for j in nearest]},
        ))
    return out


def _sampled(key: str, rate: float) -> bool:
    """A stable pseudo-random draw: the same record is always in or out of the sample."""
    digest = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)
    return digest / 0xFFFFFFFF < rate


# --- tags --------------------------------------------------------------------------------

class Tagger:
    """Anatomy and task tags from the lexicons in rubrics/relevance.yaml."""

    def __init__(self, anatomy: dict[str, list[str]], tasks: dict[str, list[str]]) -> None:
        self.anatomy = _compile(anatomy)
        self.tasks = _compile(tasks)

    @classmethod
    def from_config(cls, cfg: RelevanceConfig) -> Tagger:
        return cls(cfg.anatomy, cfg.tasks)

    def tags(self, text: str) -> tuple[list[str], list[str], dict[str, str]]:
        phrases: dict[str, str] = {}
        anatomy = _match(self.anatomy, text, phrases)
        tasks = _match(self.tasks, text, phrases)
        return anatomy, tasks, phrases


def _compile(lexicon: dict[str, list[str]]) -> dict[str, re.Pattern[str]]:
    compiled = {}
    for label, patterns in lexicon.items():
        try:
            compiled[label] = re.compile(r"\b(?:" + "|".join(patterns) + r")\b", re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"rubrics/relevance.yaml: tag {label!r}: bad pattern: {exc}") from None
    return compiled


def _match(lexicon: dict[str, re.Pattern[str]], text: str, phrases: dict[str, str]) -> list[str]:
    found = []
    for label, pattern in lexicon.items():
        hit = pattern.search(text)
        if hit:
            found.append(label)
            phrases[label] = hit.group(0)
    return found


def tag_accuracy(tagger: Tagger, texts: list[str], anatomy: list[list[str]],
                 tasks: list[list[str]]) -> dict[str, dict[str, float]]:
    """Micro-averaged precision and recall of the anatomy and task tags against gold lists."""
    result = {}
    for name, gold_lists, index in (("anatomy", anatomy, 0), ("tasks", tasks, 1)):
        tp = fp = fn = 0
        for text, gold in zip(texts, gold_lists, strict=True):
            found = set(tagger.tags(text)[index])
            tp += len(found & set(gold))
            fp += len(found - set(gold))
            fn += len(set(gold) - found)
        precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        result[name] = {"precision": precision, "recall": recall,
                        "f1": 2 * precision * recall / max(precision + recall, 1e-9)}
    return result
