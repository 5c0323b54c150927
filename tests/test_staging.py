"""Harvesting into copies of the warehouse and merging them gives what a direct harvest gives."""

from __future__ import annotations

from sonoharvest import pipeline, staging, warehouse
from sonoharvest.settings import Settings

GROUPS = [["zenodo"], ["github"], ["kaggle"], ["huggingface", "papers"]]


def snapshot(con) -> dict[str, object]:
    return {
        "records": set(con.execute(
            "SELECT source, source_id, content_hash, status FROM source_records").fetchall()),
        "versions": con.execute("SELECT source, source_id, count(*) FROM record_versions "
                                "GROUP BY ALL ORDER BY ALL").fetchall(),
        "quarantine": set(con.execute("SELECT source, item_key FROM quarantine").fetchall()),
        "cursors": set(con.execute("SELECT source, key, value FROM harvest_cursors").fetchall()),
        "validators": con.execute("SELECT count(*) FROM http_validators").fetchone()[0],
    }


def test_staged_harvest_and_merge_equal_a_direct_harvest(tmp_path):
    direct = pipeline.demo_settings(Settings(home=tmp_path / "direct"))
    con = warehouse.open_warehouse(direct.db_path)
    pipeline.stage_harvest(con, direct, [n for g in GROUPS for n in g], demo=True, run_id="r1")
    expected = snapshot(con)
    con.close()

    staged = pipeline.demo_settings(Settings(home=tmp_path / "staged"))
    con = warehouse.open_warehouse(staged.db_path)
    base = staging.prepare(con, staged, "r1")
    copies = [staging.harvest_into_copy(staged, base, group, full=False, demo=True,
                                        run_id="r1") for group in GROUPS]
    for group, (copy, results) in zip(GROUPS, copies, strict=True):
        assert all(r.status == "ok" for r in results.values())
        staging.merge(con, base, copy, group)
        staging.merge(con, base, copy, group)                 # idempotent
    assert snapshot(con) == expected
    staging.clean(base)
    assert not base.path.parent.exists()

    # A second staged run finds nothing new and changes nothing.
    base = staging.prepare(con, staged, "r2")
    for group in GROUPS:
        copy, results = staging.harvest_into_copy(staged, base, group, full=False, demo=True,
                                                  run_id="r2")
        assert sum(r.counts["new"] + r.counts["changed"] for r in results.values()) == 0
        staging.merge(con, base, copy, group)
    assert snapshot(con)["records"] == expected["records"]
    con.close()
