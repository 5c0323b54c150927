"""Scoring over the warehouse: incremental, append-only, overrides, explain, seed agreement."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from sonoharvest import export, scoring, warehouse
from sonoharvest.cli import app
from sonoharvest.entity_facts import facts_hash
from sonoharvest.settings import REPO_ROOT, Settings

FIXTURES = Path(__file__).parent / "fixtures" / "rubrics"


def facts_of(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())["facts"]


def put_entities(con, entities: dict[str, dict]) -> None:
    rows = [(eid, f["kind"], "active", None, f"test:{eid}", f["name"], json.dumps(f),
             facts_hash(f)) for eid, f in entities.items()]
    warehouse.save_resolution(con, rows, [], [], {})


@pytest.fixture
def scored(con, settings):
    put_entities(con, {"e-open": facts_of("dataset_open_descriptor"),
                       "e-kaggle": facts_of("dataset_kaggle_reupload"),
                       "e-model": facts_of("model_weights_paper_metrics")})
    return scoring.score_entities(con, settings)


def history(con, eid):
    return [(round(s, 1), t) for _, _, _, s, t in warehouse.score_history(con, eid)]


def test_scores_are_stored_once_per_change(con, settings, scored):
    assert scored == {"scored": 3, "retiered": 0, "unchanged": 0}
    assert scoring.score_entities(con, settings)["scored"] == 0          # nothing changed
    first = history(con, "e-kaggle")
    richer = {**facts_of("dataset_kaggle_reupload"), "license": "CC-BY-4.0",
              "license_class": "open", "doi": "10.5281/zenodo.1"}
    put_entities(con, {"e-kaggle": richer})
    counts = scoring.score_entities(con, settings)
    assert counts["scored"] == 1 and counts["unchanged"] == 2
    after = history(con, "e-kaggle")
    assert after[0] == first[0] and len(after) == 2 and after[1][0] > after[0][0]


def test_a_rubric_change_rescores_every_entity_of_its_kind(con, tmp_path, scored):
    rubrics = tmp_path / "rubrics"
    shutil.copytree(REPO_ROOT / "rubrics", rubrics)
    path = rubrics / "sonodqs.yaml"
    path.write_text(path.read_text().replace("version: 1", "version: 2", 1))
    counts = scoring.score_entities(con, Settings(home=tmp_path, rubrics_dir=rubrics))
    assert counts["scored"] == 2                       # the two datasets, not the model
    versions = {v for _, _, v, _, _ in warehouse.score_history(con, "e-open")}
    assert versions == {1, 2}


def test_override_survives_rescoring_and_shows_in_exports(con, settings, scored, tmp_path):
    scoring.override(con, "e-kaggle", "Gold", reason="curated copy is the reference", who="ana")
    scoring.score_entities(con, settings, everything=True)
    current = warehouse.current_score(con, "e-kaggle")
    assert current["tier"] == "Gold" and current["auto_tier"] != "Gold"
    export.write_parquet(con, "datasets", tmp_path)
    row = next(r for r in pq.read_table(tmp_path / "datasets.parquet").to_pylist()
               if r["entity_id"] == "e-kaggle")
    assert row["tier"] == "Gold" and row["override_reason"] == "curated copy is the reference"
    scoring.override(con, "e-kaggle", None, reason="", who="ana")
    assert warehouse.current_score(con, "e-kaggle")["tier"] == current["auto_tier"]
    with pytest.raises(ValueError, match="reason"):
        scoring.override(con, "e-kaggle", "Gold", reason=" ", who="ana")
    with pytest.raises(ValueError, match="unknown tier"):
        scoring.override(con, "e-kaggle", "Golden", reason="x", who="ana")


def test_seed_agreement_counts_exact_within_one_and_rank(con, scored, tmp_path):
    tier = warehouse.current_score(con, "e-open")["auto_tier"]
    csv = tmp_path / "seed.csv"
    csv.write_text("row,name,anatomy_as_reported,size_as_reported,access_type,sonodqs_tier,"
                   "sonodqs_tier_rank\n"
                   f"1,LUS-MC,Lung,1820,OA,{tier},1\n2,Nothing like it,Brain,10,OA,Gold,3\n")
    entity_titles = [("e-open", facts_of("dataset_open_descriptor")["name"]),
                     ("e-kaggle", facts_of("dataset_kaggle_reupload")["name"])]
    from sonoharvest.seed import link_rows, read_catalogue
    linked = link_rows(read_catalogue(csv), entity_titles)
    assert linked[1][0] == "e-open" and 2 not in linked
    warehouse.save_seed(con, [(1, "LUS-MC", "", "", "OA", tier, 1, "e-open", "test"),
                              (2, "Nothing", "", "", "OA", "Gold", 3, None, None)])
    result = scoring.seed_agreement(con)
    assert result["compared"] == 1 and result["exact"] == 1.0 and result["linked"] == 1


def test_a_malformed_seed_file_names_the_line(tmp_path):
    from sonoharvest.seed import read_catalogue
    bad = tmp_path / "bad.csv"
    bad.write_text("row,name,sonodqs_tier\n1,X,Gold\n2,Y,Golden\n")
    with pytest.raises(ValueError, match=r"bad.csv:3: tier 'Golden'"):
        read_catalogue(bad)


def test_explain_and_override_on_the_command_line(tmp_path, monkeypatch):
    home = tmp_path / "home"
    con = warehouse.open_warehouse(Settings(home=home).db_path)
    put_entities(con, {"e-open": facts_of("dataset_open_descriptor")})
    scoring.score_entities(con, Settings(home=home))
    con.close()
    monkeypatch.setenv("SONOHARVEST_HOME", str(home))
    runner = CliRunner()
    text = runner.invoke(app, ["explain", "e-open"])
    assert text.exit_code == 0, text.output
    assert "Open access" in text.output and "What would raise the tier" in text.output
    doc = json.loads(runner.invoke(app, ["explain", "e-open", "--json"]).output)
    assert doc["criteria"] and doc["raise"] and doc["history"]
    assert runner.invoke(app, ["override", "e-open", "--tier", "steel", "--reason",
                               "broken files"]).exit_code == 0
    doc = json.loads(runner.invoke(app, ["explain", "e-open", "--json"]).output)
    assert doc["final_tier"] == "Steel" and doc["override"]["reason"] == "broken files"
    assert runner.invoke(app, ["override", "e-open"]).exit_code == 2


def test_an_invalid_rubric_stops_scoring_with_a_message_naming_the_place(tmp_path,
                                                                         monkeypatch):
    rubrics = tmp_path / "rubrics"
    shutil.copytree(REPO_ROOT / "rubrics", rubrics)
    path = rubrics / "sonomqs.yaml"
    path.write_text(path.read_text().replace("weight: 10", "weight: -10", 1))
    monkeypatch.setenv("SONOHARVEST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SONOHARVEST_RUBRICS", str(rubrics))
    result = CliRunner().invoke(app, ["score"])
    assert result.exit_code == 1
    message = result.output.replace("\n", "")
    assert "sonomqs.yaml" in message and "criteria[0].weight" in message
