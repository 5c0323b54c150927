"""The weekly Prefect flow: thin wiring of sonoharvest's plain pipeline functions."""

from __future__ import annotations

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

from prefect import flow, task  # noqa: E402

from sonoharvest import pipeline  # noqa: E402
from sonoharvest.settings import Settings  # noqa: E402
from sonoharvest.sources import SOURCE_NAMES  # noqa: E402


@task(retries=1, retry_delay_seconds=[300])
def run_pipeline(sources: list[str], full: bool, demo: bool) -> dict:
    """One coarse retry at most; per-request retries live in the HTTP client."""
    outcome = pipeline.run(Settings(), names=sources, full=full, demo=demo, command="flow")
    return {"run_id": outcome.run_id, "status": outcome.status, "counts": outcome.counts,
            "errors": outcome.errors}


@flow(name="sonoharvest-weekly", log_prints=False)
def weekly(sources: list[str] | None = None, full: bool = False, demo: bool = False) -> dict:
    """Harvest every source (or the ones named), then export."""
    return run_pipeline(list(sources or SOURCE_NAMES), full, demo)


if __name__ == "__main__":
    weekly(demo=True)
