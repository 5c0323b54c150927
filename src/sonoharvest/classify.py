"""Classify: train the relevance model, then score and tag records (warehouse or JSON lines)."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import pickle
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import duckdb
import numpy as np

from sonoharvest import warehouse
from sonoharvest.embeddings import Embedder, SentenceTransformerEmbedder, embed_cached
from sonoharvest.relevance import (
    Bundle,
    RelevanceConfig,
    Tagger,
    load_config,
    predict,
    record_text,
    tag_accuracy,
    train_bundle,
)
from sonoharvest.settings import Settings

log = logging.getLogger(__name__)

CHUNK = 256
Progress = Callable[[int], None]


def make_embedder(cfg: RelevanceConfig) -> Embedder:
    return _embedder(cfg.embedder.model, cfg.embedder.batch_size)


@functools.lru_cache(maxsize=2)
def _embedder(model: str, batch_size: int) -> Embedder:
    """Loading a model takes seconds: one instance per process and configuration."""
    return SentenceTransformerEmbedder(model, batch_size)


# --- training ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Examples:
    titles: list[str]
    texts: list[str]
    labels: np.ndarray
    kinds: list[str]
    anatomy: list[list[str] | None]      # None: not tagged (curator examples)
    tasks: list[list[str] | None]


def fingerprint(settings: Settings, cfg: RelevanceConfig,
                curator: Sequence[dict[str, Any]] = ()) -> str:
    """Changes whenever the model settings or the labelled examples change: time to retrain."""
    seed = (settings.rubrics_dir / cfg.training.seed_file).read_bytes()
    parts = cfg.model_dump_json(include={"version", "embedder", "classifier", "bands",
                                         "training", "kinds"}).encode() + seed
    if curator:
        parts += json.dumps(list(curator), sort_keys=True).encode()
    return hashlib.sha256(parts).hexdigest()[:16]


def load_examples(settings: Settings, cfg: RelevanceConfig,
                  curator: Sequence[dict[str, Any]] = ()) -> Examples:
    """The labelled seed set and the records labelled by curator decisions."""
    path = settings.rubrics_dir / cfg.training.seed_file
    titles, texts, labels, kinds, anatomy, tasks = [], [], [], [], [], []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            text = record_text(row["title"], row.get("description", ""), row.get("keywords"),
                               cfg.embedder.max_chars)
            label, kind = int(row["label"]), row["kind"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: bad seed example ({exc})") from None
        titles.append(row["title"])
        texts.append(text)
        labels.append(label)
        kinds.append(kind)
        anatomy.append(list(row.get("anatomy", [])))
        tasks.append(list(row.get("tasks", [])))
    for row in curator:
        titles.append(row["title"])
        texts.append(record_text(row["title"], row["description"], row["keywords"],
                                 cfg.embedder.max_chars))
        labels.append(int(row["label"]))
        kinds.append(row["kind"])
        anatomy.append(None)
        tasks.append(None)
    return Examples(titles, texts, np.array(labels), kinds, anatomy, tasks)


def evaluate(con: duckdb.DuckDBPyConnection, settings: Settings, cfg: RelevanceConfig,
             embedder: Embedder) -> dict[str, Any]:
    """Cross-validated relevance and kind metrics, and tag accuracy on the relevant examples;
    changes nothing."""
    examples = load_examples(settings, cfg, warehouse.curator_examples(con))
    vectors = embed_cached(con, embedder, examples.texts)
    bundle = train_bundle(cfg, embedder.model_id, vectors, examples.texts, examples.titles,
                          examples.labels, examples.kinds)
    positive = [i for i, label in enumerate(examples.labels)
                if label == 1 and examples.anatomy[i] is not None]
    tags = tag_accuracy(Tagger.from_config(cfg), [examples.texts[i] for i in positive],
                        [examples.anatomy[i] for i in positive],
                        [examples.tasks[i] for i in positive])
    return {**bundle.metrics, "tags": tags, "embedder": embedder.model_id}


@dataclass(frozen=True)
class TrainOutcome:
    version: int
    active: bool
    metrics: dict[str, Any]
    previous: dict[str, Any] | None
    note: str


def train(con: duckdb.DuckDBPyConnection, settings: Settings, cfg: RelevanceConfig,
          embedder: Embedder, *, reason: str = "retrained") -> TrainOutcome:
    """Train on all labelled examples; the new model becomes active unless it is worse."""
    curator = warehouse.curator_examples(con)
    examples = load_examples(settings, cfg, curator)
    vectors = embed_cached(con, embedder, examples.texts)
    bundle = train_bundle(cfg, embedder.model_id, vectors, examples.texts, examples.titles,
                          examples.labels, examples.kinds)
    previous = warehouse.active_relevance_model(con)
    version = warehouse.next_relevance_version(con)
    active, note = True, reason
    current = fingerprint(settings, cfg, curator)
    if previous and previous["embedder"] == embedder.model_id:
        gain = bundle.metrics["f1"] - previous["metrics"]["f1"]
        if gain < cfg.training.min_f1_gain:
            active = False
            note = (f"kept version {previous['version']}: cross-validated F1 "
                    f"{bundle.metrics['f1']:.3f} is not better than "
                    f"{previous['metrics']['f1']:.3f}")
    bundle.metrics["fingerprint"] = current
    path = _save_bundle(settings, version, bundle)
    warehouse.add_relevance_model(
        con, version, embedder=embedder.model_id, path=str(path),
        examples=bundle.metrics["examples"], metrics=bundle.metrics,
        thresholds=bundle.metrics["thresholds"], active=active, note=note,
    )
    return TrainOutcome(version, active, bundle.metrics, previous, note)


def _save_bundle(settings: Settings, version: int, bundle: Bundle) -> Path:
    folder = settings.home / "models"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"relevance-v{version}.pkl"
    partial = path.with_suffix(".partial")
    with partial.open("wb") as fh:
        pickle.dump(bundle, fh)
    os.replace(partial, path)
    return path


def active_model(con: duckdb.DuckDBPyConnection, settings: Settings, cfg: RelevanceConfig,
                 embedder: Embedder) -> tuple[int, Bundle]:
    """The active model. A model is trained first when there is none, or when no model was
    trained yet for the current settings and labelled examples (it then replaces the active
    one only if it is not worse)."""
    row = warehouse.active_relevance_model(con)
    current = fingerprint(settings, cfg, warehouse.curator_examples(con))
    tried = any(m["metrics"].get("fingerprint") == current and m["embedder"] == embedder.model_id
                for m in warehouse.relevance_models(con))
    if row is None or not tried or row["embedder"] != embedder.model_id \
            or not Path(row["path"]).exists():
        why = "first model" if row is None else "settings or labelled examples changed"
        log.info("training the relevance model (%s)", why)
        train(con, settings, cfg, embedder, reason=why)
        row = warehouse.active_relevance_model(con)
    with open(row["path"], "rb") as fh:
        return row["version"], pickle.load(fh)  # noqa: S301 - our own file under SONOHARVEST_HOME


# --- the warehouse stage -----------------------------------------------------------------

def classify_pending(con: duckdb.DuckDBPyConnection, settings: Settings, *,
                     embedder: Embedder | None = None, cfg: RelevanceConfig | None = None,
                     progress: Progress | None = None) -> dict[str, int]:
    """Classify every record whose current content has no classification by the active model."""
    cfg = cfg or load_config(settings.rubrics_dir)
    embedder = embedder or make_embedder(cfg)
    version, bundle = active_model(con, settings, cfg, embedder)
    tagger = Tagger.from_config(cfg)
    pending = warehouse.records_to_classify(con, version)
    counts = {"classified": 0, "likely": 0, "review": 0, "unlikely": 0, "review_sample": 0}
    for start in range(0, len(pending), CHUNK):
        chunk = pending[start:start + CHUNK]
        texts = [record_text(title, description or "", json.loads(keywords or "[]"),
                             cfg.embedder.max_chars)
                 for _, _, _, title, description, keywords, _ in chunk]
        vectors = embed_cached(con, embedder, texts)
        keys = [f"{source}:{source_id}" for source, source_id, *_ in chunk]
        hints = [row[6] for row in chunk]
        predictions = predict(bundle, tagger, vectors, texts, keys, hints)
        warehouse.save_classifications(con, [
            (source, source_id, digest, version, p.relevance, p.relevant, p.band,
             p.review_sample, p.kind, p.anatomy, p.tasks, p.evidence)
            for (source, source_id, digest, *_), p in zip(chunk, predictions, strict=True)
        ])
        for p in predictions:
            counts[p.band] += 1
            counts["review_sample"] += p.review_sample
        counts["classified"] += len(chunk)
        if progress:
            progress(len(chunk))
    return counts


# --- JSON lines in, JSON lines out ---------------------------------------------------------

@dataclass(frozen=True)
class LineError:
    line: int
    message: str


def read_jsonl(stream: BinaryIO) -> Iterator[tuple[int, dict[str, Any] | LineError]]:
    """Parse input records; a bad line becomes a LineError, never an exception."""
    for number, raw in enumerate(stream, 1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, LineError(number, f"invalid UTF-8 at byte {exc.start}")
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            yield number, LineError(number, f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        problem = _check_row(row)
        yield number, LineError(number, problem) if problem else row


def _check_row(row: Any) -> str | None:
    if not isinstance(row, dict):
        return "expected a JSON object"
    if row.get("id") in (None, ""):
        return 'missing "id"'
    if not isinstance(row.get("title"), str) or not record_text(row["title"]):
        return f'record {row["id"]!r}: "title" is missing or empty'
    if row.get("description") is not None and not isinstance(row["description"], str):
        return f'record {row["id"]!r}: "description" must be a string'
    keywords = row.get("keywords")
    if keywords is not None and not (isinstance(keywords, list)
                                     and all(isinstance(k, str) for k in keywords)):
        return f'record {row["id"]!r}: "keywords" must be a list of strings'
    return None


def classify_stream(con: duckdb.DuckDBPyConnection | None, settings: Settings,
                    source: BinaryIO, sink: TextIO, errors: TextIO, *,
                    embedder: Embedder | None = None, cfg: RelevanceConfig | None = None,
                    model_con: duckdb.DuckDBPyConnection | None = None) -> tuple[int, int]:
    """Score arbitrary records; returns (classified, rejected). Output follows the contract."""
    cfg = cfg or load_config(settings.rubrics_dir)
    embedder = embedder or make_embedder(cfg)
    _, bundle = active_model(model_con or con, settings, cfg, embedder)
    tagger = Tagger.from_config(cfg)
    done = rejected = 0
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal done
        texts = [record_text(r["title"], r.get("description") or "", r.get("keywords"),
                             cfg.embedder.max_chars) for r in batch]
        vectors = embed_cached(con, embedder, texts)
        keys = [f"{r.get('source', 'input')}:{r['id']}" for r in batch]
        for row, p in zip(batch, predict(bundle, tagger, vectors, texts, keys,
                                         [None] * len(batch)), strict=True):
            sink.write(json.dumps({"id": row["id"], "relevance": p.relevance,
                                   "relevant": p.relevant, "kind": p.kind,
                                   "anatomy": p.anatomy, "tasks": p.tasks}) + "\n")
        done += len(batch)
        batch.clear()

    for _, item in read_jsonl(source):
        if isinstance(item, LineError):
            errors.write(f"line {item.line}: {item.message}; skipped\n")
            rejected += 1
            continue
        batch.append(item)
        if len(batch) >= CHUNK:
            flush()
    if batch:
        flush()
    return done, rejected
