"""A fake figshare API (article search and details) and stats service over the demo articles."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from sonoharvest.demo.fakeapi import FakeService, json_response, request_json

DATA = Path(__file__).parent / "data" / "figshare.json"
DEFAULT_HOST = "api.figshare.com"
STATS_HOST = "stats.figshare.com"
# Caps from figshare's swagger: page_size <= 1000, page <= 5000, and only the first 9,000 hits
# of a search are reachable by page or offset. figshare publishes no rate limit but asks for
# about one request a second; the fake holds clients to 60 a minute on each host.
PAGE_SIZE_MAX = 1000
PAGE_MAX = 5000
MAX_REACHABLE = 9_000
PER_MINUTE = 60.0
ORDERS = ("published_date", "modified_date", "created_date", "views", "shares", "downloads",
          "cites")
ITEM_TYPES = {1, 2, 3, 5, 6, 7, 8, 9, 11, *range(12, 30)}
# The light Article representation that searches return (see the recorded sample).
SEARCH_FIELDS = ("project_id", "id", "title", "doi", "handle", "url", "published_date", "thumb",
                 "defined_type", "defined_type_name", "group_id", "url_private_api",
                 "url_public_api", "url_private_html", "url_public_html", "timeline",
                 "resource_title", "resource_doi")
_TOKENS = re.compile(r'\s*(\(|\)|"[^"]*"|:[a-z_]+:|[^\s()"]+)')
_TAGS = re.compile(r"<[^>]+>")

Predicate = Callable[[dict[str, Any]], bool]


def load_data() -> dict[str, Any]:
    return json.loads(DATA.read_text(encoding="utf-8"))


def _error(status: int, message: str, code: str, data: dict[str, Any] | None = None
           ) -> httpx.Response:
    """figshare's error body: message, code and (sometimes) data."""
    body: dict[str, Any] = {"message": message, "code": code}
    if data:
        body["data"] = data
    return json_response(body, status)


class FakeFigshare:
    """POST /v2/articles/search and GET /v2/articles/{id} with figshare's caps and errors.

    `items` maps article ids to detail payloads (edit it to add, change or remove articles);
    ids in `deleted` answer 404 as deleted articles do. `tokens` (None = any) are the valid
    tokens. `throttle_next` answers the next requests with 429 and `retry_after` seconds.
    """

    paths = ["/v2/"]
    limits = [("/v2/", PER_MINUTE)]

    def __init__(self, items: list[dict[str, Any]] | None = None, *, host: str = DEFAULT_HOST,
                 tokens: set[str] | None = None) -> None:
        articles = load_data()["articles"] if items is None else items
        self.host = host
        self.items: dict[str, dict[str, Any]] = {str(a["id"]): a for a in articles}
        self.deleted: set[str] = set()
        self.tokens = tokens
        self.reachable = MAX_REACHABLE
        self.throttle_next = 0
        self.retry_after = 7
        self.requests: list[httpx.Request] = []
        self.bodies: list[dict[str, Any]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return json_response({"message": "Too Many Requests", "code": "TooManyRequests"},
                                 429, {"retry-after": str(self.retry_after)})
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if auth and (scheme != "token" or not token
                     or (self.tokens is not None and token not in self.tokens)):
            return _error(401, "Invalid or expired token", "InvalidToken")
        path = request.url.path.rstrip("/")
        if path == "/v2/articles/search":
            if request.method != "POST":
                return _error(405, "Method not allowed", "MethodNotAllowed")
            return self._search(request)
        match = re.fullmatch(r"/v2/articles/(\d+)", path)
        if match and request.method == "GET":
            return self._read(match.group(1), request)
        return _error(404, "Resource not found", "ResourceNotFound")

    # --- search ----------------------------------------------------------------------------

    def _search(self, request: httpx.Request) -> httpx.Response:
        try:
            body = request_json(request)
        except ValueError:
            return _error(400, "Invalid JSON body", "BadRequest")
        self.bodies.append(body)
        problem = _invalid(body, self.reachable)
        if problem:
            field, message = problem
            return _error(422, message, "InvalidParams", {"invalid_params": field})
        try:
            matches = _parse(str(body.get("search_for") or ""))
        except ValueError as exc:
            return _error(422, f"Invalid search_for: {exc}", "InvalidParams",
                          {"invalid_params": "search_for"})
        since = _day(body.get("modified_since"))
        found = [a for a in self.items.values()
                 if str(a["id"]) not in self.deleted
                 and (body.get("item_type") in (None, 0) or a.get("defined_type")
                      == body["item_type"])
                 and (since is None or (_when(a.get("modified_date")) or since) >= since)
                 and matches(a)]
        order = body.get("order") or "published_date"
        found.sort(key=lambda a: (str(a.get(order) or ""), a["id"]),
                   reverse=body.get("order_direction", "desc") == "desc")
        page, size = int(body.get("page") or 1), int(body.get("page_size") or 10)
        return json_response([self._hit(a) for a in found[(page - 1) * size: page * size]])

    def _hit(self, article: dict[str, Any]) -> dict[str, Any]:
        hit = {k: article.get(k) for k in SEARCH_FIELDS if k in article}
        return self._shown(hit)

    def _read(self, article_id: str, request: httpx.Request) -> httpx.Response:
        article = self.items.get(article_id)
        if article is None or article_id in self.deleted:
            return _error(404, "Entity not found: article", "EntityNotFound")
        etag = f'"{article_id}-{article.get("modified_date")}"'
        if request.headers.get("if-none-match") == etag:
            return httpx.Response(304, headers={"etag": etag})
        shown = dict(article)
        if shown.get("is_embargoed") or shown.get("is_confidential"):
            shown.pop("files", None)  # public endpoints hide the files of such items
        return json_response(self._shown(shown), headers={"etag": etag})

    def _shown(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The payload as this host serves it (API links point at the fake's own host)."""
        if self.host == DEFAULT_HOST:
            return payload
        text = json.dumps(payload).replace(f"https://{DEFAULT_HOST}/", f"https://{self.host}/")
        return json.loads(text)


class FakeFigshareStats:
    """stats.figshare.com totals: GET /total/{views|downloads|shares}/article/{id}."""

    paths = ["/total/"]
    limits = [("/", PER_MINUTE)]

    def __init__(self, stats: dict[str, dict[str, int]] | None = None, *,
                 host: str = STATS_HOST) -> None:
        self.host = host
        self.stats = load_data().get("stats", {}) if stats is None else stats
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        match = re.fullmatch(r"/total/([a-z]+)/([a-z]+)/(\d+)", request.url.path)
        if match is None:
            return _error(404, "Resource not found", "ResourceNotFound")
        counter, item, item_id = match.groups()
        if counter not in ("views", "downloads", "shares"):
            return _error(400, "Invalid or unsupported params: counter", "InvalidParams",
                          {"extra": f"Counter type not supported: {counter}",
                           "invalid_params": "counter"})
        totals = self.stats.get(item_id, {}).get(counter, 0) if item == "article" else 0
        return json_response({"totals": totals})  # an unknown item counts 0, never a 404


def _invalid(body: dict[str, Any], reachable: int) -> tuple[str, str] | None:
    """The first parameter figshare would refuse (a 422), as (field, message)."""
    if ("page" in body or "page_size" in body) and ("offset" in body or "limit" in body):
        return "page", "Use either page/page_size or offset/limit, not both"
    for name, low, high in (("page", 1, PAGE_MAX), ("page_size", 1, PAGE_SIZE_MAX)):
        value = body.get(name, low)
        if not isinstance(value, int) or not low <= value <= high:
            return name, f"{name} must be an integer between {low} and {high}"
    if body.get("page", 1) * body.get("page_size", 10) > reachable:
        return "page", f"Only the first {reachable} results can be paged; use X-Cursor"
    if len(str(body.get("search_for") or "").strip()) < 3:
        return "search_for", "search_for is required (at least 3 characters)"
    if body.get("item_type") not in (None, 0) and body["item_type"] not in ITEM_TYPES:
        return "item_type", f"Invalid item_type: {body['item_type']}"
    if body.get("order", "published_date") not in ORDERS:
        return "order", f"Invalid order: {body['order']}"
    if body.get("order_direction", "desc") not in ("asc", "desc"):
        return "order_direction", f"Invalid order_direction: {body['order_direction']}"
    if body.get("modified_since") is not None and _day(body["modified_since"]) is None:
        return "modified_since", "modified_since must be YYYY-MM-DD or YYYY-MM-DDTHH:mm:ssZ"
    return None


# --- the advanced search syntax ------------------------------------------------------------
# info.figshare.com "How to use Advanced search": :field: value expressions, quoted phrases,
# AND / OR / NOT (precedence NOT, AND, OR) and () grouping; bare terms search every field.

def _parse(query: str) -> Predicate:
    tokens = [t for t in _TOKENS.findall(query) if t.strip()]
    predicate, rest = _or(tokens)
    if rest:
        raise ValueError(f"unexpected {rest[0]!r}")
    return predicate


def _or(tokens: list[str]) -> tuple[Predicate, list[str]]:
    left, tokens = _and(tokens)
    while tokens[:1] == ["OR"]:
        right, tokens = _and(tokens[1:])
        left = (lambda a, b: lambda art: a(art) or b(art))(left, right)
    return left, tokens


def _and(tokens: list[str]) -> tuple[Predicate, list[str]]:
    left, tokens = _not(tokens)
    while tokens and tokens[0] not in ("OR", ")"):
        right, tokens = _not(tokens[1:] if tokens[0] == "AND" else tokens)
        left = (lambda a, b: lambda art: a(art) and b(art))(left, right)
    return left, tokens


def _not(tokens: list[str]) -> tuple[Predicate, list[str]]:
    if tokens[:1] == ["NOT"]:
        inner, tokens = _not(tokens[1:])
        return (lambda art: not inner(art)), tokens
    return _atom(tokens)


def _atom(tokens: list[str]) -> tuple[Predicate, list[str]]:
    if not tokens:
        raise ValueError("the query ends too early")
    if tokens[0] == "(":
        inner, rest = _or(tokens[1:])
        if rest[:1] != [")"]:
            raise ValueError("unbalanced parenthesis")
        return inner, rest[1:]
    field = "search_term"
    if re.fullmatch(r":[a-z_]+:", tokens[0]):
        field, tokens = tokens[0].strip(":"), tokens[1:]
        if not tokens or tokens[0] in ("(", ")", "AND", "OR", "NOT"):
            raise ValueError(f"no value after :{field}:")
    if tokens[0].startswith('"'):         # a quoted phrase
        words, tokens = [tokens[0].strip('"')], tokens[1:]
    else:                                  # bare words up to the next operator or field
        words = []
        while tokens and tokens[0] not in ("(", ")", "AND", "OR", "NOT") \
                and not tokens[0].startswith('"') and not re.fullmatch(r":[a-z_]+:", tokens[0]):
            words, tokens = [*words, tokens[0]], tokens[1:]
    pattern = _phrase(" ".join(words))
    return (lambda art: bool(pattern.search(_field_text(art, field)))), tokens


def _phrase(text: str) -> re.Pattern[str]:
    """A phrase as whole words, plurals allowed (figshare stems every indexed word)."""
    words = [re.escape(w) + r"(?:s|es)?" for w in text.split()]
    return re.compile(r"(?<!\w)" + r"[\s-]+".join(words) + r"(?!\w)", re.I)


def _field_text(article: dict[str, Any], field: str) -> str:
    parts = {
        "title": [article.get("title")],
        "description": [_TAGS.sub(" ", str(article.get("description") or ""))],
        "tag": list(article.get("tags") or []),
        "keyword": list(article.get("tags") or []),
        "category": [c.get("title") for c in article.get("categories") or []],
        "author": [a.get("full_name") for a in article.get("authors") or []],
    }
    if field == "search_term":
        return " | ".join(str(v) for values in parts.values() for v in values if v)
    return " | ".join(str(v) for v in parts.get(field, []) if v)


def _when(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value or "").replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _day(value: Any) -> datetime | None:
    """modified_since as an aware time: a date means from the start of that day (UTC)."""
    text = str(value or "").strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        text += "T00:00:00Z"
    return _when(text) if text else None


def services(items: list[dict[str, Any]] | None = None, *, host: str = DEFAULT_HOST,
             stats_host: str = STATS_HOST, tokens: set[str] | None = None,
             stats: dict[str, dict[str, int]] | None = None) -> list[FakeService]:
    """The fake figshare API and stats service, loaded with the bundled demo articles."""
    return [FakeFigshare(items, host=host, tokens=tokens),
            FakeFigshareStats(stats, host=stats_host)]
