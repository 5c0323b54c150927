"""A fake of the current Kaggle API (kagglesdk): ListDatasets and ListModels over demo records."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import httpx

from sonoharvest.demo.fakeapi import FakeService, json_response, request_json

DATA = Path(__file__).parent / "data" / "kaggle.json"
DEFAULT_HOST = "api.kaggle.com"
DATASETS_METHOD = "datasets.DatasetApiService/ListDatasets"
MODELS_METHOD = "models.ModelApiService/ListModels"
DATASET_PAGE_SIZE = 20      # legacy Swagger / CLI: 20 datasets per page
MAX_PAGE = 500              # listing stops after page 500 (Kaggle/kaggle-cli#222, #553)
MODEL_PAGE_SIZE = 50
# Kaggle publishes no limit; the fake holds clients to one request a second on average.
PER_MINUTE = 60

DATASET_SORTS = {
    "DATASET_SORT_BY_HOTTEST": "voteCount", "DATASET_SORT_BY_VOTES": "voteCount",
    "DATASET_SORT_BY_UPDATED": "lastUpdated", "DATASET_SORT_BY_ACTIVE": "lastUpdated",
    "DATASET_SORT_BY_PUBLISHED": "id", "DATASET_SORT_BY_RELEVANCE": "voteCount",
    "DATASET_SORT_BY_LAST_VIEWED": "viewCount", "DATASET_SORT_BY_USABILITY": "usabilityRating",
}
GROUPS = {"DATASET_SELECTION_GROUP_PUBLIC", "DATASET_SELECTION_GROUP_USER"}
MODEL_SORTS = {
    "LIST_MODELS_ORDER_BY_UNSPECIFIED": "voteCount", "LIST_MODELS_ORDER_BY_HOTNESS": "voteCount",
    "LIST_MODELS_ORDER_BY_DOWNLOAD_COUNT": "voteCount", "LIST_MODELS_ORDER_BY_VOTE_COUNT":
    "voteCount", "LIST_MODELS_ORDER_BY_NOTEBOOK_COUNT": "voteCount",
    "LIST_MODELS_ORDER_BY_PUBLISH_TIME": "publishTime",
    "LIST_MODELS_ORDER_BY_CREATE_TIME": "publishTime",
    "LIST_MODELS_ORDER_BY_UPDATE_TIME": "updateTime",
}


def _error(code: int, status: str, message: str) -> httpx.Response:
    return json_response({"error": {"code": code, "message": message, "status": status}}, code)


class FakeKaggle:
    """Kaggle's `POST /v1/{service}/{method}` API. `datasets` and `models` are mutable lists.

    `tokens` (None: any credentials) are the Bearer tokens or Basic "user:key" pairs accepted.
    `queue` holds responses to answer the next requests with (an injected 429, a fatal 403...).
    """

    def __init__(self, items: dict[str, list[dict[str, Any]]] | None = None, *,
                 host: str = DEFAULT_HOST, prefix: str = "",
                 tokens: set[str] | None = None) -> None:
        data = items if items is not None else json.loads(DATA.read_text())
        self.datasets: list[dict[str, Any]] = list(data.get("datasets", []))
        self.models: list[dict[str, Any]] = list(data.get("models", []))
        self.host = host
        self.prefix = prefix.rstrip("/") + "/v1/"
        self.paths = [self.prefix]
        self.limits: list[tuple[str, float]] = [(self.prefix, PER_MINUTE)]
        self.tokens = tokens
        self.max_page = MAX_PAGE
        self.queue: list[httpx.Response] = []
        self.bodies: list[tuple[str, dict[str, Any]]] = []
        self.auth_seen: list[str] = []

    def throttle_next(self, retry_after: int = 7) -> None:
        """Answer the next request like Kaggle's new API does when it limits a client."""
        response = _error(429, "RESOURCE_EXHAUSTED", "Too many requests")
        response.headers["retry-after"] = str(retry_after)
        self.queue.append(response)

    def handle(self, request: httpx.Request) -> httpx.Response:
        method = request.url.path.removeprefix(self.prefix)
        auth = request.headers.get("authorization", "")
        self.auth_seen.append(auth.split(" ")[0])
        if not self._authorized(auth):
            return _error(401, "UNAUTHENTICATED", "Unauthenticated: missing or invalid credentials")
        if self.queue:
            return self.queue.pop(0)
        if request.method != "POST":
            return _error(405, "METHOD_NOT_ALLOWED", f"{request.method} is not supported")
        try:
            body = request_json(request)
        except ValueError:
            return _error(400, "INVALID_ARGUMENT", "request body is not JSON")
        self.bodies.append((method, body))
        if method == DATASETS_METHOD:
            return self._list_datasets(body)
        if method == MODELS_METHOD:
            return self._list_models(body)
        return _error(404, "NOT_FOUND", f"unknown method {method}")

    def _authorized(self, auth: str) -> bool:
        scheme, _, value = auth.partition(" ")
        if scheme == "Basic":
            try:
                value = base64.b64decode(value).decode()
            except ValueError:
                return False
        elif scheme != "Bearer":
            return False
        return bool(value) and (self.tokens is None or value in self.tokens)

    def _list_datasets(self, body: dict[str, Any]) -> httpx.Response:
        sort = body.get("sortBy", "DATASET_SORT_BY_HOTTEST")
        group = body.get("group", "DATASET_SELECTION_GROUP_PUBLIC")
        if sort not in DATASET_SORTS or group not in GROUPS:
            return _error(400, "INVALID_ARGUMENT", f"invalid sortBy {sort!r} or group {group!r}")
        page, size = int(body.get("page") or 1), _size(body, DATASET_PAGE_SIZE)
        if page > self.max_page:
            return json_response({"datasets": [], "nextPageToken": ""})
        found = [d for d in self.datasets if not d.get("isPrivate")
                 and _matches(body.get("search", ""), d)
                 and _within(d.get("totalBytes") or 0, body.get("minSize"), body.get("maxSize"))
                 and (not body.get("user") or d.get("ownerRef") == body["user"])]
        found.sort(key=lambda d: _order(d.get(DATASET_SORTS[sort])), reverse=True)
        return json_response({"datasets": found[(page - 1) * size: page * size],
                              "nextPageToken": ""})

    def _list_models(self, body: dict[str, Any]) -> httpx.Response:
        sort = body.get("sortBy", "LIST_MODELS_ORDER_BY_UNSPECIFIED")
        if sort not in MODEL_SORTS:
            return _error(400, "INVALID_ARGUMENT", f"invalid sortBy {sort!r}")
        try:
            start = int(base64.b64decode(body.get("pageToken") or "MA==").decode())
        except ValueError:
            return _error(400, "INVALID_ARGUMENT", "invalid page token")
        size = _size(body, MODEL_PAGE_SIZE)
        found = [m for m in self.models if not m.get("isPrivate")
                 and _matches(body.get("search", ""), m)
                 and (not body.get("owner") or m.get("author") == body["owner"])]
        found.sort(key=lambda m: _order(m.get(MODEL_SORTS[sort])), reverse=True)
        more = start + size < len(found)
        token = base64.b64encode(str(start + size).encode()).decode() if more else ""
        return json_response({"models": found[start:start + size], "nextPageToken": token,
                              "totalResults": len(found)})


def _size(body: dict[str, Any], cap: int) -> int:
    """Page sizes above the cap are silently lowered, as Kaggle does."""
    asked = int(body.get("pageSize") or cap)
    return max(1, min(asked, cap))


def _order(value: Any) -> tuple[bool, Any]:
    """A sort key for ISO times (strings) and counts alike; missing values sort last."""
    return (isinstance(value, str), value if value is not None else -1)


def _within(size: int, low: Any, high: Any) -> bool:
    return (not low or size >= int(low)) and (not high or size <= int(high))


def _matches(search: str, item: dict[str, Any]) -> bool:
    """Every word of the search appears as a word (plural allowed) in the item's text."""
    tags = " ".join(str(t.get("name", "")) for t in item.get("tags") or [] if isinstance(t, dict))
    instances = " ".join(str(i.get("overview", "")) for i in item.get("instances") or [])
    text = " ".join(str(item.get(f) or "") for f in ("title", "subtitle", "description"))
    haystack = f"{text} {tags} {instances}"
    return all(re.search(rf"\b{re.escape(word)}(?:s|es)?\b", haystack, re.I)
               for word in search.split())


def services(items: dict[str, list[dict[str, Any]]] | None = None, *,
             host: str = DEFAULT_HOST, prefix: str = "",
             tokens: set[str] | None = None) -> list[FakeService]:
    """The fake Kaggle API, loaded with the bundled demo records unless `items` is given."""
    return [FakeKaggle(items, host=host, prefix=prefix, tokens=tokens)]
