"""DataCite: mapping of the recorded shapes and harvesting against the fake /dois."""

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

from sonoharvest.demo import querymatch
from sonoharvest.demo.datacite import FakeDataCite, load_records, services
from sonoharvest.http import PACING_MARGIN
from sonoharvest.records import RawItem
from sonoharvest.settings import Settings
from sonoharvest.sources import datacite

SAMPLES = FIXTURES / "datacite"
CURRENT = SAMPLES / "doi_get_10.5281-zenodo.8347772_2023-09.json"
LIST_2020 = SAMPLES / "dois_list_page1_size5_2020-01.json"
# Demo DOIs the ultrasound queries return: 26 datasets + 1 malformed, and 4 software.
MATCHING_DEMO = 31
NOT_MATCHED = {"10.5061/dryad.2rbnzs7rq", "10.4121/15060021.v1", "10.5281/zenodo.9988776",
               "10.1000/demo.lus-review.2021"}  # sonar, flow meter, YOLO, a journal article
MALFORMED = "10.17632/z9t6b4d2mh.1"
# A slice for tests that need variety rather than volume: a Zenodo copy, a figshare DOI, a
# Mendeley dataset, a PhysioNet one, one software model, and one DOI no query returns.
SMALL = {"10.5281/zenodo.1009146", "10.6084/m9.figshare.24510001.v1", "10.17632/k7r2wqm9xd.1",
         "10.13026/e2v7-4dmq", "10.4121/21873954.v1", "10.5061/dryad.2rbnzs7rq"}
FAST = {"terms": ["ultrasound", "echocardiography", "B-mode"]}  # a short query: a faster fake


def small() -> FakeDataCite:
    return FakeDataCite([r for r in load_records() if r["id"].lower() in SMALL])


def current() -> dict[str, Any]:
    return json.loads(CURRENT.read_text())


def rubrics(tmp_path: Path, **overrides: Any) -> Path:
    return source_rubrics(tmp_path, "datacite", **overrides)


def synthetic(n: int, start: datetime = datetime(2019, 1, 1, tzinfo=UTC),
              step: timedelta = timedelta(days=9)) -> list[dict[str, Any]]:
    """`n` matching dataset DOIs, created and updated `step` apart."""
    template = next(r for r in load_records() if r["id"] == "10.17632/k7r2wqm9xd.1")
    out = []
    for i in range(n):
        r = copy.deepcopy(template)
        doi, stamp = f"10.17632/synth{i:04d}.1", _stamp(start + step * i)
        r["id"] = doi
        r["attributes"].update(doi=doi, suffix=doi.split("/")[1], created=stamp,
                               registered=stamp, updated=stamp,
                               titles=[{"title": f"Synthetic breast ultrasound set {i}"}],
                               url=f"https://data.mendeley.com/datasets/synth{i:04d}/1")
        out.append(r)
    return out


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def stored(con) -> dict[str, str]:
    return dict(con.execute(
        "SELECT source_id, status FROM source_records WHERE source = 'datacite'").fetchall())


def searches(fake: FakeDataCite, rtype: str | None = None) -> list[httpx.Request]:
    return [r for r in fake.requests if r.url.path == "/dois"
            and (rtype is None or r.url.params["resource-type-id"] == rtype)]


def cursors(con) -> dict[str, str]:
    return dict(con.execute(
        "SELECT key, value FROM harvest_cursors WHERE source = 'datacite'").fetchall())


# --- mapping -------------------------------------------------------------------------------

def test_maps_the_current_doi_shape():
    payload = current()
    record = datacite.to_record(RawItem("doi", payload["data"]))
    assert record.source == "datacite" and record.source_id == "10.5281/zenodo.8347772"
    assert record.kind_hint == "code"  # Software, nothing about weights
    assert record.title == "F-UJI - An Automated FAIR Data Assessment Tool"
    assert record.description.startswith("FAIRsFAIR has developed F-UJI")
    assert "Please cite" not in record.description  # an "Other" description beside an abstract
    assert record.doi == "10.5281/zenodo.8347772"
    # The concept DOI it IsVersionOf joins it with Zenodo's record, which carries both; the
    # landing page names the Zenodo record; the archived GitHub release is the repository.
    assert record.identifiers == ["doi:10.5281/zenodo.8347772", "zenodo:8347772",
                                  "github:pangaea-data-publisher/fuji",
                                  "doi:10.5281/zenodo.6361400"]
    assert record.related == []
    assert record.url == "https://zenodo.org/record/8347772"
    assert record.license == "mit" and record.access == "open"
    assert record.creators == ["Devaraju, Anusuriya", "Huber, Robert"]
    assert "FAIR data" in record.keywords and len(record.keywords) == 9
    assert record.created_at == datetime(2023, 9, 15, 7, 19, 35, tzinfo=UTC)
    assert record.updated_at == datetime(2023, 9, 15, 7, 19, 38, tzinfo=UTC)
    assert record.metrics == {"views": 0.0, "downloads": 0.0, "citations": 0.0}
    assert datacite.client_of(payload) == datacite.client_of(payload["data"]) == "cern.zenodo"
    # A single-DOI answer maps like its resource object.
    assert datacite.to_record(RawItem("doi", payload)) == record


def test_maps_the_2020_list_shape():
    items = json.loads(LIST_2020.read_text())["data"]
    records = {r.source_id: r for r in (datacite.to_record(RawItem("doi", i)) for i in items)}
    assert list(records) == ["10.5281/zenodo.3596961", "10.5281/zenodo.3520062",
                             "10.5281/zenodo.3520063", "10.15468/dl.msish2",
                             "10.17605/osf.io/vr6nb"]
    assert [datacite.client_of(i) for i in items] == ["cern.zenodo"] * 3 + ["gbif.gbif",
                                                                          "cos.osf"]
    version, concept = records["10.5281/zenodo.3520063"], records["10.5281/zenodo.3520062"]
    assert "doi:10.5281/zenodo.3520062" in version.identifiers  # IsVersionOf: same resource
    assert "isbn:978-83-7683-181-7" in version.identifiers  # IsIdenticalTo
    assert concept.related == ["doi:10.5281/zenodo.3520063"]  # HasVersion stays a relation
    assert "zenodo:3520063" in concept.identifiers  # the old `identifiers` URL of the record
    assert concept.kind_hint == "paper" and concept.access == "open"
    assert concept.license == "http://creativecommons.org/licenses/by/4.0/legalcode"
    assert "English title" not in concept.description  # "Other" left out beside the abstract
    gbif = records["10.15468/dl.msish2"]
    assert gbif.kind_hint == "dataset" and gbif.access is None
    assert gbif.license == "http://creativecommons.org/licenses/by-nc/4.0/legalcode"
    assert len(gbif.related) == 18 and gbif.related[0] == "doi:10.15468/efb17f"
    osf = records["10.17605/osf.io/vr6nb"]
    assert osf.kind_hint == "paper" and osf.license is None and osf.metrics == {}
    assert osf.identifiers == ["doi:10.17605/osf.io/vr6nb"]
    assert records["10.5281/zenodo.3596961"].created_at == datetime(2020, 1, 2, 22, 21, 56,
                                                                     tzinfo=UTC)


def test_titles_descriptions_relations_rights_and_weights():
    payload = current()["data"]
    attrs = payload["attributes"]
    attrs["titles"] = [{"title": "A subtitle", "titleType": "Subtitle"},
                       {"title": "Lung ultrasound B-line detector"}]
    attrs["descriptions"] = [{"description": "Cite as ...", "descriptionType": "Other"},
                             {"description": "Scanned with a convex probe.",
                              "descriptionType": "Methods"},
                             {"description": "Trained <b>U-Net</b>; see arXiv:2004.12084.",
                              "descriptionType": "Abstract"}]
    attrs["subjects"] = [{"subject": "lung ultrasound"}, "POCUS", {"subject": "POCUS"}]
    attrs["formats"] = ["application/octet-stream", "model_final.pth"]
    attrs["relatedIdentifiers"] = [
        {"relationType": "IsIdenticalTo", "relatedIdentifier": "https://huggingface.co/org/lus",
         "relatedIdentifierType": "URL"},
        {"relationType": "HasVersion", "relatedIdentifier": "10.5281/ZENODO.1",
         "relatedIdentifierType": "DOI"},
        {"relationType": "IsVersionOf", "relatedIdentifier": "https://example.org/lus",
         "relatedIdentifierType": "URL"},  # a version of a web page: not the same resource
        {"relationType": "Cites", "relatedIdentifier": "31234567",
         "relatedIdentifierType": "PMID"},
    ]
    attrs["relatedItems"] = [{"relationType": "IsDescribedBy", "relatedItemType": "Preprint",
                              "relatedItemIdentifier": {
                                  "relatedItemIdentifier": "10.48550/arXiv.2301.00001",
                                  "relatedItemIdentifierType": "DOI"}}]
    attrs["rightsList"] = [{"rights": "Restricted Access",
                            "rightsUri": "info:eu-repo/semantics/restrictedAccess"},
                           {"rights": "Research Use Agreement",
                            "rightsUri": "https://example.org/rua"}]
    record = datacite.to_record(RawItem("doi", payload))
    assert record.title == "Lung ultrasound B-line detector"
    assert record.description == ("Trained U-Net ; see arXiv:2004.12084. "
                                  "Scanned with a convex probe.")
    assert record.keywords == ["lung ultrasound", "POCUS"]
    assert record.kind_hint == "model"  # a weight file among the formats
    assert "hf:models/org/lus" in record.identifiers
    assert record.related == ["doi:10.5281/zenodo.1", "https://example.org/lus", "pmid:31234567",
                              "arxiv:2301.00001", "arxiv:2004.12084"]
    assert record.access == "restricted" and record.license == "Research Use Agreement"
    attrs["formats"] = []
    assert datacite.to_record(RawItem("doi", payload)).kind_hint == "code"
    attrs["titles"][1]["title"] = "Lung ultrasound pretrained weights"
    assert datacite.to_record(RawItem("doi", payload)).kind_hint == "model"
    attrs["types"]["resourceTypeGeneral"] = "Model"  # DataCite's conceptual models
    attrs["titles"][1]["title"] = "Finite-element model of the kidney"
    assert datacite.to_record(RawItem("doi", payload)).kind_hint == "other"


@pytest.mark.parametrize(("change", "reason"), [
    (lambda p: p["attributes"].update(titles=[]), "has no title"),
    (lambda p: p["attributes"].update(titles=[{"title": "  "}]), "title"),
    (lambda p: (p["attributes"].pop("doi"), p.pop("id")), "no readable DOI"),
    (lambda p: p.pop("attributes"), "no attributes"),
    (lambda p: p["attributes"].update(created="2023-02-30T10:00:00Z"), "day is out of range"),
])
def test_malformed_payloads_raise(change, reason):
    payload = current()["data"]
    change(payload)
    with pytest.raises(ValueError, match=reason):
        datacite.to_record(RawItem("doi", payload))


def test_queries_quote_phrases_and_group_terms():
    queries = datacite.build_queries(["ultrasound", "B-mode", "lung ultrasound", "POCUS"],
                                     ["titles.title", "subjects.subject"], 3)
    assert queries == [
        'titles.title:(ultrasound OR "B-mode" OR "lung ultrasound") OR '
        'subjects.subject:(ultrasound OR "B-mode" OR "lung ultrasound")',
        "titles.title:(POCUS) OR subjects.subject:(POCUS)",
    ]
    since = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert datacite.query_string("titles.title:(x)", since) == \
        '(titles.title:(x)) AND updated:["2025-01-02T03:04:05.000Z" TO *]'
    assert datacite.query_string("titles.title:(x)", None) == "titles.title:(x)"


# --- the fake ------------------------------------------------------------------------------

@pytest.mark.parametrize(("query", "expected"), [
    ('titles.title:(sonar OR "B-mode")', True),        # phrase across a hyphen, any case
    ("titles.title:ultrasound", False),                  # the word is only in the description
    ("ultrasound AND NOT subjects.subject:POCUS", False),
    ("ultrasound -subjects.subject:liver", True),
    ("doi:10.17632*", True),
    ('updated:["2024-05-01T10:00:00.000Z" TO *]', True),
    ("updated:{2024-05-01T10:00:00Z TO *]", False),     # exclusive lower bound
    ("updated:[2020 TO 2023-12-31]", False),
    ("(titles.title:x OR descriptions.description:\"lung ultrasound\") AND publicationYear:2024",
     True),
])
def test_query_matcher_reads_elasticsearch_query_strings(query, expected):
    fields = {"titles.title": ["B-Mode fatty liver"], "descriptions.description":
              ["Lung ultrasound videos"], "subjects.subject": ["POCUS"],
              "updated": ["2024-05-01T10:00:00.000Z"], "doi": ["10.17632/abc.1"],
              "publicationYear": [2024]}

    def lookup(field: str | None) -> list[Any]:
        return fields.get(field, []) if field else sum(fields.values(), [])

    assert querymatch.parse(query).matches(lookup) is expected


def test_fake_enforces_datacite_caps_and_errors():
    fake = FakeDataCite()

    def get(path: str, **headers: str) -> httpx.Response:
        return fake.handle(httpx.Request("GET", f"https://api.datacite.org{path}",
                                         headers=headers))

    too_big = get("/dois?query=ultrasound&page[size]=1001")
    assert too_big.status_code == 400
    assert too_big.json()["errors"][0]["status"] == "400"
    assert get("/dois?query=ultrasound&page[size]=1000").status_code == 200
    assert get("/dois?query=ultrasound&page[size]=1000&page[number]=10").status_code == 200
    assert get("/dois?query=ultrasound&page[size]=1000&page[number]=11").status_code == 400
    assert get("/dois?query=ultrasound&page[cursor]=not-a-cursor").status_code == 400
    assert get("/dois?query=titles.title:(ultrasound").status_code == 400
    missing = get("/dois/10.9999/nothing")
    assert missing.status_code == 404 and missing.json()["errors"][0]["status"] == "404"
    ok = get("/dois/10.5281/zenodo.1009146")
    assert ok.status_code == 200 and ok.json()["data"]["id"] == "10.5281/zenodo.1009146"
    assert get("/dois/10.5281/zenodo.1009146", **{"if-none-match": ok.headers["etag"]}
               ).status_code == 304
    fake.deleted.add("10.5281/zenodo.1009146")
    assert get("/dois/10.5281/zenodo.1009146").status_code == 404
    # Cursor paging: created ascending, opaque cursors, every DOI once, meta.total.
    url = "/dois?query=ultrasound&resource-type-id=dataset&page[size]=4&page[cursor]=1"
    seen: list[str] = []
    totals: set[int] = set()
    while url:
        body = get(url).json()
        seen += [d["attributes"]["created"] for d in body["data"]]
        totals.add(body["meta"]["total"])
        nxt = body["links"].get("next")
        url = nxt.removeprefix("https://api.datacite.org") if nxt else ""
    assert totals == {len(seen)} and len(seen) > 12 and seen == sorted(seen)
    recent = get("/dois?query=ultrasound+AND+updated:%5B%222025-01-01T00:00:00.000Z%22+TO+*%5D"
                 "&resource-type-id=dataset,software").json()
    assert {d["attributes"]["updated"][:4] for d in recent["data"]} <= {"2025", "2026"}
    assert len(recent["data"]) == recent["meta"]["total"] > 2


# --- harvesting ----------------------------------------------------------------------------

def test_full_harvest_of_the_demo_quarantines_the_malformed(con, settings, clock):
    fake = FakeDataCite()
    results, internet = run_harvest(con, settings, ["datacite"], [fake], clock, full=True)
    result = results["datacite"]
    assert result.status == "ok", result.message
    assert result.counts["new"] == MATCHING_DEMO - 1 and result.counts["quarantined"] == 1
    ids = stored(con)
    assert not NOT_MATCHED & ids.keys()
    assert {"10.6084/m9.figshare.24510001.v1", "10.6084/m9.figshare.24510002.v1",
            "10.6084/m9.figshare.24510003.v2"} <= ids.keys()
    reasons = dict(con.execute("SELECT item_key, reason FROM quarantine").fetchall())
    assert "has no title" in reasons[f"doi:{MALFORMED}"]
    kinds = dict(con.execute(
        "SELECT source_id, kind_hint FROM source_records WHERE source = 'datacite'").fetchall())
    assert kinds["10.4121/21873954.v1"] == "model" and kinds["10.5281/zenodo.4035440"] == "code"
    assert kinds["10.13026/e2v7-4dmq"] == "dataset"
    record = json.loads(con.execute(
        "SELECT record FROM source_records WHERE source_id = '10.5281/zenodo.8231412'"
    ).fetchone()[0])
    assert "doi:10.5281/zenodo.8231411" in record["identifiers"]  # joins the Zenodo record
    # 27 datasets and 4 software DOIs at 1,000 a page (the default): one page each.
    assert [r.url.params["page[cursor]"] == "1" for r in searches(fake)] == [True, True]
    assert {r.headers["accept"] for r in fake.requests} == {"application/vnd.api+json"}
    assert internet.rejected == 0


def test_pages_follow_the_cursor_and_the_watermark_waits_for_the_last(con, tmp_path, clock):
    settings = Settings(home=tmp_path, rubrics_dir=rubrics(tmp_path, page_size=4))
    fake = FakeDataCite()
    results, _ = run_harvest(con, settings, ["datacite"], [fake], clock)
    assert results["datacite"].status == "ok", results["datacite"].message
    assert len(stored(con)) == MATCHING_DEMO - 1
    pages = searches(fake, "dataset")
    tokens = [r.url.params["page[cursor]"] for r in pages]
    assert len(pages) == 7 and tokens[0] == "1" and len(set(tokens)) == 7  # 25 DOIs, 4 a page
    assert {r.url.params["page[size]"] for r in pages} == {"4"}
    assert all("updated:[" not in r.url.params["query"] for r in pages)
    assert sorted(k.split(":")[0] for k in cursors(con)) == ["dataset", "software"]


def test_page_size_over_the_cap_is_clamped(con, tmp_path, clock):
    settings = Settings(home=tmp_path, rubrics_dir=rubrics(tmp_path, page_size=5000, **FAST))
    fake = small()
    results, internet = run_harvest(con, settings, ["datacite"], [fake], clock)
    assert results["datacite"].status == "ok", results["datacite"].message
    assert {r.url.params["page[size]"] for r in searches(fake)} == {"1000"}
    assert internet.count(status=400) == 0


def test_unchanged_rerun_costs_one_request_per_query(con, settings, clock):
    fake = small()
    first, _ = run_harvest(con, settings, ["datacite"], [fake], clock)
    assert first["datacite"].counts["new"] == 5
    fake.requests.clear()
    second, _ = run_harvest(con, settings, ["datacite"], [fake], clock)
    counts = second["datacite"].counts
    assert counts["requests"] == 2 and counts["new"] == counts["changed"] == 0
    assert all('AND updated:["' in r.url.params["query"] for r in fake.requests)


def test_incremental_rerun_asks_for_updates_and_gets_only_changed_dois(con, settings, clock):
    fake = small()
    run_harvest(con, settings, ["datacite"], [fake], clock)
    marks = cursors(con)
    started = min(datetime.fromisoformat(v.replace("Z", "+00:00")) for v in marks.values())
    # The watermark is the run's start, not the newest `updated` (2024-02-19 here).
    assert abs(datetime.now(tz=UTC) - started) < timedelta(minutes=5)
    changed = fake.items["10.17632/k7r2wqm9xd.1"]["attributes"]
    changed["titles"] = [{"title": "Breast ultrasound images dataset (v2, corrected masks)"}]
    changed["updated"] = _stamp(datetime.now(tz=UTC))
    fresh = synthetic(1, start=datetime.now(tz=UTC))[0]
    fake.items[fresh["id"]] = fresh
    fake.requests.clear()
    results, _ = run_harvest(con, settings, ["datacite"], [fake], clock)
    counts = results["datacite"].counts
    assert counts["changed"] == 1 and counts["new"] == 1 and counts["unchanged"] == 0
    assert counts["requests"] == 2
    since = (started - timedelta(hours=2)).isoformat(timespec="milliseconds")[:19]
    assert all(f'updated:["{since}' in r.url.params["query"] for r in fake.requests)
    title = con.execute("SELECT title FROM source_records "
                        "WHERE source_id = '10.17632/k7r2wqm9xd.1'").fetchone()[0]
    assert title.endswith("(v2, corrected masks)")


def test_watermark_is_committed_only_when_a_query_finished(con, tmp_path, clock):
    settings = Settings(home=tmp_path, rubrics_dir=rubrics(tmp_path, page_size=5,
                                                           types=["dataset"], **FAST))
    fake = FakeDataCite(synthetic(30))


    crashed, _ = run_harvest(con, settings, ["datacite"], [DiesAfter(fake, 3)], clock)
    assert crashed["datacite"].status == "failed"
    assert len(stored(con)) == 15  # the pages read are kept
    assert cursors(con) == {}  # but the query did not finish: no watermark
    fake.requests.clear()
    resumed, _ = run_harvest(con, settings, ["datacite"], [fake], clock)
    assert resumed["datacite"].status == "ok", resumed["datacite"].message
    assert len(stored(con)) == 30 and len(cursors(con)) == 1
    assert resumed["datacite"].counts["new"] == 15 and resumed["datacite"].counts["unchanged"] == 15
    assert all("updated:[" not in r.url.params["query"] for r in fake.requests)  # from the start


def test_a_repeating_next_link_stops_the_query_without_a_watermark(con, tmp_path, clock, caplog):
    settings = Settings(home=tmp_path, rubrics_dir=rubrics(tmp_path, page_size=5,
                                                           types=["dataset"], **FAST))
    fake = FakeDataCite(synthetic(30))

    class StuckCursor:
        """Answers every page with the first page's next link."""

        def __init__(self) -> None:
            self.host, self.paths, self.limits, self.first = fake.host, fake.paths, [], None

        def handle(self, request: httpx.Request) -> httpx.Response:
            body = fake.handle(request).json()
            self.first = self.first or body["links"]["next"]
            body["links"]["next"] = self.first
            return httpx.Response(200, json=body)

    caplog.set_level(logging.WARNING)
    results, internet = run_harvest(con, settings, ["datacite"], [StuckCursor()], clock)
    assert results["datacite"].status == "ok", results["datacite"].message
    assert internet.count() == 2 and len(stored(con)) == 10
    assert cursors(con) == {}
    assert "repeats a cursor" in caplog.text


def test_recheck_withdraws_404_and_revalidates_the_rest(con, tmp_path, clock):
    settings = Settings(home=tmp_path,
                        rubrics_dir=rubrics(tmp_path, recheck_after_days=0, recheck_max=100))
    fake = small()
    run_harvest(con, settings, ["datacite"], [fake], clock)
    second, _ = run_harvest(con, settings, ["datacite"], [fake], clock)  # stores the ETags
    assert second["datacite"].counts["requests"] == 2 + 5  # 2 searches, 5 DOIs re-fetched
    fake.deleted.add("10.13026/e2v7-4dmq")
    fake.requests.clear()
    third, internet = run_harvest(con, settings, ["datacite"], [fake], clock)
    assert third["datacite"].status == "ok", third["datacite"].message
    assert third["datacite"].counts["withdrawn"] == 1
    assert stored(con)["10.13026/e2v7-4dmq"] == "withdrawn"  # kept, never deleted
    assert internet.count(status=304) == 4 and internet.count(status=404) == 1
    reads = [r for r in fake.requests if r.url.path.startswith("/dois/")]
    assert sum("if-none-match" in r.headers for r in reads) == 5


def test_pacing_stays_under_the_rate_limit(con, tmp_path, clock):
    settings = Settings(home=tmp_path, rubrics_dir=rubrics(tmp_path, page_size=1,
                                                           types=["dataset"], **FAST))
    fake = FakeDataCite(synthetic(105))
    start = clock.monotonic()
    results, internet = run_harvest(con, settings, ["datacite"], [fake], clock)
    assert results["datacite"].status == "ok", results["datacite"].message
    n = len(fake.requests)
    assert n == 105 and internet.rejected == 0
    step = 60 / (datacite.PER_MINUTE * PACING_MARGIN)
    assert step * (n - 1) - 0.01 <= clock.monotonic() - start <= step * n + 1


def test_recovers_from_429_with_retry_after(con, settings, clock):
    fake = small()
    fake.throttle_next, fake.retry_after = 2, 11
    start = clock.monotonic()
    results, internet = run_harvest(con, settings, ["datacite"], [fake], clock)
    assert results["datacite"].status == "ok", results["datacite"].message
    assert internet.count(status=429) == 2 and results["datacite"].counts["new"] == 5
    assert clock.monotonic() - start >= 22


def test_base_url_and_contact_are_honoured(con, tmp_path, clock):
    settings = Settings(home=tmp_path, datacite_url="https://api.test.datacite.org",
                        contact="curator@example.org")
    fake = services([r for r in load_records() if r["id"].lower() in SMALL],
                    host="api.test.datacite.org")
    results, internet = run_harvest(con, settings, ["datacite"], fake, clock)
    assert results["datacite"].status == "ok", results["datacite"].message
    assert internet.count() == internet.count(host="api.test.datacite.org") == 2
    assert all("curator@example.org" in r.headers["user-agent"] for r in fake[0].requests)
