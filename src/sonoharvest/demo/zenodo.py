"""A fake Zenodo REST API (record search and record read) serving the bundled demo records."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from sonoharvest.demo.fakeapi import FakeService, json_response

DATA = Path(__file__).parent / "data" / "zenodo.json"
MAX_RESULT_WINDOW = 10_000
SIZE_CAP_GUEST, SIZE_CAP_TOKEN = 25, 100
# Sort options of Zenodo's RDM_SEARCH plus updated-desc/asc (InvenioRDM built-ins).
SORTS: dict[str, tuple[str, bool]] = {
    "newest": ("created", True), "oldest": ("created", False),
    "updated-desc": ("updated", True), "updated-asc": ("updated", False),
    "publication-desc": ("metadata.publication_date", True),
    "publication-asc": ("metadata.publication_date", False),
    "mostviewed": ("stats.views", True), "mostdownloaded": ("stats.downloads", True),
    "version": ("metadata.relations.version.0.index", True), "bestmatch": ("", True),
}
_RANGE = re.compile(r'([\w.]+):([\[{])\s*("[^"]*"|\S+)\s+TO\s+("[^"]*"|[^\]}\s]+)\s*([\]}])')
_TERM = re.compile(r'"([^"]+)"|([^\s():"]+)')
_TAGS = re.compile(r"<[^>]+>")


def load_records() -> list[dict[str, Any]]:
    return json.loads(DATA.read_text(encoding="utf-8"))


class FakeZenodo:
    """Zenodo's `/api/records` (search) and `/api/records/{id}` with the real caps and errors.

    `items` maps record ids to records (edit it to add, change or remove records); ids in
    `deleted` answer 410 like Zenodo's tombstones. `tokens` (None = any) are the valid
    tokens. `throttle_next` makes the next requests answer 429 with `retry_after` seconds.
    """

    paths = ["/api/records"]
    # developers.zenodo.org rate limits: search 30/min, 60/min overall for a guest.
    limits = [("/api/records", 30.0), ("/", 60.0)]

    def __init__(self, items: list[dict[str, Any]] | None = None, *, host: str = "zenodo.org",
                 tokens: set[str] | None = None) -> None:
        self.host = host
        self.items: dict[str, dict[str, Any]] = {
            str(r["id"]): r for r in (load_records() if items is None else items)}
        self.deleted: set[str] = set()
        self.tokens = tokens
        self.max_window = MAX_RESULT_WINDOW
        self.throttle_next = 0
        self.retry_after = 7
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return json_response({"status": 429, "message": "Too many requests."}, 429,
                                 {"retry-after": str(self.retry_after)})
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
        if auth and (token is None or (self.tokens is not None and token not in self.tokens)):
            return _error(401, "The server could not verify that you are authorized.")
        path = request.url.path.rstrip("/")
        if path == "/api/records":
            return self._search(request, authenticated=token is not None)
        match = re.fullmatch(r"/api/records/(\d+)", path)
        if match:
            return self._read(match.group(1), request)
        return _error(404, "The requested URL was not found on the server.")

    # --- search ----------------------------------------------------------------------------

    def _search(self, request: httpx.Request, *, authenticated: bool) -> httpx.Response:
        params = request.url.params
        try:
            page, size = int(params.get("page", 1)), int(params.get("size", 10))
        except ValueError:
            return _error(400, "A validation error occurred.", "page", "Not a valid integer.")
        cap = SIZE_CAP_TOKEN if authenticated else SIZE_CAP_GUEST
        if size > cap or size < 1:
            return _error(400, "A validation error occurred.", "size",
                          f"Must be greater than or equal to 1 and less than or equal to {cap}.")
        if page < 1:
            return _error(400, "A validation error occurred.", "page", "Must be at least 1.")
        if page * size > self.max_window:
            return _error(400, "A validation error occurred.", "size",
                          f"Paging beyond {self.max_window} hits (page * size) is not allowed.")
        q = params.get("q", "")
        sort = params.get("sort") or ("bestmatch" if q else "newest")
        if sort not in SORTS:
            return _error(400, f"Invalid sort option '{sort}'.")
        types = {t for value in params.get_list("type") for t in value.split(",") if t}
        all_versions = params.get("all_versions", "").lower() in ("1", "true")
        matches = _matcher(q)
        hits = [r for r in self.items.values()
                if str(r["id"]) not in self.deleted and (all_versions or _is_last(r))
                and (not types or _get(r, "metadata.resource_type.type") in types)
                and matches(r)]
        hits = _sorted(hits, sort, q)
        start = (page - 1) * size
        data = {
            "hits": {"hits": [self._shown(r) for r in hits[start:start + size]],
                     "total": len(hits)},
            "aggregations": _aggregations(hits),
            "sortBy": sort,
            "links": {"self": str(request.url.copy_set_param("page", page))},
        }
        if page > 1:
            data["links"]["prev"] = str(request.url.copy_set_param("page", page - 1))
        if page * size < len(hits) and (page + 1) * size <= self.max_window:
            data["links"]["next"] = str(request.url.copy_set_param("page", page + 1))
        return json_response(data)

    def _read(self, record_id: str, request: httpx.Request) -> httpx.Response:
        if record_id in self.deleted:
            return _error(410, "The record has been deleted.")
        record = self.items.get(record_id)
        if record is None:
            return _error(404, "The persistent identifier does not exist.")
        etag = f'"{record.get("revision", 0)}"'
        if request.headers.get("if-none-match") == etag:
            return httpx.Response(304, headers={"etag": etag})
        return json_response(self._shown(record), headers={"etag": etag})

    def _shown(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record as this host serves it (links point at the fake's own host)."""
        if self.host == "zenodo.org":
            return record
        text = json.dumps(record).replace("https://zenodo.org/", f"https://{self.host}/")
        return json.loads(text)


def _error(status: int, message: str, field: str | None = None,
           detail: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"status": status, "message": message}
    if field:
        body["errors"] = [{"field": field, "messages": [detail]}]
    return json_response(body, status)


def _get(record: dict[str, Any], dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        if isinstance(value, list) and part.isdigit():
            value = value[int(part)] if int(part) < len(value) else None
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


def _is_last(record: dict[str, Any]) -> bool:
    version = _get(record, "metadata.relations.version.0") or {}
    return bool(version.get("is_last", True))


def _text(record: dict[str, Any]) -> str:
    meta = record.get("metadata") or {}
    parts = [str(meta.get("title") or ""), _TAGS.sub(" ", str(meta.get("description") or ""))]
    return " ".join(parts + [str(k) for k in meta.get("keywords") or []])


def _terms(q: str) -> list[str]:
    """The free-text terms of a query string, without ranges, field names and operators."""
    rest = re.sub(r"[\w.]+:(?=[(\"\w])", " ", _RANGE.sub(" ", q))
    terms = [a or b for a, b in _TERM.findall(rest)]
    return [t for t in terms if t not in ("OR", "AND", "NOT")]


def _matcher(q: str) -> Callable[[dict[str, Any]], bool]:
    """A predicate: every range clause of `q` holds and one of its terms (if any) occurs."""
    ranges = [(field, lk, _when(low), _when(high), hk)
              for field, lk, low, high, hk in _RANGE.findall(q)]
    patterns = [re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, t.split())) + r"(?!\w)", re.I)
                for t in _terms(q)]

    def matches(record: dict[str, Any]) -> bool:
        for field, low_kind, low, high, high_kind in ranges:
            value = _when(_get(record, field) if "." in field else
                          record.get(field, _get(record, f"metadata.{field}")))
            if value is None or not _within(value, low, high, low_kind, high_kind):
                return False
        text = _text(record)
        return not patterns or any(p.search(text) for p in patterns)
    return matches


def _when(value: Any) -> datetime | None:
    text = str(value or "").strip('"')
    if text in ("", "*"):
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _within(value: datetime, low: datetime | None, high: datetime | None,
            low_kind: str, high_kind: str) -> bool:
    if low is not None and (value < low or (low_kind == "{" and value == low)):
        return False
    return high is None or value < high or (high_kind == "]" and value == high)


def _sorted(hits: list[dict[str, Any]], sort: str, q: str) -> list[dict[str, Any]]:
    path, descending = SORTS[sort]
    if not path:  # bestmatch: more matching terms first
        terms = [t.lower() for t in _terms(q)]
        return sorted(hits, key=lambda r: -sum(t in _text(r).lower() for t in terms))
    keyed = [(_get(r, path) if "." in path else r.get(path), r) for r in hits]
    present = sorted((kv for kv in keyed if kv[0] is not None), key=lambda kv: kv[0],
                     reverse=descending)
    return [r for _, r in present] + [r for value, r in keyed if value is None]


def _aggregations(hits: list[dict[str, Any]]) -> dict[str, Any]:
    def buckets(path: str) -> dict[str, Any]:
        counts = Counter(str(_get(r, path)) for r in hits if _get(r, path) is not None)
        return {"buckets": [{"key": k, "doc_count": n} for k, n in counts.most_common()],
                "doc_count_error_upper_bound": 0, "sum_other_doc_count": 0}
    return {"access_status": buckets("metadata.access_right"),
            "resource_type": buckets("metadata.resource_type.type")}


def services(items: list[dict[str, Any]] | None = None, *, host: str = "zenodo.org",
             tokens: set[str] | None = None) -> list[FakeService]:
    """The fake Zenodo, loaded with `items` or the bundled demo records."""
    return [FakeZenodo(items, host=host, tokens=tokens)]
