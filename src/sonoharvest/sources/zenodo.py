"""Zenodo: ultrasound datasets and software found through the /api/records search."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sonoharvest.identifiers import (
    bare_doi,
    extract_identifiers,
    is_url,
    is_weight_file,
    normalize_identifier,
    normalize_url,
)
from sonoharvest.records import Batch, RawItem, Record, parse_time
from sonoharvest.settings import Settings
from sonoharvest.sources.base import Source, SourceContext, bearer, recheck_stale
from sonoharvest.sources.base import field_queries as build_queries

log = logging.getLogger(__name__)

# developers.zenodo.org, rate-limit/_root.md and records/_list.md (Nov 2025): search endpoints
# 30 req/min for everyone; overall 60 req/min (2000/h) as a guest, 100 req/min with a token.
# Pages hold at most 25 hits as a guest, 100 with a token, and only the first 10,000 hits of a
# query can be paged (page * size <= 10,000), so larger queries are sliced by `updated` range.
SEARCH_PER_MINUTE = 30
GUEST_PER_MINUTE = 60
TOKEN_PER_MINUTE = 100
PAGE_SIZE_GUEST = 25
PAGE_SIZE_TOKEN = 100
MAX_RESULT_WINDOW = 10_000
MIN_SLICE = timedelta(seconds=2)
ITEM = "record"
GONE = (404, 410)  # 410: Zenodo's answer for a deleted record (tombstone)
WEIGHT_WORDS = re.compile(r"\b(weights|checkpoints?|(pre-?)?trained models?)\b", re.I)
KINDS = {"dataset": "dataset", "software": "code", "publication": "paper", "model": "model"}


@dataclass
class _Query:
    key: str
    rtype: str
    q: str
    size: int
    slice_hits: int
    start: datetime
    seen: set[str]
    mark: datetime | None = None  # every record updated before this has been seen


async def harvest(ctx: SourceContext) -> AsyncIterator[Batch]:
    """Each (type, term group) query, from its cursor (the `updated` time up to which all its
    hits were seen, minus an overlap) or from the start; then re-check records not seen lately."""
    cfg = ctx.config
    size = min(int(cfg.get("page_size") or PAGE_SIZE_TOKEN),
               PAGE_SIZE_TOKEN if ctx.authenticated else PAGE_SIZE_GUEST)
    reachable = MAX_RESULT_WINDOW // size * size
    slice_hits = min(int(cfg.get("max_hits_per_slice") or reachable), reachable)
    start = parse_time(str(cfg.get("start", "2013-01-01")))
    overlap = timedelta(hours=float(cfg.get("overlap_hours", 2)))
    seen: set[str] = set()
    terms = [*cfg.get("terms", []), *cfg.get("extra_terms", [])]
    for rtype in cfg.get("types", ["dataset", "software"]):
        for q in build_queries(terms, cfg.get("fields", ["title", "description", "keywords"]),
                               int(cfg.get("terms_per_query", 30))):
            query = _Query(f"{rtype}:{hashlib.sha1(q.encode()).hexdigest()[:12]}", rtype, q,
                           size, slice_hits, start, seen)
            prev = ctx.cursor(query.key)
            query.mark = parse_time(prev) if prev else None
            lo = query.mark - overlap if query.mark else None
            async for batch in _walk(ctx, query, lo, None):
                yield batch
    async for batch in recheck_stale(ctx, ITEM, lambda i: f"{ctx.base_url}/api/records/{i}",
                                     gone=GONE):
        yield batch


async def _walk(ctx: SourceContext, query: _Query, lo: datetime | None,
                hi: datetime | None) -> AsyncIterator[Batch]:
    """Page the hits updated in [lo, hi), halving the range while it holds too many."""
    reply = await _search(ctx, query, lo, hi, page=1)
    total = _total(reply.data)
    low, high = lo or query.start, hi or ctx.started_at
    if total > query.slice_hits and high - low >= MIN_SLICE:
        mid = low + timedelta(seconds=(high - low).total_seconds() // 2)
        log.info("zenodo %s: %d hits, slicing at %s", query.key, total, _iso(mid))
        for half in ((lo, mid), (mid, hi)):  # oldest first, so the cursor only moves forward
            async for batch in _walk(ctx, query, *half):
                yield batch
        return
    if total > query.slice_hits:
        log.warning("zenodo %s: %d hits updated around %s; only the first %d are reachable",
                    query.key, total, _iso(low), query.slice_hits)
    page, newest = 1, None
    while True:
        hits = reply.data.get("hits", {}).get("hits", [])
        fresh = [h for h in hits if str(h.get("id")) not in query.seen]
        query.seen.update(str(h.get("id")) for h in hits)
        newest = max(filter(None, [newest, *(_safe_time(h.get("updated")) for h in hits)]),
                     default=None)
        done = (not hits or not reply.data.get("links", {}).get("next")
                or page * query.size >= min(total, query.slice_hits))
        # Only a finished slice moves the cursor: to its end, or to its newest hit if open.
        yield Batch(items=[RawItem(ITEM, h) for h in fresh],
                    cursor=_advance(query, hi or newest) if done else None, requests=1)
        if done:
            log.info("zenodo %s: %d hits in %d pages", query.key, total, page)
            return
        page += 1
        reply = await _search(ctx, query, lo, hi, page)


def _advance(query: _Query, end: datetime | None) -> tuple[str, str] | None:
    if end is not None and (query.mark is None or end > query.mark):
        query.mark = end
    return (query.key, _iso(query.mark)) if query.mark else None


async def _search(ctx: SourceContext, query: _Query, lo: datetime | None, hi: datetime | None,
                  page: int) -> Any:
    q = f"({query.q})"
    if lo or hi:
        low = f'"{_iso(lo)}"' if lo else "*"
        q += f" AND updated:[{low} TO " + (f'"{_iso(hi)}"}}' if hi else "*]")
    params = {"q": q, "type": query.rtype, "sort": ctx.config.get("sort", "newest"),
              "page": page, "size": query.size}
    return await ctx.http.get(f"{ctx.base_url}/api/records", params=params)


def _total(data: Any) -> int:
    total = data.get("hits", {}).get("total", 0)
    return int(total.get("value", 0) if isinstance(total, dict) else total)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _safe_time(value: Any) -> datetime | None:
    try:
        return parse_time(value)
    except (TypeError, ValueError):
        return None


# --- mapping -----------------------------------------------------------------------------

def to_record(item: RawItem) -> Record:
    """Map one record (current or pre-2023 legacy JSON); raise ValueError when malformed."""
    p = item.payload
    meta = p.get("metadata")
    if not isinstance(meta, dict):
        raise ValueError("record has no metadata object")
    if p.get("id") in (None, ""):
        raise ValueError("record has no id")
    title = meta.get("title") or p.get("title")
    if not title:
        raise ValueError(f"record {p['id']} has no title")
    doi = bare_doi(p.get("doi") or meta.get("doi"))
    concept = bare_doi(p.get("conceptdoi"))
    identifiers = [f"zenodo:{p['id']}"]
    if p.get("conceptrecid"):
        identifiers.append(f"zenodo:{p['conceptrecid']}")
    identifiers += [f"doi:{d}" for d in (doi, concept) if d]
    rtype = (meta.get("resource_type") or {}).get("type", "")
    related = []
    for rel in meta.get("related_identifiers") or []:
        ident = _related(str(rel.get("identifier", "")), str(rel.get("scheme", "")))
        if ident and ident not in identifiers:
            related.append(ident)
            # A GitHub release archived by Zenodo's GitHub integration is the repository itself.
            if (rtype == "software" and ident.startswith("github:")
                    and "/tree/" in str(rel.get("identifier"))):
                identifiers.append(ident)
    related += [i for i in extract_identifiers(meta.get("description"))
                if not is_url(i) and i not in identifiers]  # links in the text: identifiers only
    license_ = meta.get("license")
    license_ = license_.get("id") if isinstance(license_, dict) else license_
    links = p.get("links") or {}
    stats = p.get("stats") or {}
    return Record(
        source="zenodo", source_id=str(p["id"]), kind_hint=_kind(rtype, p, meta),
        title=title, description=meta.get("description") or "",
        url=links.get("self_html") or links.get("html"), doi=doi,
        identifiers=list(dict.fromkeys(identifiers)),
        keywords=[str(k) for k in meta.get("keywords") or []],
        license=str(license_).lower() if license_ else None,
        access=str(meta["access_right"]).lower() if meta.get("access_right") else None,
        creators=[c["name"] for c in meta.get("creators") or [] if c.get("name")],
        created_at=_utc(p.get("created") or meta.get("publication_date")),
        updated_at=_utc(p.get("updated") or p.get("modified")),
        related=list(dict.fromkeys(related)),
        metrics={k: float(stats[k]) for k in ("downloads", "unique_downloads", "views",
                                               "unique_views") if stats.get(k) is not None},
    )


def _kind(rtype: str, payload: dict[str, Any], meta: dict[str, Any]) -> str:
    if rtype == "software":
        files = [str(f.get("key", "")) for f in payload.get("files") or []]
        text = " ".join([str(meta.get("title", "")), *map(str, meta.get("keywords") or [])])
        if any(map(is_weight_file, files)) or WEIGHT_WORDS.search(text):
            return "model"
    return KINDS.get(rtype, "other")


def _utc(value: Any) -> datetime | None:
    parsed = parse_time(value)
    return parsed.astimezone(UTC) if parsed else None


def _related(value: str, scheme: str) -> str | None:
    """A related identifier: canonical ("doi:…", "github:…"…), else the normalised URL, else
    "<scheme>:<value>" for the schemes without a canonical form here (isbn, handle…)."""
    value, scheme = value.strip(), scheme.strip().lower()
    if not value:
        return None
    return (normalize_identifier(value, scheme) or normalize_url(value)
            or (f"{scheme}:{value}" if scheme not in ("", "url", "doi") else None))


def _auth(settings: Settings) -> dict[str, str]:
    return bearer(settings.zenodo_token)


SOURCE = Source(
    name="zenodo",
    summary="Zenodo records (datasets, software) matching the ultrasound vocabulary",
    base_url=lambda s: s.zenodo_url,
    harvest=harvest,
    to_record=to_record,
    rate_limits=lambda base, authed: [
        (f"{base}/api/records", SEARCH_PER_MINUTE),
        (base, TOKEN_PER_MINUTE if authed else GUEST_PER_MINUTE),
    ],
    auth_headers=_auth,
)
