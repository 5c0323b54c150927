"""A run killed with SIGKILL at any point loses nothing: a rerun ends where a clean run ends."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest


def sonoharvest(command: str, home: Path, *, kill_after: float | None = None) -> int | bool:
    """Exit code of `sonoharvest COMMAND --demo`; with `kill_after`, whether it was killed."""
    env = {**os.environ, "SONOHARVEST_HOME": str(home), "SONOHARVEST_CONTACT": "tests"}
    proc = subprocess.Popen([sys.executable, "-m", "sonoharvest.cli", "-q", command, "--demo"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if kill_after is None:
        return proc.wait(timeout=600)
    time.sleep(kill_after)
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    return killed


def harvest(home: Path, *, kill_after: float | None = None) -> int | bool:
    return sonoharvest("harvest", home, kill_after=kill_after)


def snapshot(home: Path) -> dict[str, object]:
    con = duckdb.connect(str(home / "sonoharvest.duckdb"), read_only=True)
    try:
        return {
            "records": set(con.execute(
                "SELECT source, source_id, content_hash, status FROM source_records").fetchall()),
            "versions": con.execute(
                "SELECT source, source_id, count(*) FROM record_versions GROUP BY ALL "
                "ORDER BY ALL").fetchall(),
            "quarantine": set(con.execute("SELECT source, item_key FROM quarantine").fetchall()),
            "cursors": {(source, key, _run_time(value)) for source, key, value in con.execute(
                "SELECT source, key, value FROM harvest_cursors").fetchall()},
        }
    finally:
        con.close()


_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")


def _run_time(value: str) -> str:
    """A cursor value with the time of the run itself (DataCite's watermark is the run's start)
    written as <run time>: a rerun starts later than the clean run, and that is right."""
    def mark(match: re.Match[str]) -> str:
        stamp = datetime.fromisoformat(match.group(0).replace("Z", "+00:00"))
        recent = abs((datetime.now(UTC) - stamp).total_seconds()) < 3600
        return "<run time>" if recent else match.group(0)
    return _STAMP.sub(mark, value)


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> dict[str, object]:
    home = tmp_path_factory.mktemp("clean")
    assert harvest(home) == 0
    return snapshot(home)


# Start-up takes about 2 s and the demo harvest about 5 s more: before, early and late.
@pytest.mark.parametrize("kill_after", [1.5, 2.5, 3.5])
def test_killed_run_then_rerun_equals_a_clean_run(tmp_path, clean, kill_after):
    assert harvest(tmp_path, kill_after=kill_after), "the run ended before it could be killed"
    assert harvest(tmp_path) == 0
    after = snapshot(tmp_path)
    assert after["records"] == clean["records"]
    assert after["versions"] == clean["versions"]           # no duplicate history
    assert after["quarantine"] == clean["quarantine"]
    assert after["cursors"] == clean["cursors"]


# --- the whole job ----------------------------------------------------------------------------

def run_job(home: Path, *, kill_after: float | None = None) -> int | bool:
    return sonoharvest("run", home, kill_after=kill_after)


def catalogue(home: Path) -> dict[str, object]:
    con = duckdb.connect(str(home / "sonoharvest.duckdb"), read_only=True)
    try:
        return {
            "records": set(con.execute(
                "SELECT source, source_id, content_hash, status FROM source_records").fetchall()),
            "members": set(con.execute(
                "SELECT source, source_id, entity_id, role FROM entity_members").fetchall()),
            "entities": set(con.execute("SELECT entity_id, kind, status FROM entities").fetchall()),
            "scores": set(con.execute(
                "SELECT entity_id, score, tier FROM v_current_scores").fetchall()),
        }
    finally:
        con.close()


@pytest.mark.slow
def test_a_whole_run_killed_late_then_rerun_equals_a_clean_run(tmp_path):
    """Killed while classifying, resolving, scoring or exporting (60% into a clean run's
    duration), a rerun ends with the same records, entities, ids and scores."""
    start = time.monotonic()
    assert run_job(tmp_path / "clean") == 0
    duration = time.monotonic() - start
    assert run_job(tmp_path / "killed", kill_after=0.6 * duration), "ended before the kill"
    assert run_job(tmp_path / "killed") == 0
    assert catalogue(tmp_path / "killed") == catalogue(tmp_path / "clean")
