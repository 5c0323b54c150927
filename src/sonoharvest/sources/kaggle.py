"""Kaggle: public datasets and models found by searching the current Kaggle API (kagglesdk)."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sonoharvest.http import HttpError
from sonoharvest.identifiers import extract_identifiers, normalize_kaggle
from sonoharvest.records import Batch, RawItem, Record, parse_time
from sonoharvest.settings import Settings
from sonoharvest.sources.base import Source, SourceContext, bearer

log = logging.getLogger(__name__)

# Every call is POST {base}/v1/{service}/{method} with a camelCase JSON body
# (repo:Kaggle/kagglesdk kagglesdk/kaggle_http_client.py, _get_request_url).
# Datasets: 20 per page (legacy KaggleSwagger.yaml, the CLI); listing stops after page 500
# (Kaggle staff in issues Kaggle/kaggle-cli#222 and #553).
DATASET_PAGE_SIZE = 20
MAX_PAGE = 500
# Models page by token; `kaggle models list --page-size` defaults to 20, we ask 50 (verify).
MODEL_PAGE_SIZE = 50
# Rate limits are unpublished (staff, Kaggle/kaggle-cli#132): keep to one request a second.
PER_MINUTE = 60.0
WEB = "https://www.kaggle.com"
SIZE_SLICES = (1 << 20, 10 << 20, 100 << 20, 1 << 30, 10 << 30)  # bytes; see kaggle.yaml


@dataclass(frozen=True, slots=True)
class Kind:
    name: str                  # "datasets" | "models": also the list key of the response
    path: str
    item_type: str
    page_size: int
    stamps: tuple[str, ...]    # the "last updated" fields the listing is sorted by
    sort: dict[str, str]


DATASETS = Kind("datasets", "/v1/datasets.DatasetApiService/ListDatasets", "dataset",
                DATASET_PAGE_SIZE, ("lastUpdated",),
                {"group": "DATASET_SELECTION_GROUP_PUBLIC", "sortBy": "DATASET_SORT_BY_UPDATED"})
MODELS = Kind("models", "/v1/models.ModelApiService/ListModels", "model", MODEL_PAGE_SIZE,
              ("updateTime", "publishTime"), {"sortBy": "LIST_MODELS_ORDER_BY_UPDATE_TIME"})


async def harvest(ctx: SourceContext) -> AsyncIterator[Batch]:
    """One sweep per item type and term (or owner), newest first, down to its watermark."""
    cfg = ctx.config
    skip = {t.lower() for t in cfg.get("skip_terms", [])}
    terms = distinct_terms([t for t in dict.fromkeys([*cfg["terms"], *cfg.get("extra_terms", [])])
                            if t.lower() not in skip])
    slices = tuple(cfg.get("size_slices", SIZE_SLICES))
    seen: set[tuple[str, str]] = set()
    for kind in (k for k in (DATASETS, MODELS) if k.name in cfg.get("item_types", [k.name])):
        queries = [(f"term:{t}", {"search": t}) for t in terms]
        queries += [(f"owner:{o}", {"group": "DATASET_SELECTION_GROUP_USER", "user": o}
                     if kind is DATASETS else {"owner": o}) for o in cfg.get("owners", [])]
        for label, body in queries:
            key = f"{kind.name}:{label}"
            async for batch in _query(ctx, kind, key, {**kind.sort, **body}, slices, seen):
                yield batch


def distinct_terms(terms: list[str]) -> list[str]:
    """Drop a term whose words include all the words of another term: Kaggle's search needs
    every word, so "breast ultrasound" finds a subset of "ultrasound" and costs a query key."""
    words = {t: frozenset(t.lower().split()) for t in terms}
    return [t for t in terms
            if not any(u != t and words[u] < words[t] for u in terms)]


async def _query(ctx: SourceContext, kind: Kind, key: str, body: dict[str, Any],
                 slices: tuple[int, ...], seen: set[tuple[str, str]],
                 span: tuple[int, int | None] = (0, None)) -> AsyncIterator[Batch]:
    """Sweep one query; when it still fills the last reachable page, re-run it by size slices."""
    capped: list[str | None] = []
    async for batch in _pages(ctx, kind, key, body, seen, capped):
        yield batch
    if not capped:
        return
    parts = _split(span, slices)
    if not parts:
        raise RuntimeError(
            f"Kaggle {key!r} (size {span[0]}-{span[1]} bytes) still exceeds the {MAX_PAGE}-page "
            "cap and cannot be sliced further; add narrower terms in rubrics/harvest/kaggle.yaml.")
    log.info("kaggle %s hit the %d-page cap; slicing it into %d size ranges", key, MAX_PAGE,
             len(parts))
    for lo, hi in parts:
        sized = {k: v for k, v in {**body, "minSize": lo or None, "maxSize": hi}.items()
                 if v is not None}
        slice_key = f"{key.split('|')[0]}|bytes={lo}-{hi or ''}"
        async for batch in _query(ctx, kind, slice_key, sized, slices, seen, (lo, hi)):
            yield batch
    yield Batch(cursor=(key, json.dumps({"watermark": capped[0]})))


async def _pages(ctx: SourceContext, kind: Kind, key: str, body: dict[str, Any],
                 seen: set[tuple[str, str]], capped: list[str | None]) -> AsyncIterator[Batch]:
    """Page newest-first until an item is older than the watermark or the list ends.

    Until the sweep ends the cursor keeps the committed watermark and records the next page
    (or token) and the newest time seen, so a crashed run resumes where it stopped.
    """
    state = json.loads(ctx.cursor(key) or "{}")
    mark = _time(state.get("watermark"))
    newest = _latest(state.get("pending"), state.get("watermark"))
    page, token, pages = int(state.get("page", 1)), state.get("token"), 0
    while page <= MAX_PAGE or kind is MODELS:
        paging = {"page": page} if kind is DATASETS else {"pageToken": token} if token else {}
        try:
            reply = await ctx.http.post(f"{ctx.base_url}{kind.path}",
                                        json_body={**body, **paging, "pageSize": kind.page_size})
        except HttpError as exc:
            if not (token and pages == 0 and exc.status == 400):
                raise
            log.warning("kaggle %s: the stored page token was refused; restarting the sweep", key)
            token = None
            continue
        data = reply.data if isinstance(reply.data, dict) else {}
        items = [i for i in data.get(kind.name) or [] if isinstance(i, dict)]
        fresh = [i for i in items if not _older(i, kind, mark)]
        newest = _latest(newest, *(_stamp(i, kind) for i in items))
        token = data.get("nextPageToken") or None
        full = len(items) >= kind.page_size if kind is DATASETS else token is not None
        more = full and len(fresh) == len(items)
        page, pages = page + 1, pages + 1
        state = {"watermark": state.get("watermark"), "pending": newest, "page": page,
                 "token": token} if more else {"watermark": newest}
        yield Batch(items=list(_unseen(fresh, kind, seen)), cursor=(key, json.dumps(state)))
        if not more:
            log.info("kaggle %s: %d page(s), up to date", key, pages)
            return
    capped.append(newest)


def _split(span: tuple[int, int | None], slices: tuple[int, ...]) -> list[tuple[int, int | None]]:
    """Size ranges (inclusive bytes) covering `span`: the configured edges, else a bisection."""
    lo, hi = span
    edges = [e for e in slices if e > lo and (hi is None or e <= hi)]
    if not edges and hi is None:
        edges = [max(2 * lo, 1)]
    elif not edges and hi - lo >= 1:
        edges = [(lo + hi) // 2 + 1]
    bounds = [lo, *edges]
    parts = [(a, b - 1) for a, b in zip(bounds, bounds[1:], strict=False)]
    return [*parts, (bounds[-1], hi)] if edges else []


def _unseen(items: list[dict[str, Any]], kind: Kind,
            seen: set[tuple[str, str]]) -> Iterable[RawItem]:
    """Each version of an item once per run, though several queries find it."""
    for item in items:
        mark = (f"{kind.name}/{item.get('ref')}", str(_stamp(item, kind)))
        if not (item.get("ref") and mark in seen):
            seen.add(mark)
            yield RawItem(kind.item_type, item)


def _stamp(item: dict[str, Any], kind: Kind) -> str | None:
    return next((str(item[f]) for f in kind.stamps if item.get(f)), None)


def _time(value: Any) -> datetime | None:
    try:
        return parse_time(value)
    except (TypeError, ValueError):
        return None  # an unreadable date never stops paging; the mapping quarantines it


def _older(item: dict[str, Any], kind: Kind, mark: datetime | None) -> bool:
    when = _time(_stamp(item, kind))
    return mark is not None and when is not None and when < mark


def _latest(*values: str | None) -> str | None:
    times = [t for t in map(_time, values) if t is not None]
    return max(times).isoformat() if times else None


# --- mapping -------------------------------------------------------------------------------

def to_record(item: RawItem) -> Record:
    """Map one ApiDataset or ApiModel (kagglesdk field names) to a Record."""
    if item.item_type not in ("dataset", "model"):
        raise ValueError(f"unknown Kaggle item type {item.item_type!r}")
    p, model = item.payload, item.item_type == "model"
    ref = str(p.get("ref") or f"{p.get('author') or ''}/{p.get('slug') or ''}")
    own = normalize_kaggle(f"kaggle:{'models/' if model else ''}{ref}")
    if own is None or ref.count("/") != 1:
        raise ValueError(f"{item.item_type} has no valid ref (owner/slug): {ref!r}")
    if not str(p.get("title") or "").strip():
        raise ValueError(f"{item.item_type} {ref} has no title")
    instances = [i for i in p.get("instances") or [] if isinstance(i, dict)]
    description = "\n\n".join(dict.fromkeys(str(t).strip() for t in [
        p.get("subtitle"), p.get("description"),
        *(i.get(f) for i in instances for f in ("overview", "usage"))] if t and str(t).strip()))
    licence = next((i["licenseName"] for i in instances if i.get("licenseName")),
                   p.get("licenseName"))
    versions = [v.get("creationDate") for v in p.get("versions") or [] if isinstance(v, dict)]
    return Record(
        source="kaggle", source_id=f"{'models' if model else 'datasets'}/{ref}",
        kind_hint="model" if model else "dataset", title=p["title"], description=description,
        url=_web_url(p.get("url"), ref, model), identifiers=[own],
        keywords=list(dict.fromkeys(filter(None, map(_tag, p.get("tags") or [])))),
        license=None if licence in (None, "", "Unknown") else licence,
        access="restricted" if p.get("isPrivate") else "open",
        creators=[c for c in dict.fromkeys([p.get("creatorName"), p.get("ownerName"),
                                            p.get("author")]) if c],
        created_at=parse_time(p.get("publishTime") or min(filter(None, versions), default=None)),
        updated_at=parse_time(p.get("updateTime") if model else p.get("lastUpdated")),
        related=[r for r in _related(p, instances, description) if r != own],
        metrics={name: float(p[field]) for name, field in _METRICS
                 if isinstance(p.get(field), int | float) and not isinstance(p[field], bool)},
    )


_METRICS = (("downloads", "downloadCount"), ("votes", "voteCount"), ("views", "viewCount"),
            ("usability", "usabilityRating"), ("notebooks", "kernelCount"))


def _related(p: dict[str, Any], instances: list[dict[str, Any]], description: str) -> list[str]:
    """Links in the text, provenance and weights URLs, and training data (URLs or bare refs)."""
    training = [str(t) for i in instances for t in i.get("trainingData") or []]
    pointers = [description, str(p.get("provenanceSources") or ""),
                *(str(i["sourceUrl"]) for i in instances if i.get("sourceUrl")), *training]
    bare = [normalize_kaggle(f"kaggle:{t}") for t in training if t.count("/") == 1]
    return list(dict.fromkeys([*extract_identifiers("\n".join(pointers)), *filter(None, bare)]))


def _tag(tag: Any) -> str:
    return str(tag.get("name") or tag.get("ref") or "") if isinstance(tag, dict) else str(tag)


def _web_url(url: Any, ref: str, model: bool) -> str:
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        return url
    if isinstance(url, str) and url.startswith("/"):
        return WEB + url
    return f"{WEB}/{'models' if model else 'datasets'}/{ref}"


# --- registration --------------------------------------------------------------------------

def _auth_headers(settings: Settings) -> dict[str, str]:
    """Bearer KAGGLE_API_TOKEN first, else HTTP Basic KAGGLE_USERNAME:KAGGLE_KEY (kagglesdk)."""
    token = bearer(settings.kaggle_api_token)
    if token:
        return token
    key = settings.kaggle_key.get_secret_value() if settings.kaggle_key else ""
    if settings.kaggle_username and key:
        pair = base64.b64encode(f"{settings.kaggle_username}:{key}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}
    return {}


def _unavailable(settings: Settings) -> str | None:
    if _auth_headers(settings):
        return None
    return ("no Kaggle credentials: set KAGGLE_API_TOKEN (or KAGGLE_USERNAME and KAGGLE_KEY) "
            "to harvest Kaggle")


SOURCE = Source(
    name="kaggle",
    summary="Kaggle public datasets and models, searched per vocabulary term (token required)",
    base_url=lambda s: s.kaggle_url,
    harvest=harvest,
    to_record=to_record,
    rate_limits=lambda base, authenticated: [(base, PER_MINUTE)],
    auth_headers=_auth_headers,
    unavailable=_unavailable,
)
