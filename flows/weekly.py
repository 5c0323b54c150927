"""The weekly Prefect flow: thin wiring of sonoharvest's plain pipeline functions.

Sources are harvested in parallel, each in its own task (sources sharing one API budget, such
as huggingface and papers, share a task so the budget stays one), with at most one coarse
retry: per-request retries live in the HTTP client. Each harvest task writes into its own
copy of the warehouse and the flow merges the copies (staging.py), so the tasks can run on
any task runner, Dask or separate workers included. Then classify, resolve, check links,
score, publish the review queue, export, and a Markdown report as a Prefect artifact.
`pipeline.run` runs the very same stages without Prefect.
"""

from __future__ import annotations

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.artifacts import create_markdown_artifact  # noqa: E402
from prefect.cache_policies import NONE  # noqa: E402
from prefect.task_runners import ThreadPoolTaskRunner  # noqa: E402

from sonoharvest import pipeline, staging  # noqa: E402
from sonoharvest.harvest import SourceResult  # noqa: E402
from sonoharvest.report import to_markdown  # noqa: E402
from sonoharvest.settings import Settings  # noqa: E402
from sonoharvest.sources import SOURCE_NAMES  # noqa: E402

# Sources that draw on one rate-limit budget (huggingface.co/api) run in one task.
SHARED_BUDGET = (("huggingface", "papers"),)


def source_groups(names: list[str]) -> list[list[str]]:
    """The harvest tasks: one per source, except sources sharing a budget go together."""
    groups, done = [], set()
    for name in names:
        if name in done:
            continue
        shared = next((g for g in SHARED_BUDGET if name in g), (name,))
        group = [n for n in shared if n in names]
        groups.append(group)
        done.update(group)
    return groups


@task(retries=1, retry_delay_seconds=60, task_run_name="harvest {names}")
def harvest_sources(settings: Settings, base: staging.Base, names: list[str], full: bool,
                    demo: bool, run_id: str) -> tuple[Path, dict[str, SourceResult]]:
    """Harvest some sources into a private copy of the warehouse (picklable arguments only,
    so the task can run on any worker that sees the staging folder). A source failure is
    reported in its result; only an unexpected error fails (and retries) the task."""
    return staging.harvest_into_copy(settings, base, names, full=full, demo=demo,
                                     run_id=run_id)


@task(cache_policy=NONE)
def later_stages(job: pipeline.Job, check_links: bool) -> dict[str, Any]:
    """Apply decisions, classify, resolve, check links, score, publish the queue, export."""
    pipeline.after_harvest(job, check_links=check_links)
    return job.outcome.counts


@task(cache_policy=NONE)
def publish_report(run_id: str) -> str:
    """The change report of the finished run, as Markdown and as a Prefect artifact."""
    found = pipeline.report_of(Settings(), run_id)
    markdown = to_markdown(found) if found else f"run {run_id}: no report"
    create_markdown_artifact(markdown, key="sonoharvest-weekly-report",
                             description=f"sonoharvest run {run_id}")
    return markdown


@flow(name="sonoharvest-weekly", log_prints=False,
      task_runner=ThreadPoolTaskRunner(max_workers=4))
def weekly(sources: list[str] | None = None, full: bool = False, demo: bool = False,
           check_links: bool = True) -> dict[str, Any]:
    """The weekly job. `sources` limits the harvest; `full` sweeps everything."""
    names = list(sources or SOURCE_NAMES)
    unknown = sorted(set(names) - set(SOURCE_NAMES))
    if unknown:
        raise ValueError(f"unknown source(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(SOURCE_NAMES)}")
    with pipeline.job(Settings(), "flow", demo=demo) as job:
        base = staging.prepare(job.con, job.settings, job.run_id)
        groups = source_groups(names)
        futures = [harvest_sources.submit(job.settings, base, group, full, demo, job.run_id)
                   for group in groups]
        results: dict[str, SourceResult] = {}
        for group, future in zip(groups, futures, strict=True):
            copy, found = future.result()
            staging.merge(job.con, base, copy, group)       # one writer: this process
            results.update(found)
        staging.clean(base)
        job.record_harvest(results)
        later_stages(job, check_links)          # called, not submitted: runs in this process
        # The run row is finished when the job closes; the report reads this run's changes.
        summary = {"run_id": job.run_id, "status": job.outcome.status,
                   "counts": job.outcome.counts, "errors": job.outcome.errors}
    markdown = publish_report(summary["run_id"])
    get_run_logger().info("run %s: %s", summary["run_id"], summary["status"])
    return {**summary, "report": markdown}


if __name__ == "__main__":
    weekly(demo=True)
