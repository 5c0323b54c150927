"""The classify stage: training, incremental classification, the embedding cache, file input."""

from __future__ import annotations

import hashlib
import io
import json
import shutil

import numpy as np
import pytest

from sonoharvest import warehouse
from sonoharvest.classify import (
    active_model,
    classify_pending,
    classify_stream,
    train,
)
from sonoharvest.records import RawItem, Record
from sonoharvest.relevance import load_config
from sonoharvest.settings import REPO_ROOT, Settings


class HashEmbedder:
    """Deterministic bag-of-words vectors; counts what it is asked to embed."""

    model_id = "test-hash-64"

    def __init__(self):
        self.encoded = 0

    def encode(self, texts):
        self.encoded += len(texts)
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % 64] += 1
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


@pytest.fixture
def rubrics(tmp_path):
    folder = tmp_path / "rubrics"
    shutil.copytree(REPO_ROOT / "rubrics", folder)
    return folder


@pytest.fixture
def env(tmp_path, rubrics, con):
    settings = Settings(home=tmp_path / "home", rubrics_dir=rubrics)
    return settings, load_config(rubrics), HashEmbedder(), con


def store(con, *records):
    warehouse.save_batch(con, "zenodo", [(RawItem("dataset", {"id": r.source_id}), r)
                                         for r in records])


def rec(source_id, title, description=""):
    return Record(source="zenodo", source_id=source_id, title=title, description=description,
                  kind_hint="dataset")


def test_first_use_trains_and_stores_a_model(env):
    settings, cfg, embedder, con = env
    version, bundle = active_model(con, settings, cfg, embedder)
    assert version == 1 and bundle.embedder == "test-hash-64"
    [row] = warehouse.relevance_models(con)
    assert row["active"] and row["examples"] >= 300
    assert {"precision", "recall", "f1", "wss_at_recall", "kind_accuracy"} <= set(row["metrics"])
    assert (settings.home / "models" / "relevance-v1.pkl").exists()


def test_retraining_keeps_the_previous_model_when_the_new_one_is_worse(env, rubrics):
    settings, cfg, embedder, con = env
    first = train(con, settings, cfg, embedder)
    same = train(con, settings, cfg, embedder)
    assert same.active, "an equally good model replaces the active one"
    seed = rubrics / cfg.training.seed_file
    rows = [json.loads(line) for line in seed.read_text().splitlines()]
    for row in rows[::3]:                       # a curator mislabels a third of the examples
        row["label"] = 1 - row["label"]
    seed.write_text("\n".join(json.dumps(r) for r in rows))
    worse = train(con, settings, cfg, embedder)
    assert not worse.active and "kept version" in worse.note
    assert warehouse.active_relevance_model(con)["version"] == same.version
    assert first.metrics["f1"] > worse.metrics["f1"]


def test_classification_is_incremental_and_embeddings_are_cached(env):
    settings, cfg, embedder, con = env
    store(con, rec("1", "Breast ultrasound images (BUSI)", "780 B-mode images with masks"),
          rec("2", "HC-SR04 ultrasonic distance sensor readings", "Arduino robot obstacle data"))
    first = classify_pending(con, settings, embedder=embedder, cfg=cfg)
    assert first["classified"] == 2
    encoded = embedder.encoded
    assert classify_pending(con, settings, embedder=embedder, cfg=cfg)["classified"] == 0
    assert embedder.encoded == encoded, "unchanged records are never embedded again"
    store(con, rec("2", "HC-SR04 ultrasonic distance sensor readings, v2", "More robots"))
    assert classify_pending(con, settings, embedder=embedder, cfg=cfg)["classified"] == 1
    rows = dict(con.execute("SELECT source_id, kind FROM classifications").fetchall())
    assert rows == {"1": "dataset", "2": "dataset"}     # the source says dataset: trusted


def test_withdrawn_records_are_not_classified(env):
    settings, cfg, embedder, con = env
    store(con, rec("1", "Thyroid nodule sonography dataset"))
    warehouse.save_batch(con, "zenodo", [], gone=["1"])
    assert classify_pending(con, settings, embedder=embedder, cfg=cfg)["classified"] == 0


def test_a_file_with_bad_lines_is_scored_line_by_line(env):
    settings, cfg, embedder, con = env
    lines = [
        json.dumps({"id": "ok", "title": "Fetal head circumference (HC18) sonograms",
                    "description": "<p>1334 images</p><script>x()</script>"}).encode(),
        json.dumps({"id": "empty", "title": "  "}).encode(),
        b"{not json",
        b'{"id": "bad-utf8", "title": "caf\xe9"}',
        json.dumps({"id": "huge", "title": "Lung POCUS videos",
                    "description": "B-lines " * 200_000}).encode(),
        json.dumps({"id": "kw", "title": "x", "keywords": "not a list"}).encode(),
        json.dumps(["not", "an", "object"]).encode(),
    ]
    sink, errors = io.StringIO(), io.StringIO()
    done, rejected = classify_stream(con, settings, io.BytesIO(b"\n".join(lines)), sink, errors,
                                     embedder=embedder, cfg=cfg)
    assert (done, rejected) == (2, 5)
    out = [json.loads(line) for line in sink.getvalue().splitlines()]
    assert [o["id"] for o in out] == ["ok", "huge"]
    for o in out:
        assert set(o) == {"id", "relevance", "relevant", "kind", "anatomy", "tasks"}
        assert 0 <= o["relevance"] <= 1 and isinstance(o["relevant"], bool)
        assert o["kind"] in {"dataset", "model", "other"}
    messages = errors.getvalue()
    for expected in ('line 2: record \'empty\': "title" is missing or empty',
                     "line 3: not valid JSON", "line 4: invalid UTF-8",
                     'line 6: record \'kw\': "keywords" must be a list of strings',
                     "line 7: expected a JSON object"):
        assert expected in messages
