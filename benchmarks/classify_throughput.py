"""Classification speed: the classify stage against bare sentence-transformers encoding.

Prints, measured in this one run on the offline demo's records:
  (a) classify throughput / bare `SentenceTransformer.encode` throughput on the same texts
      (target >= 0.9: nothing wasted around the model);
  (b) the speed-up of a rerun over unchanged records (target >= 50x), and of a
      reclassification after retraining, which reuses the cached embeddings.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from sonoharvest import pipeline, warehouse
from sonoharvest.classify import active_model, classify_pending, make_embedder
from sonoharvest.relevance import load_config, record_text
from sonoharvest.settings import Settings


def main() -> None:
    settings = Settings(home=Path(tempfile.mkdtemp()))
    pipeline.run(settings, demo=True, classify=False, export_results=False)
    cfg = load_config(settings.rubrics_dir)
    embedder = make_embedder(cfg)
    con = warehouse.open_warehouse(settings.db_path)
    active_model(con, settings, cfg, embedder)          # train once, outside the timings
    rows = warehouse.records_to_classify(con, -1)
    texts = [record_text(t, d or "", json.loads(k or "[]"), cfg.embedder.max_chars)
             for _, _, _, t, d, k, _ in rows]
    model = embedder._model                               # the very model classify uses
    encode = lambda: model.encode(texts, batch_size=cfg.embedder.batch_size,  # noqa: E731
                                  normalize_embeddings=True, show_progress_bar=False)
    encode()                                              # warm-up
    bare = []
    for _ in range(2):
        start = time.perf_counter()
        encode()
        bare.append(time.perf_counter() - start)
    start = time.perf_counter()
    counts = classify_pending(con, settings, embedder=embedder, cfg=cfg)
    first = time.perf_counter() - start
    start = time.perf_counter()
    again = classify_pending(con, settings, embedder=embedder, cfg=cfg)
    rerun = time.perf_counter() - start
    con.execute("UPDATE classifications SET model_version = -1")   # as after a retrain
    start = time.perf_counter()
    redo = classify_pending(con, settings, embedder=embedder, cfg=cfg)
    reclassify = time.perf_counter() - start
    con.close()

    n, encode_s = len(texts), sum(bare) / len(bare)
    print(f"{n} demo records, {cfg.embedder.max_chars} characters at most, "
          f"model {embedder.model_id}")
    print(f"bare encode:            {n / encode_s:8.1f} records/s")
    print(f"classify (first time):  {counts['classified'] / first:8.1f} records/s")
    print(f"throughput ratio classify / bare encode: {encode_s / first:.3f}   (target >= 0.9)")
    print(f"rerun, nothing changed: {rerun * 1000:8.1f} ms for {again['classified']} records; "
          f"speed-up {first / rerun:,.0f}x   (target >= 50x)")
    print(f"reclassify after retraining (embeddings cached): {reclassify:.2f} s for "
          f"{redo['classified']} records; speed-up {first / reclassify:,.1f}x")


if __name__ == "__main__":
    main()
