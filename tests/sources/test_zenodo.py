"""Zenodo: mapping of the recorded shapes and harvesting against the fake /api/records."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import FIXTURES, DiesAfter, run_harvest, source_rubrics

from sonoharvest import warehouse
from sonoharvest.demo.fakeapi import FakeInternet
from sonoharvest.demo.zenodo import FakeZenodo, load_records, services
from sonoharvest.harvest import harvest
from sonoharvest.http import PACING_MARGIN
from sonoharvest.records import Batch, RawItem, Record
from sonoharvest.settings import Settings
from sonoharvest.sources import zenodo
from sonoharvest.sources.base import Source

SAMPLES = FIXTURES / "zenodo"
CURRENT = SAMPLES / "record_get_sandbox-145250_default-json_2024-12.json"
PRE_2023 = SAMPLES / "search_records_PRE-2023-MIGRATION_2022-09.json"
MATCHING_DEMO = 68  # demo records any query matches: 66 good + 2 malformed
NOT_MATCHED = {"9001122", "9001533", "5200211", "19100221", "19200331", "8231410"}
# A slice of the demo records for the tests that need variety rather than volume: 7 matching
# datasets, 3 matching software records, 1 malformed, and 3 that no query returns.
SMALL = {1327317, 3904280, 8231412, 1009146, 10432198, 7788120, 6001992, 4035440, 4035501,
         11207733, 13100077, 9001122, 19200331, 8231410}


def small() -> FakeZenodo:
    return FakeZenodo([r for r in load_records() if r["id"] in SMALL])


def sample() -> dict[str, Any]:
    return json.loads(CURRENT.read_text())


def rubrics(tmp_path: Path, **overrides: Any) -> Path:
    return source_rubrics(tmp_path, "zenodo", **overrides)


def synthetic(n: int, start: datetime = datetime(2019, 1, 1, tzinfo=UTC),
              step: timedelta = timedelta(days=9)) -> list[dict[str, Any]]:
    """`n` matching dataset records with distinct ids, updated `step` apart."""
    template = next(r for r in load_records() if r["id"] == 1327317)
    out = []
    for i in range(n):
        r = copy.deepcopy(template)
        rid = 50_000_000 + 2 * i
        stamp = (start + step * i).isoformat()
        r.update(id=rid, recid=str(rid), conceptrecid=str(rid - 1), doi=f"10.5281/zenodo.{rid}",
                 conceptdoi=f"10.5281/zenodo.{rid - 1}", created=stamp, updated=stamp,
                 modified=stamp, title=f"Synthetic fetal ultrasound set {i}")
        r["metadata"].update(title=f"Synthetic fetal ultrasound set {i}",
                             doi=f"10.5281/zenodo.{rid}")
        r["links"]["self_html"] = f"https://zenodo.org/records/{rid}"
        out.append(r)
    return out


def stored(con) -> dict[str, str]:
    return dict(con.execute(
        "SELECT source_id, status FROM source_records WHERE source = 'zenodo'").fetchall())


def searches(fake: FakeZenodo) -> list[httpx.Request]:
    return [r for r in fake.requests if r.url.path.rstrip("/") == "/api/records"]


# --- mapping -------------------------------------------------------------------------------

def test_maps_the_current_record_shape():
    record = zenodo.to_record(RawItem("record", sample()))
    assert record.source_id == "145250"
    assert record.kind_hint == "paper"  # resource_type publication
    assert record.title == "CODECHECK Certificate 2024-111"
    assert record.description == "The basics of integration testing"  # HTML stripped
    assert record.doi == "10.5072/zenodo.145250"
    assert record.identifiers == ["zenodo:145250", "zenodo:145248", "doi:10.5072/zenodo.145250",
                                  "doi:10.5072/zenodo.145248"]
    assert record.url == "https://sandbox.zenodo.org/records/145250"
    assert record.license == "cc-by-4.0" and record.access == "open"
    assert record.creators == ["Carberry, Josiah"]
    assert record.created_at == datetime(2024, 12, 20, 12, 28, 35, 25592, tzinfo=UTC)
    assert record.updated_at is not None and record.updated_at.utcoffset() == timedelta(0)
    assert record.metrics == {"downloads": 0.0, "unique_downloads": 0.0, "views": 0.0,
                              "unique_views": 0.0}


def test_tolerates_the_pre_2023_search_shape():
    hits = json.loads(PRE_2023.read_text())["hits"]["hits"]
    records = [zenodo.to_record(RawItem("record", hit)) for hit in hits]
    first = records[0]
    assert [r.source_id for r in records] == ["7089850", "7078760"]
    assert first.kind_hint == "paper" and records[1].kind_hint == "dataset"
    assert first.license == "cc-by-4.0"  # "CC-BY-4.0" in the old shape
    assert first.url == "https://zenodo.org/record/7089850"  # old `links.html`
    assert "doi:10.5281/zenodo.7089849" in first.identifiers
    assert first.related == []  # isVersionOf its own concept DOI is not a relation
    assert first.metrics["downloads"] == 18.0 and first.keywords == ["FDTP", "TP"]
    assert first.created_at == datetime(2022, 9, 18, 6, 22, 20, 797375, tzinfo=UTC)


def test_normalises_related_identifiers_and_spots_weights():
    payload = sample()
    meta = payload["metadata"]
    meta["resource_type"] = {"title": "Software", "type": "software"}
    meta["description"] = ('<p>Code: <a href="https://github.com/Org/Repo.git">repo</a>, '
                           "see arXiv: 2301.00001, doi:10.1002/MP.16812 and https://huggingface.co/org/us-model."
                           " Project page: https://example.org/us.</p>")
    meta["related_identifiers"] = [
        {"identifier": "https://github.com/EchoNet/Dynamic/tree/v1.0.0",
         "relation": "isSupplementTo", "scheme": "url"},
        {"identifier": "https://doi.org/10.1038/S41586-020-2145-8", "relation": "cites",
         "scheme": "doi"},
        {"identifier": "10.48550/arXiv.2004.12084", "relation": "cites", "scheme": "doi"},
        {"identifier": "https://huggingface.co/datasets/Org/BUSI", "relation": "isDerivedFrom",
         "scheme": "url"},
        {"identifier": "https://www.kaggle.com/datasets/aryashah2k/breast-ultrasound-images-dataset",
         "relation": "isDerivedFrom", "scheme": "url"},
        {"identifier": "31234567", "relation": "cites", "scheme": "pmid"},
        {"identifier": "10.5072/zenodo.145248", "relation": "isVersionOf", "scheme": "doi"},
    ]
    payload["files"] = [{"key": "model_final.pth", "size": 1}]
    record = zenodo.to_record(RawItem("record", payload))
    assert record.kind_hint == "model"
    assert record.related == [
        "github:echonet/dynamic", "doi:10.1038/s41586-020-2145-8", "arxiv:2004.12084",
        "hf:datasets/org/busi", "kaggle:aryashah2k/breast-ultrasound-images-dataset",
        "pmid:31234567", "github:org/repo", "arxiv:2301.00001", "doi:10.1002/mp.16812",
        "hf:models/org/us-model"]  # then links in the description, plain URLs left out
    # A GitHub release archived by Zenodo's GitHub integration is the repository itself.
    assert "github:echonet/dynamic" in record.identifiers
    payload["files"] = []
    assert zenodo.to_record(RawItem("record", payload)).kind_hint == "code"


@pytest.mark.parametrize(("change", "reason"), [
    (lambda p: (p["metadata"].pop("title"), p.pop("title")), "has no title"),
    (lambda p: p.pop("metadata"), "no metadata"),
    (lambda p: p.update(created="2023-02-30T10:00:00+00:00"), "day is out of range"),
])
def test_malformed_payloads_raise(change, reason):
    payload = sample()
    change(payload)
    with pytest.raises(ValueError, match=reason):
        zenodo.to_record(RawItem("record", payload))


def test_queries_quote_phrases_and_group_terms():
    queries = zenodo.build_queries(["ultrasound", "B-mode", "lung ultrasound", "POCUS"],
                                   ["title", "keywords"], 3)
    assert queries == [
        'title:(ultrasound OR "B-mode" OR "lung ultrasound") OR '
        'keywords:(ultrasound OR "B-mode" OR "lung ultrasound")',
        "title:(POCUS) OR keywords:(POCUS)",
    ]


# --- harvesting ----------------------------------------------------------------------------

def test_full_harvest_pages_to_the_end_and_quarantines_malformed(con, settings, clock):
    fake = FakeZenodo()
    results, internet = run_harvest(con, settings, ["zenodo"], [fake], clock, full=True)
    result = results["zenodo"]
    assert result.status == "ok", result.message
    assert result.counts["new"] == MATCHING_DEMO - 2 and result.counts["quarantined"] == 2
    ids = stored(con)
    assert not NOT_MATCHED & ids.keys()  # other types, old versions, unrelated records
    pages = sorted(int(r.url.params["page"]) for r in searches(fake)
                   if r.url.params["type"] == "dataset")
    assert pages == [1, 2, 3]  # 52 matching datasets, 25 per page
    reasons = dict(con.execute("SELECT item_key, reason FROM quarantine").fetchall())
    assert "has no title" in reasons["record:13100077"]
    assert "day is out of range" in reasons["record:9512009"]
    kinds = dict(con.execute("SELECT source_id, kind_hint FROM source_records").fetchall())
    assert kinds["4035501"] == "model" and kinds["4035440"] == "code"
    assert kinds["1327317"] == "dataset"
    assert internet.rejected == 0


def test_page_size_is_capped_without_a_token_and_raised_with_one(con, tmp_path, clock):
    guest = small()
    run_harvest(con, Settings(home=tmp_path), ["zenodo"], [guest], clock)
    assert {r.url.params["size"] for r in searches(guest)} == {"25"}
    assert not any("authorization" in r.headers for r in guest.requests)

    fake = small()
    fake.tokens = {"sekrit-token"}
    results, _ = run_harvest(con, Settings(home=tmp_path, zenodo_token="sekrit-token"),
                             ["zenodo"], [fake], clock, full=True)
    assert results["zenodo"].status == "ok", results["zenodo"].message
    assert {r.url.params["size"] for r in searches(fake)} == {"100"}
    assert {r.headers["authorization"] for r in fake.requests} == {"Bearer sekrit-token"}


def test_fake_enforces_zenodo_caps_and_errors():
    fake = FakeZenodo(tokens={"t"})

    def get(path: str, token: str | None = None, **headers: str) -> httpx.Response:
        if token:
            headers["authorization"] = f"Bearer {token}"
        return fake.handle(httpx.Request("GET", f"https://zenodo.org{path}", headers=headers))

    assert get("/api/records?q=ultrasound&size=26").status_code == 400
    assert get("/api/records?q=ultrasound&size=100", "t").status_code == 200
    assert get("/api/records?q=ultrasound&size=101", "t").status_code == 400
    assert get("/api/records?q=ultrasound&size=25&page=400").status_code == 200
    assert get("/api/records?q=ultrasound&size=25&page=401").status_code == 400
    assert get("/api/records?q=ultrasound&sort=sideways").status_code == 400
    assert get("/api/records?q=ultrasound&size=10", "wrong").status_code == 401
    assert get("/api/records/999").status_code == 404
    fake.deleted.add("1327317")
    assert get("/api/records/1327317").status_code == 410
    ok = get("/api/records/3904280")
    assert ok.status_code == 200 and ok.json()["id"] == 3904280
    assert get("/api/records/3904280", **{"if-none-match": ok.headers["etag"]}).status_code == 304
    body = get("/api/records?q=ultrasound+AND+updated:%5B%222020-01-01%22+TO+*%5D"
               "&type=dataset&size=5&sort=updated-desc").json()
    stamps = [h["updated"] for h in body["hits"]["hits"]]
    assert stamps == sorted(stamps, reverse=True) and min(stamps) >= "2020"
    assert body["hits"]["total"] > 5 and body["links"]["next"].endswith("page=2")


def test_deep_queries_are_sliced_by_updated_range(con, tmp_path, clock, monkeypatch):
    monkeypatch.setattr(zenodo, "MAX_RESULT_WINDOW", 10)  # 10,000 in real life
    settings = Settings(home=tmp_path, rubrics_dir=rubrics(tmp_path, page_size=5))
    fake = FakeZenodo(synthetic(36))
    fake.max_window = 10
    results, internet = run_harvest(con, settings, ["zenodo"], [fake], clock, full=True)
    assert results["zenodo"].status == "ok", results["zenodo"].message
    assert len(stored(con)) == 36
    assert internet.count(status=400) == 0
    ranged = [r.url.params["q"] for r in searches(fake) if "updated:[" in r.url.params["q"]]
    assert ranged, "the query should have been split into updated ranges"
    assert all(int(r.url.params["page"]) * 5 <= 10 for r in searches(fake))


def test_crashed_sliced_run_resumes_where_it_stopped(con, tmp_path, clock, monkeypatch):
    monkeypatch.setattr(zenodo, "MAX_RESULT_WINDOW", 10)
    settings = Settings(home=tmp_path, rubrics_dir=rubrics(tmp_path, page_size=5))
    fake = FakeZenodo(synthetic(36))
    fake.max_window = 10


    crashed, _ = run_harvest(con, settings, ["zenodo"], [DiesAfter(fake, 8)], clock)
    assert crashed["zenodo"].status == "failed"
    saved = len(stored(con))
    cursor = con.execute("SELECT value FROM harvest_cursors WHERE key LIKE 'dataset:%'").fetchone()
    assert 0 < saved < 36 and cursor is not None
    fake.requests.clear()
    resumed, _ = run_harvest(con, settings, ["zenodo"], [fake], clock)
    assert resumed["zenodo"].status == "ok", resumed["zenodo"].message
    assert len(stored(con)) == 36
    resumed_cost = [r for r in searches(fake) if r.url.params["type"] == "dataset"]
    assert all('updated:["' in r.url.params["q"] for r in resumed_cost)  # from the cursor
    fake.requests.clear()
    fresh = warehouse.open_warehouse(":memory:")
    run_harvest(fresh, settings, ["zenodo"], [fake], clock)
    full_cost = [r for r in searches(fake) if r.url.params["type"] == "dataset"]
    assert len(resumed_cost) < len(full_cost)


def test_pacing_stays_under_the_search_limit(con, tmp_path, clock):
    settings = Settings(home=tmp_path,
                        rubrics_dir=rubrics(tmp_path, page_size=1, types=["dataset"]))
    fake = FakeZenodo(synthetic(40))
    start = clock.monotonic()
    results, internet = run_harvest(con, settings, ["zenodo"], [fake], clock)
    assert results["zenodo"].status == "ok", results["zenodo"].message
    n = len(fake.requests)
    assert n == 40 and internet.rejected == 0
    elapsed = clock.monotonic() - start
    step = 60 / (30 * PACING_MARGIN)        # 30 searches per minute, less the safety margin
    assert step * (n - 1) <= elapsed <= step * n + 1


def test_recovers_from_429_with_retry_after(con, settings, clock):
    fake = small()
    fake.throttle_next, fake.retry_after = 2, 11
    start = clock.monotonic()
    results, internet = run_harvest(con, settings, ["zenodo"], [fake], clock)
    assert results["zenodo"].status == "ok", results["zenodo"].message
    assert internet.count(status=429) == 2 and results["zenodo"].counts["new"] == 10
    assert clock.monotonic() - start >= 22


def test_unchanged_rerun_costs_one_request_per_query(con, settings, clock):
    fake = small()
    run_harvest(con, settings, ["zenodo"], [fake], clock)
    versions = con.execute("SELECT count(*) FROM record_versions").fetchone()[0]
    fake.requests.clear()
    results, _ = run_harvest(con, settings, ["zenodo"], [fake], clock)
    counts = results["zenodo"].counts
    assert counts["requests"] == 2  # one per (type, term group): dataset and software
    assert counts["new"] == 0 and counts["changed"] == 0
    assert con.execute("SELECT count(*) FROM record_versions").fetchone()[0] == versions
    newest = con.execute("SELECT max(value) FROM harvest_cursors").fetchone()[0]
    assert newest == "2025-04-04T04:04:04.040Z"  # the newest `updated` seen (USFM weights)
    assert all('AND updated:["2025-' in r.url.params["q"] for r in fake.requests)


def test_changed_and_new_records_are_picked_up_incrementally(con, settings, clock):
    fake = small()
    run_harvest(con, settings, ["zenodo"], [fake], clock)
    changed = fake.items["3904280"]
    title = "FETAL_PLANES_DB v2: maternal-fetal ultrasound"
    changed["metadata"]["title"] = changed["title"] = title
    changed["updated"] = "2026-11-01T09:00:00.000000+00:00"
    fresh = synthetic(1, start=datetime(2026, 11, 2, tzinfo=UTC))[0]
    fake.items[str(fresh["id"])] = fresh
    results, _ = run_harvest(con, settings, ["zenodo"], [fake], clock)
    counts = results["zenodo"].counts
    assert counts["changed"] == 1 and counts["new"] == 1 and counts["requests"] == 2
    versions = con.execute("SELECT count(*) FROM record_versions WHERE source_id = '3904280'")
    assert versions.fetchone()[0] == 2
    title = con.execute("SELECT title FROM source_records WHERE source_id = '3904280'")
    assert title.fetchone()[0].startswith("FETAL_PLANES_DB v2")


def test_removed_record_is_withdrawn_after_a_full_sweep(con, settings, clock):
    fake = small()
    run_harvest(con, settings, ["zenodo"], [fake], clock, full=True)
    del fake.items["1327317"]
    run_harvest(con, settings, ["zenodo"], [fake], clock)  # incremental: cannot tell
    assert stored(con)["1327317"] == "active"
    results, _ = run_harvest(con, settings, ["zenodo"], [fake], clock, full=True)
    assert results["zenodo"].counts["withdrawn"] == 1
    assert stored(con)["1327317"] == "withdrawn"  # kept, never deleted
    assert len(stored(con)) == 10


def test_recheck_withdraws_404_and_410_and_revalidates_the_rest(con, tmp_path, clock):
    settings = Settings(home=tmp_path,
                        rubrics_dir=rubrics(tmp_path, recheck_after_days=0, recheck_max=100))
    fake = small()
    run_harvest(con, settings, ["zenodo"], [fake], clock)
    second, _ = run_harvest(con, settings, ["zenodo"], [fake], clock)  # stores the ETags
    # 2 searches (each returns its newest record again) + the 8 other records re-fetched
    assert second["zenodo"].counts["requests"] == 2 + 8
    del fake.items["1327317"]           # 404
    fake.deleted.add("3904280")          # 410 tombstone
    fake.requests.clear()
    third, internet = run_harvest(con, settings, ["zenodo"], [fake], clock)
    assert third["zenodo"].status == "ok", third["zenodo"].message
    assert third["zenodo"].counts["withdrawn"] == 2
    status = stored(con)
    assert status["1327317"] == status["3904280"] == "withdrawn"
    assert internet.count(status=304) == 6
    assert sum("if-none-match" in r.headers for r in fake.requests) == 8


def test_rejected_token_fails_cleanly_and_is_never_logged(con, tmp_path, clock, caplog):
    caplog.set_level(logging.DEBUG)
    fake = small()
    fake.tokens = {"other-token"}
    settings = Settings(home=tmp_path, zenodo_token="sekrit-token")
    results, internet = run_harvest(con, settings, ["zenodo"], [fake], clock)
    result = results["zenodo"]
    assert result.status == "failed" and "401" in result.message
    assert internet.count(status=401) == 1  # a fatal answer is not retried
    assert fake.requests[0].headers["authorization"] == "Bearer sekrit-token"
    assert "sekrit-token" not in result.message
    assert "sekrit-token" not in caplog.text
    assert all("sekrit-token" not in str(r.url) for r in fake.requests)


def test_base_url_setting_is_honoured(con, tmp_path, clock):
    settings = Settings(home=tmp_path, zenodo_url="https://sandbox.zenodo.org")
    fake = services([r for r in load_records() if r["id"] in SMALL], host="sandbox.zenodo.org")
    results, internet = run_harvest(con, settings, ["zenodo"], fake, clock)
    assert results["zenodo"].status == "ok", results["zenodo"].message
    assert internet.count() == internet.count(host="sandbox.zenodo.org") > 0
    url = con.execute("SELECT url FROM source_records WHERE source_id = '1327317'").fetchone()[0]
    assert url == "https://sandbox.zenodo.org/records/1327317"


def test_fatal_4xx_fails_the_source_cleanly_and_spares_the_others(con, tmp_path, clock):
    settings = Settings(home=tmp_path, rubrics_dir=rubrics(tmp_path, sort="sideways"))

    async def other_harvest(ctx) -> AsyncIterator[Batch]:
        yield Batch(items=[RawItem("thing", {"id": 1, "title": "Other ultrasound set"})])

    other = Source(
        name="other", summary="a stand-in source", base_url=lambda s: "https://other.test",
        harvest=other_harvest, rate_limits=lambda base, authed: [],
        to_record=lambda item: Record(source="other", source_id="1", title="Other ultrasound set"),
    )
    internet = FakeInternet([FakeZenodo()], clock)
    results = asyncio.run(harvest(con, settings, [zenodo.SOURCE, other],
                                  transport=internet.transport(), clock=clock))
    assert results["zenodo"].status == "failed"
    assert "HTTP 400" in results["zenodo"].message and "\n" not in results["zenodo"].message
    assert internet.count() == 1  # a fatal answer is not retried
    assert results["other"].status == "ok" and results["other"].counts["new"] == 1
