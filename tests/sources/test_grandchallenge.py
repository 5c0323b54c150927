"""Grand Challenge: mapping of the serializer shape and harvesting against the fake API."""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conftest import FIXTURES, DiesAfter, run_harvest, source_rubrics

from sonoharvest.demo.grandchallenge import MAX_LIMIT, FakeGrandChallenge, load_challenges
from sonoharvest.http import PACING_MARGIN
from sonoharvest.records import RawItem
from sonoharvest.settings import Settings
from sonoharvest.sources import grandchallenge as gc

SAMPLES = FIXTURES / "grandchallenge"
ULTRASOUND_DEMO = 23        # well-formed ultrasound challenges in the demo data
NOT_ULTRASOUND = {"LUNA16", "PANDA", "Learn2Reg", "PI-CAI", "autoPET", "TIGER", "DRAGON"}


def current() -> list[dict[str, Any]]:
    return json.loads((SAMPLES / "challenges_list_current.json").read_text())["results"]


def older() -> dict[str, Any]:
    return json.loads((SAMPLES / "challenge_detail_older.json").read_text())


def rubrics(tmp_path: Path, **overrides: Any) -> Path:
    return source_rubrics(tmp_path, "grandchallenge", **overrides)


def configured(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(home=tmp_path / "home", rubrics_dir=rubrics(tmp_path, **overrides))


def synthetic(n: int, *, ultrasound_every: int = 1) -> list[dict[str, Any]]:
    """`n` challenges; every `ultrasound_every`-th mentions ultrasound, the others do not."""
    template = next(c for c in load_challenges() if c["slug"] == "HC18")
    out = []
    for i in range(n):
        c = copy.deepcopy(template)
        slug = f"synth-{i:04d}"
        topic = "fetal ultrasound" if i % ultrasound_every == 0 else "retinal fundus photography"
        c.update(slug=slug, title=f"Synthetic challenge {i}", description=f"A {topic} task.",
                 api_url=f"https://grand-challenge.org/api/v1/challenges/{slug}/",
                 url=f"https://{slug}.grand-challenge.org/")
        out.append(c)
    return out


def stored(con) -> dict[str, str]:
    return dict(con.execute("SELECT source_id, status FROM source_records "
                            "WHERE source = 'grandchallenge'").fetchall())


def listings(fake: FakeGrandChallenge) -> list[httpx.Request]:
    return [r for r in fake.requests if r.url.path == "/api/v1/challenges/"]


def cursor(con) -> dict[str, Any]:
    row = con.execute("SELECT value FROM harvest_cursors WHERE source = 'grandchallenge'"
                      ).fetchone()
    return json.loads(row[0]) if row else {}


# --- mapping -------------------------------------------------------------------------------

def test_maps_the_current_serializer_shape():
    record = gc.to_record(RawItem("challenge", current()[0]))
    assert record.source == "grandchallenge" and record.source_id == "camus"
    assert record.kind_hint == "dataset" and record.title == "CAMUS"
    assert record.url == "https://camus.grand-challenge.org/"
    assert record.identifiers == ["grandchallenge:camus"]   # what any link to its site names
    assert record.related == ["doi:10.1109/tmi.2019.2900516", "arxiv:1908.02194",
                              "doi:10.5281/zenodo.7912321"]  # publications, then the text
    assert record.keywords == ["ZIP", "Algorithm", "Open", "Publication"]
    assert record.access == "open"                           # "publicly available on Zenodo"
    assert record.doi is None                                # a challenge has no DOI of its own
    assert record.created_at == datetime(2019, 3, 11, 13, 5, 26, 771200, tzinfo=UTC)
    assert record.updated_at == datetime(2025, 1, 9, 9, 41, 0, 118000, tzinfo=UTC)


def test_maps_the_older_shape_blank_title_and_null_modified():
    record = gc.to_record(RawItem("challenge", older()))
    assert record.title == "a-afma"                 # the site shows the slug for a blank title
    assert record.description.startswith("Automated amniotic fluid")   # HTML stripped
    assert record.related == ["doi:10.1109/isbi48211.2021.9433893", "arxiv:2104.09456"]
    assert record.keywords == ["Opening soon"]
    assert record.access == "on request"
    assert record.created_at == datetime(2020, 11, 23, 9, 0, tzinfo=UTC)   # +01:00 -> UTC
    assert record.updated_at == record.created_at   # modified null: no visible phases


@pytest.mark.parametrize(("change", "reason"), [
    (lambda p: p.pop("slug"), "no slug"),
    (lambda p: p.update(slug="  "), "no slug"),
    (lambda p: p.update(title=None), "no title"),
    (lambda p: p.update(created="2023-02-30T10:00:00Z"), "day is out of range"),
])
def test_malformed_payloads_raise(change, reason):
    payload = current()[0]
    change(payload)
    with pytest.raises(ValueError, match=reason):
        gc.to_record(RawItem("challenge", payload))


@pytest.mark.parametrize(("text", "level", "phrase"), [
    ("Images are available upon request to the organisers.", "on request",
     "available upon request"),
    ("Register for the challenge to download the data.", "registration",
     "Register for the challenge"),
    ("Registered participants receive the training set.", "registration",
     "Registered participants"),
    ("Register on this challenge and accept the data use agreement.", "restricted",
     "data use agreement"),                                     # the strictest level wins
    ("Training data are publicly available; registered teams get the test set.",
     "registration", "registered teams"),
    ("Data: https://doi.org/10.5281/zenodo.1327317", "open", "10.5281/zenodo.1327317"),
    ("Deformable image registration of MR to TRUS; registration error is measured.", None,
     None),                                                     # image registration is a task
    ("", None, None),
])
def test_access_terms_from_phrases(text, level, phrase):
    assert gc.access_terms(text) == (level, phrase)


def test_access_phrases_are_read_from_the_rubric(tmp_path):
    assert gc._configured(gc.CONFIG_PATH)[0][0] == "restricted"
    custom = {"registration": [r"\bkaggle account\b"]}
    assert gc.access_terms("Needs a Kaggle account.", custom) == ("registration",
                                                                  "Kaggle account")
    assert gc.access_terms("Upon request.", custom) == (None, None)
    path = tmp_path / "grandchallenge.yaml"
    path.write_text(yaml.safe_dump({"access_phrases": {"on request": ["ask us"]}}))
    rules = dict(gc._configured(path))
    assert [p.pattern for p in rules["on request"]] == ["ask us"] and rules["open"] == ()
    with pytest.raises(ValueError, match="unknown access level"):
        gc.access_terms("text", {"gated": ["x"]})
    with pytest.raises(ValueError, match="invalid regex"):
        gc.access_terms("text", {"open": ["(unclosed"]})


def test_vocabulary_is_matched_on_whole_words_case_insensitively():
    patterns = gc.term_patterns(["TRUS", "B-mode", "lung ultrasound", "echocardiography"])
    assert gc.matches({"title": "MR-TRUS fusion"}, patterns)
    assert not gc.matches({"title": "Trustworthy AI for CT"}, patterns)
    assert gc.matches({"description": "<b>Lung</b>\n  ultrasound scoring"}, patterns)
    assert gc.matches({"title": "b-mode speckle"}, patterns)
    assert gc.matches({"title": "CAMUS", "description": "2D Echocardiography"}, patterns)
    assert not gc.matches({"title": "Echocardiographyx"}, patterns)
    assert not gc.matches({"title": None, "description": None}, patterns)


def test_only_new_or_modified_challenges_are_yielded_as_items():
    camus, luna = current()
    old = {**camus, "slug": "old-us", "modified": "2023-05-01T00:00:00.000Z"}
    unknown = {**old, "slug": "unknown-us"}          # e.g. quarantined before: offered again
    undated = {**old, "slug": "undated-us", "modified": None}
    listing = gc._Listing(since=datetime(2024, 1, 1, tzinfo=UTC),
                          known={"camus", "old-us", "undated-us"},
                          patterns=gc.term_patterns(["ultrasound"]))
    batch = gc._sort(listing, [camus, luna, old, unknown, undated])
    assert batch.unchanged == ["old-us"]
    assert [i.payload["slug"] for i in batch.items] == ["camus", "unknown-us", "undated-us"]
    assert listing.listed == {"camus", "luna16", "old-us", "unknown-us", "undated-us"}
    assert listing.matched == 4
    assert listing.newest == datetime(2025, 1, 9, 9, 41, 0, 118000, tzinfo=UTC)


# --- the fake API --------------------------------------------------------------------------

def test_fake_pages_like_drf_limit_offset_pagination():
    fake = FakeGrandChallenge()

    def get(query: str) -> httpx.Response:
        return fake.handle(httpx.Request("GET", f"https://grand-challenge.org/api/v1/challenges/"
                                                f"{query}"))

    body = get("?limit=10&offset=10").json()
    assert body["count"] == 31 and len(body["results"]) == 10
    assert body["next"] == "https://grand-challenge.org/api/v1/challenges/?limit=10&offset=20"
    assert body["previous"] == "https://grand-challenge.org/api/v1/challenges/?limit=10"
    last = get("?limit=10&offset=30").json()
    assert last["next"] is None and len(last["results"]) == 1
    assert len(get("").json()["results"]) == 31            # default limit 100
    assert get("?limit=0").json()["next"] is None          # 0 and junk fall back to 100
    assert get("?limit=abc&offset=-4").json()["previous"] is None
    assert get("?limit=5000").json()["next"] is None
    big = FakeGrandChallenge(synthetic(MAX_LIMIT + 5))
    clamped = big.handle(httpx.Request(
        "GET", "https://grand-challenge.org/api/v1/challenges/?limit=5000")).json()
    assert len(clamped["results"]) == MAX_LIMIT           # clamped silently, not an error
    assert clamped["next"].endswith("?limit=1000&offset=1000")
    detail = get("HC18/")
    assert detail.status_code == 200 and detail.json()["slug"] == "HC18"
    fake.hidden.add("HC18")
    assert get("HC18/").status_code == 404 and get("HC18/").json() == {"detail": "Not found."}
    assert get("?limit=100").json()["count"] == 30


# --- harvesting ----------------------------------------------------------------------------

def test_full_harvest_keeps_ultrasound_and_quarantines_malformed(con, settings, clock, caplog):
    caplog.set_level(logging.INFO, logger="sonoharvest.sources.grandchallenge")
    fake = FakeGrandChallenge()
    results, internet = run_harvest(con, settings, ["grandchallenge"], [fake], clock, full=True)
    result = results["grandchallenge"]
    assert result.status == "ok", result.message
    assert result.counts["new"] == ULTRASOUND_DEMO and result.counts["quarantined"] == 1
    assert result.counts["requests"] == 1                    # one page of up to 1000
    assert listings(fake)[0].url.params["limit"] == "1000"
    assert not NOT_ULTRASOUND & stored(con).keys()
    reasons = [r for (r,) in con.execute("SELECT reason FROM quarantine").fetchall()]
    assert any("USVessel-2022 has no title" in r for r in reasons)
    assert "31 challenges listed, 24 match the vocabulary" in caplog.text
    access = dict(con.execute("SELECT source_id, json_extract_string(record, '$.access') "
                              "FROM source_records").fetchall())
    assert access["HC18"] == "open" and access["TN-SCUI2020"] == "restricted"
    assert access["ACOUSLIC-AI"] == "registration" and access["LUMINOUS"] == "on request"
    assert access["EchoView-2026"] is None
    assert internet.rejected == 0


def test_small_pages_are_followed_to_the_end(con, tmp_path, clock):
    fake = FakeGrandChallenge()
    results, _ = run_harvest(con, configured(tmp_path, page_size=5), ["grandchallenge"], [fake],
                             clock)
    assert results["grandchallenge"].status == "ok", results["grandchallenge"].message
    assert [(r.url.params["limit"], r.url.params["offset"]) for r in listings(fake)] == [
        ("5", str(o)) for o in range(0, 31, 5)]
    assert len(stored(con)) == ULTRASOUND_DEMO
    assert cursor(con)["modified"] == "2026-01-12T10:30:00+00:00"  # newest matching `modified`


def test_page_size_is_capped_at_the_server_limit(con, tmp_path, clock):
    fake = FakeGrandChallenge(synthetic(MAX_LIMIT + 7, ultrasound_every=50))
    results, _ = run_harvest(con, configured(tmp_path, page_size=5000), ["grandchallenge"],
                             [fake], clock)
    assert results["grandchallenge"].status == "ok", results["grandchallenge"].message
    assert [r.url.params["offset"] for r in listings(fake)] == ["0", "1000"]
    assert {r.url.params["limit"] for r in listings(fake)} == {"1000"}
    assert len(stored(con)) == len(range(0, MAX_LIMIT + 7, 50))


def test_unchanged_rerun_lists_once_and_stores_nothing(con, tmp_path, clock):
    settings = configured(tmp_path)
    fake = FakeGrandChallenge()
    run_harvest(con, settings, ["grandchallenge"], [fake], clock)
    versions = con.execute("SELECT count(*) FROM record_versions").fetchone()[0]
    fake.requests.clear()
    results, _ = run_harvest(con, settings, ["grandchallenge"], [fake], clock)
    counts = results["grandchallenge"].counts
    assert counts["requests"] == 1 and len(fake.requests) == 1    # no per-challenge requests
    assert counts["unchanged"] == ULTRASOUND_DEMO
    assert counts["new"] == counts["changed"] == counts["withdrawn"] == 0
    assert counts["quarantined"] == 1             # unknown, so offered (and refused) again
    assert con.execute("SELECT count(*) FROM record_versions").fetchone()[0] == versions


def test_modified_and_new_challenges_are_picked_up(con, tmp_path, clock):
    settings = configured(tmp_path)
    fake = FakeGrandChallenge()
    run_harvest(con, settings, ["grandchallenge"], [fake], clock)
    hc18 = next(c for c in fake.items if c["slug"] == "HC18")
    hc18["description"] += " Version 2 adds 120 third-trimester images."
    hc18["modified"] = "2026-02-01T09:00:00.000Z"
    fresh = synthetic(1)[0]
    fresh.update(modified="2026-02-02T09:00:00.000Z")
    fake.items.append(fresh)                         # new challenges come last (pk order)
    results, _ = run_harvest(con, settings, ["grandchallenge"], [fake], clock)
    counts = results["grandchallenge"].counts
    assert counts["changed"] == 1 and counts["new"] == 1 and counts["requests"] == 1
    assert counts["unchanged"] == ULTRASOUND_DEMO - 1
    assert cursor(con)["modified"] == "2026-02-02T09:00:00+00:00"


def test_challenge_gone_from_a_complete_listing_is_withdrawn(con, tmp_path, clock):
    settings = configured(tmp_path)
    fake = FakeGrandChallenge()
    run_harvest(con, settings, ["grandchallenge"], [fake], clock)
    fake.hidden.add("CAMUS")
    fake.requests.clear()
    results, internet = run_harvest(con, settings, ["grandchallenge"], [fake], clock)
    assert results["grandchallenge"].counts["withdrawn"] == 1
    assert stored(con)["CAMUS"] == "withdrawn"                 # kept, never deleted
    assert [r.url.path for r in fake.requests][-1] == "/api/v1/challenges/CAMUS/"
    assert internet.count(status=404) == 1
    fake.hidden.clear()                                        # shown again: active again
    run_harvest(con, settings, ["grandchallenge"], [fake], clock)
    assert stored(con)["CAMUS"] == "active"


def test_challenge_skipped_by_a_shifting_list_is_not_withdrawn(con, tmp_path, clock):
    settings = configured(tmp_path)
    fake = FakeGrandChallenge()
    run_harvest(con, settings, ["grandchallenge"], [fake], clock)

    class Shifted(FakeGrandChallenge):
        """Leaves CAMUS out of the list, as offset paging does when an earlier row is deleted
        between two pages, while its detail URL still answers."""

        def visible(self) -> list[dict[str, Any]]:
            return [c for c in super().visible() if c["slug"] != "CAMUS" or self.detail]

        def _detail(self, slug: str) -> httpx.Response:
            self.detail = True
            try:
                return super()._detail(slug)
            finally:
                self.detail = False

    shifted = Shifted()
    shifted.detail = False
    results, _ = run_harvest(con, settings, ["grandchallenge"], [shifted], clock)
    assert results["grandchallenge"].counts["withdrawn"] == 0
    assert stored(con)["CAMUS"] == "active"


def test_a_listing_that_fails_midway_withdraws_nothing(con, tmp_path, clock):
    settings = configured(tmp_path, page_size=5)
    fake = FakeGrandChallenge()
    run_harvest(con, settings, ["grandchallenge"], [fake], clock)
    before = cursor(con)
    fake.hidden.add("CAMUS")
    fake.items = [c for c in fake.items if c["slug"] != "HC18"]  # gone, early in the list


    results, _ = run_harvest(con, settings, ["grandchallenge"], [DiesAfter(fake, 3)], clock)
    assert results["grandchallenge"].status == "failed"
    assert set(stored(con).values()) == {"active"}
    assert cursor(con) == before
    again, _ = run_harvest(con, settings, ["grandchallenge"], [fake], clock)
    assert again["grandchallenge"].counts["withdrawn"] == 2     # once a listing completes


def test_a_repeated_next_link_stops_the_listing_without_withdrawals(con, tmp_path, clock,
                                                                    caplog):
    settings = configured(tmp_path, page_size=10)
    fake = FakeGrandChallenge()
    run_harvest(con, settings, ["grandchallenge"], [fake], clock)
    before = cursor(con)

    class Looping(FakeGrandChallenge):
        def _list(self, request: httpx.Request) -> httpx.Response:
            body = json.loads(super()._list(request).content)
            body["next"] = "https://grand-challenge.org/api/v1/challenges/?limit=10&offset=10"
            return httpx.Response(200, json=body)

    looping = Looping()
    looping.hidden.add("CAMUS")
    results, _ = run_harvest(con, settings, ["grandchallenge"], [looping], clock)
    assert results["grandchallenge"].status == "ok", results["grandchallenge"].message
    assert len(listings(looping)) == 2 and results["grandchallenge"].counts["withdrawn"] == 0
    assert cursor(con) == before and "listing stopped early" in caplog.text


def test_known_challenge_that_stops_matching_is_updated_not_withdrawn(con, tmp_path, clock):
    settings = configured(tmp_path)
    fake = FakeGrandChallenge()
    run_harvest(con, settings, ["grandchallenge"], [fake], clock)
    cubs = next(c for c in fake.items if c["slug"] == "CUBS")
    cubs["description"] = "Carotid intima-media thickness measurement benchmark."
    cubs["modified"] = "2026-03-01T00:00:00.000Z"
    results, _ = run_harvest(con, settings, ["grandchallenge"], [fake], clock)
    assert results["grandchallenge"].counts["changed"] == 1
    assert stored(con)["CUBS"] == "active"


def test_recovers_from_429_with_retry_after(con, settings, clock):
    fake = FakeGrandChallenge()
    fake.throttle_next, fake.retry_after = 2, 11
    start = clock.monotonic()
    results, internet = run_harvest(con, settings, ["grandchallenge"], [fake], clock)
    assert results["grandchallenge"].status == "ok", results["grandchallenge"].message
    assert internet.count(status=429) == 2
    assert results["grandchallenge"].counts["new"] == ULTRASOUND_DEMO
    assert clock.monotonic() - start >= 22


def test_pacing_stays_under_the_declared_limit(con, tmp_path, clock):
    fake = FakeGrandChallenge(synthetic(40))
    start = clock.monotonic()
    results, internet = run_harvest(con, configured(tmp_path, page_size=1), ["grandchallenge"],
                                    [fake], clock)
    assert results["grandchallenge"].status == "ok", results["grandchallenge"].message
    n = len(fake.requests)
    assert n == 40 and internet.rejected == 0
    step = 60 / (gc.PER_MINUTE * PACING_MARGIN)
    assert step * (n - 1) <= clock.monotonic() - start <= step * n + 1


def test_base_url_setting_is_honoured(con, tmp_path, clock):
    settings = Settings(home=tmp_path, grandchallenge_url="https://gc.example.org/")
    fake = FakeGrandChallenge(host="gc.example.org")
    results, internet = run_harvest(con, settings, ["grandchallenge"], [fake], clock)
    assert results["grandchallenge"].status == "ok", results["grandchallenge"].message
    assert internet.count() == internet.count(host="gc.example.org") > 0


def test_next_links_are_followed_on_our_base_url(con, tmp_path, clock):
    """DRF builds `next` from the request host; a proxy may hand out another scheme or host."""
    fake = FakeGrandChallenge()

    class Proxied(FakeGrandChallenge):
        def _list(self, request: httpx.Request) -> httpx.Response:
            body = json.loads(super()._list(request).content)
            if body["next"]:
                body["next"] = body["next"].replace("https://grand-challenge.org",
                                                    "http://internal:8000")
            return httpx.Response(200, json=body)

    proxied = Proxied(fake.items)
    results, internet = run_harvest(con, configured(tmp_path, page_size=10),
                                    ["grandchallenge"], [proxied], clock)
    assert results["grandchallenge"].status == "ok", results["grandchallenge"].message
    assert len(listings(proxied)) == 4 and internet.count() == 4


def test_unreadable_cursor_state_means_a_first_run(con, settings, clock):
    con.execute("INSERT INTO harvest_cursors VALUES ('grandchallenge', 'challenges', "
                "'not json', now())")
    results, _ = run_harvest(con, settings, ["grandchallenge"], [FakeGrandChallenge()], clock)
    assert results["grandchallenge"].counts["new"] == ULTRASOUND_DEMO
    assert "modified" in cursor(con)
