"""GitHub source: mapping of recorded responses, and harvesting against the fake API."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml
from conftest import FIXTURES, run_harvest

from sonoharvest.demo import github as fake
from sonoharvest.demo.fakeapi import FakeInternet
from sonoharvest.harvest import harvest
from sonoharvest.http import HttpClient
from sonoharvest.records import Batch, RawItem, Record
from sonoharvest.settings import REPO_ROOT, Settings
from sonoharvest.sources import get_source
from sonoharvest.sources import github as source
from sonoharvest.sources.base import Source, SourceContext
from sonoharvest.sources.github import MAX_OPERATORS, MAX_QUERY_CHARS, build_queries, to_record

HERE = FIXTURES / "github"
DEMO_STORED = 84          # demo repositories the searches reach (one fork is excluded)
DEMO_QUARANTINED = 2      # a repository without full_name, one without id
TOKEN = "ghp_S3cretT0kenForTests"


@pytest.fixture
def small_cap(monkeypatch: pytest.MonkeyPatch) -> int:
    """GitHub's 1,000-result cap lowered to 50 in the source and the fake, to keep tests fast."""
    monkeypatch.setattr(source, "SEARCH_CAP", 50)
    monkeypatch.setattr(fake, "SEARCH_CAP", 50)
    return 50


def demo(n: int) -> list[dict]:
    """The first `n` demo repositories (all matched by the default queries)."""
    return fake.load_demo()[:n]


def load(name: str) -> dict:
    return json.loads((HERE / name).read_text())


def rubrics(tmp_path: Path, terms: list[str] | None = None, **options: object) -> Path:
    """A rubrics folder with the real github.yaml, some options overridden, and `terms`."""
    folder = tmp_path / "rubrics"
    (folder / "harvest").mkdir(parents=True)
    vocabulary = yaml.safe_load((REPO_ROOT / "rubrics/harvest/vocabulary.yaml").read_text())
    if terms is not None:
        vocabulary["terms"] = terms
    config = yaml.safe_load((REPO_ROOT / "rubrics/harvest/github.yaml").read_text())
    config.update(options)
    (folder / "harvest/vocabulary.yaml").write_text(yaml.safe_dump(vocabulary))
    (folder / "harvest/github.yaml").write_text(yaml.safe_dump(config))
    return folder


def default_queries() -> list[str]:
    config = yaml.safe_load((REPO_ROOT / "rubrics/harvest/github.yaml").read_text())
    terms = yaml.safe_load((REPO_ROOT / "rubrics/harvest/vocabulary.yaml").read_text())["terms"]
    return build_queries({**config, "terms": terms})


def settings_for(tmp_path: Path, **kw: object) -> Settings:
    return Settings(home=tmp_path / "home", **kw)


def synthetic(n: int, first: date = date(2012, 1, 1), days: int = 4700) -> list[dict]:
    """`n` repositories mentioning ultrasound, created evenly over `days` days."""
    items = []
    for i in range(n):
        stamp = f"{first + timedelta(days=i * days // n)}T12:00:00Z"
        repo = fake.repo_object(50_000_000 + i, f"lab{i % 50}/us-seg-{i}", created_at=stamp,
                                pushed_at=stamp, description=f"ultrasound segmentation run {i}")
        items.append({"repo": repo, "readme": None})
    return items


def searches(internet: FakeInternet) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(url).query) for _, url, _ in internet.log
            if "/search/repositories" in url]


def stored(con) -> int:
    return con.execute("SELECT count(*) FROM source_records WHERE source = 'github'").fetchone()[0]


def composite(readme: str | None, **repo: object) -> RawItem:
    base = fake.repo_object(4242, "us-lab/echo-seg", description="Echo segmentation",
                            created_at="2021-05-01T10:00:00Z", pushed_at="2024-02-03T04:05:06Z",
                            updated_at="2026-01-01T00:00:00Z", topics=["echocardiography"],
                            license="mit", stars=12)
    base.update(repo)
    payload = {"repo": base, "readme": fake.readme_object(base, readme) if readme else None}
    return RawItem("repository", payload)


# --- mapping -----------------------------------------------------------------------------

def test_maps_the_recorded_repository_and_readme():
    record = to_record(RawItem("repository", {
        "repo": load("repo_get_PyGithub-PyGithub_2026-04.json"),
        "readme": load("repo_readme_PyGithub-PyGithub_2025-01.json")}))
    assert record.source == "github" and record.source_id == "3544490"
    assert record.title == "PyGithub/PyGithub" and record.url == "https://github.com/PyGithub/PyGithub"
    assert record.identifiers == ["github:pygithub/pygithub"]
    assert record.license == "lgpl-3.0" and record.access == "open" and record.doi is None
    assert record.created_at == datetime(2012, 2, 25, 12, 53, 47, tzinfo=UTC)
    assert record.updated_at == datetime(2026, 4, 14, 7, 25, 38, tzinfo=UTC)  # pushed_at
    assert record.keywords == ["github", "github-api", "pygithub", "python"]
    assert record.creators == ["PyGithub"] and record.kind_hint == "code"
    assert record.metrics == {"stars": 7701.0, "forks": 1874.0, "open_issues": 393.0,
                              "watchers": 110.0}
    assert "github:psf/black" in record.related
    assert not any(r == "github:pygithub/pygithub" for r in record.related)
    assert record.description.startswith("Typed interactions with the GitHub API v3")
    assert "PyGitHub is a Python library to access the GitHub REST API" in record.description
    assert "shields.io" not in record.description and "```" not in record.description


def test_maps_an_old_search_item_without_readme():
    item = load("search_repositories_github3py-cassette_2017-02_trimmed.json")["items"][0]
    record = to_record(RawItem("repository", {"repo": item, "readme": None}))
    assert (record.source_id, record.title) == ("3710711", "sigmavirus24/github3.py")
    assert record.license is None and record.keywords == [] and record.related == []
    assert record.created_at.tzinfo is not None and record.kind_hint == "code"


def test_readme_links_become_identifiers_related_and_a_model_hint():
    readme = """<p align="center"><img src="logo.png"><b>EchoSeg</b></p>

[![DOI](https://zenodo.org/badge/DOI/10.5281/zenodo.7654321.svg)](https://doi.org/10.5281/zenodo.7654321)

Trained on CAMUS (doi:10.1109/TMI.2019.2900516). Paper: https://arxiv.org/abs/2301.01234v2 and
[HF paper page](https://huggingface.co/papers/2302.05555). Data on
https://huggingface.co/datasets/us-lab/camus-frames and
https://www.kaggle.com/datasets/Foo/Echo-Set .
Compare with https://github.com/echonet/dynamic.git and https://github.com/us-lab/echo-seg/issues .

Weights: https://github.com/us-lab/echo-seg/releases/download/v1/echoseg.ckpt ,
https://huggingface.co/us-lab/echoseg-base and [drive](https://drive.google.com/file/d/abc/view).
"""
    record = to_record(composite(readme))
    assert record.doi == "10.5281/zenodo.7654321"
    assert record.identifiers == ["github:us-lab/echo-seg", "doi:10.5281/zenodo.7654321"]
    for ref in ("doi:10.1109/tmi.2019.2900516", "arxiv:2301.01234", "arxiv:2302.05555",
                "hf:datasets/us-lab/camus-frames", "kaggle:foo/echo-set", "github:echonet/dynamic",
                "hf:models/us-lab/echoseg-base", "https://drive.google.com/file/d/abc/view",
                "https://github.com/us-lab/echo-seg/releases/download/v1/echoseg.ckpt"):
        assert ref in record.related, ref
    assert "github:us-lab/echo-seg" not in record.related
    assert record.kind_hint == "model"
    assert "<" not in record.description and "EchoSeg" in record.description


@pytest.mark.parametrize(("readme", "repo", "kind"), [
    ("Plain code.", {}, "code"),
    ("Download the pretrained weights from our lab server.", {}, "model"),
    (None, {"topics": ["dataset", "ultrasound"]}, "dataset"),
    (None, {"name": "Thyroid-US-Dataset"}, "dataset"),
    (None, {"description": "A public dataset of 500 lung ultrasound videos"}, "dataset"),
    (None, {"description": "PyTorch implementation of a model for the CAMUS dataset"}, "code"),
])
def test_kind_hint(readme, repo, kind):
    assert to_record(composite(readme, **repo)).kind_hint == kind


@pytest.mark.parametrize(("change", "reason"), [
    ({"full_name": None}, "full_name"),
    ({"id": None}, "id"),
    ({"id": "R_kgDOabc"}, "id"),
    ({"created_at": "2021-13-45T99:00:00Z"}, "month"),
])
def test_malformed_items_raise(change, reason):
    with pytest.raises(ValueError, match=reason):
        to_record(composite(None, **change))


def test_queries_cover_the_vocabulary_within_github_limits():
    config = yaml.safe_load((REPO_ROOT / "rubrics/harvest/github.yaml").read_text())
    terms = yaml.safe_load((REPO_ROOT / "rubrics/harvest/vocabulary.yaml").read_text())["terms"]
    for size in (config["terms_per_query"], 50):
        queries = build_queries({**config, "terms": terms, "terms_per_query": size})
        text_queries = [q for q in queries if not q.startswith("topic:")]
        for query in text_queries:
            text = query.split(" in:")[0]
            assert text.count(" OR ") <= MAX_OPERATORS and len(text) <= MAX_QUERY_CHARS
            fake._Query.parse(query)  # the fake answers 422 on what GitHub rejects
        joined = " ".join(text_queries)
        assert all(t in joined for t in terms)
        assert [q for q in queries if q.startswith("topic:")] == [
            f"topic:{t}" for t in config["topics"]]


# --- harvesting ----------------------------------------------------------------------------

def test_demo_harvest_pages_to_the_end_and_quarantines_malformed(con, tmp_path, clock):
    settings = settings_for(tmp_path, github_token=TOKEN,
                            rubrics_dir=rubrics(tmp_path, per_page=7))
    services = fake.services(clock=clock)
    results, internet = run_harvest(con, settings, ["github"], services, clock)
    result = results["github"]
    assert result.status == "ok", result.message
    assert result.counts["new"] == DEMO_STORED == stored(con)
    assert result.counts["quarantined"] == DEMO_QUARANTINED
    reasons = " | ".join(r[0] for r in con.execute("SELECT reason FROM quarantine").fetchall())
    assert "id is missing" in reasons and "full_name is missing" in reasons
    pages = [int(q.get("page", ["1"])[0]) for q in searches(internet)]
    assert max(pages) >= 10 and all(q["per_page"] == ["7"] for q in searches(internet))
    # The fork of echonet/dynamic is not in search results; every cursor is complete.
    assert con.execute("SELECT count(*) FROM source_records WHERE title = 'student-fork/dynamic'"
                       ).fetchone()[0] == 0
    cursors = dict(con.execute("SELECT key, value FROM harvest_cursors").fetchall())
    today = datetime.now(tz=UTC).date().isoformat()
    assert len(cursors) == len(default_queries())
    assert all(json.loads(value) == {"since": today} for value in cursors.values())


def test_deep_results_are_sliced_into_created_windows(con, tmp_path, clock, small_cap):
    settings = settings_for(tmp_path, github_token=TOKEN, rubrics_dir=rubrics(
        tmp_path, terms=["ultrasound"], topics=[], max_readmes=0, per_page=20))
    results, internet = run_harvest(con, settings, ["github"],
                                    fake.services(synthetic(130), clock=clock), clock)
    assert results["github"].status == "ok", results["github"].message
    assert stored(con) == 130
    assert internet.count(status=422) == 0
    windows = [q["q"][0].split("created:")[1] for q in searches(internet)
               if q.get("page", ["1"]) == ["1"]]
    # The whole range and its first half hold more than the cap and are halved again.
    assert len(windows) >= 5 and windows[0] == f"2010-01-01..{datetime.now(tz=UTC).date()}"


def test_paging_with_the_real_cap_stops_at_1000(tmp_path, clock):
    # 1,030 hits on one day cannot be sliced further: the source pages to result 1,000 and stops.
    # The batches are consumed directly: 1,000 warehouse writes would only slow this test down.
    settings = settings_for(tmp_path, github_token=TOKEN)
    internet = FakeInternet(fake.services(synthetic(1030, date(2020, 5, 5), 1), clock=clock), clock)
    github = get_source("github")
    base = github.base_url(settings)

    async def collect() -> list[Batch]:
        async with HttpClient(settings, transport=internet.transport(), clock=clock) as http:
            http.authorize(base, github.auth_headers(settings))
            for prefix, per_minute in github.rate_limits(base, True):
                http.limit(prefix, per_minute)
            ctx = SourceContext(
                source="github", http=http, settings=settings, base_url=base, full=False,
                config={"terms": ["ultrasound"], "max_readmes": 0, "created_start": "2020-05-05"},
                started_at=datetime.now(tz=UTC), authenticated=True)
            return [batch async for batch in github.harvest(ctx)]

    batches = asyncio.run(collect())
    assert sum(len(b.items) for b in batches) == 1000
    day = [q for q in searches(internet) if "created:2020-05-05..2020-05-05" in q["q"][0]]
    assert [q.get("page", ["1"])[0] for q in day] == [str(p) for p in range(1, 11)]
    assert internet.count(status=422) == 0 and internet.rejected == 0


def test_a_single_day_over_the_cap_keeps_what_is_reachable(con, tmp_path, clock, caplog,
                                                           small_cap):
    items = synthetic(65, first=date(2020, 5, 5), days=1)
    settings = settings_for(tmp_path, github_token=TOKEN, rubrics_dir=rubrics(
        tmp_path, terms=["ultrasound"], topics=[], max_readmes=0, per_page=20,
        created_start="2020-05-05"))
    with caplog.at_level(logging.WARNING):
        results, internet = run_harvest(con, settings, ["github"],
                                        fake.services(items, clock=clock), clock)
    assert results["github"].status == "ok" and stored(con) == 50
    assert internet.count(status=422) == 0
    assert "only the first 50 are reachable" in caplog.text


@pytest.mark.parametrize("token", [None, TOKEN])
def test_page_size_is_capped_at_100(con, tmp_path, clock, token):
    settings = settings_for(tmp_path, github_token=token, rubrics_dir=rubrics(
        tmp_path, terms=["ultrasound"], topics=[], per_page=500, max_readmes=0,
        max_readmes_anonymous=0))
    results, internet = run_harvest(con, settings, ["github"],
                                    fake.services(synthetic(101), clock=clock), clock)
    assert results["github"].status == "ok" and stored(con) == 101
    assert {q["per_page"][0] for q in searches(internet)} == {"100"}
    assert len(searches(internet)) == 2


def test_fake_enforces_the_search_contract():
    service = fake.GitHubFake(synthetic(1200))

    def get(**params: object) -> httpx.Response:
        return service.handle(httpx.Request("GET", httpx.URL(
            "https://api.github.com/search/repositories", params=params)))

    first = get(q="ultrasound", per_page=500)
    assert len(first.json()["items"]) == 100 and first.json()["total_count"] == 1200
    links = first.headers["link"]
    assert 'page=2>; rel="next"' in links and 'page=10>; rel="last"' in links
    assert len(get(q="ultrasound", per_page=100, page=10).json()["items"]) == 100
    beyond = get(q="ultrasound", per_page=100, page=11)
    assert beyond.status_code == 422
    assert beyond.json()["message"] == "Only the first 1000 search results are available"
    too_many = get(q="a OR b OR c OR d OR e OR f OR g")
    assert too_many.status_code == 422
    service.incomplete = 1
    partial = get(q="ultrasound", per_page=100)
    assert partial.json()["incomplete_results"] is True and len(partial.json()["items"]) == 50
    ranged = get(q="ultrasound created:2012-01-01..2012-01-31", per_page=100)
    assert 0 < ranged.json()["total_count"] < 20


def test_fake_enforces_github_rate_limits(clock):
    service = fake.GitHubFake(demo(3), clock=clock)

    def get(path: str, token: str | None = None, etag: str | None = None) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        if etag:
            headers["if-none-match"] = etag
        return service.handle(httpx.Request("GET", f"https://api.github.com{path}",
                                            headers=headers))

    search = "/search/repositories?q=echocardiography"
    assert [get(search).status_code for _ in range(11)] == [200] * 10 + [403]
    assert get(search, TOKEN).status_code == 200  # a token has its own, larger budget
    asyncio.run(clock.sleep(60))
    assert get(search).headers["x-ratelimit-remaining"] == "9"
    repo = get("/repos/echonet/dynamic")
    assert repo.headers["x-ratelimit-resource"] == "core" and repo.headers["etag"]
    for _ in range(5):
        assert get("/repos/echonet/dynamic", etag=repo.headers["etag"]).status_code == 304
    assert service.spent("core") == 1  # a 304 spends nothing
    for _ in range(59):
        get("/repos/echonet/lvh/readme")
    refused = get("/repositories/" + str(repo.json()["id"]))
    assert refused.status_code == 403 and refused.headers["x-ratelimit-remaining"] == "0"
    assert int(refused.headers["x-ratelimit-reset"]) >= clock.time() + 3500
    assert get("/repos/nobody/nothing").status_code == 403 and service.rejected == 3
    asyncio.run(clock.sleep(3600))
    assert get("/repos/nobody/nothing").status_code == 404


def test_fake_repository_routes():
    service = fake.GitHubFake(demo(3))
    repo_id = service.items[0]["repo"]["id"]
    service.renamed["echonet/echonet-dynamic"] = repo_id

    def get(path: str) -> httpx.Response:
        return service.handle(httpx.Request("GET", f"https://api.github.com{path}"))

    moved = get("/repos/EchoNet/EchoNet-Dynamic")
    assert moved.status_code == 301
    assert moved.headers["location"] == f"https://api.github.com/repositories/{repo_id}"
    by_id = get(f"/repositories/{repo_id}").json()
    assert by_id["full_name"] == "echonet/dynamic" and "subscribers_count" in by_id
    readme = get("/repos/ECHONET/dynamic/readme").json()
    assert base64.b64decode(readme["content"]).decode().startswith("# EchoNet-Dynamic")
    assert get("/repos/echonet/nothing/readme").status_code == 404
    assert get("/repositories/1").status_code == 404
    bad = service.handle(httpx.Request("GET", "https://api.github.com/repos/echonet/dynamic",
                                       headers={"x-github-api-version": "1999-01-01"}))
    assert bad.status_code == 400


def test_pacing_keeps_under_the_anonymous_limits(con, tmp_path, clock):
    services = fake.services(demo(40), clock=clock)
    start = clock.monotonic()
    results, internet = run_harvest(con, settings_for(tmp_path), ["github"], services, clock)
    assert results["github"].status == "ok", results["github"].message
    assert internet.rejected == 0 and services[0].rejected == 0
    n_search = len(searches(internet))
    n_core = sum(1 for _, url, _ in internet.log if "/repos/" in url)
    assert n_core == 30  # max_readmes_anonymous
    elapsed = clock.monotonic() - start
    assert elapsed >= (n_core - 1) * 60.0 and elapsed >= (n_search - 1) * 6.0
    assert all(auth is None for _, auth in services[0].calls)


def test_waits_for_the_reset_after_a_primary_rate_limit_403(con, tmp_path, clock):
    services = fake.services(demo(10), clock=clock)
    reset = int(clock.time()) + 40
    services[0].inject(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
                       path="/search/")
    results, internet = run_harvest(con, settings_for(tmp_path, github_token=TOKEN), ["github"],
                                    services, clock)
    assert results["github"].status == "ok" and stored(con) == 10
    assert internet.count(status=403) == 1 and clock.time() >= reset


def test_recovers_from_a_429_with_retry_after(con, tmp_path, clock):
    services = fake.services(demo(10), clock=clock)
    services[0].inject(429, {"retry-after": "17"}, path="/search/")
    services[0].inject(429, {"retry-after": "5"}, path="/readme")
    before = clock.slept
    results, internet = run_harvest(con, settings_for(tmp_path, github_token=TOKEN), ["github"],
                                    services, clock)
    assert results["github"].status == "ok", results["github"].message
    assert stored(con) == 10 and internet.count(status=429) == 2
    assert clock.slept - before >= 22 and internet.rejected == 0


def test_incomplete_results_are_asked_again(con, tmp_path, clock):
    services = fake.services(demo(10), clock=clock)
    services[0].incomplete = 1
    settings = settings_for(tmp_path, github_token=TOKEN)
    results, internet = run_harvest(con, settings, ["github"], services, clock)
    assert results["github"].status == "ok" and stored(con) == 10
    assert len(searches(internet)) == len(default_queries()) + 1


def test_unchanged_rerun_costs_one_search_per_query(con, tmp_path, clock):
    settings = settings_for(tmp_path, github_token=TOKEN)
    services = fake.services(demo(10), clock=clock)
    run_harvest(con, settings, ["github"], services, clock)
    versions = con.execute("SELECT count(*) FROM record_versions").fetchone()[0]
    results, internet = run_harvest(con, settings, ["github"], services, clock)
    counts = results["github"].counts
    assert counts["new"] == counts["changed"] == 0
    assert len(internet.log) == len(searches(internet)) == len(default_queries())
    assert counts["requests"] == len(default_queries())
    assert all("pushed:>=" in q["q"][0] for q in searches(internet))
    assert con.execute("SELECT count(*) FROM record_versions").fetchone()[0] == versions


def test_changed_and_new_repositories_are_found_incrementally(con, tmp_path, clock):
    settings = settings_for(tmp_path, github_token=TOKEN)
    services = fake.services(demo(10), clock=clock)
    run_harvest(con, settings, ["github"], services, clock)
    today = datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    entry = next(e for e in services[0].items if e["repo"]["full_name"] == "echonet/dynamic")
    entry["repo"].update(description="EchoNet-Dynamic v2 with pediatric echocardiograms",
                         pushed_at=today)
    services[0].items.append({"repo": fake.repo_object(
        1_400_000_001, "new-lab/lung-us-2026", description="Lung ultrasound B-line scoring",
        created_at=today, pushed_at=today), "readme": "# New\nWeights: https://x.org/m.onnx"})
    results, _ = run_harvest(con, settings, ["github"], services, clock)
    counts = results["github"].counts
    assert (counts["new"], counts["changed"]) == (1, 1)
    source_id = str(entry["repo"]["id"])
    assert con.execute("SELECT count(*) FROM record_versions WHERE source_id = ?",
                       [source_id]).fetchone()[0] == 2
    kind = con.execute("SELECT kind_hint FROM source_records WHERE title = 'new-lab/lung-us-2026'"
                       ).fetchone()[0]
    assert kind == "model"


def test_recheck_known_repositories_304_and_404(con, tmp_path, clock):
    settings = settings_for(tmp_path, github_token=TOKEN)
    services = fake.services(demo(10), clock=clock)
    service = services[0]
    run_harvest(con, settings, ["github"], services, clock)

    def age() -> None:
        con.execute("UPDATE source_records SET last_seen = last_seen - INTERVAL 40 DAY")

    age()
    # First re-check: no validator stored for /repositories/{id} yet, so GitHub answers 200.
    first, _ = run_harvest(con, settings, ["github"], services, clock)
    assert first["github"].counts["unchanged"] == 10
    age()
    gone = service.items.pop(next(i for i, e in enumerate(service.items)
                                  if e["repo"]["full_name"] == "echo-tufts/TMED"))
    used = service.spent("core", TOKEN)
    second, internet = run_harvest(con, settings, ["github"], services, clock)
    counts = second["github"].counts
    assert counts["withdrawn"] == 1 and counts["unchanged"] == 9
    assert internet.count(status=304) == 9
    assert service.spent("core", TOKEN) == used + 1  # only the 404 spent budget
    row = con.execute("SELECT status, withdrawn_at FROM source_records WHERE source_id = ?",
                      [str(gone["repo"]["id"])]).fetchone()
    assert row[0] == "withdrawn" and row[1] is not None


def test_recheck_respects_the_per_run_cap(con, tmp_path, clock):
    settings = settings_for(tmp_path, github_token=TOKEN,
                            rubrics_dir=rubrics(tmp_path, max_rechecks=4))
    services = fake.services(demo(10), clock=clock)
    run_harvest(con, settings, ["github"], services, clock)
    con.execute("UPDATE source_records SET last_seen = last_seen - INTERVAL 40 DAY")
    _, internet = run_harvest(con, settings, ["github"], services, clock)
    assert sum(1 for _, url, _ in internet.log if "/repositories/" in url) == 4


def test_full_sweep_withdraws_a_removed_repository_without_deleting_it(con, tmp_path, clock):
    settings = settings_for(tmp_path, github_token=TOKEN)
    services = fake.services(demo(10), clock=clock)
    run_harvest(con, settings, ["github"], services, clock)
    gone = services[0].items.pop(0)
    results, _ = run_harvest(con, settings, ["github"], services, clock, full=True)
    assert results["github"].counts["withdrawn"] == 1
    assert stored(con) == 10
    status = con.execute("SELECT status FROM source_records WHERE source_id = ?",
                         [str(gone["repo"]["id"])]).fetchone()[0]
    assert status == "withdrawn"


def test_anonymous_full_rerun_keeps_stored_copies_beyond_the_readme_cap(con, tmp_path, clock):
    settings = settings_for(tmp_path)
    services = fake.services(demo(40), clock=clock)
    run_harvest(con, settings, ["github"], services, clock)
    raws = [json.loads(r[0]) for r in con.execute("SELECT raw FROM source_records").fetchall()]
    assert sum(1 for r in raws if r["readme"]) == 30
    assert sum(1 for r in raws if r.get("readme_skipped")) == 10
    versions = con.execute("SELECT count(*) FROM record_versions").fetchone()[0]
    results, internet = run_harvest(con, settings, ["github"], services, clock, full=True)
    counts = results["github"].counts
    assert counts["changed"] == counts["withdrawn"] == 0 and internet.rejected == 0
    assert counts["unchanged"] == 40
    assert con.execute("SELECT count(*) FROM record_versions").fetchone()[0] == versions


def test_resumes_a_sweep_interrupted_by_a_server_failure(con, tmp_path, clock, small_cap):
    settings = settings_for(tmp_path, github_token=TOKEN, http_max_attempts=2, rubrics_dir=rubrics(
        tmp_path, terms=["ultrasound"], topics=[], max_readmes=0, per_page=10))
    items = synthetic(120)
    services = fake.services(items, clock=clock)
    original = services[0].handle
    calls = {"n": 0}

    def failing(request: httpx.Request) -> httpx.Response:
        # Searches 1-2 halve the range twice, 3-5 page the first window; the second fails.
        if "/search/" in request.url.path:
            calls["n"] += 1
            if calls["n"] in (7, 8):
                return fake.json_response({"message": "Server Error"}, 502)
        return original(request)

    services[0].handle = failing
    first, _ = run_harvest(con, settings, ["github"], services, clock)
    assert first["github"].status == "failed" and "502" in first["github"].message
    cursor = json.loads(con.execute("SELECT value FROM harvest_cursors").fetchone()[0])
    assert cursor["done"] and cursor["sweep"] and cursor["since"] is None
    done = sum(1 for e in items if e["repo"]["created_at"][:10] <= cursor["done"])
    assert 0 < done < 50 and stored(con) == done + 10  # the first window, one more page
    second, internet = run_harvest(con, settings, ["github"], services, clock)
    assert second["github"].status == "ok" and stored(con) == 120
    resume_from = date.fromisoformat(cursor["done"]) + timedelta(days=1)
    assert f"created:{resume_from}.." in searches(internet)[0]["q"][0]
    final = json.loads(con.execute("SELECT value FROM harvest_cursors").fetchone()[0])
    assert final == {"since": cursor["sweep"]}


def test_token_is_sent_only_when_set_and_never_logged(con, tmp_path, clock, caplog):
    services = fake.services(demo(10), clock=clock)
    services[0].tokens = {TOKEN}
    with caplog.at_level(logging.DEBUG):
        results, _ = run_harvest(con, settings_for(tmp_path, github_token=TOKEN), ["github"],
                                 services, clock)
    assert results["github"].status == "ok"
    assert {auth for _, auth in services[0].calls} == {f"Bearer {TOKEN}"}
    assert TOKEN not in caplog.text
    assert TOKEN not in json.dumps([list(r) for r in con.execute(
        "SELECT * FROM harvest_cursors").fetchall()], default=str)


def test_base_url_setting_is_honoured(con, tmp_path, clock):
    enterprise = "https://ghe.example.org/api/v3"
    services = fake.services(demo(10), clock=clock) + fake.services(
        demo(10), clock=clock, base_url=enterprise)
    settings = settings_for(tmp_path, github_token=TOKEN, github_url=enterprise)
    results, internet = run_harvest(con, settings, ["github"], services, clock)
    assert results["github"].status == "ok" and stored(con) == 10
    hosts = {urlsplit(url).netloc for _, url, _ in internet.log}
    assert hosts == {"ghe.example.org"} and services[0].calls == []
    assert all(path.startswith("/api/v3/") for path, _ in services[1].calls)


def test_a_fatal_4xx_fails_the_source_cleanly_and_spares_the_others(con, tmp_path, clock):
    services = fake.services(clock=clock)
    services[0].tokens = {"the-right-token"}

    async def stub_harvest(ctx):
        yield Batch(items=[RawItem("thing", {"id": "s1"})], cursor=("all", "done"))

    stub = Source(name="stub", summary="a stand-in source", base_url=lambda s: "https://stub.test",
                  harvest=stub_harvest, rate_limits=lambda base, auth: [],
                  to_record=lambda item: Record(source="stub", source_id="s1", title="Stub"))
    internet = FakeInternet(services, clock)
    settings = settings_for(tmp_path, github_token=TOKEN)
    results = asyncio.run(harvest(con, settings, [get_source("github"), stub],
                                  transport=internet.transport(), clock=clock))
    assert results["github"].status == "failed"
    assert "401" in results["github"].message and TOKEN not in results["github"].message
    assert results["stub"].status == "ok" and results["stub"].counts["new"] == 1
    assert internet.count(status=401) == 1  # a 401 is not retried


def test_readme_object_matches_the_recorded_shape():
    recorded = load("repo_readme_PyGithub-PyGithub_2025-01.json")
    text = base64.b64decode(recorded["content"]).decode()
    repo = fake.repo_object(3544490, "PyGithub/PyGithub", description="x",
                            created_at="2012-02-25T12:53:47Z", pushed_at="2026-04-14T07:25:38Z")
    built = fake.readme_object(repo, text)
    assert set(built) == set(recorded)
    assert built["sha"] == recorded["sha"] and built["content"] == recorded["content"]
    sample = load("repo_get_PyGithub-PyGithub_2026-04.json")
    assert set(repo) == set(sample) - {"organization"}
