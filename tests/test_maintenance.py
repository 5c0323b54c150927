"""Backup, restore and integrity checks on a real (small) warehouse built from the demo."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path
from typing import Any

import duckdb
import pytest

from sonoharvest import maintenance, pipeline, warehouse
from sonoharvest.curation import CurationStore
from sonoharvest.entities import merge
from sonoharvest.maintenance import MaintenanceError, Problem, backup, check, restore
from sonoharvest.settings import Settings

_ENV = ("SONOHARVEST_", "ZENODO_TOKEN", "GITHUB_TOKEN", "HF_TOKEN", "KAGGLE_")


def fake_classify(con: duckdb.DuckDBPyConnection, settings: Settings,
                  progress: Any = None) -> dict[str, int]:
    """Stands in for the embedding classifier (minutes): datasets, models and papers are
    relevant, so resolution, scoring and the queue have real work to do."""
    rows = con.execute(
        "INSERT OR REPLACE INTO classifications SELECT source, source_id, content_hash, 1, 0.9, "
        "true, 'likely', false, CASE WHEN kind_hint IN ('dataset', 'model') THEN kind_hint "
        "ELSE 'other' END, [], [], '{}', now() FROM source_records "
        "WHERE kind_hint IN ('dataset', 'model', 'paper')").fetchone()
    return {"classified": int(rows[0])}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with every table filled: the demo harvest, entities (one curator merge), links,
    scores with an override, the review queue with a decision, and a relevance model file."""
    home = tmp_path_factory.mktemp("built") / "home"
    settings = Settings(home=home)
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith(_ENV):
                mp.delenv(key)
        mp.setattr(pipeline, "stage_classify", fake_classify)
        outcome = pipeline.run(settings, demo=True, check_links=False, export_results=False)
    assert outcome.status == "ok", outcome.errors
    con = warehouse.open_warehouse(settings.db_path)
    try:
        a, b = (row[0] for row in con.execute(
            "SELECT entity_id FROM entities WHERE status = 'active' AND kind = 'dataset' "
            "ORDER BY entity_id LIMIT 2").fetchall())
        merge(con, settings, a, b, who="tester", reason="same dataset")
        warehouse.set_override(con, a, "gold", reason="checked by hand", who="tester")
        (home / "models").mkdir()
        (home / "models" / "relevance-v1.pkl").write_bytes(b"not really a pickle")
        warehouse.add_relevance_model(
            con, 1, embedder="fake", path=str(home / "models" / "relevance-v1.pkl"),
            examples=3, metrics={"f1": 0.5}, thresholds={"likely": 0.8}, active=True,
            note="test")
        assert con.execute("SELECT count(*) FROM entities WHERE status = 'merged'").fetchone()[0]
    finally:
        con.close()
    store = CurationStore.open(settings)
    try:
        item = store.items()[0].item_id
        store.decide([item], "reject", who="tester", reason_code="other", notes="test")
    finally:
        store.close()
    return home


@pytest.fixture
def home(built: Path, tmp_path: Path) -> Path:
    """A private copy of the built home (its model row pointing at its own copy)."""
    target = tmp_path / "home"
    shutil.copytree(built, target)
    con = duckdb.connect(str(target / "sonoharvest.duckdb"))
    con.execute("UPDATE relevance_models SET path = ?",
                [str(target / "models" / "relevance-v1.pkl")])
    con.close()
    return target


def snapshot(home: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every warehouse table and every curation table, in a stable order."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    con = duckdb.connect(str(home / "sonoharvest.duckdb"), read_only=True)
    try:
        for (table,) in con.execute("SELECT table_name FROM duckdb_tables() "
                                    "WHERE NOT temporary ORDER BY 1").fetchall():
            out[f"warehouse.{table}"] = con.execute(
                f'SELECT * FROM "{table}" ORDER BY ALL').fetchall()
    finally:
        con.close()
    db = sqlite3.connect(str(home / "curation.sqlite"))
    try:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                   "ORDER BY name").fetchall():
            out[f"curation.{table}"] = sorted(db.execute(f'SELECT * FROM "{table}"').fetchall(),
                                              key=repr)
    finally:
        db.close()
    return out


# --- backup and restore ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["backup", "backup.tar.gz"])
def test_backup_wipe_restore_gives_identical_tables(home, tmp_path, name):
    settings = Settings(home=home)
    before = snapshot(home)
    assert all(before[t] for t in ("warehouse.entities", "warehouse.resolution_constraints",
                                   "warehouse.score_overrides", "warehouse.relevance_models",
                                   "curation.decisions", "curation.queue"))
    dest = backup(settings, tmp_path / name)
    assert dest.is_dir() == (name == "backup") and not list(tmp_path.glob(".*partial*"))

    shutil.rmtree(home)
    result = restore(settings, dest)

    assert snapshot(home) == before
    assert (home / "models" / "relevance-v1.pkl").read_bytes() == b"not really a pickle"
    assert result["upgraded"] == [] and result["kept"] == {}
    assert result["row_counts"]["warehouse"]["source_records"] == \
        len(before["warehouse.source_records"])
    assert not [p for p in home.iterdir() if p.name.startswith(".")]   # no leftovers
    con = warehouse.open_warehouse(settings.db_path)   # usable, and ids keep counting up
    try:
        highest = con.execute("SELECT max(constraint_id) FROM resolution_constraints").fetchone()
        assert con.execute("SELECT nextval('resolution_constraint_ids')").fetchone()[0] > \
            highest[0]
        assert not maintenance.has_errors(check(con))
    finally:
        con.close()


def test_manifest_describes_the_backup(home, tmp_path):
    dest = backup(Settings(home=home), tmp_path / "b")
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["sonoharvest_version"] and manifest["created_at"]
    assert manifest["migrations"] == sorted(p.name for p in
                                            warehouse.MIGRATIONS_DIR.glob("0*.sql"))
    counts = manifest["row_counts"]
    assert counts["warehouse"]["entities"] == len(snapshot(home)["warehouse.entities"])
    assert counts["curation"]["decisions"] == 1
    assert set(manifest["files"]) == {p.relative_to(dest).as_posix() for p in dest.rglob("*")
                                      if p.is_file() and p.name != "manifest.json"}
    assert all(len(digest) == 64 for digest in manifest["files"].values())


def _flip_a_byte(dest: Path) -> None:
    path = dest / "warehouse" / "entities.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _drop_the_curation_store(dest: Path) -> None:
    (dest / "curation.sqlite").unlink()


def _lie_about_a_count(dest: Path) -> None:
    manifest = json.loads((dest / "manifest.json").read_text())
    manifest["row_counts"]["warehouse"]["source_records"] += 1
    (dest / "manifest.json").write_text(json.dumps(manifest))


def _add_a_table(dest: Path) -> None:
    """A consistent manifest naming a table no migration creates."""
    manifest = json.loads((dest / "manifest.json").read_text())
    shutil.copy(dest / "warehouse" / "runs.parquet", dest / "warehouse" / "evil.parquet")
    manifest["row_counts"]["warehouse"]["evil"] = manifest["row_counts"]["warehouse"]["runs"]
    manifest["files"]["warehouse/evil.parquet"] = manifest["files"]["warehouse/runs.parquet"]
    (dest / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(("tamper", "message"), [
    (_flip_a_byte, "warehouse/entities.parquet (checksum differs)"),
    (_drop_the_curation_store, "curation.sqlite (missing)"),
    (_lie_about_a_count, "source_records has"),
    (_add_a_table, "table evil"),
])
def test_a_tampered_backup_is_refused_and_nothing_is_written(home, tmp_path, tamper, message):
    settings = Settings(home=home)
    dest = backup(settings, tmp_path / "b")
    tamper(dest)
    shutil.rmtree(home)
    with pytest.raises(MaintenanceError) as err:
        restore(settings, dest)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not settings.db_path.exists() and not (home / "curation.sqlite").exists()
    assert not [p for p in home.iterdir() if p.name.startswith(".")]


def test_a_tarball_with_an_unsafe_path_is_refused(home, tmp_path):
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        entry = tarfile.TarInfo("../outside.txt")
        entry.size = 3
        tar.addfile(entry, io.BytesIO(b"bad"))
    with pytest.raises(MaintenanceError, match="unsafe or damaged entry"):
        restore(Settings(home=tmp_path / "fresh"), evil)
    assert not (tmp_path / "outside.txt").exists()


def test_a_damaged_tarball_is_refused(home, tmp_path):
    dest = backup(Settings(home=home), tmp_path / "b.tar.gz")
    data = bytearray(dest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dest.write_bytes(bytes(data))
    fresh = Settings(home=tmp_path / "fresh")
    with pytest.raises(MaintenanceError) as err:
        restore(fresh, dest)
    assert "nothing was restored" in str(err.value) and "\n" not in str(err.value)
    assert not fresh.db_path.exists()


def test_restore_over_a_warehouse_needs_force_and_keeps_the_old_one(home, tmp_path):
    settings = Settings(home=home)
    dest = backup(settings, tmp_path / "b")
    before = snapshot(home)
    con = warehouse.connect(settings.db_path)
    con.execute("DELETE FROM scores")
    con.close()
    changed = snapshot(home)

    with pytest.raises(MaintenanceError) as err:
        restore(settings, dest)
    assert "--force" in str(err.value) and "\n" not in str(err.value)
    assert snapshot(home) == changed                  # refused: nothing touched

    result = restore(settings, dest, force=True)
    assert snapshot(home) == before
    kept = {k: Path(v) for k, v in result["kept"].items()}
    assert set(kept) == {"warehouse", "curation", "models"}
    old = duckdb.connect(str(kept["warehouse"]), read_only=True)
    assert old.execute("SELECT count(*) FROM scores").fetchone()[0] == 0   # the old one, kept
    old.close()


def test_restore_into_another_home_moves_the_model_paths(home, tmp_path):
    dest = backup(Settings(home=home), tmp_path / "b.tgz")
    other = Settings(home=tmp_path / "elsewhere")
    restore(other, dest)
    con = duckdb.connect(str(other.db_path), read_only=True)
    (path,) = con.execute("SELECT path FROM relevance_models").fetchone()
    con.close()
    assert Path(path) == other.home / "models" / "relevance-v1.pkl" and Path(path).is_file()


def test_backup_refuses_an_existing_destination_and_a_missing_warehouse(home, tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(MaintenanceError, match="already exists"):
        backup(Settings(home=home), tmp_path / "taken")
    with pytest.raises(MaintenanceError, match="no warehouse"):
        backup(Settings(home=tmp_path / "nothing"), tmp_path / "b")
    with pytest.raises(MaintenanceError, match="no backup at"):
        restore(Settings(home=tmp_path / "nothing"), tmp_path / "missing")


def test_backup_and_restore_while_another_process_holds_the_warehouse(home, tmp_path):
    settings = Settings(home=home)
    dest = backup(settings, tmp_path / "b")
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, sys
        con = duckdb.connect({str(settings.db_path)!r})
        print("locked", flush=True)
        sys.stdin.readline()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(warehouse.WarehouseBusy) as err:
            backup(settings, tmp_path / "b2")
        message = str(err.value)
        assert "in use by another sonoharvest process" in message and "\n" not in message
        assert not (tmp_path / "b2").exists()
        with pytest.raises(warehouse.WarehouseBusy):
            restore(settings, dest, force=True)
        assert not list(home.glob("*.pre-restore-*"))
    finally:
        holder.communicate("\n", timeout=30)


# --- checks ----------------------------------------------------------------------------------

def findings(problems: list[Problem]) -> set[str]:
    return {p.check for p in problems if p.severity != "info"}


def test_every_check_file_says_what_how_serious_and_how_to_fix():
    checks = maintenance.load_checks()
    assert len(checks) >= 20
    for item in checks:
        assert item.what and item.fix and item.severity in maintenance.SEVERITIES, item.name


def test_a_clean_warehouse_has_no_findings(built, tmp_path):
    con = duckdb.connect(str(built / "sonoharvest.duckdb"), read_only=True)
    try:
        problems = check(con)
    finally:
        con.close()
    assert findings(problems) == set()
    summary = {p.check: p for p in problems}
    assert summary["summary_records"].count > 0 and "zenodo active:" in \
        summary["summary_records"].detail
    assert "dataset merged: 1" in summary["summary_entities"].detail
    empty = warehouse.open_warehouse(":memory:")
    assert check(empty) == [] and check(empty, summary=False) == []
    empty.close()


LIVE = "(SELECT min(entity_id) FROM entities WHERE status = 'active')"
LIVE_WITH_COPIES = ("(SELECT min(entity_id) FROM entity_members WHERE role = 'copy')")
LONE = ("(SELECT min(source_id) FROM source_records r WHERE source = 'github' AND NOT EXISTS "
        "(SELECT 1 FROM entity_members m WHERE m.source = r.source "
        "AND m.source_id = r.source_id))")
ANY_RECORD = "(SELECT min(source_id) FROM source_records WHERE source = 'zenodo')"


def entity(entity_id: str, status: str = "active", merged_into: str | None = None,
           primary_key: str | None = None) -> str:
    into = f"'{merged_into}'" if merged_into else "NULL"
    key = f"'{primary_key}'" if primary_key else "NULL"
    return (f"INSERT INTO entities VALUES ('{entity_id}', 'dataset', '{status}', {into}, {key}, "
            f"'planted', '{{}}', 'h', now(), now())")


# (what is planted, the check that must find it, other checks it may also trip)
PLANTED: list[tuple[list[str], str, set[str]]] = [
    ([f"INSERT INTO entity_members VALUES ('zenodo', 'ghost', {LIVE}, 'copy', 'identifier', "
      "'', now())"], "orphan_members_without_record", set()),
    ([f"INSERT INTO entity_members SELECT 'github', {LONE}, 'e-ghost', 'primary', 'primary', "
      "'', now()"], "orphan_members_without_entity", set()),
    (["INSERT INTO classifications SELECT 'zenodo', 'ghost', 'h', 1, 0.5, true, 'review', "
      "false, 'dataset', [], [], '{}', now()"], "orphan_classifications", set()),
    (["INSERT INTO record_versions VALUES ('zenodo', 'ghost', 'h', now(), NULL)"],
     "orphan_record_versions", set()),
    ([f"INSERT INTO entity_links VALUES ({LIVE}, 'e-nowhere', 'references', 'x')"],
     "orphan_entity_links", set()),
    (["INSERT INTO scores SELECT 'e-gone', * EXCLUDE (entity_id) FROM scores LIMIT 1"],
     "orphan_scores", set()),
    (["INSERT INTO score_overrides VALUES ('e-gone', 'gold', 'r', 'me', now(), NULL)"],
     "orphan_score_overrides", set()),
    (["INSERT INTO seed_catalogue VALUES (999, 'x', NULL, NULL, NULL, NULL, NULL, 'e-gone', "
      "NULL, now())"], "orphan_seed_entities", set()),
    ([entity("e-twin", primary_key="PRIMARY_OF_LIVE")], "duplicate_record_in_two_entities",
     {"duplicate_empty_live_entities"}),
    ([f"UPDATE entity_members SET role = 'primary' WHERE (source, source_id) = (SELECT "
      f"(source, source_id) FROM entity_members WHERE entity_id = {LIVE_WITH_COPIES} "
      "AND role = 'copy' LIMIT 1)"], "duplicate_primaries", set()),
    ([entity("e-empty")], "duplicate_empty_live_entities", set()),
    ([f"UPDATE entities SET status = 'retired' WHERE entity_id = {LIVE}"],
     "duplicate_members_of_dead_entities", set()),
    ([f"UPDATE entities SET primary_key = 'zenodo:nope' WHERE entity_id = {LIVE}"],
     "duplicate_primary_mismatch", set()),
    ([f"DELETE FROM record_versions WHERE source = 'zenodo' AND source_id = {ANY_RECORD}"],
     "duplicate_records_without_history", set()),
    ([f"UPDATE source_records SET content_hash = 'edited by hand' WHERE source = 'zenodo' "
      f"AND source_id = {ANY_RECORD}"], "duplicate_records_without_history", set()),
    ([f"UPDATE source_records SET status = 'withdrawn' WHERE source = 'zenodo' "
      f"AND source_id = {ANY_RECORD}"], "consistency_withdrawn_dates", set()),
    (["INSERT INTO harvest_cursors VALUES ('arxiv', 'q', 'v', now())"],
     "consistency_unknown_sources", set()),
    (["INSERT INTO runs (run_id, command, started_at, status) VALUES "
      "('old', 'run', now() - INTERVAL 2 DAY, 'running'), "
      "('recent', 'run', now() - INTERVAL 1 HOUR, 'running')"], "consistency_stale_runs", set()),
    ([entity("e-m1", "merged", "e-nowhere")], "consistency_merged_into_unknown", set()),
    ([entity("e-m2", "merged")], "consistency_merged_status", set()),
    ([entity("e-l1", "merged", "e-l2"), entity("e-l2", "merged", "e-l1")],
     "consistency_merge_loops", {"consistency_merge_chains"}),
    ([entity("e-self", "merged", "e-self")], "consistency_merge_loops",
     {"consistency_merge_chains"}),
    ([entity("e-c2", "merged", "E_LIVE"), entity("e-c1", "merged", "e-c2")],
     "consistency_merge_chains", set()),
    (["INSERT INTO relevance_models SELECT 2, now(), 'fake', 'p', 1, '{}', '{}', true, NULL"],
     "consistency_active_relevance_model", set()),
]


@pytest.fixture(scope="module")
def planted_con(built: Path, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("planted") / "sonoharvest.duckdb"
    shutil.copy(built / "sonoharvest.duckdb", path)
    con = warehouse.connect(path)
    yield con
    con.close()


@pytest.mark.parametrize(("plant", "name", "also"), PLANTED,
                         ids=[f"{i}-{p[1]}" for i, p in enumerate(PLANTED)])
def test_check_finds_each_planted_problem(planted_con, plant, name, also):
    con = planted_con
    live = con.execute(f"SELECT entity_id, primary_key FROM entities WHERE entity_id = {LIVE}"
                       ).fetchone()
    con.execute("BEGIN TRANSACTION")
    try:
        for statement in plant:
            con.execute(statement.replace("PRIMARY_OF_LIVE", live[1]).replace("E_LIVE", live[0]))
        problems = check(con, summary=False)
    finally:
        con.execute("ROLLBACK")
    found = {p.check: p for p in problems}
    assert name in found, problems
    assert findings(problems) <= {name, *also}
    problem = found[name]
    assert problem.count >= 1 and problem.examples and problem.fix
    assert problem.severity == {c.name: c.severity for c in maintenance.load_checks()}[name]
    if name == "consistency_stale_runs":
        assert [e["run_id"] for e in problem.examples] == ["old"]
    assert maintenance.has_errors(problems) == (problem.severity == "error")
    json.dumps([p.as_dict() for p in problems])     # what `check --json` prints


def test_a_check_that_cannot_run_is_an_error(tmp_path):
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE entities (entity_id VARCHAR)")
    problems = check(con)
    con.close()
    assert problems and all(p.severity == "error" for p in problems)
    assert "could not run" in problems[0].detail


def test_an_older_backup_is_upgraded_and_a_newer_one_refused(tmp_path):
    old_schema = tmp_path / "migrations"
    old_schema.mkdir()
    first = sorted(warehouse.MIGRATIONS_DIR.glob("0*.sql"))[:3]
    for path in first:
        shutil.copy(path, old_schema)
    old = Settings(home=tmp_path / "old")
    con = warehouse.connect(old.db_path)
    warehouse.migrate(con, old_schema)
    run_id = warehouse.start_run(con, "run")
    con.close()
    dest = backup(old, tmp_path / "b")

    fresh = Settings(home=tmp_path / "fresh")
    result = restore(fresh, dest)
    newer = sorted(p.name for p in warehouse.MIGRATIONS_DIR.glob("0*.sql"))[3:]
    assert result["upgraded"] == newer and newer
    con = warehouse.connect(fresh.db_path, read_only=True)
    assert con.execute("SELECT run_id FROM runs").fetchall() == [(run_id,)]
    assert con.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == 3 + len(newer)
    con.close()

    manifest = json.loads((dest / "manifest.json").read_text())
    manifest["migrations"].append("9999_from_the_future.sql")
    (dest / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(MaintenanceError, match="9999_from_the_future.sql, which this"):
        restore(Settings(home=tmp_path / "third"), dest)
