"""A harvest through a faulty network ends with the same catalogue as a clean one."""

from __future__ import annotations

import asyncio

from sonoharvest import warehouse
from sonoharvest.demo import build_internet
from sonoharvest.demo.fakeapi import Faults
from sonoharvest.harvest import harvest
from sonoharvest.http import VirtualClock
from sonoharvest.settings import Settings
from sonoharvest.sources import SOURCE_NAMES, all_sources


def catalogue(faults: Faults | None, tmp_path) -> tuple[set, dict, int]:
    con = warehouse.open_warehouse(":memory:")
    clock = VirtualClock()
    internet = build_internet(clock, SOURCE_NAMES, faults)
    settings = Settings(home=tmp_path, kaggle_api_token="t", github_token="t")
    results = asyncio.run(harvest(con, settings, all_sources(), full=True,
                                  transport=internet.transport(), clock=clock))
    rows = set(con.execute(
        "SELECT source, source_id, content_hash, status FROM source_records").fetchall())
    con.close()
    return rows, {n: r.status for n, r in results.items()}, len(internet.log)


def test_ten_percent_faults_change_nothing_but_the_request_count(tmp_path):
    clean, clean_status, clean_requests = catalogue(None, tmp_path)
    faulty, faulty_status, faulty_requests = catalogue(Faults(rate=0.10, seed=7), tmp_path)
    assert set(clean_status.values()) == {"ok"}
    assert faulty_status == clean_status
    assert faulty == clean
    assert faulty_requests > clean_requests       # the faults were really there, and retried
