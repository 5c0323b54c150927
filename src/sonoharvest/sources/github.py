"""GitHub: repositories matching the ultrasound vocabulary or topics, with their READMEs."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sonoharvest.http import HttpError
from sonoharvest.identifiers import (
    bare_doi,
    extract_identifiers,
    is_url,
    normalize_github,
    weight_links,
)
from sonoharvest.records import Batch, RawItem, Record, parse_time
from sonoharvest.settings import Settings
from sonoharvest.sources.base import Source, SourceContext, bearer

log = logging.getLogger(__name__)

# docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api: search 10/min anonymous
# and 30/min with a token; core 60/h anonymous and 5,000/h with a token.
SEARCH_PER_MINUTE = {False: 10.0, True: 30.0}
CORE_PER_MINUTE = {False: 60 / 60, True: 5000 / 60}
# docs.github.com/rest/search/search: 100 per page, 1,000 results per query, at most five
# AND/OR/NOT operators and 256 characters of search text (qualifiers not counted), else 422.
MAX_PER_PAGE = 100
SEARCH_CAP = 1000
MAX_OPERATORS = 5
MAX_QUERY_CHARS = 256
INCOMPLETE_RETRIES = 2
API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
GONE = frozenset({404, 410, 451})
ITEM_TYPE = "repository"
RECHECK_BATCH = 25
README_CHARS = 3000

# The badge Zenodo's GitHub integration gives a repository: its DOI is the repository's own.
_BADGE_DOI = re.compile(r"zenodo\.org/badge/DOI/(10\.5281/zenodo\.\d+)", re.I)
_WEIGHT_PHRASE = re.compile(r"\bpre-?trained\s+(weights|models?|checkpoints?)\b|"
                            r"\bmodel\s+(weights|checkpoints?)\b|\bdownload\s+(the\s+)?"
                            r"(weights|checkpoints?)\b", re.I)
_DATASET_TOPICS = frozenset({"dataset", "datasets", "medical-dataset", "benchmark-dataset",
                             "open-data", "open-dataset"})
_DATASET_NAME = re.compile(r"(^|[-_.])(dataset|datasets|database|db)($|[-_.])", re.I)
_DATASET_DESC = re.compile(r"^\W*(the |an? |official |public |open |large )*([\w-]+ ){0,3}"
                           r"(dataset|database|data set)\b", re.I)
_CODE_WORDS = re.compile(r"\b(implementation|code|model|network|baseline|pytorch|tensorflow)s?\b",
                         re.I)


@dataclass(slots=True)
class _Run:
    """One run's options and shared state: known ids, ids handled, the README budget left."""

    per_page: int
    start: date
    recheck_days: int
    max_rechecks: int
    readmes_left: int
    known: set[str]
    seen: set[str] = field(default_factory=set)

    @classmethod
    def create(cls, ctx: SourceContext) -> _Run:
        cfg, anon = ctx.config, "" if ctx.authenticated else "_anonymous"
        return cls(
            per_page=max(1, min(int(cfg.get("per_page", MAX_PER_PAGE)), MAX_PER_PAGE)),
            start=date.fromisoformat(str(cfg.get("created_start", "2008-01-01"))),
            recheck_days=int(cfg.get("recheck_days", 28)),
            max_rechecks=int(cfg.get(f"max_rechecks{anon}", 10 if anon else 500)),
            readmes_left=int(cfg.get(f"max_readmes{anon}", 30 if anon else 3000)),
            known=set(ctx.known(item_type=ITEM_TYPE)),
        )


@dataclass(slots=True)
class _Sweep:
    """A query's cursor: `since` filters by pushed date; `sweep`/`done` mark a sweep underway."""

    since: str | None
    sweep: str
    done: str | None = None

    @classmethod
    def load(cls, value: str | None, today: date) -> _Sweep:
        state = json.loads(value) if value and value.startswith("{") else {"since": value}
        if state.get("sweep"):  # an interrupted sweep resumes after its last complete window
            return cls(state.get("since"), state["sweep"], state.get("done"))
        return cls(state.get("since"), today.isoformat())

    def progress(self) -> str:
        return json.dumps({"since": self.since, "sweep": self.sweep, "done": self.done})

    def final(self) -> str:
        return json.dumps({"since": self.sweep})


def build_queries(config: dict[str, Any]) -> list[str]:
    """OR-groups of vocabulary terms within GitHub's query limits, then one query per topic."""
    fields = config.get("search_in") or ["name", "description", "topics", "readme"]
    scope = "in:" + ",".join(fields)
    extra = " ".join(config.get("qualifiers") or [])
    size = max(1, min(int(config.get("terms_per_query", MAX_OPERATORS + 1)), MAX_OPERATORS + 1))
    groups: list[list[str]] = []
    for raw in config.get("terms", []):
        term = str(raw).replace('"', "").strip()
        if not term:
            continue
        term = f'"{term}"' if re.search(r"\W", term) else term
        if groups and len(groups[-1]) < size and \
                len(" ".join([*groups[-1], term])) <= MAX_QUERY_CHARS:
            groups[-1].append(term)
        else:
            groups.append([term])
    queries = [" ".join(filter(None, [" OR ".join(g), scope, extra])) for g in groups]
    queries += [" ".join(filter(None, [f"topic:{t}", extra])) for t in config.get("topics") or []]
    return queries


async def harvest(ctx: SourceContext) -> AsyncIterator[Batch]:
    """Search every query (date-sliced, incremental), then re-check repositories not seen lately."""
    run = _Run.create(ctx)
    for query in build_queries(ctx.config):
        async for batch in _sweep(ctx, query, run):
            yield batch
    async for batch in _recheck(ctx, run):
        yield batch


async def _sweep(ctx: SourceContext, query: str, run: _Run) -> AsyncIterator[Batch]:
    """One query over `created:` windows, oldest first; a window over 1,000 hits is halved."""
    key = f"search:{query}"
    state = _Sweep.load(ctx.cursor(key), ctx.started_at.date())
    end = date.fromisoformat(state.sweep)
    first = date.fromisoformat(state.done) + timedelta(days=1) if state.done else run.start
    windows = [(first, end)] if first <= end else []
    if not windows:
        yield Batch(cursor=(key, state.final()))
    while windows:
        lo, hi = windows.pop()
        pushed = f" pushed:>={state.since}" if state.since else ""
        params: dict[str, Any] | None = {"q": f"{query} created:{lo}..{hi}{pushed}",
                                         "per_page": run.per_page, "sort": "updated",
                                         "order": "desc"}
        url: str | None = f"{ctx.base_url}/search/repositories"
        fetched = 0
        while url:
            data, url = await _search_page(ctx, url, params)
            params = None  # the Link header's next URL carries every parameter
            total = int(data.get("total_count", 0))
            if fetched == 0 and total > SEARCH_CAP and lo < hi:
                mid = lo + timedelta(days=(hi - lo).days // 2)
                windows += [(mid + timedelta(days=1), hi), (lo, mid)]
                break
            if fetched == 0 and total > SEARCH_CAP:
                log.warning("github: %s hits for %r on %s; only the first %d are reachable",
                            total, query, lo, SEARCH_CAP)
            fetched += len(data["items"])
            if fetched >= min(total, SEARCH_CAP):
                url = None
            batch = await _collect(ctx, data["items"], run)
            if url is None:
                state.done = hi.isoformat()
            batch.cursor = (key, state.final() if url is None and not windows else state.progress())
            yield batch
    log.info("github: query %r done (%d repositories seen so far)", query, len(run.seen))


async def _search_page(ctx: SourceContext, url: str, params: dict[str, Any] | None
                       ) -> tuple[dict[str, Any], str | None]:
    """One search page; a page GitHub marks incomplete (timed out) is asked for again."""
    for attempt in range(INCOMPLETE_RETRIES + 1):
        reply = await ctx.http.get(url, params=params, headers=API_HEADERS)
        data = reply.data
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise ValueError(f"search answered without an items list: {str(data)[:200]}")
        if not data.get("incomplete_results"):
            break
        log.warning("github: incomplete search results (attempt %d)", attempt + 1)
    return data, reply.link("next")


async def _collect(ctx: SourceContext, items: list[dict[str, Any]], run: _Run) -> Batch:
    """Raw items for the repositories on a page that this run has not handled yet."""
    batch = Batch()
    for repo in items:
        repo_id = str(repo.get("id"))
        if repo_id in run.seen:
            continue
        run.seen.add(repo_id)
        if run.readmes_left <= 0 and repo_id in run.known:
            batch.unchanged.append(repo_id)  # keep the stored copy; a later re-check refreshes it
            continue
        batch.items.append(await _composite(ctx, repo, run))
    return batch


async def _composite(ctx: SourceContext, repo: dict[str, Any], run: _Run) -> RawItem:
    name = repo.get("full_name")
    if not isinstance(name, str) or "/" not in name:  # malformed: to_record quarantines it
        return RawItem(ITEM_TYPE, {"repo": repo, "readme": None})
    if run.readmes_left <= 0:
        return RawItem(ITEM_TYPE, {"repo": repo, "readme": None, "readme_skipped": True})
    run.readmes_left -= 1
    url = f"{ctx.base_url}/repos/{name}/readme"
    try:
        reply = await ctx.http.get(url, headers=API_HEADERS, revalidate=True)
        if reply.not_modified:
            previous = ctx.stored(str(repo.get("id")))
            if isinstance(previous, dict) and previous.get("readme"):
                return RawItem(ITEM_TYPE, {"repo": repo, "readme": previous["readme"]})
            reply = await ctx.http.get(url, headers=API_HEADERS)  # nothing stored to reuse
    except HttpError as exc:
        if exc.status in GONE:
            return RawItem(ITEM_TYPE, {"repo": repo, "readme": None})
        if exc.status not in (403, 429):
            raise
        # Refused or rate limited beyond SONOHARVEST_HTTP_MAX_WAIT: no more READMEs this run.
        log.warning("github: README request refused (HTTP %s); storing without READMEs",
                    exc.status)
        run.readmes_left = 0
        return RawItem(ITEM_TYPE, {"repo": repo, "readme": None, "readme_skipped": True})
    return RawItem(ITEM_TYPE, {"repo": repo, "readme": reply.data})


async def _recheck(ctx: SourceContext, run: _Run) -> AsyncIterator[Batch]:
    """Known repositories not seen for `recheck_days`: conditional GET by id (rename-proof)."""
    cutoff = ctx.started_at - timedelta(days=run.recheck_days)
    due = [i for i in ctx.known(item_type=ITEM_TYPE, seen_before=cutoff) if i not in run.seen]
    due = due[:run.max_rechecks]
    checked = 0
    for start in range(0, len(due), RECHECK_BATCH):
        batch = Batch()
        for repo_id in due[start:start + RECHECK_BATCH]:
            if run.readmes_left <= 0:  # a changed repository needs its README too
                break
            checked += 1
            # GET /repositories/{id}: stable across renames (PyGithub/PyGithub#245).
            try:
                reply = await ctx.http.get(f"{ctx.base_url}/repositories/{repo_id}",
                                           headers=API_HEADERS, revalidate=True)
            except HttpError as exc:
                if exc.status not in GONE:
                    raise
                batch.gone.append(repo_id)
                continue
            if reply.not_modified:
                batch.unchanged.append(repo_id)
            else:
                batch.items.append(await _composite(ctx, reply.data, run))
        if batch.items or batch.unchanged or batch.gone:
            yield batch
        if run.readmes_left <= 0:
            break
    log.info("github: re-checked %d of %d known repositories due", checked, len(due))


# --- mapping -----------------------------------------------------------------------------

def to_record(item: RawItem) -> Record:
    """Map a {"repo": search item, "readme": README JSON or null} payload to a Record."""
    repo = item.payload.get("repo")
    if not isinstance(repo, dict):
        raise ValueError("payload has no 'repo' object")
    repo_id, name = repo.get("id"), repo.get("full_name")
    if not isinstance(repo_id, int) or isinstance(repo_id, bool):
        raise ValueError(f"repository id is missing or not an integer: {repo_id!r}")
    if not isinstance(name, str) or name.count("/") != 1:
        raise ValueError(f"repository full_name is missing or malformed: {name!r}")
    readme = _readme_text(item.payload.get("readme"))
    own = normalize_github(f"github:{name}")
    if own is None:
        raise ValueError(f"repository full_name is not an owner/repository name: {name!r}")
    related, weights, doi = _links("\n".join([readme, repo.get("homepage") or ""]), own)
    description = repo.get("description") or ""
    license_ = (repo.get("license") or {}).get("key")
    owner = (repo.get("owner") or {}).get("login")
    metrics = {"stars": repo.get("stargazers_count"), "forks": repo.get("forks_count"),
               "open_issues": repo.get("open_issues_count"),
               "watchers": repo.get("subscribers_count")}
    return Record(
        source="github", source_id=str(repo_id), kind_hint=_kind(repo, readme, weights),
        title=name, description="\n\n".join(filter(None, [description, _excerpt(readme)])),
        url=repo.get("html_url") or f"https://github.com/{name}", doi=doi,
        identifiers=[own, *([f"doi:{doi}"] if doi else [])],
        keywords=[str(t) for t in repo.get("topics") or []], license=license_, access="open",
        creators=[owner] if owner else [], created_at=parse_time(repo.get("created_at")),
        updated_at=parse_time(repo.get("pushed_at") or repo.get("updated_at")), related=related,
        metrics={k: float(v) for k, v in metrics.items() if isinstance(v, int | float)},
    )


def _readme_text(readme: Any) -> str:
    if not isinstance(readme, dict) or readme.get("encoding") != "base64":
        return ""
    return base64.b64decode(readme.get("content") or "").decode("utf-8", errors="replace")


def _links(text: str, own: str) -> tuple[list[str], bool, str | None]:
    """(related identifiers and weight URLs, whether weights are linked, the repo's own DOI)."""
    weights = weight_links(text)
    related = [i for i in extract_identifiers(text) if not is_url(i) and i != own]
    badge = _BADGE_DOI.search(text)
    doi = bare_doi(badge.group(1)) if badge else None
    return list(dict.fromkeys([*related, *weights])), bool(weights), doi


def _kind(repo: dict[str, Any], readme: str, weights: bool) -> str:
    description = repo.get("description") or ""
    topics = {str(t).lower() for t in repo.get("topics") or []}
    if topics & _DATASET_TOPICS or _DATASET_NAME.search(repo.get("name") or "") or (
            _DATASET_DESC.match(description) and not _CODE_WORDS.search(description)):
        return "dataset"
    return "model" if weights or _WEIGHT_PHRASE.search(readme) else "code"


def _excerpt(markdown: str) -> str:
    """README prose: code blocks, images, link targets, HTML tags and markup removed."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)|<[^>]+>|^\s*\[[^\]]+\]:\s*\S+.*$", " ", text, flags=re.M)
    text = re.sub(r"\[([^\]]*)\](\([^)]*\)|\[[^\]]*\])?", r"\1", text)
    text = re.sub(r"^\s{0,3}(#{1,6}|[-*+>]|\d+\.)\s+|[*`|]{1,3}|^[-=]{3,}$", " ", text, flags=re.M)
    return re.sub(r"\s+", " ", text).strip()[:README_CHARS]


def _rate_limits(base_url: str, authenticated: bool) -> list[tuple[str, float]]:
    # The /repos prefix also paces /repositories/{id}: both spend the core budget.
    return [(f"{base_url}/search", SEARCH_PER_MINUTE[authenticated]),
            (f"{base_url}/repos", CORE_PER_MINUTE[authenticated])]


def _auth_headers(settings: Settings) -> dict[str, str]:
    return bearer(settings.github_token)


SOURCE = Source(
    name="github",
    summary="GitHub repositories (model code, weights, dataset repos) with their READMEs",
    base_url=lambda s: s.github_url,
    harvest=harvest,
    to_record=to_record,
    rate_limits=_rate_limits,
    auth_headers=_auth_headers,
)
