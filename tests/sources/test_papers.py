"""Papers: mapping of paper pages and pwc-archive rows; harvesting against the fake Hub papers
API and the fake dataset viewer serving the frozen Papers with Code dumps."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import yaml
from conftest import FIXTURES, run_harvest

from sonoharvest.demo import huggingface as fake_hub
from sonoharvest.demo import papers as fake
from sonoharvest.demo.fakeapi import json_response
from sonoharvest.records import RawItem
from sonoharvest.settings import Settings
from sonoharvest.sources import papers
from sonoharvest.sources.huggingface import ANON_PER_MINUTE

SAMPLES = FIXTURES / "papers"
TERMS = ["echocardiography", "POCUS"]
# With TERMS and the three dumps: 6 viewer searches and 2 paper searches per first run.
# What they match in the demo data (source ids); the dumps hold one malformed dataset row.
# Full-text matching is literal: "echocardiographic" or "lung ultrasound" do not match.
PAPERS = {"arxiv:1908.06948", "arxiv:2308.15670", "arxiv:2410.09704", "arxiv:2406.00808",
          "arxiv:2508.03312", "arxiv:2004.12084"}
PWC = {"pwc-dataset:camus", "pwc-dataset:echonet-dynamic", "pwc-dataset:pocus",
       "pwc-code:creatis-myriad/camus-dataset:deep-learning-for-segmentation-using-an-open",
       "pwc-code:jannisborn/covid19_ultrasound:pocovid-net-automatic-detection-of-covid-19",
       "pwc-paper:deep-learning-for-segmentation-using-an-open",
       "pwc-paper:pocovid-net-automatic-detection-of-covid-19"}


def settings(tmp_path: Path, config: dict[str, Any] | None = None, *,
             terms: list[str] = TERMS, **kw: Any) -> Settings:
    folder = tmp_path / "rubrics" / "harvest"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocabulary.yaml").write_text(yaml.safe_dump({"terms": terms}))
    base = {"pwc_archive": {"page_size": 100, "max_rows_per_term": 5000},
            "hf_papers": {"limit": 50, "recheck_days": 30, "recheck_per_run": 40}}
    for key, value in (config or {}).items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    (folder / "papers.yaml").write_text(yaml.safe_dump(base))
    return Settings(home=tmp_path / "home", rubrics_dir=tmp_path / "rubrics", **kw)


def fakes(clock, **kw: Any) -> tuple[fake.FakePapers, fake.FakeDatasetsServer]:
    hub_papers, viewer = fake.services(clock=clock, **kw)
    return hub_papers, viewer


def stored(con) -> dict[str, str]:
    return dict(con.execute("SELECT source_id, status FROM source_records "
                            "WHERE source = 'papers'").fetchall())


def urls(internet, host: str) -> list[httpx.URL]:
    return [httpx.URL(u) for _, u, _ in internet.log if httpx.URL(u).host == host]


def rows(name: str) -> list[dict[str, Any]]:
    return [r["row"] for r in json.loads((SAMPLES / name).read_text())["rows"]]


# --- mapping -------------------------------------------------------------------------------

def test_maps_a_paper_page():
    page = json.loads((SAMPLES / "hf_paper_2410.09704.json").read_text())
    record = papers.to_record(RawItem("hf-paper", page))
    assert record.source_id == "arxiv:2410.09704" and record.kind_hint == "paper"
    assert record.identifiers == ["arxiv:2410.09704"]
    assert record.url == "https://huggingface.co/papers/2410.09704"
    assert "<b>" not in record.description
    assert "echocardiography interpretation" in record.description
    assert record.related == ["github:echonet/echoprime", "hf:models/echonet/echoprime"]
    assert record.created_at.isoformat() == "2024-10-12T18:30:00+00:00"
    assert record.creators[0] == "Milos Vukadinovic" and "EchoPrime" in record.keywords
    assert record.metrics == {"upvotes": 9.0, "githubStars": 210.0, "numTotalModels": 1.0,
                              "numTotalDatasets": 0.0, "numTotalSpaces": 0.0}


def test_maps_papers_with_code_rows():
    camus = papers.to_record(RawItem("pwc-dataset",
                                     rows("search_pwc-archive-datasets_camus.json")[0]))
    assert camus.source_id == "pwc-dataset:camus" and camus.kind_hint == "dataset"
    assert camus.title == "Cardiac Acquisitions for Multi-structure Ultrasound Segmentation"
    assert camus.url == "https://www.creatis.insa-lyon.fr/Challenge/camus/"
    assert camus.license == "CC BY-NC-SA 4.0" and camus.metrics == {"papers": 61.0}
    assert camus.related == ["pwc-paper:deep-learning-for-segmentation-using-an-open"]
    assert camus.created_at.isoformat() == "2019-08-19T00:00:00+00:00"
    assert "Left Ventricle Segmentation" in camus.keywords
    code = papers.to_record(RawItem("pwc-paper-code",
                                    rows("search_pwc-archive-links_pocus.json")[0]))
    assert code.kind_hint == "code" and code.identifiers == ["github:jannisborn/covid19_ultrasound"]
    assert code.url == "https://github.com/jannisborn/covid19_ultrasound"
    assert set(code.related) == {"pwc-paper:pocovid-net-automatic-detection-of-covid-19",
                                 "arxiv:2004.12084"}
    assert code.keywords == ["tf"] and code.description.startswith("Official code")
    paper = papers.to_record(RawItem("pwc-paper", rows("search_pwc-archive-papers_camus.json")[0]))
    assert paper.identifiers == ["pwc-paper:deep-learning-for-segmentation-using-an-open",
                                 "arxiv:1908.06948"]
    assert paper.url == "https://arxiv.org/abs/1908.06948"


# --- harvesting ----------------------------------------------------------------------------

def test_harvests_both_channels_and_quarantines_the_malformed(con, tmp_path, clock):
    hub_papers, viewer = fakes(clock)
    results, internet = run_harvest(con, settings(tmp_path, terms=["ultrasound"]), ["papers"],
                                    [hub_papers, viewer], clock)
    result = results["papers"]
    assert result.status == "ok", result.message
    ids = stored(con)
    assert "arxiv:2410.17725" not in ids and "arxiv:2310.01377" not in ids  # YOLO, UltraFeedback
    assert "arxiv:2506.04417" in ids  # a hard negative (ultrasonic testing) the classifier rejects
    reasons = dict(con.execute("SELECT item_key, reason FROM quarantine").fetchall())
    assert "title" in reasons["hf-paper:2607.00001"]
    assert any("no Papers with Code URL" in r for r in reasons.values())
    assert result.counts["quarantined"] == 2
    assert internet.rejected == 0 and hub_papers.budget.throttled == 0


def test_pages_the_dump_search_and_never_asks_for_more_than_100_rows(con, tmp_path, clock):
    hub_papers, viewer = fakes(clock)
    viewer.dumps["datasets"] += [dict(viewer.dumps["datasets"][0], url=f"https://paperswithcode."
                                      f"com/dataset/echo-{n}") for n in range(230)]
    config = settings(tmp_path, {"pwc_archive": {"page_size": 500}})
    results, internet = run_harvest(con, config, ["papers"], [hub_papers, viewer], clock)
    assert results["papers"].status == "ok", results["papers"].message
    searches = [u for u in urls(internet, fake.DATASETS_SERVER)
                if u.params["dataset"] == "pwc-archive/datasets" and u.params["query"] == TERMS[0]]
    assert [u.params["offset"] for u in searches] == ["0", "100", "200"]
    assert {u.params["length"] for u in searches} == {"100"}
    assert sum(s.startswith("pwc-dataset:echo-") for s in stored(con)) == 230


def test_cuts_a_term_matching_too_many_rows(con, tmp_path, clock, caplog):
    hub_papers, viewer = fakes(clock)
    config = settings(tmp_path, {"pwc_archive": {"page_size": 2, "max_rows_per_term": 3}},
                      terms=["ultrasound"])
    results, _ = run_harvest(con, config, ["papers"], [hub_papers, viewer], clock)
    assert results["papers"].status == "ok"
    assert sum(s.startswith("pwc-dataset:") for s in stored(con)) == 4  # two pages of two
    assert "max_rows_per_term" in caplog.text


def test_rerun_skips_the_archive_and_costs_one_search_per_term(con, tmp_path, clock):
    hub_papers, viewer = fakes(clock)
    config = settings(tmp_path)
    first, _ = run_harvest(con, config, ["papers"], [hub_papers, viewer], clock)
    assert set(stored(con)) == PAPERS | PWC
    second, internet = run_harvest(con, config, ["papers"], [hub_papers, viewer], clock)
    counts = second["papers"].counts
    assert not urls(internet, fake.DATASETS_SERVER)  # every (dump, term) is "done"
    assert counts["requests"] == len(TERMS)
    assert counts["new"] == counts["changed"] == counts["quarantined"] == 0
    cursors = dict(con.execute("SELECT key, value FROM harvest_cursors").fetchall())
    assert cursors["pwc:datasets:POCUS"] == "done"
    assert cursors["hf-papers:echocardiography"] == "2024-10-12T18:30:00+00:00"


def test_new_paper_fetched_on_the_next_run(con, tmp_path, clock):
    hub_papers, viewer = fakes(clock)
    config = settings(tmp_path)
    run_harvest(con, config, ["papers"], [hub_papers, viewer], clock)
    newcomer = copy.deepcopy(next(p for p in hub_papers.papers if p["id"] == "2308.15670"))
    newcomer.update(id="2611.09999", title="EchoCLIP-2: echocardiography report generation",
                    publishedAt="2026-11-20T10:00:00.000Z")
    hub_papers.papers.append(newcomer)
    results, _ = run_harvest(con, config, ["papers"], [hub_papers, viewer], clock)
    assert results["papers"].counts["new"] == 1
    assert results["papers"].counts["requests"] == len(TERMS) + 1


def test_backfill_resumes_at_its_offset_after_a_failure(con, tmp_path, clock):
    hub_papers, viewer = fakes(clock)
    original, failed = viewer.handle, []

    def flaky(request: httpx.Request) -> httpx.Response:
        if not failed and request.url.params.get("offset") == "4":
            failed.append(request.url)
            return json_response({"error": "Unexpected error."}, 400)
        return original(request)

    viewer.handle = flaky
    config = settings(tmp_path, {"pwc_archive": {"page_size": 2}}, terms=["ultrasound"])
    first, _ = run_harvest(con, config, ["papers"], [hub_papers, viewer], clock)
    assert first["papers"].status == "failed" and "400" in first["papers"].message
    cursor = con.execute("SELECT value FROM harvest_cursors WHERE key = "
                         "'pwc:datasets:ultrasound'").fetchone()
    assert cursor == ("4",)
    second, internet = run_harvest(con, config, ["papers"], [hub_papers, viewer], clock)
    assert second["papers"].status == "ok"
    assert urls(internet, fake.DATASETS_SERVER)[0].params["offset"] == "4"
    assert sum(s.startswith("pwc-dataset:") for s in stored(con)) == 13  # + 1 quarantined


def test_full_sweep_rereads_the_archive_and_withdraws_what_vanished(con, tmp_path, clock):
    hub_papers, viewer = fakes(clock)
    config = settings(tmp_path)
    run_harvest(con, config, ["papers"], [hub_papers, viewer], clock)
    hub_papers.papers = [p for p in hub_papers.papers if p["id"] != "2508.03312"]
    viewer.dumps["datasets"] = [r for r in viewer.dumps["datasets"]
                                if not str(r.get("url")).endswith("/echonet-dynamic")]
    results, internet = run_harvest(con, config, ["papers"], [hub_papers, viewer], clock, full=True)
    assert results["papers"].counts["withdrawn"] == 2
    assert len(urls(internet, fake.DATASETS_SERVER)) == 3 * len(TERMS)
    status = stored(con)
    assert status.pop("arxiv:2508.03312") == status.pop("pwc-dataset:echonet-dynamic") \
        == "withdrawn"
    assert set(status.values()) == {"active"}


def test_recheck_finds_new_links_and_404s(con, tmp_path, clock):
    hub_papers, viewer = fakes(clock)
    config = settings(tmp_path, {"hf_papers": {"recheck_days": 0}})
    run_harvest(con, config, ["papers"], [hub_papers, viewer], clock)
    echoclip = next(p for p in hub_papers.papers if p["id"] == "2308.15670")
    echoclip["linkedDatasets"] = [{"id": "StanfordAIMI/echonet-dynamic", "downloads": 312}]
    echoclip["numTotalDatasets"] = 1
    hub_papers.papers = [p for p in hub_papers.papers if p["id"] != "2406.00808"]
    results, _ = run_harvest(con, config, ["papers"], [hub_papers, viewer], clock)
    counts = results["papers"].counts
    assert counts["changed"] == 1 and counts["withdrawn"] == 1 and counts["new"] == 0
    assert counts["requests"] == len(TERMS) + len(PAPERS)
    assert stored(con)["arxiv:2406.00808"] == "withdrawn"
    versions = con.execute("SELECT count(*) FROM record_versions WHERE source_id = "
                           "'arxiv:2308.15670'").fetchone()
    assert versions == (2,)
    record = json.loads(con.execute("SELECT record FROM source_records WHERE source_id = "
                                    "'arxiv:2308.15670'").fetchone()[0])
    assert "hf:datasets/stanfordaimi/echonet-dynamic" in record["related"]


def test_shares_the_hub_budget_with_the_huggingface_source(con, tmp_path, clock):
    budget = fake_hub.Budget(clock)
    hub = fake_hub.FakeHub(budget=budget)
    hub_papers, viewer = fakes(clock, budget=budget)
    start = clock.monotonic()
    results, internet = run_harvest(con, settings(tmp_path), ["huggingface", "papers"],
                                    [hub, hub_papers, viewer], clock)
    assert {r.status for r in results.values()} == {"ok"}
    api = [u for u in urls(internet, "huggingface.co") if u.path.startswith("/api/")]
    assert {u.path.split("/")[2] for u in api} == {"datasets", "models", "papers"}
    assert clock.monotonic() - start >= (len(api) - 1) * 60 / ANON_PER_MINUTE - 1e-3
    assert internet.rejected == 0 and budget.throttled == 0


def test_recovers_from_429_on_the_dataset_viewer(con, tmp_path, clock):
    hub_papers, viewer = fakes(clock)
    viewer.inject = [json_response({"error": "Too Many Requests"}, 429, {"Retry-After": "5"})]
    start = clock.monotonic()
    results, internet = run_harvest(con, settings(tmp_path), ["papers"], [hub_papers, viewer],
                                    clock)
    assert results["papers"].status == "ok", results["papers"].message
    assert internet.count(status=429) == 1 and clock.monotonic() - start >= 5
    assert set(stored(con)) == PAPERS | PWC


def test_token_goes_to_both_hosts_only_when_set(con, tmp_path, clock, caplog):
    caplog.set_level(logging.DEBUG)
    hub_papers, viewer = fakes(clock)
    run_harvest(con, settings(tmp_path / "a"), ["papers"], [hub_papers, viewer], clock)
    assert set(hub_papers.auth_seen) == set(viewer.auth_seen) == {None}
    hub_papers, viewer = fakes(clock, tokens={"hf_PAPERSsecret"})
    run_harvest(con, settings(tmp_path / "b", hf_token="hf_PAPERSsecret"), ["papers"],
                [hub_papers, viewer], clock, full=True)
    assert set(hub_papers.auth_seen) == set(viewer.auth_seen) == {"Bearer hf_PAPERSsecret"}
    assert "hf_PAPERSsecret" not in caplog.text


def test_base_urls_are_honoured(con, tmp_path, clock):
    hub_papers, viewer = fakes(clock, hf_host="hf.mirror.example", ds_host="viewer.mirror.example")
    config = settings(tmp_path, hf_url="https://hf.mirror.example",
                      hf_datasets_server_url="https://viewer.mirror.example")
    results, internet = run_harvest(con, config, ["papers"], [hub_papers, viewer, *fakes(clock)],
                                    clock)
    assert results["papers"].status == "ok", results["papers"].message
    assert urls(internet, "hf.mirror.example") and urls(internet, "viewer.mirror.example")
    assert not urls(internet, "huggingface.co") and not urls(internet, fake.DATASETS_SERVER)
    assert set(stored(con)) == PAPERS | PWC


def test_unknown_dump_fails_cleanly_and_spares_other_sources(con, tmp_path, clock):
    hub_papers, viewer = fakes(clock)
    hub = fake_hub.FakeHub({"datasets": fake_hub.load()["datasets"][:3], "models": []})
    config = settings(tmp_path, {"pwc_archive": {"org": "no-such-org"}})
    (tmp_path / "rubrics" / "harvest" / "huggingface.yaml").write_text(yaml.safe_dump(
        {"kinds": ["datasets"], "tags": ["echocardiography"], "authors": []}))
    results, _ = run_harvest(con, config, ["papers", "huggingface"], [hub, hub_papers, viewer],
                             clock)
    assert results["papers"].status == "failed"
    assert "404" in results["papers"].message and "not found" in results["papers"].message
    assert results["huggingface"].status == "ok" and results["huggingface"].counts["new"] >= 1
    assert not stored(con)
