"""Grand Challenge: medical imaging challenges (and the datasets they publish) on the
grand-challenge.org REST API, filtered to ultrasound on our side.

Facts from the platform's source (github.com/comic/grand-challenge.org, app/grandchallenge/):
- `GET /api/v1/challenges/` is `ChallengeViewSet` (challenges/views.py), a ReadOnlyModelViewSet
  whose only filter backend is guardian's ObjectPermissionsFilter: no search, no filter, no
  ordering parameter. Anonymous callers see the challenges that are not hidden (models.py,
  `assign_permissions` gives view_challenge to the registered-and-anonymous group only when
  `public`); a hidden or deleted challenge disappears from the list and its detail URL
  `/api/v1/challenges/{slug}/` answers 404. The queryset follows `Challenge.Meta.ordering`,
  ("pk",): creation order, so new challenges are appended at the end of the list.
- Items are `PublicChallengeSerializer` (challenges/serializers.py): api_url, url, slug, title,
  description, public, status, logo, submission_types, start_date, end_date, publications,
  created, modified (the newest of the challenge's and its visible phases' `modified`; None
  in older versions for a challenge without phases) and, in newer versions, incentives.
  `description` is a plain-text summary of at most 1,024 characters; `title` may be blank, in
  which case the site shows the slug (help text of `ChallengeBase.title`).
- Paging is DRF's LimitOffsetPagination (settings REST_FRAMEWORK: DEFAULT_PAGINATION_CLASS
  grandchallenge.api.pagination.MaxLimit1000OffsetPagination, PAGE_SIZE 100): `?limit=&offset=`
  answering {count, next, previous, results}; a limit above `max_limit` = 1000 is clamped to
  1000 silently (rest_framework/pagination.py, `_positive_int(..., cutoff=max_limit)`).
- Data access terms are not public: `access_request_handling` and `data_license_agreement` are
  model fields the serializer leaves out, so access is read from the description's wording.
- No rate limit is documented and REST_FRAMEWORK sets no throttle classes; we pace ourselves.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sonoharvest.datafiles import read_yaml
from sonoharvest.http import HttpError
from sonoharvest.identifiers import (
    extract_identifiers,
    is_url,
    normalize_grandchallenge,
    normalize_identifier,
    normalize_url,
)
from sonoharvest.records import Batch, RawItem, Record, clean_text, parse_time
from sonoharvest.settings import REPO_ROOT
from sonoharvest.sources.base import Source, SourceContext

log = logging.getLogger(__name__)

# Our own choice: the API documents no limit. One listing page of up to 1,000 challenges covers
# the whole site today, so 30 requests a minute only ever paces the rare gone-confirmations.
PER_MINUTE = 30.0
MAX_LIMIT = 1000              # MaxLimit1000OffsetPagination.max_limit; larger limits are clamped
LIST_PATH = "/api/v1/challenges/"
ITEM = "challenge"
CURSOR = "challenges"
CONFIG_PATH = REPO_ROOT / "rubrics" / "harvest" / "grandchallenge.yaml"
# Record.access values, strictest first; rubrics/access.yaml maps them to its levels
# (restricted -> controlled, open -> open download), as it does for the Hugging Face mapper.
ACCESS_ORDER = ("restricted", "on request", "registration", "open")


@dataclass
class _Listing:
    """What one pass over the challenge list saw."""

    since: datetime | None
    known: set[str]
    patterns: list[re.Pattern[str]]
    listed: set[str] = field(default_factory=set)
    newest: datetime | None = None
    matched: int = 0
    complete: bool = False


async def harvest(ctx: SourceContext) -> AsyncIterator[Batch]:
    """List every public challenge (no server-side search exists) and keep the ultrasound ones.

    The cursor holds the newest `modified` of the last complete listing: a known challenge not
    modified since is reported unchanged without being stored again. Because each run sees the
    whole list, a known challenge missing from a complete listing is checked and withdrawn.
    """
    cfg = ctx.config
    state = _load_state(ctx.cursor(CURSOR))
    listing = _Listing(since=_safe_time(state.get("modified")),
                       known=set(ctx.known(item_type=ITEM)),
                       patterns=term_patterns([*cfg.get("terms", []),
                                               *(cfg.get("extra_terms") or [])]))
    size = max(1, min(int(cfg.get("page_size") or MAX_LIMIT), MAX_LIMIT))
    url: str | None = f"{ctx.base_url}{LIST_PATH}?limit={size}&offset=0"
    visited: set[str] = set()
    batch = Batch()
    while url:
        visited.add(url)
        reply = await ctx.http.get(url)
        batch = _sort(listing, _page(reply.data, url))
        batch.requests = 1
        url = _next_url(ctx, reply.data, url, listing)
        if url in visited:
            log.warning("grandchallenge: the API sent %s as next page twice; listing stopped "
                        "early, no challenge is withdrawn this run", url)
            url = None
            listing.complete = False
        if url:
            yield batch
    if listing.complete:
        batch = await _confirm_gone(ctx, listing, batch)
        batch.cursor = _save_state(ctx, listing, state)
    log.info("grandchallenge: %d challenges listed, %d match the vocabulary, %d withdrawn%s",
             len(listing.listed), listing.matched, len(batch.gone),
             "" if listing.complete else " (listing incomplete)")
    yield batch


def term_patterns(terms: Iterable[Any]) -> list[re.Pattern[str]]:
    """One case-insensitive whole-word pattern per vocabulary term; spaces match any space."""
    words = dict.fromkeys(str(t).strip() for t in terms if t and str(t).strip())
    return [re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, t.split())) + r"(?!\w)", re.I)
            for t in words]


def matches(item: dict[str, Any], patterns: list[re.Pattern[str]]) -> bool:
    """Whether a vocabulary term occurs in the challenge's title or description."""
    text = f"{item.get('title') or ''} {clean_text(str(item.get('description') or ''))}"
    return any(p.search(text) for p in patterns)


def _sort(listing: _Listing, results: list[dict[str, Any]]) -> Batch:
    """Matching challenges of one page: new or modified ones as items, the rest unchanged.

    A known challenge is followed even when it no longer matches the vocabulary (its text or
    the vocabulary changed): it still exists, so it is updated rather than withdrawn, and the
    classifier, which sees the new text, decides whether it stays relevant.
    """
    batch = Batch()
    for item in results:
        slug = item.get("slug")
        slug = slug if isinstance(slug, str) and slug else None
        if slug:
            listing.listed.add(slug)
        if not (slug in listing.known or matches(item, listing.patterns)):
            continue
        listing.matched += 1
        stamp = _safe_time(item.get("modified"))
        listing.newest = max(filter(None, (listing.newest, stamp)), default=None)
        if (slug in listing.known and listing.since is not None and stamp is not None
                and stamp <= listing.since):
            batch.unchanged.append(str(slug))
        else:
            batch.items.append(RawItem(ITEM, item))  # new, modified, or malformed (quarantined)
    return batch


def _page(data: Any, url: str) -> list[dict[str, Any]]:
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise ValueError(f"{url} did not answer a paginated list ({{count, next, results}})")
    return [r for r in data["results"] if isinstance(r, dict)]


def _next_url(ctx: SourceContext, data: dict[str, Any], url: str,
              listing: _Listing) -> str | None:
    """The next page, on our base URL (DRF builds `next` from the request's host, which a proxy
    may rewrite); None, with the listing marked complete, after the last page."""
    offset = _int(dict(_query(url)).get("offset")) + len(data["results"])
    count = _int(data.get("count"))
    following = data.get("next")
    if not following or offset >= count or not data["results"]:
        listing.complete = bool(not following or offset >= count)
        if not listing.complete:
            log.warning("grandchallenge: empty page at %s although count is %d", url, count)
        return None
    parts = urlsplit(str(following))
    return f"{ctx.base_url}{parts.path}?{parts.query}"


async def _confirm_gone(ctx: SourceContext, listing: _Listing, batch: Batch) -> Batch:
    """Known challenges missing from a complete listing, confirmed one by one: a 404 means
    hidden or deleted (withdrawn); a 200 means offset paging skipped it because the list
    shifted while we read it, so it is kept."""
    missing = sorted(listing.known - listing.listed)
    limit = int(ctx.config.get("confirm_gone_max", 25))
    if len(missing) > limit:
        log.warning("grandchallenge: %d known challenges missing from the list; confirming %d "
                    "now, the rest on later runs", len(missing), limit)
    for slug in missing[:limit]:
        batch.requests += 1
        try:
            reply = await ctx.http.get(f"{ctx.base_url}{LIST_PATH}{slug}/")
        except HttpError as exc:
            if exc.status != 404:
                raise
            batch.gone.append(slug)
            continue
        if isinstance(reply.data, dict):
            batch.items.append(RawItem(ITEM, reply.data))
    return batch


def _load_state(value: str | None) -> dict[str, Any]:
    try:
        state = json.loads(value) if value else {}
    except ValueError:
        state = {}
    return state if isinstance(state, dict) else {}


def _save_state(ctx: SourceContext, listing: _Listing,
                state: dict[str, Any]) -> tuple[str, str]:
    newest = max(filter(None, (listing.newest, listing.since)), default=None)
    value = {"modified": newest.isoformat() if newest else state.get("modified")}
    return CURSOR, json.dumps(value, sort_keys=True)


def _query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _safe_time(value: Any) -> datetime | None:
    try:
        parsed = parse_time(value)
    except (TypeError, ValueError):
        return None
    return parsed.astimezone(UTC) if parsed else None


# --- mapping -----------------------------------------------------------------------------

def to_record(item: RawItem) -> Record:
    """Map one PublicChallengeSerializer payload; raise ValueError when it is malformed."""
    p = item.payload
    slug = p.get("slug")
    if not isinstance(slug, str) or not slug.strip():
        raise ValueError(f"challenge has no slug (slug={slug!r})")
    title = p.get("title")
    if not isinstance(title, str):
        raise ValueError(f"challenge {slug} has no title (title={title!r})")
    description = clean_text(str(p.get("description") or ""))
    url = str(p.get("url") or "") or None
    # Other records link any page of the challenge's site; they all name this identifier.
    own = normalize_grandchallenge(url) or normalize_grandchallenge(f"grandchallenge:{slug}")
    related = [_publication(pub) for pub in p.get("publications") or []]
    related += [i for i in extract_identifiers(description) if not is_url(i)]
    access, _ = access_terms(description)
    return Record(
        source="grandchallenge", source_id=slug.strip(), kind_hint="dataset",
        title=title.strip() or slug.strip(),   # the site shows the slug when the title is blank
        description=description, url=url,
        identifiers=[own] if own else [],
        keywords=_keywords(p), access=access,
        created_at=_utc(p.get("created")),
        updated_at=_utc(p.get("modified")) or _utc(p.get("created")),
        related=[r for r in dict.fromkeys(filter(None, related)) if r != own],
    )


def _publication(value: Any) -> str | None:
    """A publication identifier: a bare DOI or arXiv id (older API) or its URL (newer)."""
    text = str(value or "").strip()
    return normalize_identifier(text) or normalize_url(text)


def _keywords(p: dict[str, Any]) -> list[str]:
    status = str(p.get("status") or "").replace("_", " ").strip()
    words = [*map(str, p.get("submission_types") or []),
             *([status[:1].upper() + status[1:].lower()] if status else []),
             *map(str, p.get("incentives") or [])]
    return list(dict.fromkeys(w.strip() for w in words if w and w.strip()))


def _utc(value: Any) -> datetime | None:
    parsed = parse_time(value)     # an unreadable date raises ValueError: quarantined
    return parsed.astimezone(UTC) if parsed else None


# --- access terms --------------------------------------------------------------------------

def access_terms(description: str | None, phrases: dict[str, list[str]] | None = None
                 ) -> tuple[str | None, str | None]:
    """(access, the phrase that decided it) from what a challenge's description says, or
    (None, None) when it says nothing: then rubrics/access.yaml's text cues still apply.

    The strictest level with a matching phrase wins ("register, then sign the data use
    agreement" is restricted). `phrases` maps levels (ACCESS_ORDER) to regexes; by default
    they come from `access_phrases` in rubrics/harvest/grandchallenge.yaml.
    """
    text = clean_text(description)
    if not text:
        return None, None
    rules = _compile(phrases) if phrases is not None else _configured(CONFIG_PATH)
    for level, patterns in rules:
        for pattern in patterns:
            match = pattern.search(text)
            if match:
                return level, " ".join(match.group(0).split())
    return None, None


@functools.cache
def _configured(path: Path) -> tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]:
    """The `access_phrases` of grandchallenge.yaml, read once."""
    data = read_yaml(path, "rubrics/harvest/grandchallenge.yaml") or {}
    phrases = data.get("access_phrases") if isinstance(data, dict) else None
    return _compile(phrases, str(path))


def _compile(phrases: dict[str, list[str]], where: str = "access phrases"
             ) -> tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]:
    if not isinstance(phrases, dict):
        raise ValueError(f"{where}: access_phrases must map a level to a list of regexes")
    unknown = set(phrases) - set(ACCESS_ORDER)
    if unknown:
        raise ValueError(f"{where}: unknown access level(s) {sorted(unknown)}; "
                         f"use {list(ACCESS_ORDER)}")
    out = []
    for level in ACCESS_ORDER:
        compiled = []
        for pattern in phrases.get(level) or []:
            try:
                compiled.append(re.compile(str(pattern), re.I))
            except re.error as exc:
                raise ValueError(f"{where}: {level}: invalid regex {pattern!r}: {exc}") from None
        out.append((level, tuple(compiled)))
    return tuple(out)


SOURCE = Source(
    name="grandchallenge",
    summary="grand-challenge.org challenges (the full public list, ultrasound matched locally)",
    base_url=lambda s: s.grandchallenge_url.rstrip("/"),
    harvest=harvest,
    to_record=to_record,
    rate_limits=lambda base, authed: [(base, PER_MINUTE)],
)
