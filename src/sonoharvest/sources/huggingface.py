"""Hugging Face Hub: datasets and models found by id search, tags and authors, newest first."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timedelta
from typing import Any

from sonoharvest.http import HttpError
from sonoharvest.identifiers import bare_doi, hf_id, normalize_arxiv
from sonoharvest.records import Batch, RawItem, Record, parse_time
from sonoharvest.settings import Settings
from sonoharvest.sources.base import Source, SourceContext, bearer

log = logging.getLogger(__name__)

# hub-docs docs/hub/rate-limits.md (Sept 2025): the "api" bucket allows 500 requests per
# 5-minute window anonymously and 1,000 with a free token; paced evenly as 100 and 200 a minute.
# /api/papers shares the bucket (sources/papers.py declares the same prefix and rates).
ANON_PER_MINUTE = 100.0
TOKEN_PER_MINUTE = 200.0
# Listings are cursor-paged through the Link header with no depth cap; the server may return
# fewer than `limit` items per page, so we always follow rel="next".
PAGE_SIZE = 100
SITE = "https://huggingface.co"
# Every repository created before the Hub stored creation dates reports this (hub-docs api.md).
PLACEHOLDER_CREATED = "2022-03-02T23:29:04.000Z"
KINDS = {"datasets": "dataset", "models": "model"}      # API path -> item type and kind hint
PATHS = {item_type: path for path, item_type in KINDS.items()}
# Tags the Hub adds about serving and storage, not about the content.
PLATFORM_TAGS = frozenset({"endpoints_compatible", "autotrain_compatible", "has_space",
                           "text-generation-inference", "safetensors", "gguf"})


def auth_headers(settings: Settings) -> dict[str, str]:
    return bearer(settings.hf_token)


def rate_limits(base_url: str, authenticated: bool) -> list[tuple[str, float]]:
    return [(f"{base_url}/api", TOKEN_PER_MINUTE if authenticated else ANON_PER_MINUTE)]


def search_terms(config: dict[str, Any]) -> list[str]:
    """Vocabulary terms as repository-id fragments; a term containing another one is redundant."""
    opts = config.get("search") or {}
    skip = {str(t).lower() for t in opts.get("skip_terms") or []}
    words = [*config.get("terms", []), *(opts.get("extra") or [])]
    frags = list(dict.fromkeys(re.sub(r"\s+", "-", str(t).strip().lower())
                               for t in words if str(t).lower() not in skip))
    return [f for f in frags if not any(o != f and o in f for o in frags)]


def queries(config: dict[str, Any], kind: str) -> list[tuple[str, dict[str, str]]]:
    """(cursor key, listing params) of every query for one repository kind."""
    out = [(f"{kind}:search:{t}", {"search": t}) for t in search_terms(config)]
    out += [(f"{kind}:filter:{t}", {"filter": str(t)}) for t in config.get("tags") or []]
    out += [(f"{kind}:author:{a}", {"author": str(a)}) for a in config.get("authors") or []]
    return out


async def harvest(ctx: SourceContext) -> AsyncIterator[Batch]:
    seen: set[str] = set()
    size = int(ctx.config.get("page_size") or PAGE_SIZE)
    for kind in ctx.config.get("kinds") or list(KINDS):
        for key, params in queries(ctx.config, kind):
            async for batch in _listing(ctx, kind, key, {**params, "limit": str(size)}, seen):
                yield batch
    async for batch in _recheck(ctx, seen):
        yield batch


async def _listing(ctx: SourceContext, kind: str, key: str, params: dict[str, str],
                   seen: set[str]) -> AsyncIterator[Batch]:
    """Newest-modified first; stop at the watermark. The cursor can resume a cut-off listing."""
    stored = ctx.cursor(key)
    state = json.loads(stored or "{}")
    since = parse_time(state.get("since"))
    newest = parse_time(state.get("newest")) or since
    url: str | None = state.get("next")
    query: dict[str, str] | None = None
    if not (url and url.startswith(ctx.base_url)):
        url = f"{ctx.base_url}/api/{kind}"
        query = {**params, "sort": "lastModified", "direction": "-1", "full": "true",
                 "cardData": "true"}
    while url:
        reply = await ctx.http.get(url, params=query)
        query, fresh, done = None, [], False
        for entry in json_list(reply.data, url):
            stamp = safe_time(entry.get("lastModified"))
            if stamp is not None and since is not None and stamp <= since:
                done = True
                break
            if stamp is None and since is not None:
                continue  # unreadable date: only a first or full sweep takes it
            newest = max(filter(None, (newest, stamp)), default=None)
            sid = f"{kind}/{entry.get('id')}"
            if sid not in seen:
                seen.add(sid)
                fresh.append(entry)
        url = None if done else reply.link("next")
        batch = await _details(ctx, kind, fresh)
        mark = newest.isoformat() if newest else None
        value = {"since": since.isoformat() if since else None, "newest": mark, "next": url} \
            if url else {"since": mark}
        batch.requests += 1
        if json.dumps(value) != stored:
            batch.cursor = (key, json.dumps(value))
        log.info("huggingface %s: %d new or modified", key, len(fresh))
        if batch.items or batch.gone or batch.unchanged or batch.cursor:
            yield batch


def json_list(data: Any, url: str) -> list[dict[str, Any]]:
    if not isinstance(data, list):
        raise ValueError(f"{url} answered {type(data).__name__}, expected a JSON list")
    return [entry for entry in data if isinstance(entry, dict)]


async def _details(ctx: SourceContext, kind: str, entries: Iterable[dict[str, Any]]) -> Batch:
    """The repo page adds model-index, spaces and storage; listings lack them."""
    batch = Batch()
    for entry in entries:
        repo_id = entry.get("id")
        if not repo_id:
            batch.items.append(RawItem(KINDS[kind], entry))  # malformed: quarantined by mapping
            continue
        await _fetch(ctx, kind, str(repo_id), batch)
    return batch


async def _fetch(ctx: SourceContext, kind: str, repo_id: str, batch: Batch) -> None:
    sid = f"{kind}/{repo_id}"
    batch.requests += 1
    try:
        reply = await ctx.http.get(f"{ctx.base_url}/api/{kind}/{repo_id}", revalidate=True)
    except HttpError as exc:
        # Anonymous callers get 401 for a repository that is gone or private, 404 with a token.
        if exc.status == 404 or (exc.status == 401 and not ctx.authenticated):
            batch.gone.append(sid)
            return
        raise
    if reply.not_modified:
        batch.unchanged.append(sid)
        return
    batch.items.append(RawItem(KINDS[kind], reply.data))
    if isinstance(reply.data, dict) and reply.data.get("id") not in (None, repo_id):
        batch.gone.append(sid)  # renamed: the old id redirects to the new one


async def _recheck(ctx: SourceContext, seen: set[str]) -> AsyncIterator[Batch]:
    """Known repos not seen for `recheck.days`: a 404 marks them withdrawn."""
    opts = ctx.config.get("recheck") or {}
    cutoff = ctx.started_at - timedelta(days=float(opts.get("days", 30)))
    stale = [s for s in ctx.known(seen_before=cutoff) if s not in seen]
    stale = stale[: int(opts.get("per_run", 50))]
    for start in range(0, len(stale), 20):
        batch = Batch()
        for sid in stale[start:start + 20]:
            kind, _, repo_id = sid.partition("/")
            await _fetch(ctx, kind, repo_id, batch)
        yield batch


def to_record(item: RawItem) -> Record:
    kind = PATHS[item.item_type]
    p = item.payload
    repo_id = p.get("id")
    if not isinstance(repo_id, str) or not repo_id.strip():
        raise ValueError(f"no repository id in the payload (id={repo_id!r})")
    tags = [str(t) for t in p.get("tags") or []]
    card = p.get("cardData") or {}
    own = hf_id(kind, repo_id)
    if own is None:
        raise ValueError(f"repository id is not a Hub repository id: {repo_id!r}")
    dois = list(filter(None, map(bare_doi, facet(tags, "doi"))))
    related = [*(hf_id("datasets", d) or "" for d in [*facet(tags, "dataset"),
                                                        *_as_list(card.get("datasets"))]),
               *(hf_id("models", m) or "" for m in [*_base_models(tags),
                                                      *_as_list(card.get("base_model"))]),
               *(normalize_arxiv(a) or "" for a in facet(tags, "arxiv")),
               *([f"pwc-dataset:{p['paperswithcode_id']}"] if p.get("paperswithcode_id") else [])]
    return Record(
        source="huggingface", source_id=f"{kind}/{repo_id}", kind_hint=KINDS[kind],
        title=str(card.get("pretty_name") or repo_id),
        description=str(p.get("description") or card.get("description") or ""),
        url=f"{SITE}/{repo_id}" if kind == "models" else f"{SITE}/datasets/{repo_id}",
        doi=dois[0] if dois else None,
        identifiers=unique([own, *(f"doi:{d}" for d in dois)]),
        keywords=_keywords(tags, p.get("pipeline_tag")),
        license=next(iter([*_as_list(card.get("license")), *facet(tags, "license")]), None),
        access=_access(p), creators=[str(p.get("author") or repo_id.partition("/")[0])],
        created_at=None if p.get("createdAt") == PLACEHOLDER_CREATED else parse_time(
            p.get("createdAt")),
        updated_at=parse_time(p.get("lastModified")),
        related=[r for r in unique(related) if r != own],
        metrics={k: float(p[k]) for k in ("downloads", "downloadsAllTime", "likes")
                 if isinstance(p.get(k), int | float)},
    )


def facet(tags: Iterable[str], name: str) -> list[str]:
    return [t.split(":", 1)[1] for t in tags if t.startswith(f"{name}:")]


def _base_models(tags: list[str]) -> list[str]:
    # "base_model:owner/name" and "base_model:finetune:owner/name" (relation prefix).
    return [v.rsplit(":", 1)[-1] for v in facet(tags, "base_model")]


def _keywords(tags: list[str], pipeline_tag: Any) -> list[str]:
    kept = [t for t in tags if ":" not in t and t not in PLATFORM_TAGS]
    kept += facet(tags, "task_categories") + facet(tags, "task_ids") + facet(tags, "modality")
    return unique([*kept, *([str(pipeline_tag)] if pipeline_tag else [])], lower=False)


def _access(p: dict[str, Any]) -> str:
    if p.get("private") or p.get("disabled"):
        return "restricted"
    return {False: "open", None: "open", "manual": "on request"}.get(p.get("gated"),
                                                                    "registration")


def _as_list(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def unique(values: Iterable[str], *, lower: bool = True) -> list[str]:
    return list(dict.fromkeys(v.lower() if lower else v for v in values if v))


def safe_time(value: Any) -> datetime | None:
    """An API timestamp, or None when it is missing or unreadable."""
    try:
        return parse_time(value)
    except (TypeError, ValueError):
        return None


SOURCE = Source(
    name="huggingface",
    summary="Hugging Face Hub datasets and models (id search, tags, authors; newest first)",
    base_url=lambda s: s.hf_url,
    harvest=harvest,
    to_record=to_record,
    rate_limits=rate_limits,
    auth_headers=auth_headers,
)
