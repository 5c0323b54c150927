"""A fake Hugging Face Hub: /api/datasets and /api/models listings and repository pages."""

from __future__ import annotations

import base64
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import httpx

from sonoharvest.demo.fakeapi import FakeService, json_response
from sonoharvest.http import Clock, RealClock

DATA = Path(__file__).parent / "data" / "huggingface.json"
HOST = "huggingface.co"
# hub-docs docs/hub/rate-limits.md: the "api" bucket counts fixed 5-minute windows, 500 requests
# anonymous and 1,000 with a free token. FakeInternet's per-minute guard is the fastest pace
# those windows allow; the windows themselves are enforced (and reported) by `Budget`.
WINDOW = 300.0
QUOTA_ANON, QUOTA_TOKEN = 500, 1000
PER_MINUTE = QUOTA_TOKEN / (WINDOW / 60)
PAGE_CAP = 1000     # the server chooses the page size; `limit` above this is cut to it
LIST_FIELDS = {
    "models": ("_id", "id", "likes", "downloads", "trendingScore", "private", "tags",
               "pipeline_tag", "library_name", "createdAt", "modelId"),
    "datasets": ("_id", "id", "author", "likes", "downloads", "trendingScore", "private",
                 "gated", "disabled", "tags", "createdAt"),
}
FULL_FIELDS = {
    "models": ("author", "sha", "lastModified", "gated", "disabled", "siblings"),
    "datasets": ("sha", "lastModified", "cardData", "citation", "description",
                 "paperswithcode_id", "siblings"),
}


def load(path: Path = DATA) -> dict[str, Any]:
    return json.loads(path.read_text())


class Budget:
    """The Hub's "api" bucket per caller, announced in IETF `RateLimit` headers; 429 when spent."""

    def __init__(self, clock: Clock | None = None, quotas: tuple[int, int] = (QUOTA_ANON,
                                                                            QUOTA_TOKEN)) -> None:
        self.clock = clock or RealClock()
        self.quotas = quotas
        self.throttled = 0
        self._windows: dict[str, tuple[float, int]] = {}

    def spend(self, request: httpx.Request) -> tuple[bool, dict[str, str]]:
        caller = request.headers.get("authorization", "")
        quota = self.quotas[1 if caller else 0]
        now = self.clock.monotonic()
        start, used = self._windows.get(caller, (now, 0))
        if now >= start + WINDOW:
            start, used = now, 0
        allowed = used < quota
        used += allowed
        self._windows[caller] = (start, used)
        self.throttled += not allowed
        reset = max(1, math.ceil(start + WINDOW - now))
        return allowed, {"RateLimit": f'"api";r={quota - used};t={reset}',
                         "RateLimit-Policy": f'"fixed window";"api";q={quota};w={int(WINDOW)}'}


def gate(request: httpx.Request, tokens: set[str] | None, injected: list[httpx.Response],
         budget: Budget | None) -> tuple[httpx.Response | None, dict[str, str]]:
    """What every Hub endpoint checks first: injected faults, the token, the rate budget."""
    if injected:
        return injected.pop(0), {}
    auth = request.headers.get("authorization")
    if auth is not None and tokens is not None and auth.removeprefix("Bearer ") not in tokens:
        return json_response({"error": "Invalid credentials in Authorization header"}, 401), {}
    if budget is None:
        return None, {}
    allowed, headers = budget.spend(request)
    if not allowed:
        return json_response({"error": "You have exceeded our rate limit for the api bucket; "
                                       "retry after the reset"}, 429, headers), {}
    return None, headers


class FakeHub:
    """Listings filtered by `search` (id substring), `author`, `filter` (tags), sorted, paged
    through an opaque cursor in the `Link` header; repository pages with ETag and 304."""

    paths = ["/api/datasets", "/api/models"]

    def __init__(self, items: dict[str, list[dict[str, Any]]] | None = None, *,
                 host: str = HOST, budget: Budget | None = None,
                 tokens: set[str] | None = None) -> None:
        data = items if items is not None else load()
        self.items: dict[str, list[dict[str, Any]]] = {k: list(data.get(k, []))
                                                       for k in ("datasets", "models")}
        self.host = host
        self.limits = [("/api", PER_MINUTE)]
        self.budget = budget
        self.tokens = tokens          # accepted tokens; None accepts any
        self.page_cap = PAGE_CAP
        self.inject: list[httpx.Response] = []   # canned answers, served first
        self.auth_seen: list[str | None] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.auth_seen.append(request.headers.get("authorization"))
        refused, headers = gate(request, self.tokens, self.inject, self.budget)
        if refused is not None:
            return refused
        kind, _, repo_id = request.url.path.removeprefix("/api/").partition("/")
        if kind not in self.items:
            response = json_response({"error": "Not Found"}, 404)
        elif repo_id:
            response = self._repo(kind, repo_id, request)
        else:
            response = self._list(kind, request)
        response.headers.update(headers)
        return response

    def _list(self, kind: str, request: httpx.Request) -> httpx.Response:
        q = request.url.params
        try:
            size = min(int(q.get("limit") or self.page_cap), self.page_cap)
            offset = json.loads(base64.urlsafe_b64decode(q["cursor"]))["o"] if "cursor" in q else 0
        except (ValueError, KeyError):
            return json_response({"error": "Invalid limit or cursor"}, 400)
        rows = [i for i in self.items[kind] if _matches(i, q)]
        if q.get("sort"):
            rows.sort(key=lambda i: _order(i.get(q["sort"])), reverse=q.get("direction") == "-1")
        headers = {}
        if offset + size < len(rows):
            token = base64.urlsafe_b64encode(json.dumps({"o": offset + size}).encode()).decode()
            headers["Link"] = f'<{request.url.copy_set_param("cursor", token)}>; rel="next"'
        full = q.get("full") in ("true", "1", "True")
        fields = LIST_FIELDS[kind] + (FULL_FIELDS[kind] if full else ()) + \
            (("cardData",) if q.get("cardData") in ("true", "1", "True") else ())
        page = [{k: i[k] for k in fields if k in i} for i in rows[offset:offset + size]]
        return json_response(page, headers=headers)

    def _repo(self, kind: str, repo_id: str, request: httpx.Request) -> httpx.Response:
        item = next((i for i in self.items[kind] if str(i.get("id", "")).lower()
                     == repo_id.lower()), None)
        if item is None:
            return json_response({"error": "Repository not found"}, 404)
        body = json.dumps(item).encode()
        etag = f'W/"{len(body):x}-{hashlib.sha1(body).hexdigest()[:27]}"'
        if request.headers.get("if-none-match") == etag:
            return httpx.Response(304, headers={"ETag": etag})
        return json_response(item, headers={"ETag": etag})


def _matches(item: dict[str, Any], q: httpx.QueryParams) -> bool:
    repo_id = str(item.get("id") or "").lower()
    tags = {str(t).lower() for t in [*(item.get("tags") or []), item.get("pipeline_tag")] if t}
    author = str(item.get("author") or repo_id.partition("/")[0]).lower()
    return (q.get("search", "").lower() in repo_id
            and ("author" not in q or q["author"].lower() == author)
            and all(f.lower() in tags for f in q.get_list("filter")))


def _order(value: Any) -> tuple[int, Any]:
    return (0, "") if value is None else (1, value)


def services(items: dict[str, list[dict[str, Any]]] | None = None, *, clock: Clock | None = None,
             host: str = HOST, tokens: set[str] | None = None) -> list[FakeService]:
    """The fake Hub, loaded with the demo repositories unless `items` are given."""
    return [FakeHub(items, host=host, budget=Budget(clock), tokens=tokens)]
