"""A fake DataCite REST API (DOI search and DOI read) serving the bundled demo DOIs.

It answers like api.datacite.org as reference/sources.md section 7 describes it: JSON:API
bodies (`data`, `included`, `meta`, `links`), Elasticsearch query strings in `query`, at most
1,000 DOIs a page, page-number paging up to 10,000 hits, unlimited cursor paging sorted by
`created` ascending, and 429 past 500 requests in 5 minutes. Two choices are the fake's own and
stricter than what is documented: a page size over 1,000 is refused with a 400 (rather than
silently capped) so that a client that ignores the cap fails a test, and its cursors are an
opaque encoding of the last (created, DOI) seen.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from sonoharvest.demo.fakeapi import FakeService, json_response
from sonoharvest.demo.querymatch import QueryError, parse

DATA = Path(__file__).parent / "data" / "datacite.json"
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 25
MAX_PAGED = 10_000  # page-number paging reaches this many hits; cursor paging has no limit
# The `included` client objects for the demo's repositories (names only).
CLIENTS = {
    "cern.zenodo": "Zenodo", "figshare.ars": "figshare Academic Research System",
    "bl.mendeley": "Mendeley Data", "dryad.dryad": "DRYAD", "gdcc.harvard-dv": "Harvard Dataverse",
}
# Fields searched by a term without a field name.
DEFAULT_FIELDS = ("titles.title", "descriptions.description", "subjects.subject",
                  "creators.name", "publisher", "doi")


def load_records() -> list[dict[str, Any]]:
    return list(json.loads(DATA.read_text(encoding="utf-8"))["data"])


class FakeDataCite:
    """DataCite's `/dois` (search) and `/dois/{doi}` with the documented caps and errors.

    `items` maps lower-case DOIs to resource objects (edit it to add, change or remove DOIs);
    DOIs in `deleted` answer 404 and leave the search. `throttle_next` makes the next requests
    answer 429 with `retry_after` seconds.
    """

    paths = ["/dois"]
    # support.datacite.org/docs/rate-limit: 500 requests in 5 minutes per IP (unidentified),
    # enforced here as its average, 100 in any minute.
    limits = [("/", 100.0)]

    def __init__(self, items: list[dict[str, Any]] | None = None, *,
                 host: str = "api.datacite.org") -> None:
        self.host = host
        self.items: dict[str, dict[str, Any]] = {
            str(r["id"]).lower(): r for r in (load_records() if items is None else items)}
        self.deleted: set[str] = set()
        self.throttle_next = 0
        self.retry_after = 7
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return _error(429, "Too many requests, please slow down.",
                          {"retry-after": str(self.retry_after)})
        path = request.url.path.rstrip("/")
        if path == "/dois":
            return self._search(request)
        if path.startswith("/dois/"):
            return self._read(path.removeprefix("/dois/").lower(), request)
        return _error(404, "The resource you are looking for doesn't exist.")

    # --- search ----------------------------------------------------------------------------

    def _search(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        try:
            size = int(params.get("page[size]", DEFAULT_PAGE_SIZE))
            number = int(params.get("page[number]", 1))
        except ValueError:
            return _error(400, "page[size] and page[number] must be integers.")
        if not 1 <= size <= MAX_PAGE_SIZE:
            return _error(400, f"page[size] must be between 1 and {MAX_PAGE_SIZE}.")
        try:
            query = parse(params.get("query"))
        except QueryError as exc:
            return _error(400, f"Invalid query: {exc}")
        types = {t for v in params.get_list("resource-type-id") for t in v.split(",") if t}
        clients = {c.lower() for v in params.get_list("client-id") for c in v.split(",") if c}
        hits = sorted((r for doi, r in self.items.items()
                       if doi not in self.deleted and _findable(r)
                       and (not types or _type_id(r) in types)
                       and (not clients or _client(r) in clients)
                       and query.matches(lambda field, r=r: _values(r, field))),
                      key=_order)
        if "page[cursor]" in params:
            return self._cursor_page(request, hits, size, params["page[cursor]"])
        if number < 1 or number * size > MAX_PAGED:
            return _error(400, f"Page-number paging reaches {MAX_PAGED} DOIs at most; "
                               "use cursor paging (page[cursor]) beyond.")
        page = hits[(number - 1) * size:number * size]
        more = number * size < len(hits) and (number + 1) * size <= MAX_PAGED
        nxt = str(request.url.copy_set_param("page[number]", number + 1)) if more else None
        return self._page(request, hits, page, size, number, nxt)

    def _cursor_page(self, request: httpx.Request, hits: list[dict[str, Any]], size: int,
                     cursor: str) -> httpx.Response:
        if cursor in ("", "1"):
            rest = hits
        else:
            after = _decode(cursor)
            if after is None:
                return _error(400, "The page[cursor] is not valid.")
            rest = [r for r in hits if _order(r) > after]
        page = rest[:size]
        nxt = None
        if len(rest) > size:
            nxt = str(request.url.copy_set_param("page[cursor]", _encode(_order(page[-1]))))
        return self._page(request, hits, page, size, None, nxt)

    def _page(self, request: httpx.Request, hits: list[dict[str, Any]],
              page: list[dict[str, Any]], size: int, number: int | None,
              nxt: str | None) -> httpx.Response:
        kinds = Counter(_type_id(r) for r in hits)
        meta: dict[str, Any] = {
            "total": len(hits), "totalPages": min(-(-len(hits) // size), MAX_PAGED // size),
            "page": number,
            "resourceTypes": [{"id": k, "title": k.title(), "count": n}
                              for k, n in kinds.most_common()],
        }
        links = {"self": str(request.url)} | ({"next": nxt} if nxt else {})
        included = [{"id": c, "type": "clients",
                     "attributes": {"name": CLIENTS.get(c, c), "symbol": c.upper()}}
                    for c in dict.fromkeys(_client(r) for r in page) if c]
        return json_response({"data": page, "included": included, "meta": meta,
                              "links": links})

    def _read(self, doi: str, request: httpx.Request) -> httpx.Response:
        record = None if doi in self.deleted else self.items.get(doi)
        if record is None or not _findable(record):
            return _error(404, "The resource you are looking for doesn't exist.")
        body = {"data": record}
        etag = 'W/"' + hashlib.md5(json.dumps(body, sort_keys=True).encode()).hexdigest() + '"'
        if request.headers.get("if-none-match") == etag:
            return httpx.Response(304, headers={"etag": etag})
        return json_response(body, headers={"etag": etag})


def _error(status: int, title: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """DataCite's JSON:API error shape."""
    return json_response({"errors": [{"status": str(status), "title": title}]}, status, headers)


def _attrs(record: dict[str, Any]) -> dict[str, Any]:
    attrs = record.get("attributes")
    return attrs if isinstance(attrs, dict) else {}


def _findable(record: dict[str, Any]) -> bool:
    return _attrs(record).get("state", "findable") == "findable"


def _client(record: dict[str, Any]) -> str:
    data = ((record.get("relationships") or {}).get("client") or {}).get("data") or {}
    return str(data.get("id") or "").lower()


def _type_id(record: dict[str, Any]) -> str:
    """resourceTypeGeneral as a resource-type-id: "JournalArticle" -> "journal-article"."""
    general = str((_attrs(record).get("types") or {}).get("resourceTypeGeneral") or "")
    return re.sub(r"(?<!^)(?=[A-Z])", "-", general).lower()


def _order(record: dict[str, Any]) -> tuple[str, str]:
    """Cursor order: created ascending, then DOI."""
    return str(_attrs(record).get("created") or ""), str(record.get("id") or "").lower()


def _encode(key: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode("\n".join(key).encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[str, str] | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    created, sep, doi = text.partition("\n")
    return (created, doi) if sep else None


def _values(record: dict[str, Any], field: str | None) -> list[Any]:
    """The values a query field names: a dotted path in the attributes (lists flattened)."""
    if field is None:
        return [v for f in DEFAULT_FIELDS for v in _values(record, f)]
    if field in ("client.id", "client_id", "client-id"):
        return [_client(record)]
    if field == "id":
        return [record.get("id")]
    values: list[Any] = [_attrs(record)]
    for part in field.split("."):
        found: list[Any] = []
        for value in values:
            inner = value.get(part) if isinstance(value, dict) else None
            found += inner if isinstance(inner, list) else [inner]
        values = [v for v in found if v is not None]
    return [v.get("name") if isinstance(v, dict) and "name" in v else v for v in values]


def services(items: list[dict[str, Any]] | None = None, *,
             host: str = "api.datacite.org") -> list[FakeService]:
    """The fake DataCite, loaded with `items` or the bundled demo DOIs."""
    return [FakeDataCite(items, host=host)]
