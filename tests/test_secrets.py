"""Configured tokens go to their own API host only, and nowhere else: not into logs, output,
the warehouse, the curation store, the exports, or the error messages of failed runs.

The demo's fake APIs accept any token. `pipeline.demo_settings` replaces GITHUB_TOKEN and
KAGGLE_API_TOKEN by "demo-token" (Kaggle needs one to run at all); these tests remove that
override so that every real configured token (GITHUB_TOKEN, HF_TOKEN, ZENODO_TOKEN,
KAGGLE_API_TOKEN, FIGSHARE_TOKEN, and KAGGLE_USERNAME + KAGGLE_KEY) is actually sent, and they check that it
was. Only the embedding classifier is replaced (by a stub: it takes minutes and sends no
token); harvest, curator decisions, resolution, link checks, scoring, the review queue and
the exports all run for real.
"""

from __future__ import annotations

import base64
import json
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from typer.testing import CliRunner

import sonoharvest.demo
from sonoharvest import pipeline
from sonoharvest.cli import app
from sonoharvest.settings import Settings

TOKENS = {
    "GITHUB_TOKEN": "ghp_SECRETTESTTOKEN123",
    "HF_TOKEN": "hf_SECRETTESTTOKEN456",
    "ZENODO_TOKEN": "zen_SECRETTESTTOKEN789",
    "KAGGLE_API_TOKEN": "KGAT_SECRETTESTTOKEN000",
    "FIGSHARE_TOKEN": "figSECRETTESTTOKEN111",
}
# Where each token may go: its own API hosts (the papers source reads the Hugging Face
# datasets server with HF_TOKEN).
OWN_HOSTS = {
    "GITHUB_TOKEN": {"api.github.com"},
    "HF_TOKEN": {"huggingface.co", "datasets-server.huggingface.co"},
    "ZENODO_TOKEN": {"zenodo.org"},
    "KAGGLE_API_TOKEN": {"api.kaggle.com"},
    "KAGGLE_KEY": {"api.kaggle.com"},
    "FIGSHARE_TOKEN": {"api.figshare.com"},
}
NOISY = ("sonoharvest", "sonoharvest.sources", "httpx", "httpcore", "urllib3")
runner = CliRunner()


def fake_classify(con: duckdb.DuckDBPyConnection, settings: Settings,
                  progress: Any = None) -> dict[str, int]:
    """Stands in for the embedding classifier: datasets, models and papers are relevant."""
    con.execute(
        "INSERT OR REPLACE INTO classifications SELECT source, source_id, content_hash, 1, 0.9, "
        "true, 'likely', false, CASE WHEN kind_hint IN ('dataset', 'model') THEN kind_hint "
        "ELSE 'other' END, [], [], '{}', now() FROM source_records "
        "WHERE kind_hint IN ('dataset', 'model', 'paper')")
    return {"classified": 1}


class Recorder(httpx.AsyncBaseTransport):
    """Wraps the demo's fake internet: records (host, Authorization) of every request and can
    answer some requests itself (a misbehaving server)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, sent: list[tuple[str, str | None]],
                 answer: Callable[[httpx.Request], httpx.Response | None] | None = None,
                 tag: str = "") -> None:
        self.inner, self.sent, self.answer, self.tag = inner, sent, answer, tag

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((self.tag + request.url.host, request.headers.get("authorization")))
        reply = self.answer(request) if self.answer else None
        return reply if reply is not None else await self.inner.handle_async_request(request)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """Real tokens in the environment and in the demo; every request recorded."""
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    for name in ("github_token", "kaggle_api_token"):
        monkeypatch.delitem(pipeline.DEMO_OVERRIDES, name)
    log: list[tuple[str, str | None]] = []
    harvest_network = pipeline.demo_network
    monkeypatch.setattr(pipeline, "demo_network", lambda names: _wrap(
        harvest_network(names), log))
    web = sonoharvest.demo.web_internet

    class RecordedWeb:
        def __init__(self, clock: Any) -> None:
            self.inner = web(clock)

        def transport(self) -> httpx.AsyncBaseTransport:
            return Recorder(self.inner.transport(), log, tag="web:")   # the link checker

    monkeypatch.setattr(sonoharvest.demo, "web_internet", RecordedWeb)
    monkeypatch.setattr(pipeline, "stage_classify", fake_classify)
    return log


def _wrap(network: tuple[httpx.AsyncBaseTransport, Any], log: list[tuple[str, str | None]],
          answer: Callable[[httpx.Request], httpx.Response | None] | None = None
          ) -> tuple[httpx.AsyncBaseTransport, Any]:
    transport, clock = network
    return Recorder(transport, log, answer), clock


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Everything at DEBUG, libraries included, and without the CLI's redaction filter."""
    caplog.set_level(logging.DEBUG)
    for name in NOISY:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def variants(secret: str) -> set[str]:
    return {secret, secret.lower(), base64.b64encode(secret.encode()).decode()}


def leaks(home: Path, secrets: list[str]) -> list[str]:
    """Every place under `home` where a secret shows up: raw bytes of every file, and the
    decoded contents of the DuckDB warehouse, the SQLite store and the Parquet exports
    (their storage is compressed, so raw bytes alone prove nothing)."""
    needles = {v.lower() for s in secrets for v in variants(s)}
    found = []

    def scan(where: str, text: str) -> None:
        lowered = text.lower()
        found.extend(f"{where}: {n}" for n in needles if n in lowered)

    for path in sorted(home.rglob("*")):
        if path.is_file():
            scan(f"{path} (bytes)", path.read_bytes().decode("latin-1"))
    con = duckdb.connect(str(home / "sonoharvest.duckdb"), read_only=True)
    try:
        for (table,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall():
            scan(f"warehouse {table}", repr(con.execute(f'SELECT * FROM "{table}"').fetchall()))
    finally:
        con.close()
    for path in sorted(home.rglob("*.parquet")):
        scan(str(path), repr(duckdb.sql(f"SELECT * FROM read_parquet('{path}')").fetchall()))
    for path in sorted(home.glob("*.sqlite")):
        db = sqlite3.connect(str(path))
        try:
            for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
                scan(f"{path} {table}", repr(db.execute(f'SELECT * FROM "{table}"').fetchall()))
        finally:
            db.close()
    return found


def assert_sent_only_home(sent: list[tuple[str, str | None]], tokens: dict[str, str]) -> None:
    """Each token was sent (so it was really exercised), and only to its own hosts."""
    for name, secret in tokens.items():
        hosts = {host for host, auth in sent if auth and secret in _decoded(auth)}
        assert hosts, f"{name} was never sent: the test did not exercise it"
        assert hosts <= OWN_HOSTS[name], f"{name} went to {hosts - OWN_HOSTS[name]}"


def _decoded(auth: str) -> str:
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "basic":
        return base64.b64decode(value).decode(errors="replace")
    return value


def test_a_whole_demo_run_keeps_every_token_secret(tmp_path, sent, logs, capfd):
    home = tmp_path / "home"
    outcome = pipeline.run(Settings(home=home), demo=True)
    assert outcome.status == "ok", outcome.errors
    assert {"harvest", "resolve", "links", "score", "queue", "export"} <= set(outcome.counts)
    assert list((home / "exports").glob("*.parquet")) and (home / "curation.sqlite").exists()

    assert_sent_only_home(sent, TOKENS)
    link_checks = [auth for host, auth in sent if host.startswith("web:")]
    assert len(link_checks) > 50 and not any(link_checks)   # web pages get no token at all
    assert {"web:huggingface.co", "web:github.com"} <= {host for host, _ in sent}
    secrets = list(TOKENS.values())
    assert logs.records and not [s for s in secrets if s in logs.text]
    out, err = capfd.readouterr()
    assert not [s for s in secrets if s in out + err]
    assert leaks(home, secrets) == []


def _misbehaving(request: httpx.Request) -> httpx.Response | None:
    """Zenodo refuses the token and echoes it back; the Hub fails for good (500, echoing it
    too); Kaggle redirects to another host."""
    auth = request.headers.get("authorization", "")
    if request.url.host == "zenodo.org":
        return httpx.Response(401, json={"message": f"invalid token {auth}"},
                              headers={"www-authenticate": f'Bearer error="{auth}"'})
    if request.url.host == "huggingface.co":
        return httpx.Response(500, text=f"internal error while checking {auth}")
    if request.url.host == "api.kaggle.com":
        return httpx.Response(302, headers={"location": "https://collector.example.net/in"})
    return None


def test_failed_sources_report_errors_without_tokens(tmp_path, sent, logs, capfd, monkeypatch):
    network = pipeline.demo_network
    monkeypatch.setattr(pipeline, "demo_network",
                        lambda names: _wrap(network(names), sent, _misbehaving))
    home = tmp_path / "home"
    settings = Settings(home=home, http_max_attempts=2)
    outcome = pipeline.run(settings, demo=True, names=["zenodo", "huggingface", "kaggle", "github"],
                           classify=False, export_results=True)

    assert outcome.status == "partial"
    failed = {e["source"]: e["message"] for e in outcome.errors}
    assert set(failed) == {"zenodo", "huggingface", "kaggle"}
    assert "HTTP 401" in failed["zenodo"] and "check the token" in failed["zenodo"]
    secrets = list(TOKENS.values())
    assert not [s for s in secrets if s in json.dumps(outcome.errors)]
    # The redirect to another host did not carry the Kaggle token along.
    assert ("collector.example.net", None) in sent
    assert_sent_only_home(sent, {k: v for k, v in TOKENS.items() if k != "FIGSHARE_TOKEN"})
    assert not [s for s in secrets if s in logs.text]
    out, err = capfd.readouterr()
    assert not [s for s in secrets if s in out + err]
    con = duckdb.connect(str(settings.db_path), read_only=True)
    (errors,) = con.execute("SELECT errors FROM runs").fetchone()
    con.close()
    assert "HTTP 401" in errors and not [s for s in secrets if s in errors]
    assert leaks(home, secrets) == []

    monkeypatch.setenv("SONOHARVEST_HOME", str(home))
    report = runner.invoke(app, ["report", "--json"])
    assert "HTTP 401" in report.output
    assert not [s for s in secrets if s in report.output]


def test_kaggle_username_and_key_stay_secret(tmp_path, sent, logs, monkeypatch):
    monkeypatch.delenv("KAGGLE_API_TOKEN")
    monkeypatch.setenv("KAGGLE_USERNAME", "ann")
    monkeypatch.setenv("KAGGLE_KEY", "kagglekeySECRET42")
    home = tmp_path / "home"
    outcome = pipeline.run(Settings(home=home), demo=True, names=["kaggle"], classify=False,
                           export_results=False)
    assert outcome.status == "ok", outcome.errors
    assert_sent_only_home(sent, {"KAGGLE_KEY": "kagglekeySECRET42"})
    pair = base64.b64encode(b"ann:kagglekeySECRET42").decode()
    assert "kagglekeySECRET42" not in logs.text and pair not in logs.text
    assert leaks(home, ["kagglekeySECRET42", pair]) == []


@pytest.fixture
def cli_logging():
    """The command line replaces the root logger's handlers (with one on the runner's stream,
    closed afterwards): put them back so later tests log normally."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in (*NOISY, "prefect",
                                                                "sentence_transformers",
                                                                "transformers")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


def test_the_command_line_masks_tokens_in_config_and_verbose_logs(tmp_path, monkeypatch,
                                                                   cli_logging):
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KAGGLE_KEY", "kagglekeySECRET42")
    monkeypatch.setenv("SONOHARVEST_HOME", str(tmp_path / "home"))
    secrets = [*TOKENS.values(), "kagglekeySECRET42"]

    shown = runner.invoke(app, ["config"])
    assert shown.exit_code == 0 and shown.output.count("*** (set)") == len(secrets)
    assert not [s for s in secrets if s in shown.output]

    # --verbose: DEBUG logs of every library. The demo keeps ZENODO_TOKEN and HF_TOKEN.
    ran = runner.invoke(app, ["-v", "harvest", "--demo", "--source", "zenodo",
                              "--source", "huggingface"])
    assert ran.exit_code == 0, ran.output
    assert "DEBUG" in ran.output and "HTTP Request" in ran.output      # the logs are there
    assert not [s for s in secrets if s in ran.output]
    assert leaks(tmp_path / "home", secrets) == []
