"""The weekly Prefect flow and its deployment: grouping, schedule, and a whole offline run."""

from __future__ import annotations

import sys

import pytest
import yaml

from sonoharvest.settings import REPO_ROOT
from sonoharvest.sources import SOURCE_NAMES

sys.path.insert(0, str(REPO_ROOT / "flows"))
sys.path.insert(0, str(REPO_ROOT / "deployments"))

import serve  # noqa: E402
import weekly  # noqa: E402


def test_sources_sharing_a_budget_share_a_task():
    assert weekly.source_groups(["zenodo", "github", "kaggle", "huggingface", "papers"]) == [
        ["zenodo"], ["github"], ["kaggle"], ["huggingface", "papers"]]
    assert weekly.source_groups(["papers", "zenodo"]) == [["papers"], ["zenodo"]]


def test_prefect_yaml_schedules_weekly_in_an_explicit_time_zone_one_run_at_a_time():
    spec = yaml.safe_load((REPO_ROOT / "deployments" / "prefect.yaml").read_text())
    (deployment,) = spec["deployments"]
    path, _, name = deployment["entrypoint"].partition(":")
    assert (REPO_ROOT / path).exists() and name == "weekly"
    (schedule,) = deployment["schedules"]
    cron = serve.Cron(schedule["cron"], timezone=schedule["timezone"])
    assert cron.timezone == "Europe/London" and cron.cron == serve.SCHEDULE.cron
    assert deployment["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}


def test_the_serve_script_builds_the_same_deployment():
    built = serve.weekly.to_deployment(name="weekly", schedules=[serve.SCHEDULE],
                                       concurrency_limit=serve.ONE_AT_A_TIME)
    (schedule,) = built.schedules
    assert schedule.schedule.cron == "0 3 * * 1"
    assert schedule.schedule.timezone == "Europe/London"
    assert built.concurrency_options.collision_strategy == "CANCEL_NEW"


def test_unknown_sources_are_refused_before_anything_runs():
    with pytest.raises(ValueError, match="unknown source"):
        weekly.weekly.fn(sources=["nope"])


@pytest.mark.slow
def test_the_flow_runs_end_to_end_offline_on_dask_and_publishes_a_report(tmp_path,
                                                                         monkeypatch):
    """The whole flow on the demo data, its harvest tasks on a Dask cluster: their arguments
    and results must cross a serialisation boundary, as they would to separate workers."""
    from prefect.client.orchestration import get_client
    from prefect.testing.utilities import prefect_test_harness
    from prefect_dask import DaskTaskRunner

    monkeypatch.setenv("SONOHARVEST_HOME", str(tmp_path))
    monkeypatch.setenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    runner = DaskTaskRunner(cluster_kwargs={"processes": False, "n_workers": 1,
                                            "threads_per_worker": 4, "dashboard_address": None})
    with prefect_test_harness(server_startup_timeout=180):
        result = weekly.weekly.with_options(task_runner=runner)(demo=True, check_links=False)
        with get_client(sync_client=True) as client:
            artifacts = client.read_artifacts()
    assert result["status"] == "ok", result["errors"]
    assert set(result["counts"]["harvest"]) == set(SOURCE_NAMES)
    assert {"classify", "resolve", "score", "queue", "export"} <= set(result["counts"])
    assert result["counts"]["resolve"]["entities"] >= 100
    assert "| new entities |" in result["report"]
    assert "| zenodo |" in result["report"] and "found only there" in result["report"]
    assert "| where entities are hosted |" in result["report"]
    assert "active entities were found by one source only" in result["report"]
    assert any(a.key == "sonoharvest-weekly-report" and "sonoharvest run" in (a.data or "")
               for a in artifacts)
    assert (tmp_path / "exports" / "datasets.parquet").exists()
    assert not (tmp_path / "staging").exists() or not any((tmp_path / "staging").iterdir())
