"""Rubrics: the shipped files, golden scores, every check type, invalid files, hints, totality."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sonoharvest import rubrics as rubrics_module
from sonoharvest.rubrics import (
    CHECKS,
    FACT_FIELDS,
    TIERS,
    AllOf,
    AnyOf,
    Rubric,
    RubricError,
    Score,
    TextMatches,
    fingerprint,
    load_rubric,
    load_rubrics,
    raise_hints,
    score,
    tier_for,
)
from sonoharvest.settings import REPO_ROOT

RUBRICS = REPO_ROOT / "rubrics"
GOLDEN = sorted((Path(__file__).parent / "fixtures" / "rubrics").glob("*.json"))
NOW = datetime(2026, 11, 1, tzinfo=UTC)
TIER_LINES = {"Diamond": 88, "Platinum": 78, "Gold": 62, "Silver": 50, "Bronze": 35, "Steel": 0}


@pytest.fixture(scope="module")
def shipped() -> dict[str, Rubric]:
    return load_rubrics(RUBRICS)


def rubric_with(*checks: dict[str, Any], weights: list[float] | None = None,
                tiers: dict[str, float] | None = None) -> Rubric:
    """A small valid rubric around the given checks (one criterion each)."""
    weights = weights or [1.0] * len(checks)
    return Rubric.model_validate({
        "id": "t", "version": 1, "kind": "dataset", "title": "test",
        "criteria": [{"id": f"c{i}", "title": f"C{i}", "weight": w, "evidence": "e", "why": "w",
                      "check": check} for i, (check, w) in enumerate(zip(checks, weights,
                                                                          strict=True))],
        "tiers": tiers or TIER_LINES,
    })


def check(spec: dict[str, Any], facts: dict[str, Any], now: datetime = NOW) -> tuple[float, str]:
    result = score(rubric_with(spec), facts, now).criteria[0]
    return result.credit, result.evidence


def text_patterns(rubric: Rubric) -> list[str]:
    def walk(c: Any) -> list[str]:
        if isinstance(c, AllOf | AnyOf):
            return [p for sub in c.of for p in walk(sub)]
        return list(c.patterns) if isinstance(c, TextMatches) else []
    return [p for criterion in rubric.criteria for p in walk(criterion.check)]


# --- the shipped rubrics ---------------------------------------------------------------------

def test_the_shipped_rubrics_load_with_weights_summing_to_100(shipped: dict[str, Rubric]):
    assert set(shipped) == {"dataset", "model"}
    dqs, mqs = shipped["dataset"], shipped["model"]
    assert (dqs.id, mqs.id) == ("sonodqs", "sonomqs")
    assert dqs.total_weight == mqs.total_weight == 100
    assert {c.id for c in dqs.criteria} == {
        "open_access", "licence", "persistent_identifier", "documentation", "descriptor_paper",
        "annotations", "size", "clinical_metadata", "centres_devices", "acquisition",
        "file_formats", "splits_challenge", "ethics_privacy", "maintenance", "evidence_of_use"}
    assert {c.id for c in mqs.criteria} == {
        "code_licence", "released_weights", "training_data", "install_inference_docs",
        "environment_spec", "train_eval_scripts", "reported_metrics", "associated_paper",
        "maintenance", "community_use"}
    for rubric in shipped.values():
        assert rubric.tiers == TIER_LINES
        assert all(c.advice and c.evidence and c.why for c in rubric.criteria)


def test_every_shipped_pattern_has_a_literal_shortcut(shipped: dict[str, Rubric]):
    """Patterns without one scan every sentence: slower. Keep each pattern anchored on words."""
    for rubric in shipped.values():
        for pattern in text_patterns(rubric):
            assert rubrics_module._required_literals(pattern), pattern


def test_load_rubrics_skips_other_yaml_files_and_needs_both_kinds(tmp_path: Path):
    (tmp_path / "relevance.yaml").write_text("version: 1\n")
    (tmp_path / "sonodqs.yaml").write_text((RUBRICS / "sonodqs.yaml").read_text())
    with pytest.raises(RubricError, match="no rubric of kind 'model'"):
        load_rubrics(tmp_path)
    (tmp_path / "sonomqs.yaml").write_text((RUBRICS / "sonomqs.yaml").read_text())
    assert set(load_rubrics(tmp_path)) == {"dataset", "model"}
    (tmp_path / "copy.yaml").write_text((RUBRICS / "sonomqs.yaml").read_text())
    with pytest.raises(RubricError, match=r"sonomqs.yaml: kind 'model' is already scored by"):
        load_rubrics(tmp_path)


# --- golden scores ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_golden_scores(path: Path, shipped: dict[str, Rubric]):
    case = json.loads(path.read_text())
    rubric = {r.id: r for r in shipped.values()}[case["rubric"]]
    result = score(rubric, case["facts"], datetime.fromisoformat(case["now"]))
    assert (result.score, result.tier) == (case["expected"]["score"], case["expected"]["tier"])
    assert {c.id: c.credit for c in result.criteria} == case["expected"]["credits"]
    assert result.rubric_id == rubric.id and result.rubric_version == rubric.version
    assert math.isclose(sum(c.points for c in result.criteria), result.score, abs_tol=0.2)


def test_golden_cases_cover_the_brief():
    names = {p.stem for p in GOLDEN}
    assert len([n for n in names if n.startswith("dataset_")]) >= 4
    assert len([n for n in names if n.startswith("model_")]) >= 3
    assert {json.loads(p.read_text())["expected"]["tier"] for p in GOLDEN} >= {
        "Diamond", "Gold", "Silver", "Bronze", "Steel"}


def test_golden_evidence_quotes_what_was_seen(shipped: dict[str, Rubric]):
    case = json.loads((GOLDEN[0].parent / "dataset_on_request.json").read_text())
    result = score(shipped["dataset"], case["facts"], NOW)
    evidence = {c.id: c.evidence for c in result.criteria}
    assert evidence["open_access"] == "access = 'on request'"
    assert evidence["size"] == "size.images = 2450; size.patients = 812"
    assert evidence["annotations"] == "text: 'labelled'; text: 'radiologists'"
    assert evidence["licence"] == "license: not stated; license_class = 'unknown'"


# --- check types -----------------------------------------------------------------------------

def test_the_registry_lists_the_check_types():
    assert set(CHECKS) == {"present", "any_present", "map", "at_least", "count", "text_matches",
                           "recent", "all_of", "any_of"}


@pytest.mark.parametrize(("value", "credit"), [
    ("10.5281/zenodo.1", 1.0), ("", 0.0), ("   ", 0.0), ([], 0.0), ({}, 0.0), (None, 0.0),
    (False, 0.0), (0, 1.0), (["x"], 1.0),
])
def test_present(value: Any, credit: float):
    assert check({"type": "present", "field": "doi"}, {"doi": value})[0] == credit


def test_present_quotes_the_value_and_says_when_missing():
    assert check({"type": "present", "field": "doi"}, {"doi": "10.1/x"}) == (1.0, "doi = '10.1/x'")
    assert check({"type": "present", "field": "doi"}, {}) == (0.0, "doi: not stated")
    long = check({"type": "present", "field": "license"}, {"license": "x" * 200})[1]
    assert long.endswith("…'") and len(long) < 80


def test_any_present_names_the_first_field_found():
    spec = {"type": "any_present", "fields": ["doi", "primary_url"]}
    assert check(spec, {"primary_url": "https://x.org"}) == (1.0, "primary_url = 'https://x.org'")
    assert check(spec, {"doi": ""}) == (0.0, "none of doi, primary_url stated")


def test_map_is_case_insensitive_with_a_default():
    spec = {"type": "map", "field": "access", "values": {"open download": 1.0, "On Request": 0.3},
            "default": 0.1}
    assert check(spec, {"access": "Open Download"}) == (1.0, "access = 'Open Download'")
    assert check(spec, {"access": "on request"})[0] == 0.3
    assert check(spec, {"access": "controlled"})[0] == 0.1
    assert check(spec, {"access": ["open download"]})[0] == 0.1
    assert check(spec, {}) == (0.0, "access: not stated")


@pytest.mark.parametrize(("value", "credit", "evidence"), [
    (50, 0.0, "size.patients = 50"),
    (100, 0.5, "size.patients = 100"),
    (999.5, 0.5, "size.patients = 999.5"),
    (1000, 1.0, "size.patients = 1000"),
    (10**400, 1.0, "size.patients = inf"),
    (True, 0.0, "size.patients: not stated"),
    (float("nan"), 0.0, "size.patients: not stated"),
    ("many", 0.0, "size.patients: 4 characters"),
    (None, 0.0, "size.patients: not stated"),
])
def test_at_least_steps(value: Any, credit: float, evidence: str):
    spec = {"type": "at_least", "field": "size.patients", "steps": [[100, 0.5], [1000, 1.0]]}
    assert check(spec, {"size": {"patients": value}}) == (credit, evidence)


def test_at_least_measures_strings_and_lists_by_length():
    spec = {"type": "at_least", "field": "description", "steps": [[10, 0.5], [20, 1.0]]}
    assert check(spec, {"description": "x" * 12}) == (0.5, "description: 12 characters")
    spec = {"type": "at_least", "field": "urls", "steps": [[2, 1.0]]}
    assert check(spec, {"urls": ["a", "b"]}) == (1.0, "urls: 2 items")
    assert check(spec, {"size": "not a mapping"})[0] == 0.0


def test_count_filters_with_match_and_lists_what_it_counted():
    spec = {"type": "count", "field": "identifiers", "match": "^doi:", "steps": [[1, 0.5], [2, 1]]}
    facts = {"identifiers": ["github:a/b", "doi:10.1/a", "DOI:10.1/b", "doi:10.1/c", "doi:10.1/d"]}
    assert check(spec, facts) == (
        1.0, "identifiers: 4 ('doi:10.1/a', 'DOI:10.1/b', 'doi:10.1/c', …)")
    assert check(spec, {"identifiers": ["github:a/b"]}) == (0.0, "identifiers: none matching "
                                                                 "'^doi:'")
    assert check({"type": "count", "field": "papers", "steps": [[1, 1.0]]},
                 {"papers": "doi:10.1/x"}) == (0.0, "papers: none")


def test_text_matches_quotes_the_phrase_and_gives_partial_credit():
    spec = {"type": "text_matches", "need": 2,
            "patterns": [r"\b(?:radiologists?|sonographers?)\b", r"\bDICOM\b", r"\bMHz\b"]}
    credit, evidence = check(spec, {"text": "Images were annotated by two Radiologists."})
    assert (credit, evidence) == (0.5, "text: 'Radiologists' (1 of 2 needed)")
    assert check(spec, {"text": "Stored as DICOM; read by sonographers"}) == (
        1.0, "text: 'sonographers', 'DICOM'")
    assert check(spec, {"text": "nothing relevant"}) == (0.0, "text: no match")
    assert check(spec, {}) == (0.0, "text: not stated")


def test_text_matches_reads_lists_and_several_fields():
    spec = {"type": "text_matches", "fields": ["text", "keywords"], "patterns": [r"\bNIfTI\b"]}
    assert check(spec, {"text": "volumes", "keywords": ["ultrasound", "nifti"]}) == (
        1.0, "text/keywords: 'nifti'")


def test_text_matches_never_crosses_a_sentence_or_a_line():
    spec = {"type": "text_matches", "patterns": [r"\bannotated by (?:\w+ )?radiologists\b"]}
    assert check(spec, {"text": "Images were annotated by two radiologists"})[0] == 1.0
    assert check(spec, {"text": "Images were annotated by\nradiologists"})[0] == 0.0
    assert check(spec, {"text": "It was annotated by hand. radiologists agreed"})[0] == 0.0
    spec = {"type": "text_matches", "patterns": [r"zenodo\.org/records/\d+"]}
    assert check(spec, {"text": "At https://zenodo.org/records/42. Done"}) == (
        1.0, "text: 'zenodo.org/records/42'")


def test_text_matches_case_sensitive_parts():
    spec = {"type": "text_matches", "patterns": [r"(?-i:\bGE\b) Healthcare"]}
    assert check(spec, {"text": "a GE healthcare scanner"})[0] == 1.0
    assert check(spec, {"text": "a ge healthcare scanner"})[0] == 0.0


def test_text_matches_unusual_case_folds_still_match():
    spec = {"type": "text_matches", "patterns": [r"\bultrasound\b"]}
    assert check(spec, {"text": "ultra\u017found images"})[0] == 1.0   # long s
    assert check(spec, {"text": "\u0130 ULTRASOUND"})[0] == 1.0         # lower() grows İ


def test_recent_is_graded_by_age():
    spec = {"type": "recent", "field": "updated_at", "steps": [[365, 1.0], [730, 0.5]]}
    day = timedelta(days=1)
    assert check(spec, {"updated_at": (NOW - 100 * day).isoformat()}) == (
        1.0, "updated_at = 2026-07-24 (100 days before 2026-11-01)")
    assert check(spec, {"updated_at": (NOW - 500 * day).isoformat()})[0] == 0.5
    assert check(spec, {"updated_at": (NOW - 900 * day).isoformat()})[0] == 0.0
    assert check(spec, {"updated_at": "2030-01-01"})[0] == 1.0          # future: age 0
    assert check(spec, {"updated_at": "2026-10-01T00:00:00Z"})[0] == 1.0
    assert check(spec, {"updated_at": NOW - 10 * day})[0] == 1.0        # a datetime object
    assert check(spec, {"updated_at": "last week"}) == (
        0.0, "updated_at = 'last week' (not a date)")
    assert check(spec, {"updated_at": "0001-01-01T00:00:00+14:00"})[0] == 0.0
    naive_now = datetime(2026, 11, 1)  # noqa: DTZ001  (a naive now is taken as UTC)
    assert check(spec, {"updated_at": "2026-10-31"}, now=naive_now)[0] == 1.0


def test_all_of_is_the_share_weighted_mean():
    spec = {"type": "all_of", "of": [{"type": "present", "field": "license", "share": 3},
                                     {"type": "map", "field": "license_class",
                                      "values": {"open": 1.0}, "share": 1}]}
    assert check(spec, {"license": "CC-BY-NC-4.0", "license_class": "open-nc"}) == (
        0.75, "license = 'CC-BY-NC-4.0'; license_class = 'open-nc'")
    assert check(spec, {"license": "MIT", "license_class": "open"})[0] == 1.0


def test_any_of_takes_the_best_and_quotes_it():
    spec = {"type": "any_of", "of": [
        {"type": "count", "field": "papers", "steps": [[1, 1.0]]},
        {"type": "text_matches", "scale": 0.5, "patterns": [r"\bplease cite\b"]}]}
    assert check(spec, {"papers": ["doi:10.1/p"], "text": "Please cite"}) == (
        1.0, "papers: 1 ('doi:10.1/p')")
    assert check(spec, {"text": "Please cite us"}) == (0.5, "text: 'Please cite'")
    assert check(spec, {}) == (0.0, "papers: none; text: not stated")


def test_scale_caps_any_check():
    spec = {"type": "present", "field": "doi", "scale": 0.4}
    assert check(spec, {"doi": "10.1/x"})[0] == 0.4


# --- score, tiers, hints, fingerprint ------------------------------------------------------

def test_score_weighs_criteria_and_rounds():
    rubric = rubric_with({"type": "present", "field": "doi"},
                         {"type": "present", "field": "license"}, weights=[2, 1])
    result = score(rubric, {"doi": "x"}, NOW)
    assert result.score == 66.7 and result.tier == "Gold"
    assert [(c.points, c.max_points) for c in result.criteria] == [(66.67, 66.67), (0.0, 33.33)]
    assert json.loads(json.dumps(result.to_dict()))["criteria"][0]["id"] == "c0"


@pytest.mark.parametrize(("value", "tier"), [
    (100, "Diamond"), (88, "Diamond"), (87.9, "Platinum"), (78, "Platinum"), (62, "Gold"),
    (61.9, "Silver"), (50, "Silver"), (35, "Bronze"), (34.9, "Steel"), (0, "Steel"),
])
def test_tier_for_thresholds(shipped: dict[str, Rubric], value: float, tier: str):
    assert tier_for(shipped["dataset"], value) == tier


def test_tier_for_accepts_a_score(shipped: dict[str, Rubric]):
    result = Score("sonodqs", 1, 62.0, "?", [])
    assert tier_for(shipped["dataset"], result) == "Gold"


def test_raise_hints_name_the_gap_and_rank_criteria(shipped: dict[str, Rubric]):
    case = json.loads((GOLDEN[0].parent / "dataset_challenge_zenodo.json").read_text())
    result = score(shipped["dataset"], case["facts"], NOW)
    hints = raise_hints(shipped["dataset"], result)
    assert hints[0] == "Platinum needs 78 points; the score is 74.5, 3.5 short"
    assert hints[1] == ("describe the patients (age, sex) and how the diagnosis was established "
                        "(+6.0 points, enough for Platinum on its own)")
    assert hints[2] == ("keep the dataset current (fix issues, publish a new version when files "
                        "change) (+5.0 points, enough for Platinum on its own)")
    assert ("report the scanner model, the probe and its frequency, and the imaging settings "
            "(+3.0 points, now 3.0 of 6.0)") in hints
    gaps = [float(re.search(r"\(\+([\d.]+) points", h).group(1)) for h in hints[1:]]
    assert gaps == sorted(gaps, reverse=True)
    met = {c.id for c in result.criteria if c.credit == 1.0}
    advice = {c.id: c.advice for c in shipped["dataset"].criteria}
    assert not any(h.startswith(advice[i]) for i in met for h in hints[1:])


def test_raise_hints_at_the_top_and_without_advice(shipped: dict[str, Rubric]):
    case = json.loads((GOLDEN[0].parent / "model_weights_paper_metrics.json").read_text())
    top = score(shipped["model"], case["facts"], NOW)
    assert raise_hints(shipped["model"], top) == ["Diamond is the top tier (score 100.0)"]
    rubric = rubric_with({"type": "present", "field": "doi"})
    assert raise_hints(rubric, score(rubric, {}, NOW)) == [
        "Bronze needs 35 points; the score is 0.0, 35.0 short",
        "meet 'C0' (+100.0 points, enough for Bronze on its own)"]


def test_fingerprint_follows_content_not_layout(tmp_path: Path):
    text = (RUBRICS / "sonodqs.yaml").read_text()
    original = fingerprint(load_rubric(RUBRICS / "sonodqs.yaml"))
    assert re.fullmatch(r"[0-9a-f]{16}", original)
    data = yaml.safe_load(text)
    flow = yaml.safe_dump(data, default_flow_style=True, sort_keys=False)
    (tmp_path / "flow.yaml").write_text(flow)
    assert fingerprint(load_rubric(tmp_path / "flow.yaml")) == original
    (tmp_path / "heavier.yaml").write_text(text.replace("weight: 10", "weight: 11", 1))
    assert fingerprint(load_rubric(tmp_path / "heavier.yaml")) != original


# --- invalid rubric files ------------------------------------------------------------------

def _broken(tmp_path: Path, edit: Any) -> Path:
    data = yaml.safe_load((RUBRICS / "sonodqs.yaml").read_text())
    edit(data)
    path = tmp_path / "sonodqs.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _set(path: list[Any], value: Any) -> Any:
    def edit(data: Any) -> None:
        for key in path[:-1]:
            data = data[key]
        if value is _DELETE:
            del data[path[-1]]
        else:
            data[path[-1]] = value
    return edit


_DELETE = object()


@pytest.mark.parametrize(("edit", "message"), [
    (_set(["criteria", 3, "check", "of", 0, "steps"], [[400, 0.5], [100, 1.0]]),
     r"sonodqs.yaml: criteria\[3\]\.check\.of\[0\]\.steps: must be increasing"),
    (_set(["criteria", 6, "check", "of", 0, "of", 1, "steps"], [[1, 1.5]]),
     r"criteria\[6\]\.check\.of\[0\]\.of\[1\]\.steps: credits must be between 0 and 1"),
    (_set(["criteria", 0, "check", "type"], "lookup"),
     r"criteria\[0\]\.check: unknown check type 'lookup'; known types: present, any_present, "
     r"map, at_least, count, text_matches, recent, all_of, any_of"),
    (_set(["criteria", 0, "check", "type"], _DELETE), r"criteria\[0\]\.check: a check needs a "
                                                      r"type"),
    (_set(["criteria", 0, "check", "field"], "acces"),
     r"criteria\[0\]\.check\.field: 'acces' is not a facts field; known: access,"),
    (_set(["criteria", 7, "check", "patterns", 1], "(unclosed"),
     r"criteria\[7\]\.check\.patterns\[1\]: cannot compile '\(unclosed'"),
    (_set(["criteria", 7, "check", "need"], 9),
     r"criteria\[7\]\.check: need \(9\) is more than the 3 patterns"),
    (_set(["criteria", 2, "weight"], 0), r"criteria\[2\]\.weight: Input should be greater than 0"),
    (_set(["criteria", 2, "wieght"], 3), r"criteria\[2\]\.wieght: Extra inputs are not permitted"),
    (_set(["criteria", 2, "why"], _DELETE), r"criteria\[2\]\.why: Field required"),
    (_set(["criteria", 1, "id"], "open_access"),
     r"criteria\[1\]\.id: duplicate id 'open_access' \(first used by criteria\[0\]\)"),
    (_set(["criteria", 1, "check", "share"], 2), r"criteria\[1\]\.check\.share: share only "
                                                 r"counts inside all_of"),
    (_set(["criteria", 13, "check", "of", 0, "of", 0, "steps"], [[365, 0.5], [730, 1.0]]),
     r"criteria\[13\]\.check\.of\[0\]\.of\[0\]\.steps: credits must not increase with age"),
    (_set(["tiers"], {"Diamond": 90, "Gold": 60, "Platinum": 70, "Silver": 40, "Bronze": 20,
                      "Steel": 0}), r"tiers: must list exactly Diamond, Platinum, Gold"),
    (_set(["tiers", "Gold"], 80), r"tiers: thresholds must be strictly decreasing"),
    (_set(["tiers", "Steel"], 5), r"tiers: Steel must be 0"),
    (_set(["kind"], "paper"), r"kind: Input should be 'dataset' or 'model'"),
    (_set(["version"], 0), r"version: Input should be greater than or equal to 1"),
])
def test_an_invalid_rubric_names_the_file_and_the_place(tmp_path: Path, edit: Any, message: str):
    with pytest.raises(RubricError, match=message):
        load_rubric(_broken(tmp_path, edit))


def test_unreadable_rubric_files(tmp_path: Path):
    with pytest.raises(RubricError, match=r"missing.yaml: file not found"):
        load_rubric(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("criteria: [unclosed")
    with pytest.raises(RubricError, match=r"bad.yaml: not valid YAML"):
        load_rubric(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(RubricError, match=r"list.yaml: expected a mapping"):
        load_rubric(tmp_path / "list.yaml")


def test_several_problems_are_all_reported(tmp_path: Path):
    def edit(data: Any) -> None:
        data["criteria"][0]["weight"] = -1
        data["tiers"]["Steel"] = 3
    with pytest.raises(RubricError) as caught:
        load_rubric(_broken(tmp_path, edit))
    lines = str(caught.value).splitlines()
    assert len(lines) == 2 and all(line.startswith(str(tmp_path)) for line in lines)


# --- totality: partial and malformed facts ------------------------------------------------

_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=200), st.lists(st.text(max_size=30), max_size=5),
    st.dictionaries(st.sampled_from(["images", "patients", "videos", "downloads", "stars"]),
                    st.one_of(st.integers(), st.floats(), st.text(max_size=5), st.none()),
                    max_size=4),
    st.datetimes().map(lambda d: d.isoformat()),
)
_FACTS = st.dictionaries(st.sampled_from(sorted(FACT_FIELDS)), _VALUES, max_size=len(FACT_FIELDS))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts=_FACTS)
def test_any_partial_facts_score_without_error(facts: dict[str, Any]):
    for rubric in load_rubrics_cached().values():
        result = score(rubric, facts, NOW)
        assert 0 <= result.score <= 100 and result.tier in TIERS
        assert len(result.criteria) == len(rubric.criteria)
        assert all(0 <= c.credit <= 1 and isinstance(c.evidence, str) for c in result.criteria)
        raise_hints(rubric, result)


@pytest.mark.parametrize("facts", [None, [], "text", 3, {}])
def test_non_mapping_or_empty_facts_score_zero(shipped: dict[str, Rubric], facts: Any):
    result = score(shipped["dataset"], facts, NOW)
    assert (result.score, result.tier) == (0.0, "Steel")


_CACHE: dict[str, Rubric] = {}


def load_rubrics_cached() -> dict[str, Rubric]:
    if not _CACHE:
        _CACHE.update(load_rubrics(RUBRICS))
    return _CACHE


# --- the literal shortcut finds exactly what a plain sentence-by-sentence search finds ----

_WORDS = ["Dice", "0.91", "radiologist", "ultrasound", "train.py", "test", "set", "GE",
          "Voluson", "MHz", "5", "images", "masks", "by", "two", ".", ". ", "\n", ",", "-",
          "png", "zenodo.org/records/1", "consent", "ıs", "İ", "ſ", "multi-centre", "split"]


@settings(max_examples=300, deadline=None)
@given(words=st.lists(st.sampled_from(_WORDS), max_size=40), data=st.data())
def test_literal_shortcut_matches_a_plain_search(words: list[str], data: st.DataObject):
    text = " ".join(words)
    patterns = [p for r in load_rubrics_cached().values() for p in text_patterns(r)]
    pattern = data.draw(st.sampled_from(patterns))
    compiled = re.compile(pattern, re.IGNORECASE)
    lowered = text.lower().replace("\u0131", "i").replace("\u017f", "s")
    fast = rubrics_module._search(compiled, rubrics_module._required_literals(pattern), text,
                                  lowered)
    plain = rubrics_module._search_every_sentence(compiled, text)
    assert (fast and fast.span()) == (plain and plain.span())
