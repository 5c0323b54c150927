"""Relevance as pure functions: configuration, text, thresholds, tags, the review sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sonoharvest.relevance import (
    BandsConfig,
    Tagger,
    Thresholds,
    _sampled,
    choose_thresholds,
    load_config,
    metrics_at,
    record_text,
    tag_accuracy,
    work_saved,
)
from sonoharvest.settings import REPO_ROOT

RUBRICS = REPO_ROOT / "rubrics"


def test_the_shipped_configuration_is_valid():
    cfg = load_config(RUBRICS)
    assert cfg.version >= 1 and cfg.embedder.model == "bundled"
    assert set(cfg.anatomy) >= {"breast", "thyroid", "cardiac", "fetal/obstetric", "lung",
                                "prostate", "musculoskeletal", "nerve", "other"}
    assert "foundation/pretraining" in cfg.tasks


def test_an_invalid_configuration_names_the_place(tmp_path: Path):
    text = (RUBRICS / "relevance.yaml").read_text().replace("review_recall: 0.95",
                                                            "review_recall: 2")
    (tmp_path / "relevance.yaml").write_text(text)
    with pytest.raises(ValueError, match=r"relevance.yaml: bands.review_recall"):
        load_config(tmp_path)
    (tmp_path / "relevance.yaml").write_text("version: [unclosed")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_config(tmp_path)


def test_record_text_strips_html_and_scripts_and_truncates():
    text = record_text("<b>BUSI</b>", "<p>Breast <script>alert(1)</script>scans</p>" + "x" * 5000,
                       ["breast", "ultrasound"], max_chars=200)
    assert text.startswith("BUSI. breast, ultrasound. Breast scans")
    assert "script" not in text and "alert" not in text and len(text) == 200


def test_thresholds_reach_the_recall_target_and_precision_for_likely():
    rng = np.random.default_rng(0)
    labels = np.array([1] * 100 + [0] * 100)
    scores = np.concatenate([rng.uniform(0.3, 1.0, 100), rng.uniform(0.0, 0.7, 100)])
    t = choose_thresholds(scores, labels, BandsConfig(review_recall=0.95, likely_precision=0.97))
    assert metrics_at(scores, labels, t.review)["recall"] >= 0.95
    assert metrics_at(scores, labels, t.likely)["precision"] >= 0.97
    assert t.likely >= t.review
    assert Thresholds(0.4, 0.8).band(0.9) == "likely"
    assert Thresholds(0.4, 0.8).band(0.5) == "review"
    assert Thresholds(0.4, 0.8).band(0.1) == "unlikely"


def test_work_saved_over_random():
    labels = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    scores = np.array([0.9, 0.8, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    # a perfect ranking lets the curator skip 80% of records; random order at recall 1 saves 0
    assert work_saved(scores, labels, 0.5, 1.0) == pytest.approx(0.8)


def test_review_sample_is_stable_and_near_its_rate():
    keys = [f"zenodo:{i}" for i in range(20000)]
    drawn = [_sampled(k, 0.03) for k in keys]
    assert drawn == [_sampled(k, 0.03) for k in keys]
    assert 0.025 < sum(drawn) / len(keys) < 0.035


def test_tags_from_the_lexicons():
    tagger = Tagger.from_config(load_config(RUBRICS))
    anatomy, tasks, phrases = tagger.tags(
        "EchoNet-Dynamic: apical four-chamber echocardiography videos with left ventricle "
        "segmentation")
    assert anatomy == ["cardiac"] and "segmentation" in tasks and "video analysis" in tasks
    assert phrases["cardiac"].lower() in {"echonet-dynamic", "echocardiography",
                                          "apical four-chamber"}
    anatomy, tasks, _ = tagger.tags("TRUS biopsy guidance with MR-US registration of the prostate")
    assert anatomy == ["prostate"] and "registration" in tasks
    assert tagger.tags("Transvaginal scans of ovarian masses (MMOTU)")[0] == ["gynaecological"]


def test_tag_accuracy_counts_hits_and_misses():
    tagger = Tagger({"breast": ["breast"], "thyroid": ["thyroid"]}, {"segmentation": ["segment\\w*"]})
    scores = tag_accuracy(tagger, ["breast segmentation", "thyroid"], [["breast"], ["breast"]],
                          [["segmentation"], []])
    assert scores["anatomy"]["precision"] == pytest.approx(0.5)
    assert scores["anatomy"]["recall"] == pytest.approx(0.5)
    assert scores["tasks"]["f1"] == pytest.approx(1.0)
