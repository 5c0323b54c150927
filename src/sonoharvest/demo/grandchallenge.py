"""A fake grand-challenge.org API: the challenge list and detail, as Django REST framework
serves them (comic/grand-challenge.org: ChallengeViewSet + PublicChallengeSerializer, paged by
MaxLimit1000OffsetPagination, a LimitOffsetPagination with max_limit 1000)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx

from sonoharvest.demo.fakeapi import FakeService, json_response

DATA = Path(__file__).parent / "data" / "grandchallenge.json"
PAGE_SIZE = 100                   # REST_FRAMEWORK["PAGE_SIZE"]: the default limit
MAX_LIMIT = 1000                  # MaxLimit1000OffsetPagination.max_limit
_DETAIL = re.compile(r"/api/v1/challenges/([^/]+)/")


def load_challenges() -> list[dict[str, Any]]:
    return json.loads(DATA.read_text(encoding="utf-8"))


class FakeGrandChallenge:
    """`/api/v1/challenges/` and `/api/v1/challenges/{slug}/` over `items` (in list order, which
    is creation order on the real site: the viewset orders by pk).

    Slugs in `hidden` are left out of the list and answer 404, as a hidden challenge does for an
    anonymous caller. `throttle_next` makes the next requests answer 429 with `retry_after`.
    """

    paths = ["/api/v1/challenges"]
    # No limit is documented; the fake enforces the pace the source declares for itself.
    limits = [("/", 30.0)]

    def __init__(self, items: list[dict[str, Any]] | None = None, *,
                 host: str = "grand-challenge.org") -> None:
        self.host = host
        self.items = list(load_challenges() if items is None else items)
        self.hidden: set[str] = set()
        self.throttle_next = 0
        self.retry_after = 7
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return json_response({"detail": "Request was throttled."}, 429,
                                 {"retry-after": str(self.retry_after)})
        path = request.url.path
        if path == "/api/v1/challenges":   # Django's APPEND_SLASH redirects GETs
            return httpx.Response(301, headers={"location": str(request.url.copy_with(
                path="/api/v1/challenges/"))})
        if path == "/api/v1/challenges/":
            return self._list(request)
        match = _DETAIL.fullmatch(path)
        if match:
            return self._detail(match.group(1))
        return json_response({"detail": "Not found."}, 404)

    def visible(self) -> list[dict[str, Any]]:
        return [c for c in self.items if c.get("slug") not in self.hidden]

    def _list(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        limit = _positive(params.get("limit"), strict=True, cutoff=MAX_LIMIT) or PAGE_SIZE
        offset = _positive(params.get("offset")) or 0
        shown = self.visible()
        count = len(shown)
        url = str(request.url)
        body = {"count": count,
                "next": _next_link(url, limit, offset, count),
                "previous": _previous_link(url, limit, offset),
                "results": [self._shown(c) for c in shown[offset:offset + limit]]}
        return json_response(body)

    def _detail(self, slug: str) -> httpx.Response:
        # Lookup is on short_name (exact); DRF turns Http404 into {"detail": "Not found."}
        # (newer DRF versions carry Django's message, "No Challenge matches the given query.").
        found = next((c for c in self.visible() if c.get("slug") == slug), None)
        if found is None:
            return json_response({"detail": "Not found."}, 404)
        return json_response(self._shown(found))

    def _shown(self, challenge: dict[str, Any]) -> dict[str, Any]:
        """api_url is built from the request's host (DRF reverse with the request)."""
        if self.host == "grand-challenge.org":
            return challenge
        shown = dict(challenge)
        if isinstance(shown.get("api_url"), str):
            shown["api_url"] = shown["api_url"].replace("://grand-challenge.org/",
                                                        f"://{self.host}/")
        return shown


def _positive(value: str | None, *, strict: bool = False, cutoff: int | None = None
              ) -> int | None:
    """rest_framework.pagination._positive_int; None where DRF falls back to its default."""
    try:
        number = int(value) if value is not None else None
    except ValueError:
        return None
    if number is None or number < 0 or (number == 0 and strict):
        return None
    return min(number, cutoff) if cutoff else number


def _replace_query_param(url: str, key: str, value: int) -> str:
    """rest_framework.utils.urls.replace_query_param: the other parameters kept, keys sorted."""
    scheme, netloc, path, query, fragment = urlsplit(url)
    query_dict = parse_qs(query, keep_blank_values=True)
    query_dict[key] = [str(value)]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query_dict.items()), doseq=True),
                       fragment))


def _remove_query_param(url: str, key: str) -> str:
    scheme, netloc, path, query, fragment = urlsplit(url)
    query_dict = parse_qs(query, keep_blank_values=True)
    query_dict.pop(key, None)
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query_dict.items()), doseq=True),
                       fragment))


def _next_link(url: str, limit: int, offset: int, count: int) -> str | None:
    if offset + limit >= count:
        return None
    return _replace_query_param(_replace_query_param(url, "limit", limit), "offset",
                                offset + limit)


def _previous_link(url: str, limit: int, offset: int) -> str | None:
    if offset <= 0:
        return None
    url = _replace_query_param(url, "limit", limit)
    if offset - limit <= 0:
        return _remove_query_param(url, "offset")
    return _replace_query_param(url, "offset", offset - limit)


def services(items: list[dict[str, Any]] | None = None, *,
             host: str = "grand-challenge.org") -> list[FakeService]:
    """The fake Grand Challenge API, loaded with `items` or the bundled demo challenges."""
    return [FakeGrandChallenge(items, host=host)]
