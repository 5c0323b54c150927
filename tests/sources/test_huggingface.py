"""Hugging Face Hub: mapping of the recorded model page, and harvesting against the fake Hub."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import yaml
from conftest import FIXTURES, run_harvest

from sonoharvest.demo import huggingface as fake
from sonoharvest.demo import papers as fake_papers
from sonoharvest.demo.fakeapi import json_response
from sonoharvest.records import RawItem
from sonoharvest.settings import REPO_ROOT, Settings
from sonoharvest.sources import huggingface as hf
from sonoharvest.sources.base import load_config

BERT = FIXTURES / "huggingface" / "model_info_google-bert-bert-base-uncased_2025-01.json"
TERMS = ["ultrasound", "echocardiography", "POCUS"]
# Most tests list datasets only (fewer rows to store keeps the file fast): with TERMS, tag
# "ultrasound" and author "StanfordAIMI" that is 5 queries. What they match in the demo Hub:
QUERIES = 5
EXPECTED = {
    "datasets": {"gymprathap/Breast-Cancer-Ultrasound-Images-Dataset",
                 "nidus-lab/ddti-thyroid-ultrasound", "udiat/breast-ultrasound-dataset-b",
                 "robotics-uni/ultrasound-sensor-obstacle-distance", "StanfordAIMI/echonet-dynamic",
                 "StanfordAIMI/echonet-lvh", "creatis-myriad/camus", "wgomezf/BUS-BRA",
                 "haifangong/TN3K", "burgos-artizzu/FETAL_PLANES_DB", "grand-challenge/hc18",
                 "nrc-cnrc/COVIDx-US", "DIAGNijmegen/acouslic-ai", "batlab/bat-echolocation-calls",
                 "jannisborn/pocus-covid19-lung", "pocus-lab/lung-b-line-videos"},
    "models": {"rdiaz/vit-base-busi-breast-ultrasound", "openmedlab/USFM", "sonosam/SonoSAM",
               "thyro-ai/segformer-b0-thyroid-ultrasound-tn3k",
               "bcnatal/fetal-ultrasound-planes-convnext",
               "thyro-ai/yolov8s-thyroid-nodule-ultrasound",
               "batlab/bat-call-classifier-ultrasound", "smartcar/parking-ultrasound-sensor-fusion",
               "cardio-ml/echocardiography-lvef-regressor", "pocus-lab/lung-pocus-bline-detector",
               "StanfordAIMI/CheXagent-8b"},
}
EXPECTED_IDS = {f"datasets/{repo}" for repo in EXPECTED["datasets"]}
ALL_IDS = EXPECTED_IDS | {f"models/{repo}" for repo in EXPECTED["models"]}


def settings(tmp_path: Path, config: dict[str, Any] | None = None, *, terms: list[str] = TERMS,
             **kw: Any) -> Settings:
    """Settings whose rubrics folder holds `terms` and huggingface.yaml with `config` on top."""
    folder = tmp_path / "rubrics" / "harvest"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocabulary.yaml").write_text(yaml.safe_dump({"terms": terms}))
    base = {"kinds": ["datasets"], "page_size": 100, "tags": ["ultrasound"],
            "authors": ["StanfordAIMI"], "recheck": {"days": 30, "per_run": 50}}
    (folder / "huggingface.yaml").write_text(yaml.safe_dump({**base, **(config or {})}))
    return Settings(home=tmp_path / "home", rubrics_dir=tmp_path / "rubrics", **kw)


def hub(clock, **kw: Any) -> fake.FakeHub:
    return fake.services(clock=clock, **kw)[0]


def demo_item(kind: str, repo_id: str) -> dict[str, Any]:
    return copy.deepcopy(next(i for i in fake.load()[kind] if i.get("id") == repo_id))


def stored(con) -> dict[str, str]:
    return dict(con.execute("SELECT source_id, status FROM source_records "
                            "WHERE source = 'huggingface'").fetchall())


def hub_requests(internet, host: str = "huggingface.co") -> list[httpx.URL]:
    return [httpx.URL(url) for _, url, _ in internet.log if httpx.URL(url).host == host]


# --- mapping -------------------------------------------------------------------------------

def test_maps_the_recorded_model_page():
    record = hf.to_record(RawItem("model", json.loads(BERT.read_text())))
    assert record.source_id == "models/google-bert/bert-base-uncased"
    assert record.kind_hint == "model" and record.title == "google-bert/bert-base-uncased"
    assert record.url == "https://huggingface.co/google-bert/bert-base-uncased"
    assert record.identifiers == ["hf:models/google-bert/bert-base-uncased"]
    assert set(record.related) == {"hf:datasets/bookcorpus", "hf:datasets/wikipedia",
                                   "arxiv:1810.04805"}
    assert record.license == "apache-2.0" and record.access == "open"
    assert record.creators == ["google-bert"]
    assert record.created_at is None  # the 2022-03-02T23:29:04Z placeholder is not a date
    assert record.updated_at.isoformat() == "2024-02-19T11:06:12+00:00"
    assert record.metrics == {"downloads": 72376843.0, "likes": 2065.0}
    assert "fill-mask" in record.keywords and "exbert" in record.keywords
    assert not {"endpoints_compatible", "region:us", "license:apache-2.0"} & set(record.keywords)


def test_maps_dataset_cards_doi_access_and_html():
    busi = hf.to_record(RawItem("dataset", demo_item(
        "datasets", "gymprathap/Breast-Cancer-Ultrasound-Images-Dataset")))
    assert busi.title == "Breast Ultrasound Images Dataset (BUSI)"
    assert "<" not in busi.description and "25–75" in busi.description
    assert busi.url == ("https://huggingface.co/datasets/"
                        "gymprathap/Breast-Cancer-Ultrasound-Images-Dataset")
    assert busi.related == ["pwc-dataset:busi"] and busi.license == "cc0-1.0"
    camus = hf.to_record(RawItem("dataset", demo_item("datasets", "creatis-myriad/camus")))
    assert camus.doi == "10.57967/hf/1719"
    assert camus.identifiers == ["hf:datasets/creatis-myriad/camus", "doi:10.57967/hf/1719"]
    assert "arxiv:1908.06948" in camus.related
    echonet = hf.to_record(RawItem("dataset",
                                   demo_item("datasets", "StanfordAIMI/echonet-dynamic")))
    assert echonet.access == "on request" and echonet.license == "other"
    model = hf.to_record(RawItem("model",
                                 demo_item("models", "rdiaz/vit-base-busi-breast-ultrasound")))
    assert "hf:models/google/vit-base-patch16-224-in21k" in model.related
    assert "hf:datasets/gymprathap/breast-cancer-ultrasound-images-dataset" in model.related


def test_search_terms_are_id_fragments_from_the_vocabulary():
    config = load_config(REPO_ROOT / "rubrics", "huggingface")
    terms = hf.search_terms(config)
    assert "ultrasound" in terms and "pocus" in terms and "b-mode" in terms
    # Redundant ("breast-ultrasound" contains "ultrasound") and skipped ("trus") terms are gone.
    gone = {"breast-ultrasound", "point-of-care-ultrasound", "ultrasonography", "trus"}
    assert not gone & set(terms)
    assert hf.queries(config, "models")[0] == ("models:search:ultrasound", {"search": "ultrasound"})


# --- harvesting ----------------------------------------------------------------------------

def test_stores_what_the_queries_match_and_quarantines_the_malformed(con, tmp_path, clock):
    service = hub(clock)
    config = settings(tmp_path, {"kinds": ["datasets", "models"]})
    results, internet = run_harvest(con, config, ["huggingface"], [service], clock)
    result = results["huggingface"]
    assert result.status == "ok", result.message
    assert set(stored(con)) == ALL_IDS and result.counts["quarantined"] == 2
    ids = stored(con)
    for absent in ("datasets/openbmb/UltraFeedback", "models/Ultralytics/YOLOv8",
                   "models/google-bert/bert-base-uncased"):
        assert absent not in ids  # no ultrasound query returns them
    reasons = dict(con.execute("SELECT item_key, reason FROM quarantine").fetchall())
    assert "day is out of range" in reasons["dataset:us-archive/abdominal-ultrasound-organs"]
    assert any("no repository id" in r for r in reasons.values())
    assert internet.rejected == 0 and service.budget.throttled == 0


def test_listing_follows_link_when_the_server_caps_pages(con, tmp_path, clock):
    service = hub(clock)
    service.page_cap = 2
    results, internet = run_harvest(con, settings(tmp_path, {"page_size": 1000}), ["huggingface"],
                                    [service], clock)
    assert results["huggingface"].status == "ok", results["huggingface"].message
    assert set(stored(con)) == EXPECTED_IDS
    listings = [u for u in hub_requests(internet) if u.path in ("/api/datasets", "/api/models")]
    assert all(u.params["limit"] == "1000" for u in listings)
    assert sum("cursor" in u.params for u in listings) >= len(EXPECTED_IDS) // 2 - QUERIES


def test_paced_to_the_documented_limits(con, tmp_path, clock):
    service = hub(clock)
    service.page_cap = 1  # many requests
    start = clock.monotonic()
    results, internet = run_harvest(con, settings(tmp_path), ["huggingface"], [service], clock)
    n, elapsed = len(hub_requests(internet)), clock.monotonic() - start
    assert results["huggingface"].status == "ok" and n > 30
    assert internet.rejected == 0 and service.budget.throttled == 0
    assert elapsed >= (n - 1) * 60 / hf.ANON_PER_MINUTE - 1e-3


def test_token_doubles_the_pace(con, tmp_path, clock):
    service = hub(clock)
    service.page_cap = 1
    start = clock.monotonic()
    results, internet = run_harvest(con, settings(tmp_path, hf_token="hf_demo"), ["huggingface"],
                                    [service], clock)
    n, elapsed = len(hub_requests(internet)), clock.monotonic() - start
    assert results["huggingface"].status == "ok" and internet.rejected == 0
    assert (n - 1) * 60 / hf.TOKEN_PER_MINUTE - 1e-3 <= elapsed < (n - 1) * 60 / hf.ANON_PER_MINUTE


def test_waits_for_the_reset_when_the_ratelimit_header_says_spent(con, tmp_path, clock):
    service = fake.FakeHub(host="huggingface.co", budget=fake.Budget(clock, quotas=(15, 30)))
    start = clock.monotonic()
    results, internet = run_harvest(con, settings(tmp_path), ["huggingface"], [service], clock)
    assert results["huggingface"].status == "ok", results["huggingface"].message
    assert len(hub_requests(internet)) > 15
    assert service.budget.throttled == 0  # the client held back instead of hitting 429s
    assert clock.monotonic() - start >= fake.WINDOW


def test_recovers_from_429_with_retry_after(con, tmp_path, clock):
    service = hub(clock)
    service.inject = [json_response({"error": "slow down"}, 429, {"Retry-After": "7"})] * 2
    start = clock.monotonic()
    results, internet = run_harvest(con, settings(tmp_path), ["huggingface"], [service], clock)
    assert results["huggingface"].status == "ok", results["huggingface"].message
    assert internet.count(status=429) == 2 and clock.monotonic() - start >= 14
    assert set(stored(con)) == EXPECTED_IDS


def test_quiet_rerun_costs_one_request_per_query(con, tmp_path, clock):
    service, config = hub(clock), settings(tmp_path)
    first, _ = run_harvest(con, config, ["huggingface"], [service], clock)
    second, internet = run_harvest(con, config, ["huggingface"], [service], clock)
    counts = second["huggingface"].counts
    assert first["huggingface"].counts["new"] == len(EXPECTED_IDS)
    assert counts["requests"] == QUERIES and len(hub_requests(internet)) == QUERIES
    assert counts["new"] == counts["changed"] == counts["quarantined"] == 0
    assert all(u.params["sort"] == "lastModified" for u in hub_requests(internet))


def test_new_and_changed_repositories_are_picked_up(con, tmp_path, clock):
    service, config = hub(clock), settings(tmp_path)
    run_harvest(con, config, ["huggingface"], [service], clock)
    busi = next(i for i in service.items["datasets"] if i["id"].startswith("gymprathap/"))
    busi["description"] = "Breast ultrasound images (BUSI), version 2 with corrected masks."
    busi["lastModified"] = "2026-11-01T10:00:00.000Z"
    newcomer = demo_item("datasets", "haifangong/TN3K")
    newcomer.update(id="haifangong/TN3K-v2", lastModified="2026-11-02T10:00:00.000Z")
    service.items["datasets"].append(newcomer)
    results, internet = run_harvest(con, config, ["huggingface"], [service], clock)
    counts = results["huggingface"].counts
    assert counts["changed"] == 1 and counts["new"] == 1
    assert counts["requests"] == QUERIES + 2  # plus the two repository pages
    versions = con.execute("SELECT count(*) FROM record_versions WHERE source_id = ?",
                           ["datasets/gymprathap/Breast-Cancer-Ultrasound-Images-Dataset"]).fetchone()
    assert versions == (2,)


def test_interrupted_listing_resumes_from_its_cursor(con, tmp_path, clock):
    service, config = hub(clock), settings(tmp_path)
    service.page_cap = 2
    original, calls, failed = service.handle, [], []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request.url)
        if not failed and "cursor" in request.url.params:  # the first query's second page
            failed.append(request.url)
            return json_response({"error": "Bad request"}, 400)
        return original(request)

    service.handle = flaky
    first, _ = run_harvest(con, config, ["huggingface"], [service], clock)
    assert first["huggingface"].status == "failed" and first["huggingface"].counts["new"] == 2
    state = json.loads(con.execute("SELECT value FROM harvest_cursors WHERE key = "
                                   "'datasets:search:ultrasound'").fetchone()[0])
    assert "cursor=" in state["next"] and state["since"] is None
    calls.clear()
    second, _ = run_harvest(con, config, ["huggingface"], [service], clock)
    assert second["huggingface"].status == "ok"
    assert calls[0] == httpx.URL(state["next"])  # resumed where the first run stopped
    assert set(stored(con)) == EXPECTED_IDS


def test_removed_repository_is_withdrawn_after_a_full_sweep(con, tmp_path, clock):
    service, config = hub(clock), settings(tmp_path)
    run_harvest(con, config, ["huggingface"], [service], clock)
    service.items["datasets"] = [i for i in service.items["datasets"]
                                 if i.get("id") != "creatis-myriad/camus"]
    results, _ = run_harvest(con, config, ["huggingface"], [service], clock, full=True)
    assert results["huggingface"].counts["withdrawn"] == 1
    status = stored(con)
    assert status.pop("datasets/creatis-myriad/camus") == "withdrawn"
    assert set(status.values()) == {"active"}


def test_removed_repository_is_withdrawn_on_a_404_recheck(con, tmp_path, clock):
    service, config = hub(clock), settings(tmp_path, {"recheck": {"days": 0, "per_run": 100}})
    run_harvest(con, config, ["huggingface"], [service], clock)
    service.items["datasets"] = [i for i in service.items["datasets"]
                                 if i["id"] != "wgomezf/BUS-BRA"]
    results, internet = run_harvest(con, config, ["huggingface"], [service], clock)
    counts = results["huggingface"].counts
    assert counts["withdrawn"] == 1 and counts["changed"] == counts["new"] == 0
    assert counts["unchanged"] == len(EXPECTED_IDS) - 1  # ETag revalidation: 304s
    assert internet.count(status=304) == len(EXPECTED_IDS) - 1
    assert stored(con)["datasets/wgomezf/BUS-BRA"] == "withdrawn"


def test_token_is_sent_only_when_set_and_never_shown(con, tmp_path, clock, caplog):
    caplog.set_level(logging.DEBUG)
    anonymous = hub(clock)
    run_harvest(con, settings(tmp_path / "a"), ["huggingface"], [anonymous], clock)
    assert anonymous.auth_seen and set(anonymous.auth_seen) == {None}
    with_token = hub(clock)
    run_harvest(con, settings(tmp_path / "b", hf_token="hf_GOODsecret"), ["huggingface"],
                [with_token], clock)
    assert set(with_token.auth_seen) == {"Bearer hf_GOODsecret"}
    refused = hub(clock, tokens={"hf_GOODsecret"})
    results, _ = run_harvest(con, settings(tmp_path / "c", hf_token="hf_BADsecret"),
                             ["huggingface"], [refused], clock)
    result = results["huggingface"]
    assert result.status == "failed" and "401" in result.message
    assert "hf_BADsecret" not in result.message and "hf_BADsecret" not in caplog.text
    assert "hf_GOODsecret" not in caplog.text


def test_base_url_setting_is_honoured(con, tmp_path, clock):
    mirror, default = hub(clock, host="hub.mirror.example"), hub(clock)
    config = settings(tmp_path, hf_url="https://hub.mirror.example")
    results, internet = run_harvest(con, config, ["huggingface"], [mirror, default], clock)
    assert results["huggingface"].status == "ok"
    assert hub_requests(internet, "hub.mirror.example") and not hub_requests(internet)
    assert set(stored(con)) == EXPECTED_IDS


def test_fatal_4xx_fails_this_source_only(con, tmp_path, clock):
    data = fake_papers.load()
    few = {"hf_papers": data["hf_papers"][:3],
           "pwc_archive": {name: rows[:2] for name, rows in data["pwc_archive"].items()}}
    services = [hub(clock, tokens={"hf_valid"}), *fake_papers.services(few, clock=clock)]
    config = settings(tmp_path, hf_token="hf_revoked")
    results, _ = run_harvest(con, config, ["huggingface", "papers"], services, clock)
    assert results["huggingface"].status == "failed"
    assert "401" in results["huggingface"].message and "token" in results["huggingface"].message
    assert results["papers"].status == "ok" and results["papers"].counts["new"] > 0
    assert not stored(con)
