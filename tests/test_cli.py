"""The command line as a user runs it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from typer.testing import CliRunner

from sonoharvest.cli import app

runner = CliRunner()


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "harvest", "export", "report", "config"):
        assert command in result.output


def test_config_masks_tokens(monkeypatch, tmp_path):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_abcdefghijklmnop")
    monkeypatch.setenv("SONOHARVEST_HOME", str(tmp_path))
    result = runner.invoke(app, ["config"])
    assert result.exit_code == 0
    assert "ghp_abcdefghijklmnop" not in result.output and "*** (set)" in result.output
    assert "SONOHARVEST_CONTACT" in result.output


def test_report_without_a_warehouse_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("SONOHARVEST_HOME", str(tmp_path / "empty"))
    result = runner.invoke(app, ["report"])
    assert result.exit_code == 1 and "run `sonoharvest run` first" in result.output


def test_unknown_source_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SONOHARVEST_HOME", str(tmp_path))
    result = runner.invoke(app, ["run", "--source", "arxiv"])
    assert result.exit_code == 2 and "choose from zenodo" in result.output


def test_invalid_setting_is_one_line(monkeypatch):
    monkeypatch.setenv("SONOHARVEST_HTTP_MAX_ATTEMPTS", "many")
    result = runner.invoke(app, ["config"])
    assert result.exit_code == 1 and "invalid configuration" in result.output
    assert "Traceback" not in result.output


def test_busy_warehouse_is_one_line_not_a_traceback(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, sys
        con = duckdb.connect({str(home / 'sonoharvest.duckdb')!r})
        print("locked", flush=True)
        sys.stdin.readline()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        env = {"SONOHARVEST_HOME": str(home), "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
        done = subprocess.run([sys.executable, "-m", "sonoharvest.cli", "export"], env=env,
                              capture_output=True, text=True, timeout=60)
    finally:
        holder.communicate("\n", timeout=10)
    assert done.returncode == 1
    assert "in use by another sonoharvest process" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 2


def test_quarantine_lists_items_with_their_reasons(monkeypatch, tmp_path):
    from sonoharvest import warehouse

    monkeypatch.setenv("SONOHARVEST_HOME", str(tmp_path))
    con = warehouse.open_warehouse(tmp_path / "sonoharvest.duckdb")
    warehouse.save_batch(con, "zenodo", [], quarantined=[
        warehouse.Quarantined("dataset:42", "ValidationError: title is empty", {"id": 42})])
    con.close()
    result = runner.invoke(app, ["quarantine", "--json"])
    assert result.exit_code == 0
    assert '"reason": "ValidationError: title is empty"' in result.output
    assert runner.invoke(app, ["quarantine", "--source", "github", "--json"]).output.strip() == "[]"
