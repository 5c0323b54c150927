"""figshare: ultrasound datasets, software and models found through /v2/articles/search."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sonoharvest.http import HttpError
from sonoharvest.identifiers import (
    bare_doi,
    extract_identifiers,
    is_url,
    is_weight_file,
    normalize_identifier,
    normalize_link,
    normalize_url,
)
from sonoharvest.records import Batch, RawItem, Record, parse_time
from sonoharvest.settings import Settings
from sonoharvest.sources.base import Source, SourceContext, recheck_stale, term_groups

log = logging.getLogger(__name__)

# Facts checked against figshare's own documentation (read through the search corpus):
# - Search is POST {base}/v2/articles/search with a JSON body (docs.figshare.com/api "Sending
#   parameters"); ArticleSearch fields: search_for, item_type, modified_since,
#   published_since, order (published_date|modified_date|views|shares|downloads|cites),
#   order_direction (asc|desc), page/page_size or offset/limit (generated clients of
#   figshare's swagger, e.g. paragonsean/openapi-directory APIs/figshare.com/2.0.0
#   .../ArticleSearch.md). Mixing the two paging pairs is a 422 (figshare/user_documentation
#   APIv2/index.md). modified_since takes YYYY-MM-DD (newer specs also a date-time); a date
#   is sent because every version of the spec accepts it.
# - item_type / defined_type: 1 figure, 2 media, 3 dataset, 5 poster, 6 journal contribution,
#   7 presentation, 8 thesis, 9 software, 11 online resource, 12 preprint, ..., 29 model
#   (swagger ArticleSearch.item_type description, same in every generated client).
# - page_size <= 1000 and page <= 5000; only the first 9,000 hits of a listing or a search
#   are reachable by page/offset ("X-Cursor ... bypassing the item retrieval limit of 9,000
#   entities", swagger articles_list / articles_search). Errors: 400 for a body that is not
#   JSON, 422 "one of the parameters isn't correctly processed"; the body is
#   {"message", "code", "data"} (docs.figshare.com/api "Errors").
# - Search hits are the light Article representation (id, title, doi, handle, url*,
#   published_date, thumb, defined_type(_name), group_id, timeline, resource_title/doi;
#   api-samples/figshare/articles_search_2022-12.json and swagger Article): no files,
#   licence, tags or modified_date. GET /v2/articles/{id} (ArticleComplete) adds files[]
#   {id, name, size, computed_md5, supplied_md5, download_url, is_link_only}, license
#   {value, name, url}, categories[{id, title}], tags, references (strings),
#   related_materials[{identifier, identifier_type, relation, title, is_linkout}], funding,
#   funding_list, is_embargoed, embargo_date/type/reason, is_confidential,
#   is_metadata_record, created_date, modified_date, authors[{full_name, orcid_id}], size.
#   On public endpoints `files` is left out when the item is file-embargoed or confidential
#   (figshare/user_documentation APIv2/presenters/article.md). A deleted or private article
#   answers 404. Responses carry ETag / Last-Modified for conditional requests (index.md).
# - Auth is optional: `Authorization: token <t>` (docs.figshare.com/api "Authentication").
# - No published rate limit ("Rate limiting: not implemented", index.md); about one request
#   a second is what figshare's support advises (reference/sources.md section 8): 60/min.
# - Stats: GET https://stats.figshare.com/total/{views|downloads}/article/{id} ->
#   {"totals": N}, no authorization; an unknown item gives an empty result, not a 404
#   (docs.figshare.com/old_docs/Stats/totals/).
PER_MINUTE = 60.0
PAGE_SIZE_MAX = 1000
MAX_REACHABLE = 9_000
ITEM = "article"
GONE = (404, 410)
ITEM_TYPES = {"figure": 1, "media": 2, "dataset": 3, "poster": 5, "journal contribution": 6,
              "presentation": 7, "thesis": 8, "software": 9, "code": 9, "online resource": 11,
              "preprint": 12, "model": 29}
KINDS = {3: "dataset", 9: "code", 29: "model", 6: "paper", 8: "paper", 12: "paper"}
WEIGHT_WORDS = re.compile(r"\b(weights|checkpoints?|(pre-?)?trained models?)\b", re.I)


@dataclass
class _Query:
    key: str
    item_type: int
    search_for: str
    size: int
    reachable: int


@dataclass
class _Run:
    """What the queries of one run share: each article is handled once per run."""

    stats_url: str
    fetch_details: bool
    fetch_stats: bool
    modified: dict[str, datetime | None] = field(default_factory=dict)  # id -> modified_date


async def harvest(ctx: SourceContext) -> AsyncIterator[Batch]:
    """Each (item type, term group) query from its watermark, then a re-check of articles
    not seen for a while (a 404 means the article was withdrawn)."""
    cfg = ctx.config
    size = max(1, min(int(cfg.get("page_size") or PAGE_SIZE_MAX), PAGE_SIZE_MAX))
    overlap = timedelta(days=float(cfg.get("overlap_days", 1)))
    run = _Run(ctx.settings.figshare_stats_url.rstrip("/"), bool(cfg.get("fetch_details", True)),
               bool(cfg.get("fetch_stats", True)))
    # The stats host is not under the API base, so Source.rate_limits cannot declare it.
    ctx.http.limit(run.stats_url, PER_MINUTE)
    terms = [*cfg.get("terms", []), *cfg.get("extra_terms", [])]
    queries = build_queries(terms, cfg.get("fields", ["title", "description", "tag"]),
                            int(cfg.get("terms_per_query", 8)))
    for type_name in cfg.get("item_types", ["dataset", "software"]):
        item_type = item_type_id(type_name)
        for search_for in queries:
            digest = hashlib.sha1(search_for.encode()).hexdigest()[:12]
            query = _Query(f"{type_name}:{digest}", item_type, search_for, size,
                           MAX_REACHABLE // size * size)
            prev = ctx.cursor(query.key)
            mark = _time(prev)
            # Re-list `overlap` before the watermark: modified_since is a whole date, and an
            # edit can reach the index after newer ones. Those hits cost a 304 at most.
            since = (mark - overlap).date() if mark else None
            async for batch in _walk(ctx, run, query, since, mark):
                yield batch
    async for batch in recheck_stale(ctx, ITEM, lambda i: f"{ctx.base_url}/v2/articles/{i}",
                                     gone=GONE,
                                     payload_of=lambda i, data: _rechecked(ctx, i, data)):
        yield batch


def item_type_id(name: str | int) -> int:
    """figshare's item_type number for a configured type name (or the number itself)."""
    text = str(name).strip().lower()
    if text.isdigit():
        return int(text)
    if text not in ITEM_TYPES:
        raise ValueError(f"unknown figshare item type {name!r} in rubrics/harvest/figshare.yaml; "
                         f"use one of {', '.join(sorted(ITEM_TYPES))}")
    return ITEM_TYPES[text]


def build_queries(terms: list[str], fields: list[str], per_query: int) -> list[str]:
    """`:field: "term"` expressions joined by OR, `per_query` vocabulary terms each."""
    return [" OR ".join(f':{f}: "{t.replace(chr(34), "")}"' for t in group for f in fields)
            for group in term_groups(terms, per_query)]


def _rechecked(ctx: SourceContext, source_id: str, data: Any) -> dict[str, Any] | None:
    """A re-fetched article, keeping the stored counts (the re-check does not fetch stats)."""
    if not isinstance(data, dict):
        return None
    stored = ctx.stored(source_id)
    return _carry(data, stored if isinstance(stored, dict) else None)


async def _walk(ctx: SourceContext, run: _Run, query: _Query, since: date | None,
                mark: datetime | None) -> AsyncIterator[Batch]:
    """Page one query, least recently modified first, until a short page.

    At the 9,000-hit cap the query restarts with modified_since at the newest date reached,
    so each window stays reachable. The cursor moves only when the query finished; its value
    is the newest modified_date of its hits (figshare's clock, not ours), which is safe
    because every hit modified before it has been listed, and reruns look `overlap` back.
    """
    newest, window, page = mark, since, 1
    reached: datetime | None = None          # newest modified_date in the current window
    while True:
        hits = [h for h in await _search(ctx, query, window, page) if isinstance(h, dict)]
        batch = await _handle(ctx, run, hits)
        batch.requests += 1
        dates = [run.modified.get(str(h.get("id"))) for h in hits]
        newest, reached = _latest(newest, *dates), _latest(reached, *dates)
        done = len(hits) < query.size
        if not done and page * query.size >= query.reachable:
            if reached is None or (window is not None and reached.date() <= window):
                log.warning("figshare %s: more than %d hits modified on %s alone; those past "
                            "the first %d are unreachable by page: narrow the terms in "
                            "rubrics/harvest/figshare.yaml", query.key, query.reachable,
                            window or "one date", query.reachable)
                done = True
            else:
                log.info("figshare %s: %d-hit cap reached; continuing from modified_since %s",
                         query.key, query.reachable, reached.date())
                window, reached, page = reached.date(), None, 0
        if done:
            batch.cursor = (query.key, _iso(newest)) if newest else None
            log.info("figshare %s: up to date (last page %d)", query.key, page)
        yield batch
        if done:
            return
        page += 1


async def _search(ctx: SourceContext, query: _Query, since: date | None, page: int) -> list[Any]:
    body: dict[str, Any] = {"search_for": query.search_for, "item_type": query.item_type,
                            "order": "modified_date", "order_direction": "asc",
                            "page": page, "page_size": query.size}
    if since is not None:
        body["modified_since"] = since.isoformat()
    reply = await ctx.http.post(f"{ctx.base_url}/v2/articles/search", json_body=body)
    if not isinstance(reply.data, list):
        raise ValueError(f"figshare search {query.key} answered {type(reply.data).__name__}, "
                         "not a list of articles; has the API changed?")
    return reply.data


async def _handle(ctx: SourceContext, run: _Run, hits: list[dict[str, Any]]) -> Batch:
    """The detail of each hit not handled yet in this run, revalidated with its ETag.

    Search hits carry no modified_date, so a stored article is provably unchanged without a
    request only when a hit does carry one equal to the stored one. Otherwise its detail is
    asked with If-None-Match: unchanged ones answer a cheap 304, and an incremental search
    only returns articles modified since the watermark, less the overlap.
    """
    batch = Batch()
    for hit in hits:
        source_id = str(hit.get("id") or "")
        if not source_id:
            batch.items.append(RawItem(ITEM, hit))   # quarantined by the mapping
            continue
        if source_id in run.modified:
            continue
        stored = ctx.stored(source_id)
        stored = stored if isinstance(stored, dict) else None
        if stored and hit.get("modified_date") and \
                hit["modified_date"] == stored.get("modified_date"):
            batch.unchanged.append(source_id)
            run.modified[source_id] = _time(stored.get("modified_date"))
            continue
        if not run.fetch_details:
            batch.items.append(RawItem(ITEM, _carry(hit, stored)))
            run.modified[source_id] = _time(hit.get("modified_date"))
            continue
        await _detail(ctx, run, hit, stored, batch)
    return batch


async def _detail(ctx: SourceContext, run: _Run, hit: dict[str, Any],
                  stored: dict[str, Any] | None, batch: Batch) -> None:
    """Add the article's detail (search fields kept, stats added) to `batch`, or mark it
    unchanged (304) or gone (404)."""
    source_id = str(hit["id"])
    url = f"{ctx.base_url}/v2/articles/{source_id}"
    batch.requests += 1
    try:
        reply = await ctx.http.get(url, revalidate=True)
        if reply.not_modified and not stored:   # an ETag kept for a quarantined article
            batch.requests += 1
            reply = await ctx.http.get(url)
    except HttpError as exc:
        if exc.status not in GONE:
            raise
        run.modified[source_id] = None       # deleted between the search and now
        if stored:
            batch.gone.append(source_id)
        return
    if reply.not_modified and stored:
        batch.unchanged.append(source_id)
        run.modified[source_id] = _time(stored.get("modified_date"))
        return
    detail = {**hit, **reply.data} if isinstance(reply.data, dict) else dict(hit)
    if run.fetch_stats:
        stats = await _stats(ctx, run, source_id)
        batch.requests += 2
        detail["stats"] = stats or (stored or {}).get("stats") or {}
    batch.items.append(RawItem(ITEM, _carry(detail, stored)))
    run.modified[source_id] = _time(detail.get("modified_date"))


async def _stats(ctx: SourceContext, run: _Run, source_id: str) -> dict[str, float]:
    """Total views and downloads from the stats service; a failure only loses the counts."""
    out: dict[str, float] = {}
    for counter in ("views", "downloads"):
        try:
            reply = await ctx.http.get(f"{run.stats_url}/total/{counter}/article/{source_id}")
        except HttpError as exc:
            log.warning("figshare stats for %s unavailable: %s", source_id, exc)
            return out
        totals = reply.data.get("totals") if isinstance(reply.data, dict) else None
        if isinstance(totals, int | float) and not isinstance(totals, bool):
            out[counter] = float(totals)
    return out


def _carry(payload: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any]:
    """Keep the stored counts when this fetch brought none (the stats are an extra call)."""
    if stored and stored.get("stats") and not payload.get("stats"):
        return {**payload, "stats": stored["stats"]}
    return payload


def _time(value: Any) -> datetime | None:
    try:
        parsed = parse_time(value)
    except (TypeError, ValueError):
        return None  # an unreadable date never stops paging; the mapping quarantines it
    return parsed.astimezone(UTC) if parsed else None


def _latest(*values: datetime | None) -> datetime | None:
    return max((v for v in values if v is not None), default=None)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- mapping -------------------------------------------------------------------------------

def to_record(item: RawItem) -> Record:
    """Map an article (detail, or a search hit when details are off); ValueError if malformed."""
    p = item.payload
    if p.get("id") in (None, ""):
        raise ValueError("article has no id")
    title = str(p.get("title") or "").strip()
    if not title:
        raise ValueError(f"article {p['id']} has no title")
    doi = bare_doi(p.get("doi"))
    # figshare DOIs are versioned (…figshare.123.v2); the bare one resolves to the latest
    # version, as a Zenodo concept DOI does, and is what papers often cite.
    base = re.sub(r"\.v\d+$", "", doi) if doi else None
    identifiers = list(dict.fromkeys(f"doi:{d}" for d in (doi, base) if d))
    url = p.get("url_public_html") or p.get("figshare_url")
    tags = [str(t) for t in p.get("tags") or p.get("keywords") or [] if t]
    categories = [str(c["title"]) for c in p.get("categories") or []
                  if isinstance(c, dict) and c.get("title")]
    timeline = p.get("timeline") if isinstance(p.get("timeline"), dict) else {}
    return Record(
        source="figshare", source_id=str(p["id"]), kind_hint=_kind(p, title, tags),
        title=title, description=str(p.get("description") or ""), url=url, doi=doi,
        identifiers=identifiers, keywords=list(dict.fromkeys([*tags, *categories])),
        license=_licence(p.get("license")), access=_access(p),
        creators=[str(a["full_name"]) for a in p.get("authors") or []
                  if isinstance(a, dict) and a.get("full_name")],
        created_at=_utc(timeline.get("firstOnline") or p.get("published_date")
                        or p.get("created_date")),
        updated_at=_utc(p.get("modified_date") or p.get("published_date")),
        related=[r for r in _related(p) if r not in identifiers
                 and r != normalize_url(url)],
        metrics=_metrics(p),
    )


def _kind(p: dict[str, Any], title: str, tags: list[str]) -> str:
    """dataset, model or code from defined_type; software with weights is a model."""
    raw = p.get("defined_type")
    code = raw if isinstance(raw, int) else ITEM_TYPES.get(
        str(raw or p.get("defined_type_name") or "").strip().lower())
    if code == 9:
        files = [str(f.get("name", "")) for f in p.get("files") or [] if isinstance(f, dict)]
        if any(map(is_weight_file, files)) or WEIGHT_WORDS.search(" ".join([title, *tags])):
            return "model"
    return KINDS.get(code or 0, "other")


def _licence(value: Any) -> str | None:
    """figshare's licence name as a lower-case id: "CC BY 4.0" -> "cc-by-4.0", "CC0" -> "cc0".

    sonoharvest.licences normalises these to SPDX, like Zenodo's ids.
    """
    name = value.get("name") if isinstance(value, dict) else value
    name = str(name or "").strip()
    return re.sub(r"\s+", "-", name.lower()) if name else None


def _access(p: dict[str, Any]) -> str | None:
    """open / embargoed / closed, in the vocabulary of rubrics/access.yaml; None when the
    payload is a search hit (no embargo fields) or a metadata-only record, whose files live
    elsewhere: the description's text cues decide then."""
    if not any(k in p for k in ("is_embargoed", "is_confidential")):
        return None
    if p.get("is_confidential"):
        return "closed"          # files never shown publicly
    if p.get("is_embargoed"):
        return "embargoed"
    return None if p.get("is_metadata_record") else "open"


def _related(p: dict[str, Any]) -> list[str]:
    """References, related materials, the resource (paper) DOI and identifiers in the text."""
    found: list[str | None] = []
    for ref in p.get("references") or []:
        link = normalize_link(str(ref).strip())
        found += [link] if link else extract_identifiers(ref)
    for rel in p.get("related_materials") or []:
        if isinstance(rel, dict):
            found.append(_material(str(rel.get("identifier") or ""),
                                   str(rel.get("identifier_type") or "")))
    found.append(normalize_identifier(p.get("resource_doi"), "doi"))
    found += [i for i in extract_identifiers(p.get("description")) if not is_url(i)]
    return list(dict.fromkeys(f for f in found if f))


def _material(value: str, scheme: str) -> str | None:
    """A related material: canonical ("doi:…"), else its normalised URL, else "<type>:<value>"
    for the types without a canonical form here (handle, isbn…)."""
    value, scheme = value.strip(), scheme.strip().lower()
    if not value:
        return None
    return (normalize_identifier(value, scheme) or normalize_url(value)
            or (f"{scheme}:{value}" if scheme not in ("", "url", "doi") else None))


def _metrics(p: dict[str, Any]) -> dict[str, float]:
    files = [f for f in p.get("files") or [] if isinstance(f, dict)]
    out: dict[str, float] = {}
    if p.get("is_metadata_record"):
        pass                     # the files live elsewhere: their count and size are unknown
    elif "files" in p:
        out["files"] = float(len(files))
        out["size_bytes"] = sum(_number(f.get("size")) or 0.0 for f in files)
    elif _number(p.get("size")):
        out["size_bytes"] = _number(p.get("size")) or 0.0  # files hidden by an embargo
    stats = p.get("stats") if isinstance(p.get("stats"), dict) else {}
    counts = {k: _number(stats.get(k)) for k in ("views", "downloads")}
    return out | {k: v for k, v in counts.items() if v is not None}


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok else None


def _utc(value: Any) -> datetime | None:
    parsed = parse_time(value)
    return parsed.astimezone(UTC) if parsed else None


# --- registration --------------------------------------------------------------------------

def _auth(settings: Settings) -> dict[str, str]:
    """`Authorization: token <t>` (figshare's scheme, not Bearer), only when FIGSHARE_TOKEN is
    set; the harvester attaches it to the API base only, never to the stats host."""
    secret = settings.figshare_token
    token = secret.get_secret_value().strip() if secret else ""
    return {"Authorization": f"token {token}"} if token else {}


SOURCE = Source(
    name="figshare",
    summary="figshare articles (datasets, software, models) matching the ultrasound vocabulary",
    base_url=lambda s: s.figshare_url,
    harvest=harvest,
    to_record=to_record,
    rate_limits=lambda base, authed: [(base, PER_MINUTE)],
    auth_headers=_auth,
)
