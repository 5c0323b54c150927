"""Harvesting on several workers: each harvests into its own copy of the warehouse, and the
run merges the copies back, one transaction per copy.

DuckDB admits one writing process per file, so workers (Prefect tasks on a Dask cluster or on
other machines sharing a folder) never open the warehouse itself: `prepare` checkpoints it and
copies the file once per run; `harvest_into_copy` (picklable arguments only) copies that base
and harvests some sources into it; `merge` attaches the copy read-only and upserts what the
worker wrote after the base was taken.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from sonoharvest import warehouse
from sonoharvest.harvest import SourceResult
from sonoharvest.records import now
from sonoharvest.settings import Settings


@dataclass(frozen=True)
class Base:
    """The warehouse as it was when the run's workers started (picklable)."""

    path: Path
    taken_at: datetime


def prepare(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str) -> Base:
    folder = settings.home / "staging" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    taken_at = now()
    warehouse.checkpoint(con)
    path = folder / "base.duckdb"
    shutil.copyfile(settings.db_path, path)
    return Base(path, taken_at)


def harvest_into_copy(settings: Settings, base: Base, names: list[str], *, full: bool,
                      demo: bool, run_id: str) -> tuple[Path, dict[str, SourceResult]]:
    """Harvest `names` into a private copy of the base; returns the copy and the results."""
    from sonoharvest.pipeline import stage_harvest

    copy = base.path.with_name(f"{'+'.join(names)}.duckdb")
    shutil.copyfile(base.path, copy)
    con = warehouse.open_warehouse(copy)
    try:
        results = stage_harvest(con, settings, names, full=full, demo=demo, run_id=run_id)
    finally:
        con.close()
    return copy, results


def merge(con: duckdb.DuckDBPyConnection, base: Base, copy: Path,
          names: list[str]) -> dict[str, int]:
    return warehouse.merge_staged(con, copy, names, base.taken_at)


def clean(base: Base) -> None:
    """Remove the run's staging folder once everything is merged."""
    shutil.rmtree(base.path.parent, ignore_errors=True)
