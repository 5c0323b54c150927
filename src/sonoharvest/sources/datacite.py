"""DataCite: ultrasound datasets and software with a DataCite DOI, found through /dois.

DataCite registers the DOIs of Zenodo, figshare, Mendeley Data, Dryad, Dataverse, PhysioNet,
TCIA, Stanford AIMI and many university repositories, so this one API reaches hosts that have
no search API of their own (or only an OAuth one). Records are JSON:API resource objects
(`{"id", "type": "dois", "attributes": {...}, "relationships": {...}}`).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from sonoharvest.identifiers import (
    bare_doi,
    extract_identifiers,
    is_url,
    is_weight_file,
    normalize_identifier,
    normalize_url,
)
from sonoharvest.records import Batch, RawItem, Record, parse_time
from sonoharvest.sources.base import Source, SourceContext, recheck_stale
from sonoharvest.sources.base import field_queries as build_queries

log = logging.getLogger(__name__)

# support.datacite.org/docs/rate-limit (reference/sources.md section 7): 500 requests per
# 5 minutes per IP unidentified, 1,000 identified (an email in the User-Agent, which http.py
# adds when SONOHARVEST_CONTACT is set), 429 beyond. `rate_limits` does not see the settings,
# so the budget is the unidentified one: 100 a minute (1.7 a second, under the 3 a second
# sources.md section 10 advises for an identified client).
PER_MINUTE = 100
# support.datacite.org/docs/pagination: at most 1,000 DOIs a page. Cursor paging reaches every
# hit of a query (page-number paging stops at 10,000) and is always sorted by `created`.
MAX_PAGE_SIZE = 1000
PAGE_SIZE = 1000  # DataCite's cap; rubrics/harvest/datacite.yaml explains the choice
ITEM = "doi"
GONE = (404, 410)  # a deleted DOI, or one no longer findable (draft, registered only)
FIELDS = ["titles.title", "descriptions.description", "subjects.subject"]
# The media type of DataCite's JSON:API answers, as in the recorded list request.
ACCEPT = {"Accept": "application/vnd.api+json"}
ACCESS = {"open": "open", "embargoed": "embargoed", "restricted": "restricted",
          "closed": "closed"}  # info:eu-repo/semantics/<x>Access, as zenodo's access_right
_ACCESS_URI = re.compile(r"info:eu-repo/semantics/(\w+?)access", re.I)
_STANDARD_LICENCE = re.compile(
    r"^https?://(www\.)?(creativecommons\.org|opensource\.org|spdx\.org|gnu\.org)/", re.I)
_ACCESS_WORDS = re.compile(r"(open|embargoed|restricted|closed|metadata[- ]only) access", re.I)
# As zenodo._kind: software whose title or subjects speak of weights is a model.
WEIGHT_WORDS = re.compile(r"\b(weights|checkpoints?|(pre-?)?trained models?)\b", re.I)
PAPER_TYPES = frozenset({"text", "journalarticle", "preprint", "conferencepaper",
                         "conferenceproceeding", "datapaper", "report", "dissertation", "book",
                         "bookchapter", "peerreview"})
CODE_TYPES = frozenset({"software", "computationalnotebook"})
# Abstracts first; these other description types carry content too. "Other",
# "SeriesInformation" and "TableOfContents" (often citation boilerplate, or Zenodo's legacy
# references as JSON) are used only when nothing better is there.
CONTENT_DESCRIPTIONS = ("abstract", "methods", "technicalinfo")


@dataclass
class _Query:
    key: str
    rtype: str
    q: str
    size: int
    since: datetime | None  # ask only for DOIs updated since this time (None: all)


async def harvest(ctx: SourceContext) -> AsyncIterator[Batch]:
    """Each (resource type, term group) query, from its watermark (minus an overlap) or from
    the start; then re-check DOIs not seen lately."""
    cfg = ctx.config
    size = max(1, min(int(cfg.get("page_size") or PAGE_SIZE), MAX_PAGE_SIZE))
    overlap = timedelta(hours=float(cfg.get("overlap_hours", 2)))
    # `start` only bounds a first run; a full sweep asks for everything because it withdraws
    # every record it does not see.
    start = None if ctx.full else parse_time(cfg.get("start") or None)
    terms = [*cfg.get("terms", []), *cfg.get("extra_terms", [])]
    seen: set[str] = set()
    for rtype in cfg.get("types", ["dataset", "software"]):
        for q in build_queries(terms, cfg.get("fields") or FIELDS,
                               int(cfg.get("terms_per_query", 30))):
            key = f"{rtype}:{hashlib.sha1(q.encode()).hexdigest()[:12]}"
            mark = ctx.cursor(key)
            since = parse_time(mark) - overlap if mark else start
            async for batch in _walk(ctx, _Query(key, rtype, q, size, since), seen):
                yield batch
    async for batch in recheck_stale(
            ctx, ITEM, lambda doi: f"{ctx.base_url}/dois/{quote(doi, safe='/')}", gone=GONE,
            headers=ACCEPT, payload_of=_unwrapped):
        yield batch


def query_string(query: str, since: datetime | None) -> str:
    """The `query` parameter: the term query, limited to DOIs updated since `since`."""
    if since is None:
        return query
    return f'({query}) AND updated:["{_iso(since)}" TO *]'


async def _walk(ctx: SourceContext, query: _Query, seen: set[str]) -> AsyncIterator[Batch]:
    """Page one query with DataCite's cursor; every page is its own batch (kept if the run
    dies later), and the watermark goes with the last page only.

    The watermark is the run's start time, not the newest `updated` seen. Pages come in
    `created` order, so the newest stamp may be on the last page while a DOI on an earlier
    page was updated after its page was read but before that stamp: a watermark at the newest
    stamp would skip that update for good. Every update this run may have missed happened
    after it started, so the start (less the overlap: index delay, clock skew) is safe.
    """
    params: dict[str, Any] = {"query": query_string(query.q, query.since),
                              "resource-type-id": query.rtype, "page[size]": query.size,
                              "page[cursor]": "1"}
    url, pages, got, used = f"{ctx.base_url}/dois", 0, 0, set()
    while True:
        reply = await ctx.http.get(url, params=params, headers=ACCEPT)
        pages += 1
        data = _resources(reply.data, url)
        got += len(data)
        fresh = [r for r in data if _seen_key(r) not in seen]
        seen.update(_seen_key(r) for r in data)
        has_next, token = _next_cursor(reply.data)
        total = _total(reply.data)
        # A short page is not taken as the end: the server may hold pages below our size.
        done = not data or not has_next or (total is not None and got >= total)
        stuck = not done and (token is None or token in used)
        if stuck:
            # A next link without a cursor, or one already followed, would loop or skip:
            # stop, and keep the old watermark so the next run asks again.
            log.warning("datacite %s: the next link %s after page %d; stopping without "
                        "moving the cursor", query.key,
                        "repeats a cursor" if token else "has no page[cursor]", pages)
        cursor = (query.key, _iso(ctx.started_at)) if done else None
        yield Batch(items=[RawItem(ITEM, r) for r in fresh], cursor=cursor, requests=1)
        if done or stuck:
            log.info("datacite %s: %d DOIs in %d pages%s", query.key, got, pages,
                     "" if done else " (incomplete)")
            return
        used.add(token)
        params["page[cursor]"] = token


def _resources(data: Any, url: str) -> list[dict[str, Any]]:
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError(f"{url} answered without a `data` list; is this the DataCite API?")
    return [item for item in items if isinstance(item, dict)]


def _seen_key(resource: dict[str, Any]) -> str:
    attrs = resource.get("attributes") if isinstance(resource.get("attributes"), dict) else {}
    return str(attrs.get("doi") or resource.get("id") or "").lower()


def _next_cursor(data: dict[str, Any]) -> tuple[bool, str | None]:
    """Whether a next page is linked, and its `page[cursor]`.

    Only the cursor is taken from `links.next`: the next request is rebuilt on the configured
    base URL with our own parameters, so a link naming another host (behind a proxy or a
    mirror) cannot escape the rate-limit budget, and a link that dropped the query cannot turn
    a search into a dump of every DOI.
    """
    link = (data.get("links") or {}).get("next")
    if not link:
        return False, None
    values = parse_qs(urlsplit(str(link)).query).get("page[cursor]")
    return True, (values[0] if values and values[0] else None)


def _unwrapped(doi: str, data: Any) -> Any:
    """A single-DOI answer holds the DOI object under `data`, as search pages list them."""
    inner = data.get("data") if isinstance(data, dict) else None
    return inner if isinstance(inner, dict) else data


def _total(data: dict[str, Any]) -> int | None:
    total = (data.get("meta") or {}).get("total")
    return int(total) if isinstance(total, int | float) else None


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- mapping -----------------------------------------------------------------------------

def to_record(item: RawItem) -> Record:
    """Map one DOI resource (current or 2020 attribute set); raise ValueError when malformed."""
    p = _resource(item.payload)
    attrs = p.get("attributes")
    if not isinstance(attrs, dict):
        raise ValueError("DOI payload has no attributes object")
    doi = bare_doi(attrs.get("doi") or p.get("id"))
    if not doi:
        raise ValueError(f"payload {p.get('id')!r} has no readable DOI")
    title = _title(attrs.get("titles"))
    if not title:
        raise ValueError(f"DOI {doi} has no title")
    general = str((attrs.get("types") or {}).get("resourceTypeGeneral") or "")
    identifiers, related = _identifiers(doi, attrs, general)
    description = _description(attrs.get("descriptions"))
    related += [i for i in extract_identifiers(description)
                if not is_url(i) and i not in identifiers]  # links in the text: identifiers only
    rights = [r for r in attrs.get("rightsList") or [] if isinstance(r, dict)]
    return Record(
        source="datacite", source_id=doi, kind_hint=_kind(general, attrs), title=title,
        description=description, url=str(attrs["url"]) if attrs.get("url") else None, doi=doi,
        identifiers=identifiers, keywords=_keywords(attrs.get("subjects")),
        license=_license(rights), access=_access(rights), creators=_creators(attrs),
        created_at=_utc(attrs.get("created") or attrs.get("registered")),
        updated_at=_utc(attrs.get("updated")), related=list(dict.fromkeys(related)),
        metrics={name: float(attrs[key]) for key, name in (
            ("viewCount", "views"), ("downloadCount", "downloads"),
            ("citationCount", "citations")) if isinstance(attrs.get(key), int | float)},
    )


def client_of(payload: Any) -> str | None:
    """The DataCite client (repository account) that registered a DOI, e.g. "cern.zenodo",
    "figshare.ars" or "bl.mendeley"; None when the payload does not say.

    Only "cern.zenodo" is in the recorded samples; the other two ids were seen in DataCite's
    own test suites and in public harvester code, not checked against the live API.
    """
    p = _resource(payload)
    client = ((p.get("relationships") or {}).get("client") or {}).get("data")
    ident = client.get("id") if isinstance(client, dict) else None
    return str(ident).lower() if ident else None


def _resource(payload: Any) -> dict[str, Any]:
    """The resource object, also out of a single-DOI answer (`{"data": {...}}`)."""
    if not isinstance(payload, dict):
        raise ValueError(f"DOI payload is a {type(payload).__name__}, not an object")
    inner = payload.get("data")
    return inner if "attributes" not in payload and isinstance(inner, dict) else payload


def _title(titles: Any) -> str | None:
    """The main title: the first without a titleType (subtitles, translations have one)."""
    entries = [t for t in titles or [] if isinstance(t, dict) and str(t.get("title") or "")]
    main = [t for t in entries if not t.get("titleType")] or entries
    return str(main[0]["title"]) if main else None


def _description(descriptions: Any) -> str:
    entries = [(str(d.get("descriptionType") or "").lower(), _text(d.get("description")))
               for d in descriptions or [] if isinstance(d, dict)]
    entries = [(kind, text) for kind, text in entries if text]
    chosen = [text for kind in CONTENT_DESCRIPTIONS for k, text in entries if k == kind]
    return "\n\n".join(chosen or [text for _, text in entries])


def _text(value: Any) -> str:
    if isinstance(value, list):  # some older records hold a list of strings
        return "\n".join(str(v) for v in value if v)
    return str(value or "").strip()


def _keywords(subjects: Any) -> list[str]:
    words = [s.get("subject") if isinstance(s, dict) else s for s in subjects or []]
    return list(dict.fromkeys(str(w).strip() for w in words if w and str(w).strip()))


def _creators(attrs: dict[str, Any]) -> list[str]:
    names = []
    for c in attrs.get("creators") or []:
        if not isinstance(c, dict):
            continue
        name = c.get("name") or ", ".join(filter(None, (c.get("familyName"),
                                                         c.get("givenName"))))
        if name:
            names.append(str(name))
    return names


def _identifiers(doi: str, attrs: dict[str, Any], general: str) -> tuple[list[str], list[str]]:
    """(identifiers of this resource, identifiers it relates to).

    Its own: the DOI; its alternate identifiers; the landing page when that names a resource
    (a Zenodo record, a GitHub or Hugging Face repository); IsIdenticalTo targets; and the DOI
    it IsVersionOf. Zenodo's own mapping gives a record both its version and its concept DOI,
    so a DataCite copy of a Zenodo version DOI must carry the concept DOI too to join it.
    HasVersion (a concept DOI listing every version, possibly hundreds) stays a relation: the
    concept DOI itself already joins the Zenodo record.
    """
    own = [f"doi:{doi}"]
    alternates = [*(attrs.get("identifiers") or []), *(attrs.get("alternateIdentifiers") or [])]
    for alt in alternates:
        if isinstance(alt, dict):
            ident = _related(str(alt.get("identifier") or alt.get("alternateIdentifier") or ""),
                             str(alt.get("identifierType")
                                 or alt.get("alternateIdentifierType") or ""))
            if ident and not is_url(ident):
                own.append(ident)
    landing = normalize_identifier(attrs.get("url")) if attrs.get("url") else None
    if landing and not landing.startswith("doi:"):
        own.append(landing)
    related = []
    for rel in attrs.get("relatedIdentifiers") or []:
        if not isinstance(rel, dict):
            continue
        value = str(rel.get("relatedIdentifier") or "")
        ident = _related(value, str(rel.get("relatedIdentifierType") or ""))
        relation = str(rel.get("relationType") or "").lower()
        if not ident:
            continue
        if relation == "isidenticalto" or (relation == "isversionof" and ident.startswith("doi:")):
            own.append(ident)
            continue
        related.append(ident)
        # A GitHub release archived by Zenodo's GitHub integration is the repository itself.
        if general.lower() == "software" and ident.startswith("github:") and "/tree/" in value:
            own.append(ident)
    for rel in attrs.get("relatedItems") or []:  # schema 4.4: related items with identifiers
        ident_obj = rel.get("relatedItemIdentifier") if isinstance(rel, dict) else None
        if isinstance(ident_obj, dict):
            ident = _related(str(ident_obj.get("relatedItemIdentifier") or ""),
                             str(ident_obj.get("relatedItemIdentifierType") or ""))
            if ident:
                related.append(ident)
    own = list(dict.fromkeys(own))
    return own, [r for r in dict.fromkeys(related) if r not in own]


def _related(value: str, scheme: str) -> str | None:
    """As zenodo._related: canonical ("doi:…", "github:…"…), else the normalised URL, else
    "<scheme>:<value>" for schemes without a canonical form here (isbn, handle…)."""
    value, scheme = value.strip(), scheme.strip().lower()
    if not value:
        return None
    return (normalize_identifier(value, scheme) or normalize_url(value)
            or (f"{scheme}:{value}" if scheme not in ("", "url", "doi") else None))


def _license(rights: list[dict[str, Any]]) -> str | None:
    """The SPDX id (rightsIdentifier); else the licence URI when it is a standard one (Creative
    Commons, OSI, SPDX, GNU: licences.yaml reads those) or when there is no name; else the
    name ("PhysioNet Credentialed Health Data License 1.5.0" says more than its web page).
    The info:eu-repo access statements are not licences."""
    licences = [r for r in rights
                if not str(r.get("rightsUri") or "").lower().startswith("info:eu-repo")
                and not _ACCESS_WORDS.fullmatch(str(r.get("rights") or "").strip())]
    for r in licences:
        if str(r.get("rightsIdentifier") or "").strip():
            return str(r["rightsIdentifier"]).strip().lower()
    for r in licences:
        uri, name = str(r.get("rightsUri") or "").strip(), str(r.get("rights") or "").strip()
        if uri and (not name or _STANDARD_LICENCE.search(uri)):
            return uri
        if name:
            return name
    return None


def _access(rights: list[dict[str, Any]]) -> str | None:
    for r in rights:
        match = _ACCESS_URI.fullmatch(str(r.get("rightsUri") or "").strip())
        if match and match[1].lower() in ACCESS:
            return ACCESS[match[1].lower()]
    return None


def _kind(general: str, attrs: dict[str, Any]) -> str:
    kind = general.lower()
    if kind in CODE_TYPES or kind == "model":
        if _has_weights(attrs):
            return "model"
        return "code" if kind in CODE_TYPES else "other"  # DataCite "Model": conceptual models
    if kind == "dataset":
        return "dataset"
    return "paper" if kind in PAPER_TYPES else "other"


def _has_weights(attrs: dict[str, Any]) -> bool:
    """Weight words in the title or subjects, or weight files among formats and content URLs
    (DataCite lists no files, unlike Zenodo)."""
    text = " ".join([_title(attrs.get("titles")) or "", *_keywords(attrs.get("subjects"))])
    content = attrs.get("contentUrl") or []
    files = [*(attrs.get("formats") or []), *(content if isinstance(content, list) else [content])]
    return bool(WEIGHT_WORDS.search(text)) or any(is_weight_file(str(f)) for f in files if f)


def _utc(value: Any) -> datetime | None:
    parsed = parse_time(value)
    return parsed.astimezone(UTC) if parsed else None


SOURCE = Source(
    name="datacite",
    summary="DataCite DOIs (datasets, software) matching the ultrasound vocabulary",
    base_url=lambda s: s.datacite_url,
    harvest=harvest,
    to_record=to_record,
    rate_limits=lambda base, authed: [(base, PER_MINUTE)],
)
