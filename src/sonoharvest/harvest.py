"""Harvest: run sources concurrently through one HTTP client and store their batches."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import httpx
from pydantic import ValidationError

from sonoharvest import warehouse
from sonoharvest.http import REQUEST_TAG, Clock, HttpClient, HttpError
from sonoharvest.records import RawItem, Record, now
from sonoharvest.settings import Settings
from sonoharvest.sources.base import Source, SourceContext, load_config

log = logging.getLogger(__name__)

OnBatch = Callable[[str, int], None]
COUNTERS = ("new", "changed", "unchanged", "withdrawn", "quarantined", "requests")


@dataclass
class SourceResult:
    source: str
    status: str = "ok"              # ok | failed | skipped
    message: str = ""
    counts: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        counts = {key: self.counts.get(key, 0) for key in COUNTERS} | dict(self.counts)
        return {"status": self.status, "message": self.message, **counts}


def map_items(source: Source, items: Iterable[RawItem]) -> tuple[
        list[tuple[RawItem, Record]], list[warehouse.Quarantined]]:
    """Map raw items to records; an item that fails is quarantined with its reason."""
    mapped, bad = [], []
    for item in items:
        try:
            record = source.to_record(item)
            if record.source != source.name:
                raise ValueError(f"mapped to source {record.source!r}, not {source.name!r}")
            mapped.append((item, record))
        except Exception as exc:  # noqa: BLE001 - any mapping failure quarantines the item
            bad.append(warehouse.Quarantined(_item_key(item), _reason(exc), item.payload))
    return mapped, bad


def _reason(exc: Exception) -> str:
    """One line saying what is wrong with the item."""
    if isinstance(exc, ValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}"
                             for e in exc.errors())
        return f"invalid record: {problems}"[:500]
    return f"{type(exc).__name__}: {exc}".replace("\n", " ")[:500]


def _item_key(item: RawItem) -> str:
    payload = item.payload if isinstance(item.payload, dict) else {}
    if isinstance(payload.get("repo"), dict):       # composite payloads (GitHub repo + README)
        payload = payload["repo"]
    for key in ("id", "full_name", "ref", "doi", "slug"):
        if payload.get(key) not in (None, ""):
            return f"{item.item_type}:{payload[key]}"
    blob = json.dumps(item.payload, sort_keys=True, default=str).encode()
    return f"{item.item_type}:sha256:{hashlib.sha256(blob).hexdigest()[:16]}"


async def harvest_source(con: duckdb.DuckDBPyConnection, http: HttpClient, settings: Settings,
                         source: Source, *, full: bool, run_id: str | None,
                         on_batch: OnBatch | None = None) -> SourceResult:
    """Harvest one source; every failure is caught and reported, never raised."""
    result = SourceResult(source.name)
    REQUEST_TAG.set(source.name)
    try:
        reason = source.unavailable(settings)
        if reason:
            log.warning("%s skipped: %s", source.name, reason)
            result.status, result.message = "skipped", reason
            return result
        await _harvest_into(con, http, settings, source, full, run_id, on_batch, result)
    except HttpError as exc:
        result.status, result.message = "failed", str(exc)
    except Exception as exc:  # noqa: BLE001 - a broken source must not stop the others
        log.debug("%s failed", source.name, exc_info=True)
        result.status, result.message = "failed", f"{type(exc).__name__}: {exc}"[:500]
    if result.status == "failed":
        log.error("%s failed: %s", source.name, result.message)
    result.counts["requests"] = http.stats.by_tag[source.name]
    return result


async def _harvest_into(con: duckdb.DuckDBPyConnection, http: HttpClient, settings: Settings,
                        source: Source, full: bool, run_id: str | None,
                        on_batch: OnBatch | None, result: SourceResult) -> None:
    base_url = source.base_url(settings).rstrip("/")
    auth = source.auth_headers(settings)
    if auth:
        http.authorize(base_url, auth)
    for prefix, per_minute in source.rate_limits(base_url, bool(auth)):
        http.limit(prefix, per_minute)
    started = now()
    ctx = SourceContext(
        source=source.name, http=http, settings=settings, base_url=base_url,
        config=load_config(settings.rubrics_dir, source.name), full=full, started_at=started,
        authenticated=bool(auth), cursors=_cursors(con, source.name),
        known=lambda **kw: warehouse.known_ids(con, source.name, **kw),
        stored=lambda source_id: warehouse.raw_payload(con, source.name, source_id),
    )
    async for batch in source.harvest(ctx):
        mapped, bad = map_items(source, batch.items)
        counts = warehouse.save_batch(
            con, source.name, mapped, quarantined=bad, cursor=batch.cursor,
            unchanged=batch.unchanged, gone=batch.gone, run_id=run_id,
            validators=http.validators.take(source.name) if http.validators else (),
        )
        result.counts.update(counts)
        if on_batch:
            on_batch(source.name, len(batch.items) + len(batch.unchanged))
    if full:
        result.counts["withdrawn"] += warehouse.withdraw_unseen(con, source.name, started)


def remap(con: duckdb.DuckDBPyConnection, source: Source,
          run_id: str | None = None) -> dict[str, int]:
    """Map every stored raw payload again (after a mapping change), without any request.

    A payload the new mapping rejects is quarantined; the stored record keeps its last good
    mapping.
    """
    mapped, bad = map_items(source, warehouse.stored_items(con, source.name))
    counts = warehouse.save_remapped(con, source.name, mapped, run_id)
    if bad:
        warehouse.save_batch(con, source.name, [], quarantined=bad, run_id=run_id)
    return {**counts, "quarantined": len(bad)}


def _cursors(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, str]:
    rows = con.execute(
        "SELECT key, value FROM harvest_cursors WHERE source = ?", [source]
    ).fetchall()
    return dict(rows)


async def harvest(con: duckdb.DuckDBPyConnection, settings: Settings, sources: list[Source], *,
                  full: bool = False, run_id: str | None = None,
                  transport: httpx.AsyncBaseTransport | None = None, clock: Clock | None = None,
                  on_batch: OnBatch | None = None) -> dict[str, SourceResult]:
    """Harvest several sources concurrently; one failing source never stops the others."""
    validators = warehouse.ValidatorStore(con)
    async with HttpClient(settings, transport=transport, validators=validators,
                          clock=clock) as http:
        results = await asyncio.gather(*(
            harvest_source(con, http, settings, source, full=full, run_id=run_id,
                           on_batch=on_batch)
            for source in sources
        ))
    return {r.source: r for r in results}
