"""The weekly job as plain functions: each stage takes the warehouse and returns its counts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import duckdb
import httpx

from sonoharvest import export, warehouse
from sonoharvest.harvest import OnBatch, SourceResult, harvest
from sonoharvest.http import Clock, VirtualClock
from sonoharvest.settings import Settings
from sonoharvest.sources import SOURCE_NAMES, get_source

log = logging.getLogger(__name__)

# The demo's fake APIs accept any token. Kaggle needs one to run at all, and GitHub fetches
# READMEs only for an authenticated client beyond a small anonymous cap.
DEMO_OVERRIDES: dict[str, Any] = {
    "zenodo_url": "https://zenodo.org",
    "github_url": "https://api.github.com",
    "hf_url": "https://huggingface.co",
    "hf_datasets_server_url": "https://datasets-server.huggingface.co",
    "kaggle_url": "https://api.kaggle.com",
    "datacite_url": "https://api.datacite.org",
    "figshare_url": "https://api.figshare.com",
    "figshare_stats_url": "https://stats.figshare.com",
    "grandchallenge_url": "https://grand-challenge.org",
    "kaggle_api_token": "demo-token",
    "github_token": "demo-token",
}


@dataclass
class RunOutcome:
    run_id: str
    status: str                              # ok | partial | failed
    counts: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return {"ok": 0, "partial": 3}.get(self.status, 1)


def demo_settings(settings: Settings) -> Settings:
    current = {name: getattr(settings, name) for name in type(settings).model_fields}
    return type(settings)(**{**current, **DEMO_OVERRIDES})   # validated, unlike model_copy


def demo_network(names: list[str]) -> tuple[httpx.AsyncBaseTransport, Clock]:
    """The bundled fake APIs and a virtual clock, so the demo needs no network and no waiting."""
    from sonoharvest.demo import build_internet

    clock = VirtualClock()
    return build_internet(clock, tuple(names)).transport(), clock


def stage_harvest(con: duckdb.DuckDBPyConnection, settings: Settings, names: list[str], *,
                  full: bool = False, demo: bool = False, run_id: str | None = None,
                  on_batch: OnBatch | None = None) -> dict[str, SourceResult]:
    transport, clock = demo_network(names) if demo else (None, None)
    sources = [get_source(name) for name in names]
    return asyncio.run(harvest(con, settings, sources, full=full, run_id=run_id,
                               transport=transport, clock=clock, on_batch=on_batch))


def stage_classify(con: duckdb.DuckDBPyConnection, settings: Settings,
                   progress: Callable[[int], None] | None = None) -> dict[str, int]:
    from sonoharvest.classify import classify_pending  # loads torch: only when needed

    return classify_pending(con, settings, progress=progress)


def stage_resolve(con: duckdb.DuckDBPyConnection, settings: Settings,
                  progress: Callable[[int], None] | None = None) -> dict[str, int]:
    from sonoharvest.entities import resolve_entities

    return resolve_entities(con, settings, progress)


# An address outside every private and reserved range, for the demo's fake web.
DEMO_WEB_ADDRESS = "93.184.215.14"


def _web_options(demo: bool) -> dict[str, Any]:
    """For the demo: the fake web, a virtual clock and a resolver giving a public address."""
    if not demo:
        return {}
    from sonoharvest.demo import web_internet

    clock = VirtualClock()
    return {"transport": web_internet(clock).transport(), "clock": clock,
            "resolve": lambda host: [DEMO_WEB_ADDRESS]}


def stage_links(con: duckdb.DuckDBPyConnection, settings: Settings, *, days: float = 7,
                demo: bool = False,
                progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Check the primary URL of each entity not checked in `days`; results refresh the facts."""
    from datetime import timedelta

    from sonoharvest.entities import refresh_link_facts
    from sonoharvest.http import user_agent
    from sonoharvest.linkcheck import check_links
    from sonoharvest.records import now

    urls = warehouse.urls_to_check(con, now() - timedelta(days=days))
    options = _web_options(demo)
    results = asyncio.run(check_links(
        urls, user_agent=user_agent(settings), allow_private=settings.allow_private_links,
        per_host_per_minute=settings.links_per_host_per_minute, timeout=settings.http_timeout,
        on_result=(lambda _: progress(1)) if progress else None, **options))
    at = now()      # the demo's virtual clock would date the checks wrongly
    warehouse.save_link_checks(con, [(r.url, r.status, r.final_url, r.redirects, r.ok, r.error,
                                      at) for r in results])
    refresh_link_facts(con)
    return {"checked": len(results), "ok": sum(r.ok for r in results),
            "dead": sum(not r.ok for r in results)}


def stage_landing(con: duckdb.DuckDBPyConnection, settings: Settings, *, demo: bool = False,
                  progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Read the landing pages due (politely, cached) and fold what they state into facts."""
    from datetime import timedelta

    from sonoharvest.entities import refresh_landing_facts
    from sonoharvest.http import user_agent
    from sonoharvest.landing import LandingConfig, Page, fetch_pages
    from sonoharvest.records import now

    config = LandingConfig.load(settings.rubrics_dir)
    urls = warehouse.landing_urls_due(con, now() - timedelta(days=config.refresh_days),
                                      list(config.skip_hosts), config.max_pages_per_run)
    cached = warehouse.landing_pages_for(con, urls)
    options = _web_options(demo)
    at = now()      # the demo's virtual clock would date the pages wrongly

    def save(page: Page) -> None:       # each page in its own transaction: a crash keeps them
        page.fetched_at = at if demo else page.fetched_at
        warehouse.save_landing_page(con, page.row())
        if progress:
            progress(1)

    pages = asyncio.run(fetch_pages(
        urls, user_agent=user_agent(settings), config=config,
        validators={u: (c["etag"], c["last_modified"]) for u, c in cached.items()
                    if c["extracted"] is not None},
        allow_private=settings.allow_private_links,
        per_host_per_minute=settings.links_per_host_per_minute, timeout=settings.http_timeout,
        on_page=save, **options))
    return {"fetched": len(pages), "read": sum(p.ok for p in pages),
            "unchanged": sum(p.status == 304 for p in pages),
            "refused_by_robots": sum(p.robots in ("disallowed", "unreachable") for p in pages),
            "failed": sum(not p.ok and p.robots not in ("disallowed", "unreachable")
                          for p in pages),
            "entities_updated": refresh_landing_facts(con)}


def stage_score(con: duckdb.DuckDBPyConnection, settings: Settings, *, everything: bool = False,
                run_id: str | None = None,
                progress: Callable[[int], None] | None = None) -> dict[str, int]:
    from sonoharvest.scoring import score_entities

    return score_entities(con, settings, everything=everything, run_id=run_id,
                          progress=progress)


def stage_apply_decisions(con: duckdb.DuckDBPyConnection, settings: Settings,
                          run_id: str) -> dict[str, int]:
    """Curator decisions made since the last run: merges, splits, states, training labels."""
    from sonoharvest.curation import CurationStore
    from sonoharvest.curation_sync import apply_decisions

    store = CurationStore.open(settings)
    try:
        return apply_decisions(con, settings, store, run_id)
    finally:
        store.close()


def stage_publish_queue(con: duckdb.DuckDBPyConnection, settings: Settings,
                        run_id: str) -> dict[str, int]:
    from sonoharvest.curation import CurationStore
    from sonoharvest.curation_sync import publish_queue

    store = CurationStore.open(settings)
    try:
        published = publish_queue(con, store, run_id)
        return {"items": published, "pending": len(store.items(status="pending"))}
    finally:
        store.close()


def stage_export(con: duckdb.DuckDBPyConnection, settings: Settings,
                 run_id: str | None = None) -> dict[str, int]:
    """Parquet, CSV and JSON-LD exports, then the static catalogue page built from them."""
    from sonoharvest.catalogue_page import build_catalogue

    counts = export.export_all(con, settings.exports_dir, run_id)
    build_catalogue(settings.exports_dir)
    return counts


@dataclass
class Job:
    """One run of the job: the warehouse, its run row and the outcome being recorded."""

    settings: Settings
    con: duckdb.DuckDBPyConnection
    outcome: RunOutcome
    demo: bool = False

    @property
    def run_id(self) -> str:
        return self.outcome.run_id

    def record_harvest(self, results: dict[str, SourceResult]) -> None:
        """Per-source counts and failures; the run is partial when some sources failed."""
        self.outcome.counts["harvest"] = {name: r.as_dict() for name, r in results.items()}
        failed = [r for r in results.values() if r.status == "failed"]
        self.outcome.errors += [{"stage": "harvest", "source": r.source, "message": r.message}
                                for r in failed]
        if failed:
            ran = [r for r in results.values() if r.status != "skipped"]
            self.outcome.status = "failed" if len(failed) == len(ran) else "partial"


@contextmanager
def job(settings: Settings, command: str, *, demo: bool = False) -> Iterator[Job]:
    """Open the warehouse and a run row; the row is finished whatever happens."""
    if demo:
        settings = demo_settings(settings)
    con = warehouse.open_warehouse(settings.db_path)
    try:
        current = Job(settings, con, RunOutcome(warehouse.start_run(con, command), "ok"), demo)
        try:
            yield current
        except Exception as exc:
            current.outcome.status = "failed"
            current.outcome.errors.append({"stage": "run", "source": "",
                                           "message": str(exc)[:500]})
            raise
        finally:
            warehouse.finish_run(con, current.run_id, current.outcome.status,
                                 current.outcome.counts, current.outcome.errors)
    finally:
        con.close()


def after_harvest(j: Job, *, classify: bool = True, check_links: bool = True,
                  export_results: bool = True,
                  on_classified: Callable[[int], None] | None = None) -> None:
    """The stages after harvesting, in order, each recording its counts."""
    con, settings, counts = j.con, j.settings, j.outcome.counts
    if classify:
        counts["review"] = stage_apply_decisions(con, settings, j.run_id)
        counts["classify"] = stage_classify(con, settings, on_classified)
        counts["resolve"] = stage_resolve(con, settings)
        if check_links:
            counts["links"] = stage_links(con, settings, demo=j.demo)
            counts["landing"] = stage_landing(con, settings, demo=j.demo)
        counts["score"] = stage_score(con, settings, run_id=j.run_id)
        counts["queue"] = stage_publish_queue(con, settings, j.run_id)
    if export_results:
        counts["export"] = stage_export(con, settings, j.run_id)


def run(settings: Settings, *, names: list[str] | None = None, full: bool = False,
        demo: bool = False, command: str = "run", export_results: bool = True,
        classify: bool = True, check_links: bool = True, on_batch: OnBatch | None = None,
        on_classified: Callable[[int], None] | None = None) -> RunOutcome:
    """Harvest, apply curator decisions, classify, resolve, check links, score, publish the
    review queue, then export; the run row records per-stage counts and every error."""
    names = list(names or SOURCE_NAMES)
    with job(settings, command, demo=demo) as j:
        j.record_harvest(stage_harvest(j.con, j.settings, names, full=full, demo=demo,
                                       run_id=j.run_id, on_batch=on_batch))
        after_harvest(j, classify=classify, check_links=check_links,
                      export_results=export_results, on_classified=on_classified)
        return j.outcome


def report_of(settings: Settings, run_id: str | None = None) -> dict[str, Any] | None:
    """The change report of a run (default: the latest finished one)."""
    from sonoharvest.curation import CurationStore
    from sonoharvest.report import run_report

    store = CurationStore.open(settings)
    try:
        pending = len(store.items(status="pending"))
    finally:
        store.close()
    con = warehouse.connect(settings.db_path, read_only=True)
    try:
        return run_report(con, run_id, pending_review=pending)
    finally:
        con.close()
