"""Papers: the frozen Papers with Code dumps, read once, and live Hugging Face paper pages."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sonoharvest.http import HttpError
from sonoharvest.identifiers import hf_id, normalize_arxiv, normalize_github, normalize_link
from sonoharvest.records import Batch, RawItem, Record, parse_time
from sonoharvest.sources.base import Source, SourceContext
from sonoharvest.sources.huggingface import (
    SITE,
    auth_headers,
    json_list,
    rate_limits,
    safe_time,
    unique,
)

log = logging.getLogger(__name__)

# Papers with Code shut down in July 2025; its last dumps are frozen as the Hugging Face datasets
# pwc-archive/* (sources.md 4.2), read through the dataset viewer API, whose /search and /rows
# return at most 100 rows per call. It publishes no rate limit, so we pace it conservatively.
# The live channel, huggingface.co/api/papers, shares the Hub "api" bucket: `rate_limits` is
# the Hugging Face source's (500 requests / 5 min anonymous, 1,000 with a token).
DATASETS_SERVER_PER_MINUTE = 60.0
MAX_LENGTH = 100
DUMPS = {"datasets": "pwc-dataset", "links-between-paper-and-code": "pwc-paper-code",
         "papers-with-abstracts": "pwc-paper"}
DONE = "done"        # cursor of a (dump, term) backfill read to the end: reruns skip it
DETAIL_CHUNK = 20    # paper pages fetched per stored batch


def terms(config: dict[str, Any]) -> list[str]:
    skip = {str(t).lower() for t in config.get("skip_terms") or []}
    return [str(t) for t in config.get("terms", []) if str(t).lower() not in skip]


async def harvest(ctx: SourceContext) -> AsyncIterator[Batch]:
    server = ctx.settings.hf_datasets_server_url.rstrip("/")
    ctx.http.limit(server, DATASETS_SERVER_PER_MINUTE)
    if ctx.authenticated:
        ctx.http.authorize(server, auth_headers(ctx.settings))
    seen: set[str] = set()
    pwc = ctx.config.get("pwc_archive") or {}
    for dump in pwc.get("dumps") or list(DUMPS):
        if dump not in DUMPS:
            raise ValueError(f"papers.yaml: unknown dump {dump!r}; choose from {', '.join(DUMPS)}")
        for term in terms(ctx.config):
            async for batch in _backfill(ctx, server, pwc, dump, term, seen):
                yield batch
    known = set(ctx.known(item_type="hf-paper"))
    for term in terms(ctx.config):
        async for batch in _live(ctx, term, known, seen):
            yield batch
    async for batch in _recheck(ctx, seen):
        yield batch


async def _backfill(ctx: SourceContext, server: str, opts: dict[str, Any], dump: str, term: str,
                    seen: set[str]) -> AsyncIterator[Batch]:
    """Page one dump's full-text search for one term; the cursor holds the next offset."""
    key = f"pwc:{dump}:{term}"
    state = ctx.cursor(key)
    if state == DONE:
        return
    offset, size = int(state or 0), min(int(opts.get("page_size") or MAX_LENGTH), MAX_LENGTH)
    cap = int(opts.get("max_rows_per_term") or 5000)
    params = {"dataset": f"{opts.get('org') or 'pwc-archive'}/{dump}", "config": "default",
              "split": "train", "query": term}
    while True:
        reply = await ctx.http.get(f"{server}/search",
                                   params={**params, "offset": offset, "length": size})
        if not isinstance(reply.data, dict):
            raise ValueError(f"{server}/search answered {type(reply.data).__name__}, not an object")
        rows = [r["row"] for r in reply.data.get("rows") or [] if isinstance(r.get("row"), dict)]
        total = int(reply.data.get("num_rows_total") or 0)
        if reply.data.get("partial") and offset == 0:
            log.warning("papers: the viewer searched only part of %s for %r", dump, term)
        offset += len(rows)
        batch = Batch(requests=1)
        for row in rows:
            mark = f"{dump}:{row.get('url') or row.get('paper_url')}:{row.get('repo_url')}"
            if mark not in seen:
                seen.add(mark)
                batch.items.append(RawItem(DUMPS[dump], row))
        done = not rows or offset >= min(total, cap)
        if done and total > cap:
            log.warning("papers: %r matches %d rows of %s; kept the first %d (max_rows_per_term)",
                        term, total, dump, cap)
        batch.cursor = (key, DONE if done else str(offset))
        yield batch
        if done:
            return


async def _live(ctx: SourceContext, term: str, known: set[str], seen: set[str]
                ) -> AsyncIterator[Batch]:
    """Search Hugging Face papers; fetch the page of each paper that is new or newly published."""
    key, limit = f"hf-papers:{term}", int((ctx.config.get("hf_papers") or {}).get("limit", 50))
    stored = ctx.cursor(key)
    since = parse_time(stored)
    url = f"{ctx.base_url}/api/papers/search"
    entries = json_list((await ctx.http.get(url, params={"q": term, "limit": limit})).data, url)
    if len(entries) >= limit:
        log.warning("papers: search %r hit its limit of %d results; some may be missed", term,
                    limit)
    first, wanted, newest = Batch(requests=1), [], since
    for entry in entries:
        paper = entry["paper"] if isinstance(entry.get("paper"), dict) else entry
        aid, stamp = normalize_arxiv(paper.get("id")), safe_time(paper.get("publishedAt"))
        newest = max(filter(None, (newest, stamp)), default=None)
        if not aid:
            first.items.append(RawItem("hf-paper", paper))  # malformed: quarantined by mapping
        elif aid not in seen and (ctx.full or aid not in known
                                  or (stamp and since and stamp > since)):
            seen.add(aid)
            wanted.append((aid, paper))
    chunks = [wanted[i:i + DETAIL_CHUNK] for i in range(0, len(wanted), DETAIL_CHUNK)] or [[]]
    for n, chunk in enumerate(chunks):
        batch = first if n == 0 else Batch()
        for aid, paper in chunk:
            await _paper(ctx, aid, batch, listed=paper)
        if n == len(chunks) - 1 and newest and newest.isoformat() != stored:
            batch.cursor = (key, newest.isoformat())
        if batch.items or batch.gone or batch.cursor:
            yield batch


async def _paper(ctx: SourceContext, aid: str, batch: Batch, listed: dict[str, Any] | None
                 ) -> None:
    """Fetch the page of the paper `aid` ("arxiv:<id>") into the batch."""
    batch.requests += 1
    try:
        reply = await ctx.http.get(f"{ctx.base_url}/api/papers/{aid.removeprefix('arxiv:')}")
    except HttpError as exc:
        if exc.status != 404:
            raise
        if listed is None:
            batch.gone.append(aid)
        else:
            batch.items.append(RawItem("hf-paper", listed))  # listed, but no page (yet)
        return
    batch.items.append(RawItem("hf-paper", reply.data))


async def _recheck(ctx: SourceContext, seen: set[str]) -> AsyncIterator[Batch]:
    """Known paper pages not refreshed for `recheck_days`: new links, or a 404 (withdrawn)."""
    opts = ctx.config.get("hf_papers") or {}
    cutoff = ctx.started_at - timedelta(days=float(opts.get("recheck_days", 30)))
    stale = [s for s in ctx.known(item_type="hf-paper", seen_before=cutoff) if s not in seen]
    stale = stale[: int(opts.get("recheck_per_run", 40))]
    for start in range(0, len(stale), DETAIL_CHUNK):
        batch = Batch()
        for sid in stale[start:start + DETAIL_CHUNK]:
            await _paper(ctx, sid, batch, listed=None)
        yield batch


def to_record(item: RawItem) -> Record:
    mapper = MAPPERS.get(item.item_type)
    if mapper is None:
        raise ValueError(f"unknown item type {item.item_type!r}")
    return mapper(item.payload)


def _hf_paper(p: dict[str, Any]) -> Record:
    aid = normalize_arxiv(p.get("id"))
    if not aid:
        raise ValueError(f"no arXiv id in the paper payload (id={p.get('id')!r})")
    linked = [hf_id(kind, repo["id"]) or "" for field, kind in
              (("linkedModels", "models"), ("linkedDatasets", "datasets"))
              for repo in p.get(field) or [] if isinstance(repo, dict) and repo.get("id")]
    return Record(
        source="papers", source_id=aid, kind_hint="paper",
        title=p.get("title") or "", description=p.get("summary") or "",
        url=f"{SITE}/papers/{aid.removeprefix('arxiv:')}", identifiers=[aid],
        keywords=[str(k) for k in p.get("ai_keywords") or []],
        creators=[str(a["name"]) for a in p.get("authors") or [] if a.get("name")],
        created_at=parse_time(p.get("publishedAt")),
        related=unique([normalize_github(p.get("githubRepo")) or "",
                        normalize_link(p.get("projectPage")) or "", *linked]),
        metrics={k: float(p[k]) for k in ("upvotes", "githubStars", "numTotalModels",
                                          "numTotalDatasets", "numTotalSpaces")
                 if isinstance(p.get(k), int | float)},
    )


def _pwc_dataset(row: dict[str, Any]) -> Record:
    slug = pwc_slug(row.get("url"))
    paper = row.get("paper") or {}
    loaders = [normalize_github(d.get("repo") or d.get("url"))
               for d in row.get("data_loaders") or []]
    return Record(
        source="papers", source_id=f"pwc-dataset:{slug}", kind_hint="dataset",
        title=row.get("full_name") or row.get("name") or "",
        description=row.get("description") or row.get("short_description") or "",
        url=row.get("homepage") or row.get("url"), identifiers=[f"pwc-dataset:{slug}"],
        keywords=unique([*(row.get("modalities") or []),
                         *(t.get("task", "") if isinstance(t, dict) else str(t)
                           for t in row.get("tasks") or []),
                         *(row.get("languages") or [])], lower=False),
        license=row.get("license_name") or None,
        created_at=parse_time(row.get("introduced_date")),
        related=unique([_pwc_paper_id(paper.get("url")), *filter(None, loaders)]),
        metrics={"papers": float(row["num_papers"])} if row.get("num_papers") is not None else {},
    )


def _pwc_code(row: dict[str, Any]) -> Record:
    paper, repo_url = pwc_slug(row.get("paper_url")), str(row.get("repo_url") or "")
    repo = normalize_github(repo_url)
    if not repo_url:
        raise ValueError("the link row has no repo_url")
    where = repo.removeprefix("github:") if repo else repo_url.split("://")[-1].lower()
    framework = row.get("framework") if row.get("framework") not in (None, "", "none") else None
    aid = normalize_arxiv(row.get("paper_arxiv_id"))
    return Record(
        source="papers", source_id=f"pwc-code:{where}:{paper}", kind_hint="code",
        title=row.get("paper_title") or "", url=repo_url,
        description=f"{'Official' if row.get('is_official') else 'Community'} code for the "
                    f"paper \"{row.get('paper_title')}\" at {repo_url}",
        identifiers=[repo] if repo else [], keywords=[framework] if framework else [],
        related=unique([f"pwc-paper:{paper}", aid or ""]),
    )


def _pwc_paper(row: dict[str, Any]) -> Record:
    slug, aid = pwc_slug(row.get("paper_url")), normalize_arxiv(row.get("arxiv_id"))
    return Record(
        source="papers", source_id=f"pwc-paper:{slug}", kind_hint="paper",
        title=row.get("title") or "", description=row.get("abstract") or "",
        url=row.get("url_abs") or row.get("paper_url"),
        identifiers=unique([f"pwc-paper:{slug}", aid or ""]),
        keywords=[str(t) for t in row.get("tasks") or []],
        creators=[str(a) for a in row.get("authors") or []],
        created_at=parse_time(row.get("date")),
    )


MAPPERS: dict[str, Callable[[dict[str, Any]], Record]] = {
    "hf-paper": _hf_paper, "pwc-dataset": _pwc_dataset, "pwc-paper-code": _pwc_code,
    "pwc-paper": _pwc_paper,
}


def pwc_slug(url: Any) -> str:
    """The last path segment of a paperswithcode.com URL: the dataset's or paper's id there."""
    segments = [s for s in urlsplit(str(url or "")).path.split("/") if s]
    if not segments:
        raise ValueError(f"no Papers with Code URL to take an id from ({url!r})")
    return segments[-1].lower()


def _pwc_paper_id(url: Any) -> str:
    return f"pwc-paper:{pwc_slug(url)}" if url else ""


SOURCE = Source(
    name="papers",
    summary="Papers with Code archive (datasets, paper-code links) and Hugging Face papers",
    base_url=lambda s: s.hf_url,
    harvest=harvest,
    to_record=to_record,
    rate_limits=rate_limits,
    auth_headers=auth_headers,
)
