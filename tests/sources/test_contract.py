"""The contract every registered source meets, run against its bundled fake API."""

from __future__ import annotations

import json

import pytest
from conftest import run_harvest

from sonoharvest.demo import demo_services
from sonoharvest.harvest import map_items
from sonoharvest.records import RawItem
from sonoharvest.settings import Settings
from sonoharvest.sources import SOURCE_NAMES, get_source


@pytest.fixture
def full_settings(tmp_path) -> Settings:
    return Settings(home=tmp_path, kaggle_api_token="demo-token")


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_declares_itself(name, full_settings):
    source = get_source(name)
    assert source.name == name and source.summary
    base = source.base_url(full_settings)
    assert base.startswith("https://")
    limits = source.rate_limits(base, False)
    assert limits and all(prefix.startswith(base) and rate > 0 for prefix, rate in limits)


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_harvests_its_demo_api_without_tripping_limits(name, con, full_settings, clock):
    results, internet = run_harvest(con, full_settings, [name], demo_services(name), clock,
                                    full=True)
    result = results[name]
    assert result.status == "ok", result.message
    assert result.counts["new"] >= 20
    assert result.counts["quarantined"] >= 1, "demo data should include a malformed item"
    assert internet.rejected == 0, "the client exceeded the API's rate limit"
    rows = con.execute(
        "SELECT source, source_id, record FROM source_records WHERE source = ?", [name]
    ).fetchall()
    assert len(rows) == result.counts["new"]
    for source, source_id, record in rows:
        data = json.loads(record)
        assert data["source"] == source and data["source_id"] == source_id
        for key in ("created_at", "updated_at"):
            assert data[key] is None or data[key].endswith(("Z", "+00:00")), (key, data[key])


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_unchanged_rerun_is_cheap_and_stores_nothing_new(name, con, full_settings, clock):
    services = demo_services(name)
    first, _ = run_harvest(con, full_settings, [name], services, clock)
    second, _ = run_harvest(con, full_settings, [name], services, clock)
    assert second[name].status == "ok", second[name].message
    assert second[name].counts["new"] == 0 and second[name].counts["changed"] == 0
    # At most one request per query key on the demo's small data (plus a few re-checks); never
    # more than the first run. Sources that must list everything (Grand Challenge has no
    # search) cost as much as their listing; benchmarks/harvest_requests.py measures the
    # ratio at scale.
    cursors = con.execute("SELECT count(*) FROM harvest_cursors WHERE source = ?", [name]
                          ).fetchone()[0]
    assert second[name].counts["requests"] <= first[name].counts["requests"]
    assert second[name].counts["requests"] <= max(cursors, 1) + 10


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_mapping_is_pure_and_deterministic(name, con, full_settings, clock):
    run_harvest(con, full_settings, [name], demo_services(name), clock, full=True)
    source = get_source(name)
    rows = con.execute("SELECT item_type, raw, content_hash FROM source_records WHERE source = ?",
                       [name]).fetchall()
    items = [RawItem(item_type, json.loads(raw)) for item_type, raw, _ in rows]
    mapped, bad = map_items(source, items)
    assert not bad
    assert [r.content_hash() for _, r in mapped] == [h for *_, h in rows]


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_missing_token_is_skipped_or_harmless(name, con, tmp_path, clock):
    results, internet = run_harvest(con, Settings(home=tmp_path), [name], demo_services(name),
                                    clock)
    result = results[name]
    if result.status == "skipped":
        assert result.message and "\n" not in result.message
        assert internet.count() == 0
    else:
        assert result.status == "ok", result.message
