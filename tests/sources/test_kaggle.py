"""Offline tests of the Kaggle source against the fake Kaggle API."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conftest import FIXTURES, run_harvest

from sonoharvest.demo.fakeapi import FakeInternet, json_response
from sonoharvest.demo.kaggle import DEFAULT_HOST, FakeKaggle, services
from sonoharvest.harvest import harvest
from sonoharvest.http import PACING_MARGIN
from sonoharvest.records import Batch, RawItem, Record
from sonoharvest.settings import Settings
from sonoharvest.sources import get_source
from sonoharvest.sources import kaggle as source
from sonoharvest.sources.base import Source, load_config
from sonoharvest.sources.kaggle import distinct_terms

TOKEN = "kgat-test-0123456789abcdef"
DATASETS_URL = f"https://{DEFAULT_HOST}/v1/datasets.DatasetApiService/ListDatasets"
MODELS_URL = f"https://{DEFAULT_HOST}/v1/models.ModelApiService/ListModels"


def _settings(tmp_path: Path, **kw: Any) -> Settings:
    kw.setdefault("kaggle_api_token", TOKEN)
    return Settings(home=tmp_path / "home", **kw)


def _rubrics(tmp_path: Path, terms: list[str], **options: Any) -> Path:
    """A rubrics folder with a small vocabulary and Kaggle options, for focused (fast) runs."""
    folder = tmp_path / "rubrics" / "harvest"
    folder.mkdir(parents=True)
    (folder / "vocabulary.yaml").write_text(yaml.safe_dump({"terms": terms}))
    (folder / "kaggle.yaml").write_text(yaml.safe_dump({"item_types": ["datasets"], **options}))
    return folder.parent


def _small(tmp_path: Path, **kw: Any) -> Settings:
    """Settings searching only "ultrasound": 34 datasets and 7 models, 2 of them malformed."""
    rubrics = _rubrics(tmp_path, ["ultrasound"], item_types=["datasets", "models"])
    return _settings(tmp_path, rubrics_dir=rubrics, **kw)


def _dataset(n: int, size: int = 1000) -> dict[str, Any]:
    return {"id": 5000 + n, "ref": f"user{n}/ultrasound-set-{n}", "title": f"Ultrasound set {n}",
            "subtitle": "", "description": "Synthetic ultrasound frames.", "totalBytes": size,
            "lastUpdated": f"2024-01-01T00:{n // 60:02d}:{n % 60:02d}.000Z",
            "licenseName": "CC BY 4.0", "ownerRef": f"user{n}", "tags": [], "versions": []}


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "kaggle" / name).read_text())


def _records(con) -> dict[str, dict[str, Any]]:
    rows = con.execute("SELECT source_id, status, record FROM source_records "
                       "WHERE source = 'kaggle'").fetchall()
    return {sid: {"status": status, **json.loads(rec)} for sid, status, rec in rows}


def _query_keys(settings: Settings) -> int:
    cfg = load_config(settings.rubrics_dir, "kaggle")
    terms = distinct_terms(list(dict.fromkeys([*cfg["terms"], *cfg.get("extra_terms", [])])))
    return len(terms) * len(cfg["item_types"]) + len(cfg.get("owners", []))


# --- mapping ---------------------------------------------------------------------------------

def test_dataset_mapping_on_the_sdk_shaped_fixture() -> None:
    busi, html, _ = _fixture("list_datasets_response.json")["datasets"]
    rec = source.to_record(RawItem("dataset", busi))
    assert rec.source_id == "datasets/aryashah2k/breast-ultrasound-images-dataset"
    assert rec.kind_hint == "dataset" and rec.doi is None and rec.access == "open"
    assert rec.identifiers == ["kaggle:aryashah2k/breast-ultrasound-images-dataset"]
    assert rec.url == "https://www.kaggle.com/datasets/aryashah2k/breast-ultrasound-images-dataset"
    assert rec.license == "CC0: Public Domain"
    assert rec.updated_at == datetime(2020, 10, 31, 7, 5, 17, 893000, tzinfo=UTC)
    assert rec.created_at == datetime(2020, 10, 30, 18, 11, 2, 137000, tzinfo=UTC)
    assert "doi:10.1016/j.dib.2019.104863" in rec.related
    assert {"cancer", "image segmentation"} <= set(rec.keywords)
    assert rec.creators == ["Arya Shah"]
    assert rec.metrics == {"downloads": 61544.0, "votes": 1205.0, "views": busi["viewCount"],
                           "usability": 0.9375, "notebooks": 412.0}

    cleaned = source.to_record(RawItem("dataset", html))
    assert "<" not in cleaned.description and "Cleaned version of BUSI" in cleaned.description
    assert cleaned.license == "CC BY-NC-SA 4.0"
    assert cleaned.related == ["doi:10.1016/j.dib.2019.104863", "github:subhajeetdas/busi-cleaning"]


def test_model_mapping_on_the_sdk_shaped_fixture() -> None:
    echonet, usfm, _ = _fixture("list_models_response.json")["models"]
    rec = source.to_record(RawItem("model", echonet))
    assert rec.source_id == "models/echonet/dynamic-r2plus1d" and rec.kind_hint == "model"
    assert rec.identifiers == ["kaggle:models/echonet/dynamic-r2plus1d"]
    assert rec.url == "https://www.kaggle.com/models/echonet/dynamic-r2plus1d"
    assert rec.license == "Other (specified in description)"
    assert rec.created_at == datetime(2021, 1, 15, 15, tzinfo=UTC)
    assert rec.updated_at == datetime(2022, 4, 4, 4, tzinfo=UTC)
    assert {"github:echonet/dynamic", "kaggle:mahnurrahman/echonet-dynamic"} <= set(rec.related)
    assert rec.metrics == {"votes": 30.0} and rec.creators == ["echonet"]
    usfm_rec = source.to_record(RawItem("model", usfm))
    assert "ViT-B backbone" in usfm_rec.description  # instance overview is part of the text
    assert usfm_rec.related[:2] == ["doi:10.1016/j.media.2024.103202", "github:openmedlab/usfm"]


@pytest.mark.parametrize(("item_type", "payload", "reason"), [
    ("dataset", _fixture("list_datasets_response.json")["datasets"][2], "has no title"),
    ("model", _fixture("list_models_response.json")["models"][2], "no valid ref"),
    ("dataset", {"ref": "a/b", "title": "T", "lastUpdated": "yesterday"}, "isoformat"),
    ("kernel", {"ref": "a/b", "title": "T"}, "unknown Kaggle item type"),
])
def test_malformed_items_raise_with_a_reason(item_type: str, payload: dict, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        source.to_record(RawItem(item_type, payload))


def test_links_are_normalised_like_identifiers() -> None:
    # The link extraction itself lives in sonoharvest.identifiers (tests/test_identifiers.py).
    text = ("See https://doi.org/10.5281/ZENODO.3904280. and arXiv:2103.10003, code at "
            "https://github.com/Owner/Repo.git; weights https://huggingface.co/datasets/org/set "
            "and https://huggingface.co/org/model; copy https://www.kaggle.com/models/google/gemma "
            "of https://zenodo.org/records/1327317 "
            "<a href=\"https://echonet.github.io/dynamic/\">site</a>")
    payload = {"ref": "owner/echo", "title": "Echo", "description": text}
    assert source.to_record(RawItem("dataset", payload)).related == [
        "doi:10.5281/zenodo.3904280", "arxiv:2103.10003", "github:owner/repo",
        "hf:datasets/org/set", "hf:models/org/model", "kaggle:models/google/gemma",
        "zenodo:1327317", "https://echonet.github.io/dynamic",
    ]


def test_size_slices_then_bisection() -> None:
    edges = (1000, 2000)
    assert source._split((0, None), edges) == [(0, 999), (1000, 1999), (2000, None)]
    assert source._split((0, 999), edges) == [(0, 499), (500, 999)]
    assert source._split((2000, None), edges) == [(2000, 3999), (4000, None)]
    assert source._split((7, 7), edges) == []


# --- auth ------------------------------------------------------------------------------------

def test_without_credentials_the_source_is_skipped_without_a_request(con, clock, tmp_path) -> None:
    results, internet = run_harvest(con, Settings(home=tmp_path), ["kaggle"], services(), clock)
    assert results["kaggle"].status == "skipped"
    assert results["kaggle"].message.startswith("no Kaggle credentials: set KAGGLE_API_TOKEN")
    assert internet.log == []


def test_the_fake_refuses_requests_without_credentials(clock) -> None:
    fake = FakeKaggle()
    response = fake.handle(httpx.Request("POST", DATASETS_URL, json={"search": "ultrasound"}))
    assert response.status_code == 401
    assert response.json()["error"]["status"] == "UNAUTHENTICATED"


def test_basic_auth_from_username_and_key(con, clock, tmp_path) -> None:
    fake = FakeKaggle(tokens={"alice:s3cret-key"})
    settings = _small(tmp_path, kaggle_api_token=None, kaggle_username="alice",
                      kaggle_key="s3cret-key")
    results, _ = run_harvest(con, settings, ["kaggle"], [fake], clock)
    assert results["kaggle"].status == "ok" and results["kaggle"].counts["new"] == 39
    assert set(fake.auth_seen) == {"Basic"}


def test_bearer_token_wins_and_never_leaks(con, clock, tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeKaggle(tokens={"the-right-token"})
    settings = _small(tmp_path, kaggle_username="alice", kaggle_key="other-secret")
    results, internet = run_harvest(con, settings, ["kaggle"], [fake], clock)
    result = results["kaggle"]
    assert result.status == "failed" and "HTTP 401" in result.message
    assert fake.auth_seen == ["Bearer"] and internet.count(status=401) == 1
    for secret in (TOKEN, "other-secret"):
        assert secret not in result.message and secret not in caplog.text
    assert source.SOURCE.auth_headers(_settings(tmp_path)) == {"Authorization": f"Bearer {TOKEN}"}


# --- a full harvest of the demo data ----------------------------------------------------------

def test_demo_harvest_then_a_cheap_incremental_rerun(con, clock, tmp_path) -> None:
    settings = _settings(tmp_path)
    start = clock.monotonic()
    fake = FakeKaggle()
    results, internet = run_harvest(con, settings, ["kaggle"], [fake], clock)
    result = results["kaggle"]
    assert result.status == "ok", result.message
    records = _records(con)
    assert result.counts["new"] == len(records) == 58
    assert sum(r["kind_hint"] == "model" for r in records.values()) == 13
    reasons = dict(con.execute("SELECT item_key, reason FROM quarantine").fetchall())
    assert len(reasons) == 3 and any("has no title" in r for r in reasons.values())
    assert any("no valid ref" in r for r in reasons.values())
    # Re-uploads of one dataset stay separate records that point at the original.
    copies = ["sabahesaraki/breast-ultrasound-images-dataset",
              "subhajeetdas/busi-breast-ultrasound-cleaned", "orvile/busi-with-gt-split"]
    original = "aryashah2k/breast-ultrasound-images-dataset"
    assert f"datasets/{original}" in records
    for ref in copies:
        hints = {"doi:10.1016/j.dib.2019.104863", f"kaggle:{original}"}
        assert hints & set(records[f"datasets/{ref}"]["related"]), ref
    # Pacing: the fake's limit (60/min) was never exceeded and time moved accordingly.
    assert internet.rejected == 0
    assert clock.monotonic() - start >= (len(internet.log) - 1) * 60 / source.PER_MINUTE
    # Requests use the documented page sizes, the public group and newest-first sorting.
    datasets = [b for m, b in fake.bodies if m.startswith("datasets.")]
    models = [b for m, b in fake.bodies if m.startswith("models.")]
    assert {b["pageSize"] for b in datasets} == {20} and {b["pageSize"] for b in models} == {50}
    assert {b["sortBy"] for b in datasets} == {"DATASET_SORT_BY_UPDATED"}
    assert {b["group"] for b in datasets} == {"DATASET_SELECTION_GROUP_PUBLIC"}
    assert {b["sortBy"] for b in models} == {"LIST_MODELS_ORDER_BY_UPDATE_TIME"}
    assert max(b["page"] for b in datasets) == 2  # "ultrasound" matches 34 datasets
    # A rerun with nothing new costs one request per query key and stores nothing new.
    versions = con.execute("SELECT count(*) FROM record_versions").fetchone()[0]
    results, internet = run_harvest(con, settings, ["kaggle"], [fake], clock)
    counts = results["kaggle"].counts
    assert _query_keys(settings) == 32      # 16 distinct terms x datasets and models
    assert len(internet.log) == counts["requests"] == 32
    assert counts["new"] == counts["changed"] == 0
    assert con.execute("SELECT count(*) FROM record_versions").fetchone()[0] == versions


def test_terms_that_add_no_results_are_not_queried() -> None:
    terms = ["ultrasound", "breast ultrasound", "Doppler ultrasound", "B-mode", "TRUS",
             "transrectal ultrasound", "point-of-care ultrasound", "POCUS"]
    assert distinct_terms(terms) == ["ultrasound", "B-mode", "TRUS", "POCUS"]


def test_a_changed_record_gets_a_new_version(con, clock, tmp_path) -> None:
    settings = _small(tmp_path)
    fake = FakeKaggle()
    run_harvest(con, settings, ["kaggle"], [fake], clock)
    item = next(d for d in fake.datasets if d["ref"] == "toygarr/camus-dataset")
    item["description"] += " Version 2 adds the half-sequence annotations."
    item["lastUpdated"] = "2026-04-01T12:00:00.000Z"
    results, _ = run_harvest(con, settings, ["kaggle"], [fake], clock)
    assert results["kaggle"].counts["changed"] == 1 and results["kaggle"].counts["new"] == 0
    hashes = con.execute("SELECT count(*) FROM record_versions WHERE source_id = ?",
                         ["datasets/toygarr/camus-dataset"]).fetchone()[0]
    assert hashes == 2
    assert "half-sequence" in _records(con)["datasets/toygarr/camus-dataset"]["description"]


def test_removed_record_is_withdrawn_after_a_full_sweep_never_deleted(con, clock,
                                                                       tmp_path) -> None:
    settings = _small(tmp_path)
    fake = FakeKaggle()
    run_harvest(con, settings, ["kaggle"], [fake], clock)
    gone = "datasets/gbcu/gallbladder-cancer-ultrasound-gbcu"
    fake.datasets = [d for d in fake.datasets if f"datasets/{d['ref']}" != gone]
    run_harvest(con, settings, ["kaggle"], [fake], clock)
    assert _records(con)[gone]["status"] == "active"  # an incremental run cannot tell
    results, _ = run_harvest(con, settings, ["kaggle"], [fake], clock, full=True)
    assert results["kaggle"].counts["withdrawn"] == 1
    records = _records(con)
    assert records[gone]["status"] == "withdrawn" and len(records) == 39


# --- limits, caps and failures -----------------------------------------------------------------

def test_the_fake_enforces_its_limit_so_pacing_is_what_keeps_it_happy(clock) -> None:
    internet = FakeInternet([FakeKaggle()], clock)

    async def burst() -> list[int]:
        async with httpx.AsyncClient(transport=internet.transport()) as client:
            return [(await client.post(DATASETS_URL, json={"search": "ultrasound"},
                                       headers={"Authorization": "Bearer x"})).status_code
                    for _ in range(61)]

    statuses = asyncio.run(burst())
    assert statuses[:60] == [200] * 60 and statuses[60] == 429 and internet.rejected == 1


def test_pacing_keeps_a_long_run_under_the_fakes_limit(con, clock, tmp_path) -> None:
    terms = ["ultrasound", *(f"nothing-matches-{n}" for n in range(62))]  # 64 requests > 60/min
    settings = _settings(tmp_path, rubrics_dir=_rubrics(tmp_path, terms))
    start = clock.monotonic()
    results, internet = run_harvest(con, settings, ["kaggle"], [FakeKaggle()], clock)
    assert results["kaggle"].status == "ok" and len(internet.log) == 64
    assert internet.rejected == 0
    assert clock.monotonic() - start == pytest.approx(
        63 * 60 / (source.PER_MINUTE * PACING_MARGIN), abs=1)


def test_recovers_from_a_429_with_retry_after(con, clock, tmp_path) -> None:
    fake = FakeKaggle()
    fake.throttle_next(retry_after=45)
    results, internet = run_harvest(con, _small(tmp_path), ["kaggle"], [fake], clock)
    assert results["kaggle"].status == "ok" and results["kaggle"].counts["new"] == 39
    assert internet.count(status=429) == 1 and internet.rejected == 0
    assert clock.slept >= 45


def test_page_size_and_page_caps_of_the_fake() -> None:
    many = {"datasets": [_dataset(n) for n in range(30)],
            "models": [{"ref": f"o/m{n}", "title": f"Ultrasound model {n}",
                        "updateTime": f"2024-01-{n % 28 + 1:02d}T00:00:00Z"} for n in range(60)]}
    fake = FakeKaggle(many)

    def post(url: str, body: dict[str, Any], token: bool = True) -> dict[str, Any]:
        headers = {"Authorization": "Bearer t"} if token else {}
        return fake.handle(httpx.Request("POST", url, json=body, headers=headers)).json()

    assert len(post(DATASETS_URL, {"search": "ultrasound", "pageSize": 100})["datasets"]) == 20
    assert len(post(DATASETS_URL, {"search": "ultrasound", "page": 2})["datasets"]) == 10
    assert post(DATASETS_URL, {"search": "ultrasound", "page": 501})["datasets"] == []
    first = post(MODELS_URL, {"search": "ultrasound", "pageSize": 500})
    assert len(first["models"]) == 50 and first["totalResults"] == 60 and first["nextPageToken"]
    rest = post(MODELS_URL, {"search": "ultrasound", "pageToken": first["nextPageToken"]})
    assert len(rest["models"]) == 10 and rest["nextPageToken"] == ""
    assert post(DATASETS_URL, {"search": "ultrasound"}, token=False)["error"]["code"] == 401
    assert post(DATASETS_URL, {"sortBy": "NEWEST"})["error"]["status"] == "INVALID_ARGUMENT"


def test_deep_paging_cap_is_handled_by_size_slices(con, clock, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(source, "MAX_PAGE", 2)  # 40 results reachable instead of 10,000
    items = [_dataset(n, size=[500, 1500, 5000][n % 3]) for n in range(90)]
    fake = FakeKaggle({"datasets": items})
    fake.max_page = 2
    settings = _settings(tmp_path, rubrics_dir=_rubrics(tmp_path, ["ultrasound"],
                                                        size_slices=[1000, 2000]))
    results, _ = run_harvest(con, settings, ["kaggle"], [fake], clock)
    assert results["kaggle"].status == "ok", results["kaggle"].message
    assert len(_records(con)) == 90
    assert max(b.get("page", 1) for _, b in fake.bodies) == 2
    assert {(b.get("minSize"), b.get("maxSize")) for _, b in fake.bodies} == {
        (None, None), (None, 999), (1000, 1999), (2000, None)}
    cursors = dict(con.execute("SELECT key, value FROM harvest_cursors").fetchall())
    assert set(cursors) == {"datasets:term:ultrasound", "datasets:term:ultrasound|bytes=0-999",
                            "datasets:term:ultrasound|bytes=1000-1999",
                            "datasets:term:ultrasound|bytes=2000-"}
    assert json.loads(cursors["datasets:term:ultrasound"]) == {
        "watermark": "2024-01-01T00:01:29+00:00"}
    fake.bodies.clear()
    again, _ = run_harvest(con, settings, ["kaggle"], [fake], clock)
    assert len(fake.bodies) == 1 and again["kaggle"].counts["new"] == 0


def test_a_slice_that_cannot_be_split_fails_cleanly_after_storing(con, clock, tmp_path,
                                                                  monkeypatch) -> None:
    monkeypatch.setattr(source, "MAX_PAGE", 2)
    fake = FakeKaggle({"datasets": [_dataset(n, size=100) for n in range(50)]})
    fake.max_page = 2
    settings = _settings(tmp_path, rubrics_dir=_rubrics(tmp_path, ["ultrasound"],
                                                        size_slices=[1000]))
    results, _ = run_harvest(con, settings, ["kaggle"], [fake], clock)
    assert results["kaggle"].status == "failed"
    assert "cannot be sliced further" in results["kaggle"].message
    assert len(_records(con)) == 40  # what was reachable is kept


def test_a_crashed_sweep_resumes_where_it_stopped(con, clock, tmp_path) -> None:
    fake = FakeKaggle({"datasets": [_dataset(n) for n in range(50)]})
    settings = _settings(tmp_path, rubrics_dir=_rubrics(tmp_path, ["ultrasound"]))
    original, failed = fake.handle, []

    def crash_on_page_3(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content).get("page") == 3 and not failed:
            failed.append(True)
            return json_response({"error": {"code": 503, "status": "UNAVAILABLE"}}, 403)
        return original(request)

    fake.handle = crash_on_page_3  # type: ignore[method-assign]
    first, _ = run_harvest(con, settings, ["kaggle"], [fake], clock)
    assert first["kaggle"].status == "failed" and len(_records(con)) == 40
    state = json.loads(con.execute("SELECT value FROM harvest_cursors").fetchone()[0])
    assert state["page"] == 3 and state["watermark"] is None
    fake.bodies.clear()
    second, _ = run_harvest(con, settings, ["kaggle"], [fake], clock)
    assert second["kaggle"].status == "ok" and len(_records(con)) == 50
    assert [b["page"] for _, b in fake.bodies] == [3]
    state = json.loads(con.execute("SELECT value FROM harvest_cursors").fetchone()[0])
    assert state == {"watermark": "2024-01-01T00:00:49+00:00"}


def test_a_refused_stored_page_token_restarts_the_model_sweep(con, clock, tmp_path) -> None:
    models = [{"ref": f"o/m{n}", "title": f"Ultrasound model {n}",
               "updateTime": f"2024-02-{n + 1:02d}T00:00:00Z"} for n in range(5)]
    fake = FakeKaggle({"models": models})
    settings = _settings(tmp_path, rubrics_dir=_rubrics(tmp_path, ["ultrasound"],
                                                        item_types=["models"]))
    stale = {"watermark": None, "pending": "2024-02-05T00:00:00+00:00", "page": 4,
             "token": "not-a-token"}
    con.execute("INSERT INTO harvest_cursors VALUES ('kaggle', 'models:term:ultrasound', ?, now())",
                [json.dumps(stale)])
    results, internet = run_harvest(con, settings, ["kaggle"], [fake], clock)
    assert results["kaggle"].status == "ok" and len(_records(con)) == 5
    assert [st for _, _, st in internet.log] == [400, 200]
    assert [b.get("pageToken") for _, b in fake.bodies] == ["not-a-token", None]


def test_base_url_setting_is_honoured(con, clock, tmp_path) -> None:
    mirror = FakeKaggle(host="kaggle-mirror.example.org", prefix="/proxy")
    default = FakeKaggle()
    settings = _small(tmp_path, kaggle_url="https://kaggle-mirror.example.org/proxy")
    results, internet = run_harvest(con, settings, ["kaggle"], [mirror, default], clock)
    assert results["kaggle"].status == "ok" and results["kaggle"].counts["new"] == 39
    assert mirror.bodies and not default.bodies
    assert internet.count(host=DEFAULT_HOST) == 0


def test_fatal_4xx_fails_kaggle_only(con, clock, tmp_path) -> None:
    fake = FakeKaggle()
    fake.queue.append(json_response({"error": {"code": 403, "message": "Permission denied",
                                               "status": "PERMISSION_DENIED"}}, 403))

    async def one(ctx) -> Any:
        yield Batch(items=[RawItem("thing", {"id": 1})])

    other = Source(name="other", summary="a stand-in", base_url=lambda s: "https://other.test",
                   harvest=one, rate_limits=lambda base, auth: [],
                   to_record=lambda item: Record(source="other", source_id="1", title="One"))
    internet = FakeInternet([fake], clock)
    results = asyncio.run(harvest(con, _small(tmp_path), [get_source("kaggle"), other],
                                  transport=internet.transport(), clock=clock))
    assert results["kaggle"].status == "failed" and "HTTP 403" in results["kaggle"].message
    assert results["other"].status == "ok" and results["other"].counts["new"] == 1
    assert len(internet.log) == 1  # a fatal answer is not retried
