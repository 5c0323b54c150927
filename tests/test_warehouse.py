"""Warehouse: migrations, idempotent upserts, cursors in the same transaction, withdrawals, locks."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest

from sonoharvest import warehouse
from sonoharvest.records import RawItem, Record, now


def rec(source_id: str, title: str = "Breast ultrasound images", **kw) -> tuple[RawItem, Record]:
    return RawItem("dataset", {"id": source_id, "title": title}), Record(
        source="zenodo", source_id=source_id, title=title, **kw)


def test_migrations_apply_once_and_rerun_is_a_no_op(tmp_path):
    db = tmp_path / "w.duckdb"
    con = warehouse.connect(db)
    first = warehouse.migrate(con)
    assert first and first[0] == "0001_init.sql"
    tables = con.execute("SELECT count(*) FROM duckdb_tables()").fetchone()[0]
    con.close()
    con = warehouse.connect(db)
    assert warehouse.migrate(con) == []
    assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchone()[0] == tables
    assert con.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(first)


def test_a_failing_migration_leaves_nothing_half_applied(tmp_path):
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE a (x INT);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE b (x INT); SELECT * FROM missing;")
    con = warehouse.connect(":memory:")
    with pytest.raises(Exception, match="missing"):
        warehouse.migrate(con, tmp_path)
    names = {r[0] for r in con.execute("SELECT name FROM schema_migrations").fetchall()}
    assert names == {"0001_ok.sql"}
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'b'").fetchone()[0] == 0


def test_views_are_recreated_every_open(con):
    warehouse.ensure_views(con)
    warehouse.ensure_views(con)
    assert con.execute("SELECT count(*) FROM v_records").fetchone()[0] == 0


def test_upsert_is_idempotent_and_tracks_content_history(con):
    counts = warehouse.save_batch(con, "zenodo", [rec("1"), rec("2")], cursor=("q", "a"))
    assert counts["new"] == 2
    again = warehouse.save_batch(con, "zenodo", [rec("1"), rec("2")], cursor=("q", "a"))
    assert again["new"] == 0 and again["unchanged"] == 2
    assert con.execute("SELECT count(*) FROM source_records").fetchone()[0] == 2
    changed = warehouse.save_batch(con, "zenodo", [rec("1", "Breast ultrasound images v2")])
    assert changed["changed"] == 1
    hashes = con.execute("SELECT count(*) FROM record_versions WHERE source_id = '1'").fetchone()[0]
    assert hashes == 2


def test_counters_do_not_make_a_record_look_changed(con):
    warehouse.save_batch(con, "zenodo", [rec("1", metrics={"downloads": 1})])
    counts = warehouse.save_batch(con, "zenodo", [rec("1", metrics={"downloads": 99})])
    assert counts["unchanged"] == 1
    raw = con.execute("SELECT record->>'$.metrics.downloads' FROM source_records").fetchone()[0]
    assert float(raw) == 99


def test_duplicate_ids_in_one_batch_are_stored_once(con):
    counts = warehouse.save_batch(con, "zenodo", [rec("1"), rec("1", "Other title")])
    assert counts["new"] == 1
    assert con.execute("SELECT title FROM source_records").fetchone()[0] == "Other title"


def test_cursor_and_records_commit_together(con, monkeypatch):
    warehouse.save_batch(con, "zenodo", [rec("1")], cursor=("q", "2024-01-01"))
    original = warehouse.set_cursor

    def crash(*args):
        raise RuntimeError("killed mid-batch")
    monkeypatch.setattr(warehouse, "set_cursor", crash)
    with pytest.raises(RuntimeError):
        warehouse.save_batch(con, "zenodo", [rec("2")], cursor=("q", "2025-01-01"))
    monkeypatch.setattr(warehouse, "set_cursor", original)
    assert warehouse.get_cursor(con, "zenodo", "q") == "2024-01-01"
    assert con.execute("SELECT count(*) FROM source_records").fetchone()[0] == 1


def test_gone_records_are_withdrawn_never_deleted_and_come_back(con):
    warehouse.save_batch(con, "zenodo", [rec("1"), rec("2")])
    counts = warehouse.save_batch(con, "zenodo", [], gone=["2"])
    assert counts["withdrawn"] == 1
    status = dict(con.execute("SELECT source_id, status FROM source_records").fetchall())
    assert status == {"1": "active", "2": "withdrawn"}
    assert con.execute("SELECT withdrawn_at FROM source_records WHERE source_id='2'").fetchone()[0]
    warehouse.save_batch(con, "zenodo", [rec("2")])
    assert con.execute("SELECT status, withdrawn_at FROM source_records WHERE source_id='2'"
                       ).fetchone() == ("active", None)


def test_withdraw_unseen_after_a_full_sweep(con):
    warehouse.save_batch(con, "zenodo", [rec("1"), rec("2")])
    con.execute("UPDATE source_records SET last_seen = last_seen - INTERVAL 8 DAY")
    sweep_start = now()
    warehouse.save_batch(con, "zenodo", [rec("1")])
    assert warehouse.withdraw_unseen(con, "zenodo", sweep_start) == 1
    assert warehouse.known_ids(con, "zenodo") == ["1"]
    assert warehouse.known_ids(con, "zenodo", seen_before=now() + timedelta(days=1)) == ["1"]


def test_quarantine_keeps_the_reason_and_payload(con):
    bad = warehouse.Quarantined("dataset:9", "ValidationError: title empty", {"id": 9})
    counts = warehouse.save_batch(con, "zenodo", [rec("1")], quarantined=[bad])
    assert counts["quarantined"] == 1
    row = con.execute("SELECT item_key, reason, payload->>'$.id' FROM quarantine").fetchone()
    assert row == ("dataset:9", "ValidationError: title empty", "9")


def test_runs_record_counts_and_errors(con):
    run_id = warehouse.start_run(con, "run")
    warehouse.finish_run(con, run_id, "partial", {"harvest": {"zenodo": {"new": 3}}},
                         [{"stage": "harvest", "source": "github", "message": "HTTP 500"}])
    [run] = warehouse.recent_runs(con)
    assert run["status"] == "partial" and run["counts"]["harvest"]["zenodo"]["new"] == 3
    assert run["errors"][0]["source"] == "github"


def test_a_second_process_gets_a_one_line_busy_message(tmp_path):
    db = tmp_path / "w.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, sys, time
        con = duckdb.connect({str(db)!r})
        print("locked", flush=True)
        sys.stdin.readline()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(warehouse.WarehouseBusy) as err:
            warehouse.connect(db)
        message = str(err.value)
        assert "in use by another sonoharvest process" in message and "\n" not in message
        assert f"PID {holder.pid}" in message
    finally:
        holder.communicate("\n", timeout=10)


def test_remap_rewrites_content_but_not_when_records_were_seen(con):
    from sonoharvest.harvest import remap
    from sonoharvest.sources.base import Source

    warehouse.save_batch(con, "zenodo", [rec("1", "old title"), rec("2", "kept")])
    warehouse.save_batch(con, "zenodo", [], gone=["2"])
    before = dict(con.execute("SELECT source_id, (last_seen, status) FROM source_records").fetchall())

    def to_record(item):
        if item.payload["id"] == "2":
            raise ValueError("the new mapping rejects this one")
        return Record(source="zenodo", source_id=item.payload["id"], title="new mapping")

    source = Source(name="zenodo", summary="", base_url=lambda s: "", harvest=None,
                    to_record=to_record, rate_limits=lambda b, a: [])
    assert remap(con, source) == {"remapped": 1, "changed": 1, "quarantined": 1}
    rows = dict(con.execute("SELECT source_id, title FROM source_records").fetchall())
    assert rows == {"1": "new mapping", "2": "kept"}
    after = dict(con.execute("SELECT source_id, (last_seen, status) FROM source_records").fetchall())
    assert after == before
    assert con.execute("SELECT count(*) FROM record_versions WHERE source_id = '1'").fetchone()[0] == 2
    assert remap(con, source)["changed"] == 0


def test_validators_are_stored_only_with_the_batch_that_uses_them(con):
    store = warehouse.ValidatorStore(con)
    store.put("https://x/a", '"e1"', None, "github")
    store.put("https://y/b", '"e2"', None, "zenodo")
    assert store.get("https://x/a") == ('"e1"', None)   # this run may revalidate already
    # Crash before the batch commits: a fresh run must fetch in full, not get a 304.
    assert warehouse.ValidatorStore(con).get("https://x/a") == (None, None)
    warehouse.save_batch(con, "github", [rec("1")], validators=store.take("github"))
    assert warehouse.ValidatorStore(con).get("https://x/a") == ('"e1"', None)
    assert warehouse.ValidatorStore(con).get("https://y/b") == (None, None)  # other source
    assert store.take("github") == []
