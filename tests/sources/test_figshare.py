"""figshare: mapping of the recorded search shape and the demo details, and harvesting against
the fake /v2/articles API and stats service."""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import FIXTURES, DiesAfter, run_harvest, source_rubrics

from sonoharvest import warehouse
from sonoharvest.demo.figshare import (
    DEFAULT_HOST,
    STATS_HOST,
    FakeFigshare,
    FakeFigshareStats,
    load_data,
    services,
)
from sonoharvest.http import PACING_MARGIN
from sonoharvest.licences import normalize_license
from sonoharvest.records import RawItem
from sonoharvest.settings import Settings
from sonoharvest.sources import figshare

SEARCH_SAMPLE = FIXTURES / "figshare" / "articles_search_2022-12.json"
MATCHING = 23                     # demo articles the default queries find, besides the malformed
MALFORMED = "24510099"
NOT_MATCHED = {"24519001", "24519002", "24519003", "24519004", "24512204"}
SEARCH = f"https://{DEFAULT_HOST}/v2/articles/search"


def articles() -> dict[str, dict[str, Any]]:
    return {str(a["id"]): a for a in load_data()["articles"]}


def fakes(items: list[dict[str, Any]] | None = None, **kw: Any
          ) -> tuple[FakeFigshare, FakeFigshareStats]:
    api, stats = services(items, **kw)
    assert isinstance(api, FakeFigshare) and isinstance(stats, FakeFigshareStats)
    return api, stats


def rubrics(tmp_path: Path, **overrides: Any) -> Path:
    return source_rubrics(tmp_path, "figshare", **overrides)


def synthetic(n: int, start: datetime = datetime(2019, 1, 1, tzinfo=UTC),
              step: timedelta = timedelta(days=9)) -> list[dict[str, Any]]:
    """`n` matching datasets with distinct ids, modified `step` apart."""
    template = articles()["24511108"]
    out = []
    for i in range(n):
        a = copy.deepcopy(template)
        stamp = (start + step * i).isoformat().replace("+00:00", "Z")
        aid = 30_000_000 + i
        a.update(id=aid, title=f"Synthetic breast ultrasound set {i}", modified_date=stamp,
                 published_date=stamp, doi=f"10.6084/m9.figshare.{aid}.v1",
                 url_public_html=f"https://figshare.com/articles/dataset/set_{i}/{aid}")
        out.append(a)
    return out


def stored(con) -> dict[str, str]:
    return dict(con.execute(
        "SELECT source_id, status FROM source_records WHERE source = 'figshare'").fetchall())


def details(api: FakeFigshare) -> list[str]:
    """The article ids whose detail was requested."""
    return [r.url.path.rsplit("/", 1)[1] for r in api.requests
            if r.method == "GET" and r.url.path.startswith("/v2/articles/")]


def bodies(api: FakeFigshare) -> list[dict[str, Any]]:
    """The search bodies the fake accepted for parsing, in order."""
    return list(api.bodies)


# --- mapping -------------------------------------------------------------------------------

def test_maps_the_recorded_search_sample():
    hits = json.loads(SEARCH_SAMPLE.read_text())
    records = [figshare.to_record(RawItem("article", h)) for h in hits]
    first, dataset = records[0], records[2]
    assert [r.source_id for r in records] == ["19199774", "19882087", "5845593", "14675409",
                                              "12674225"]
    assert first.kind_hint == "other" and dataset.kind_hint == "dataset"  # 11 = online resource
    assert dataset.doi == "10.6084/m9.figshare.5845593.v1"
    assert dataset.identifiers == ["doi:10.6084/m9.figshare.5845593.v1",
                                   "doi:10.6084/m9.figshare.5845593"]
    assert dataset.url == "https://figshare.com/articles/dataset/random_xlsx/5845593"
    assert dataset.created_at == datetime(2022, 1, 1, tzinfo=UTC)  # timeline.firstOnline
    assert dataset.updated_at == datetime(2022, 1, 1, tzinfo=UTC)  # published_date
    # A search hit says nothing about licence, embargo or files.
    assert dataset.license is None and dataset.access is None and dataset.metrics == {}


def test_maps_a_detail_with_files_licence_stats_and_relations():
    payload = {**articles()["24510001"], "stats": {"views": 1843, "downloads": 612}}
    record = figshare.to_record(RawItem("article", payload))
    assert record.source_id == "24510001" and record.kind_hint == "dataset"
    assert record.title == "Thyroid nodule ultrasound images with TI-RADS labels"
    assert record.doi == "10.6084/m9.figshare.24510001.v1"
    assert record.identifiers[0] == "doi:10.6084/m9.figshare.24510001.v1"
    assert record.url == ("https://figshare.com/articles/dataset/"
                          "Thyroid_nodule_ultrasound_images_with_TI_RADS_labels/24510001")
    assert record.license == "cc-by-4.0" and record.access == "open"
    assert record.creators == ["Mei Lin", "Jonas Weber", "Amira Haddad"]
    assert {"TI-RADS", "thyroid nodule", "Medical imaging"} <= set(record.keywords)
    assert "<b>" not in record.description
    assert record.metrics == {"files": 3.0, "size_bytes": 1_874_318_646.0, "views": 1843.0,
                              "downloads": 612.0}
    assert record.related == ["doi:10.5555/demo.tirads.2024",
                              "github:sonoharvest-demo/tirads-baseline"]
    assert record.created_at == datetime(2023, 11, 6, 10, 12, 3, tzinfo=UTC)
    assert record.updated_at == datetime(2024, 2, 19, 8, 41, 27, tzinfo=UTC)


def test_maps_embargo_confidentiality_metadata_records_and_versions():
    items = articles()
    embargoed = {k: v for k, v in items["24511107"].items() if k != "files"}  # hidden publicly
    rec = figshare.to_record(RawItem("article", embargoed))
    assert rec.access == "embargoed" and rec.metrics == {"size_bytes": 12_880_117_003.0}
    assert figshare.to_record(RawItem("article", items["24511118"])).access == "closed"
    metadata_only = figshare.to_record(RawItem("article", items["24511120"]))
    assert metadata_only.access is None and "files" not in metadata_only.metrics
    v2 = figshare.to_record(RawItem("article", items["24510003"]))
    assert v2.doi.endswith(".v2") and "doi:10.6084/m9.figshare.24510003" in v2.identifiers
    assert v2.related == ["doi:10.6084/m9.figshare.24510003.v1"]
    assert v2.created_at < v2.updated_at  # first online (v1) before the v2 edit


def test_software_is_code_unless_it_ships_weights():
    items = articles()
    assert figshare.to_record(RawItem("article", items["24512201"])).kind_hint == "code"
    assert figshare.to_record(RawItem("article", items["24512202"])).kind_hint == "model"
    assert figshare.to_record(RawItem("article", items["24512204"])).kind_hint == "model"  # 29
    worded = {**items["24512203"], "title": "Pretrained models for beamforming"}
    assert figshare.to_record(RawItem("article", worded)).kind_hint == "model"


@pytest.mark.parametrize(("name", "mapped", "spdx"), [
    ("CC BY 4.0", "cc-by-4.0", "CC-BY-4.0"), ("CC0", "cc0", "CC0-1.0"), ("MIT", "mit", "MIT"),
    ("GPL 3.0+", "gpl-3.0+", "GPL-3.0-or-later"), ("Apache 2.0", "apache-2.0", "Apache-2.0"),
    ("CC BY-NC-SA 4.0", "cc-by-nc-sa-4.0", "CC-BY-NC-SA-4.0"),
])
def test_licence_names_become_ids_the_licence_table_knows(name, mapped, spdx):
    payload = {**articles()["24510001"], "license": {"value": 1, "name": name, "url": ""}}
    licence = figshare.to_record(RawItem("article", payload)).license
    assert licence == mapped and normalize_license(licence).spdx == spdx


@pytest.mark.parametrize(("change", "reason"), [
    (lambda p: p.pop("id"), "has no id"),
    (lambda p: p.update(title="  "), "has no title"),
    (lambda p: p.update(modified_date="2023-02-30T10:00:00Z"), "day is out of range"),
])
def test_malformed_articles_raise(change, reason):
    payload = copy.deepcopy(articles()["24510002"])
    change(payload)
    with pytest.raises(ValueError, match=reason):
        figshare.to_record(RawItem("article", payload))


def test_queries_use_field_operators_and_group_terms():
    queries = figshare.build_queries(["ultrasound", "lung ultrasound", "B-mode"],
                                     ["title", "tag"], 2)
    assert queries == [
        ':title: "ultrasound" OR :tag: "ultrasound" OR :title: "lung ultrasound" OR '
        ':tag: "lung ultrasound"',
        ':title: "B-mode" OR :tag: "B-mode"',
    ]
    assert figshare.item_type_id("dataset") == 3 and figshare.item_type_id("software") == 9
    assert figshare.item_type_id("model") == 29 and figshare.item_type_id("12") == 12
    with pytest.raises(ValueError, match="unknown figshare item type"):
        figshare.item_type_id("spreadsheet")


# --- the fake API --------------------------------------------------------------------------

def test_fake_enforces_figshare_caps_errors_and_search_syntax():
    api, stats = fakes()

    def search(**body: Any) -> httpx.Response:
        return api.handle(httpx.Request("POST", SEARCH, json=body))

    def ids(**body: Any) -> set[str]:
        reply = search(page_size=100, **body)
        assert reply.status_code == 200, reply.json()
        return {str(h["id"]) for h in reply.json()}

    refused = search(search_for=":title: ultrasound", page_size=1001)
    assert refused.status_code == 422
    assert refused.json()["code"] == "InvalidParams" and "page_size" in refused.json()["message"]
    assert search(search_for=":title: ultrasound", page_size=1000, page=9).status_code == 200
    assert search(search_for=":title: ultrasound", page_size=1000, page=10).status_code == 422
    assert search(search_for=":title: ultrasound", page=1, offset=10).status_code == 422
    assert search(search_for="us").status_code == 422
    bad = api.handle(httpx.Request("POST", SEARCH, content=b"{not json"))
    assert bad.status_code == 400 and set(bad.json()) == {"message", "code"}

    assert ids(search_for=':tag: "TI-RADS"') == {"24510001"}
    assert "24519004" in ids(search_for=':title: "thyroid nodule"')          # a figure
    assert ids(search_for=':title: "thyroid nodule"', item_type=3) == {"24510001"}
    assert ids(search_for=':description: "ultrasonic testing"') == {"24519003"}
    assert ids(search_for=':tag: "ultrasonic testing"') == set()
    assert ids(search_for='(:title: POCUS OR :tag: "nerve block") AND NOT :tag: "COVID-19"'
               ) == {"24511106"}
    recent = ids(search_for=":search_term: ultrasound", modified_since="2025-06-01")
    assert recent and all(articles()[i]["modified_date"] >= "2025-06-01" for i in recent)
    listed = search(search_for=":title: ultrasound", item_type=3, order="modified_date",
                    order_direction="asc", page_size=100).json()
    dates = [articles()[str(h["id"])]["modified_date"] for h in listed]
    assert dates == sorted(dates) and "modified_date" not in listed[0] and "files" not in listed[0]

    assert api.handle(httpx.Request("GET", f"https://{DEFAULT_HOST}/v2/articles/1")
                      ).status_code == 404
    shown = api.handle(httpx.Request("GET", f"https://{DEFAULT_HOST}/v2/articles/24511107"))
    assert shown.status_code == 200 and "files" not in shown.json()  # file embargo
    again = api.handle(httpx.Request("GET", f"https://{DEFAULT_HOST}/v2/articles/24511107",
                                     headers={"if-none-match": shown.headers["etag"]}))
    assert again.status_code == 304
    api.deleted.add("24510001")
    gone = api.handle(httpx.Request("GET", f"https://{DEFAULT_HOST}/v2/articles/24510001"))
    assert gone.status_code == 404 and gone.json()["code"] == "EntityNotFound"

    def total(path: str) -> httpx.Response:
        return stats.handle(httpx.Request("GET", f"https://{STATS_HOST}{path}"))

    assert total("/total/views/article/24510001").json() == {"totals": 1843}
    assert total("/total/downloads/article/999").json() == {"totals": 0}  # never a 404
    hugs = total("/total/hugs/article/24510001")
    assert hugs.status_code == 400 and hugs.json()["data"]["invalid_params"] == "counter"


# --- harvesting ----------------------------------------------------------------------------

def test_full_harvest_fetches_details_and_stats_and_quarantines_malformed(con, settings, clock):
    api, stats = fakes()
    results, internet = run_harvest(con, settings, ["figshare"], [api, stats], clock, full=True)
    result = results["figshare"]
    assert result.status == "ok", result.message
    assert result.counts["new"] == MATCHING and result.counts["quarantined"] == 1
    assert internet.rejected == 0
    ids = stored(con)
    assert not NOT_MATCHED & ids.keys() and MALFORMED not in ids
    reasons = dict(con.execute("SELECT item_key, reason FROM quarantine").fetchall())
    assert "has no title" in reasons[f"article:{MALFORMED}"]
    assert sorted(details(api)) == sorted([*ids, MALFORMED])       # one detail per article
    assert len(stats.requests) == 2 * (MATCHING + 1)
    searched = bodies(api)
    assert {b["item_type"] for b in searched} == {3, 9}
    assert all(b["order"] == "modified_date" and "modified_since" not in b for b in searched)
    assert all(":title:" in b["search_for"] and ":tag:" in b["search_for"] for b in searched)
    rows = dict(con.execute("SELECT source_id, record FROM source_records").fetchall())
    thyroid = json.loads(rows["24510001"])
    assert thyroid["metrics"]["views"] == 1843.0 and thyroid["access"] == "open"
    assert json.loads(rows["24511107"])["access"] == "embargoed"
    kinds = dict(con.execute("SELECT source_id, kind_hint FROM source_records").fetchall())
    assert kinds["24512202"] == "model" and kinds["24512201"] == "code"


def test_pages_until_a_short_page(con, tmp_path, clock):
    settings = Settings(home=tmp_path, rubrics_dir=rubrics(
        tmp_path, page_size=4, item_types=["dataset"], terms_per_query=30, fetch_stats=False))
    api, stats = fakes()
    results, _ = run_harvest(con, settings, ["figshare"], [api, stats], clock)
    assert results["figshare"].status == "ok", results["figshare"].message
    assert results["figshare"].counts["new"] == 20  # the matching datasets
    pages = [b["page"] for b in bodies(api)]
    assert pages == [1, 2, 3, 4, 5, 6] and {b["page_size"] for b in bodies(api)} == {4}
    assert not stats.requests


def test_page_size_is_capped_at_1000(con, tmp_path, clock):
    settings = Settings(home=tmp_path, rubrics_dir=rubrics(tmp_path, page_size=5000))
    api, stats = fakes()
    results, internet = run_harvest(con, settings, ["figshare"], [api, stats], clock)
    assert results["figshare"].status == "ok", results["figshare"].message
    assert {b["page_size"] for b in bodies(api)} == {1000} and internet.count(status=422) == 0


def test_the_9000_hit_cap_is_passed_with_modified_since_windows(con, tmp_path, clock,
                                                                 monkeypatch):
    monkeypatch.setattr(figshare, "MAX_REACHABLE", 10)  # 9,000 in real life
    settings = Settings(home=tmp_path, rubrics_dir=rubrics(
        tmp_path, page_size=5, item_types=["dataset"], terms_per_query=30, fetch_stats=False))
    api, stats = fakes(synthetic(36))
    api.reachable = 10
    results, internet = run_harvest(con, settings, ["figshare"], [api, stats], clock)
    assert results["figshare"].status == "ok", results["figshare"].message
    assert len(stored(con)) == 36 and internet.count(status=422) == 0
    windows = [b.get("modified_since") for b in bodies(api)]
    assert windows[0] is None and len(set(windows)) > 3 and windows == sorted(
        windows, key=lambda w: w or "")
    assert sorted(details(api)) == sorted(stored(con))  # overlapping windows cost no detail


def test_a_day_with_more_hits_than_reachable_is_reported(con, tmp_path, clock, monkeypatch,
                                                         caplog):
    monkeypatch.setattr(figshare, "MAX_REACHABLE", 10)
    settings = Settings(home=tmp_path, rubrics_dir=rubrics(
        tmp_path, page_size=5, item_types=["dataset"], terms_per_query=30, fetch_stats=False))
    api, stats = fakes(synthetic(15, step=timedelta(minutes=1)))
    api.reachable = 10
    results, _ = run_harvest(con, settings, ["figshare"], [api, stats], clock)
    assert results["figshare"].status == "ok", results["figshare"].message
    assert len(stored(con)) == 10
    assert "more than 10 hits modified on 2019-01-01 alone" in caplog.text
    assert "unreachable" in caplog.text


def test_unchanged_rerun_sends_modified_since_and_fetches_no_details(con, settings, clock):
    api, stats = fakes()
    first, _ = run_harvest(con, settings, ["figshare"], [api, stats], clock)
    api.requests.clear()
    api.bodies.clear()
    stats.requests.clear()
    second, internet = run_harvest(con, settings, ["figshare"], [api, stats], clock)
    counts = second["figshare"].counts
    assert counts["new"] == 0 and counts["changed"] == 0
    assert all(b.get("modified_since") for b in bodies(api) if b["item_type"] == 3)
    assert internet.count(status=200) == len(bodies(api))   # only the searches came back 200
    assert internet.count(status=304) == len(details(api))  # overlap hits: revalidated
    assert not stats.requests and counts["requests"] < first["figshare"].counts["requests"] / 5


def test_changed_and_new_articles_are_fetched_incrementally(con, settings, clock):
    api, stats = fakes()
    run_harvest(con, settings, ["figshare"], [api, stats], clock)
    changed = api.items["24511108"]
    changed.update(title="Breast ultrasound B dataset (corrected masks)",
                   modified_date="2026-04-01T10:00:00Z")
    fresh = synthetic(1, start=datetime(2026, 4, 2, tzinfo=UTC))[0]
    api.items[str(fresh["id"])] = fresh
    api.requests.clear()
    results, internet = run_harvest(con, settings, ["figshare"], [api, stats], clock)
    counts = results["figshare"].counts
    assert counts["changed"] == 1 and counts["new"] == 1, counts
    fetched = [r.url.path.rsplit("/", 1)[1] for r in api.requests if r.method == "GET"
               and "if-none-match" not in r.headers]
    revalidated_200 = {u.rsplit("/", 1)[1] for m, u, st in internet.log
                       if m == "GET" and "/v2/articles/" in u and st == 200}
    assert revalidated_200 == {"24511108", str(fresh["id"])} and fetched == [str(fresh["id"])]
    title = con.execute("SELECT title FROM source_records WHERE source_id = '24511108'")
    assert title.fetchone()[0].endswith("(corrected masks)")


def test_cursor_is_committed_only_when_a_query_finished(con, tmp_path, clock):
    settings = Settings(home=tmp_path, rubrics_dir=rubrics(
        tmp_path, page_size=5, item_types=["dataset"], terms_per_query=30, fetch_stats=False))
    api, stats = fakes(synthetic(18))


    crashed, _ = run_harvest(con, settings, ["figshare"], [DiesAfter(api, 14), stats], clock)
    assert crashed["figshare"].status == "failed"
    saved = len(stored(con))
    assert 0 < saved < 18
    assert con.execute("SELECT count(*) FROM harvest_cursors").fetchone()[0] == 0
    api.requests.clear()
    resumed, internet = run_harvest(con, settings, ["figshare"], [api, stats], clock)
    assert resumed["figshare"].status == "ok", resumed["figshare"].message
    assert len(stored(con)) == 18 and internet.count(status=304) == saved  # no refetch
    cursor = con.execute("SELECT value FROM harvest_cursors").fetchone()[0]
    assert cursor == synthetic(18)[-1]["modified_date"]  # the newest modified_date seen


def test_recheck_withdraws_deleted_articles(con, tmp_path, clock):
    settings = Settings(home=tmp_path, rubrics_dir=rubrics(
        tmp_path, recheck_after_days=0, recheck_max=100, fetch_stats=False))
    api, stats = fakes()
    run_harvest(con, settings, ["figshare"], [api, stats], clock)
    api.deleted.add("24511108")          # deleted or made private: 404, gone from searches
    results, internet = run_harvest(con, settings, ["figshare"], [api, stats], clock)
    assert results["figshare"].status == "ok", results["figshare"].message
    assert results["figshare"].counts["withdrawn"] == 1
    status = stored(con)
    assert status["24511108"] == "withdrawn" and len(status) == MATCHING  # kept, not deleted
    assert internet.count(status=404) == 1


def test_token_is_sent_as_token_scheme_to_the_api_only(con, tmp_path, clock, caplog):
    caplog.set_level(logging.DEBUG)
    api, stats = fakes(tokens={"sekrit-token"})
    settings = Settings(home=tmp_path, figshare_token="sekrit-token")
    results, _ = run_harvest(con, settings, ["figshare"], [api, stats], clock)
    assert results["figshare"].status == "ok", results["figshare"].message
    assert {r.headers.get("authorization") for r in api.requests} == {"token sekrit-token"}
    assert stats.requests and not any("authorization" in r.headers for r in stats.requests)
    assert "sekrit-token" not in caplog.text

    guest_api, guest_stats = fakes()
    run_harvest(warehouse.open_warehouse(":memory:"), Settings(home=tmp_path), ["figshare"],
                [guest_api, guest_stats], clock)
    assert not any("authorization" in r.headers
                   for r in [*guest_api.requests, *guest_stats.requests])


def test_rejected_token_fails_cleanly(con, tmp_path, clock):
    api, stats = fakes(tokens={"other"})
    results, internet = run_harvest(con, Settings(home=tmp_path, figshare_token="sekrit-token"),
                                    ["figshare"], [api, stats], clock)
    result = results["figshare"]
    assert result.status == "failed" and "401" in result.message
    assert "sekrit-token" not in result.message and internet.count(status=401) == 1


def test_requests_are_paced_below_one_a_second_per_host(con, settings, clock):
    api, stats = fakes()
    results, internet = run_harvest(con, settings, ["figshare"], [api, stats], clock)
    assert results["figshare"].status == "ok" and internet.rejected == 0
    step = 60 / (60 * PACING_MARGIN)
    for host in (DEFAULT_HOST, STATS_HOST):
        times = [t for (_, url, _), t in zip(internet.log, internet.times, strict=True)
                 if httpx.URL(url).host == host]
        assert len(times) > 10
        assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= step - 1e-6


def test_recovers_from_429_with_retry_after(con, settings, clock):
    api, stats = fakes()
    api.throttle_next, api.retry_after = 2, 11
    start = clock.monotonic()
    results, internet = run_harvest(con, settings, ["figshare"], [api, stats], clock)
    assert results["figshare"].status == "ok", results["figshare"].message
    assert internet.count(status=429) == 2 and results["figshare"].counts["new"] == MATCHING
    assert clock.monotonic() - start >= 22


def test_base_urls_are_honoured(con, tmp_path, clock):
    settings = Settings(home=tmp_path, figshare_url="https://api.figshare.test",
                        figshare_stats_url="https://stats.figshare.test")
    api, stats = fakes(host="api.figshare.test", stats_host="stats.figshare.test")
    results, internet = run_harvest(con, settings, ["figshare"], [api, stats], clock)
    assert results["figshare"].status == "ok", results["figshare"].message
    assert internet.count() == internet.count(host="api.figshare.test") + internet.count(
        host="stats.figshare.test") and len(stats.requests) > 0


def test_details_and_stats_can_be_turned_off(con, tmp_path, clock):
    settings = Settings(home=tmp_path, rubrics_dir=rubrics(
        tmp_path, fetch_details=False, fetch_stats=False))
    api, stats = fakes()
    results, _ = run_harvest(con, settings, ["figshare"], [api, stats], clock)
    assert results["figshare"].status == "ok", results["figshare"].message
    assert results["figshare"].counts["new"] == MATCHING and not details(api)
    assert not stats.requests
    record = json.loads(con.execute(
        "SELECT record FROM source_records WHERE source_id = '24510001'").fetchone()[0])
    assert record["license"] is None and record["doi"] == "10.6084/m9.figshare.24510001.v1"
