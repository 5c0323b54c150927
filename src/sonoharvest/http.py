"""The one HTTP client: pacing per host, retries with backoff, rate-limit headers, revalidation."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import Counter
from contextvars import ContextVar
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import httpx

from sonoharvest import __version__
from sonoharvest.settings import Settings

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
NETWORK_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
MAX_BODY_BYTES = 50 * 1024 * 1024
# Budgets are paced at this share of what the API documents: windows on the server side are
# not aligned with ours, and running exactly at the limit provokes the odd 429.
PACING_MARGIN = 0.95
# Who is asking: set per harvest task so requests can be counted per source.
REQUEST_TAG: ContextVar[str] = ContextVar("request_tag", default="")


class HttpError(RuntimeError):
    """A request failed for good. The message never contains a token."""

    def __init__(self, message: str, *, status: int | None = None, url: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.url = url


class Clock(Protocol):
    def monotonic(self) -> float: ...
    def time(self) -> float: ...
    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class VirtualClock:
    """A clock whose sleeps advance time instantly: for the offline demo, tests and benchmarks."""

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self._now = start
        self.slept = 0.0

    def monotonic(self) -> float:
        return self._now

    def time(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._now += seconds
            self.slept += seconds
        await asyncio.sleep(0)


class ValidatorStore(Protocol):
    def get(self, url: str) -> tuple[str | None, str | None]: ...
    def put(self, url: str, etag: str | None, last_modified: str | None, tag: str) -> None: ...
    def take(self, tag: str) -> list[tuple[str, str | None, str | None]]: ...


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A request budget for every URL starting with `prefix` (a host, or a host and path)."""

    prefix: str
    per_minute: float


@dataclass(slots=True)
class _Bucket:
    limit: RateLimit
    next_free: float = 0.0
    blocked_until: float = 0.0


@dataclass(frozen=True, slots=True)
class Reply:
    """A finished response: status, headers and the parsed JSON body (None for a 304)."""

    status: int
    url: str
    headers: httpx.Headers
    data: Any = None
    text: str = ""

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    def link(self, rel: str = "next") -> str | None:
        """The URL of a `Link` header relation, as GitHub and the Hugging Face Hub send."""
        value = self.headers.get("link")
        if not value:
            return None
        for link in httpx.Response(200, headers={"link": value}).links.values():
            if link.get("rel") == rel:
                return link.get("url")
        return None


@dataclass
class HttpStats:
    requests: Counter[str] = field(default_factory=Counter)
    by_tag: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    throttled: Counter[str] = field(default_factory=Counter)
    not_modified: Counter[str] = field(default_factory=Counter)
    waited: float = 0.0


def user_agent(settings: Settings) -> str:
    contact = f" (+{settings.contact})" if settings.contact else ""
    return f"sonoharvest/{__version__}{contact}"


def redact_url(url: str | httpx.URL) -> str:
    """Scheme, host and path only: query strings may carry tokens on some APIs."""
    parts = urlsplit(str(url))
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class HttpClient:
    """Async HTTP for every source. Use `async with HttpClient(settings) as http:`."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        validators: ValidatorStore | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or RealClock()
        self.stats = HttpStats()
        self.validators = validators
        self._rng = rng or random.Random()
        self._buckets: list[_Bucket] = []
        self._auth: dict[str, dict[str, str]] = {}
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(settings.http_timeout, connect=min(10.0, settings.http_timeout)),
            headers={"User-Agent": user_agent(settings), "Accept": "application/json"},
            follow_redirects=True,
            max_redirects=5,
        )

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    def limit(self, prefix: str, per_minute: float) -> None:
        """Declare a budget; a URL is paced by every budget whose prefix it starts with."""
        if not any(b.limit.prefix == prefix for b in self._buckets):
            self._buckets.append(_Bucket(RateLimit(prefix.rstrip("/"), per_minute)))

    def authorize(self, prefix: str, headers: dict[str, str]) -> None:
        """Attach these headers (a token) to requests under `prefix` only."""
        self._auth[prefix.rstrip("/")] = headers

    async def get(self, url: str, **kwargs: Any) -> Reply:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> Reply:
        return await self.request("POST", url, **kwargs)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        revalidate: bool = False,
        expect: str = "json",
    ) -> Reply:
        """Send with pacing and retries; return a Reply or raise HttpError.

        `expect` is "json" (body parsed, a non-JSON body is retried as a fault) or "text".
        With `revalidate`, stored ETag / Last-Modified are sent and a 304 Reply may come back.
        """
        full = _with_params(url, params)
        hdrs = {**self._auth_for(full), **(headers or {})}
        if revalidate and self.validators is not None:
            etag, modified = self.validators.get(full)
            if etag:
                hdrs["If-None-Match"] = etag
            if modified:
                hdrs["If-Modified-Since"] = modified
        shown = redact_url(full)
        attempts = self.settings.http_max_attempts
        last_problem = ""
        for attempt in range(1, attempts + 1):
            await self._pace(full)
            self.stats.requests[_host(full)] += 1
            self.stats.by_tag[REQUEST_TAG.get()] += 1
            try:
                request = self._client.build_request(method, full, json=json_body, headers=hdrs)
                response = await self._client.send(request, stream=True)
                body = await _read_capped(response)
            except httpx.TooManyRedirects:
                raise HttpError(f"{method} {shown}: too many redirects", url=shown) from None
            except BodyTooLarge:
                raise HttpError(f"{method} {shown}: the response is larger than "
                                f"{MAX_BODY_BYTES // 2**20} MB; refused", url=shown) from None
            except NETWORK_ERRORS as exc:
                last_problem = f"{type(exc).__name__}"
                await self._backoff(full, attempt, attempts, None, last_problem)
                continue
            self._note_limits(full, response)
            status = response.status_code
            log.debug("%s %s -> %s", method, shown, status)
            if status == 304:
                self.stats.not_modified[_host(full)] += 1
                return Reply(304, str(response.url), response.headers)
            if status in RETRY_STATUSES or _is_rate_limited(response):
                if status == 429 or _is_rate_limited(response):
                    self.stats.throttled[_host(full)] += 1
                last_problem = f"HTTP {status}"
                await self._backoff(full, attempt, attempts, response, last_problem)
                continue
            if status >= 400:
                raise HttpError(
                    f"{method} {shown} failed with HTTP {status}{_hint(status)}",
                    status=status, url=shown,
                )
            text = body.decode(response.encoding or "utf-8", errors="replace")
            data = None
            if expect == "json":
                try:
                    data = json.loads(text)
                except ValueError:
                    kind = response.headers.get("content-type", "unknown type")
                    last_problem = f"unreadable JSON ({kind}, {len(body)} bytes)"
                    await self._backoff(full, attempt, attempts, None, last_problem)
                    continue
            if revalidate and self.validators is not None:
                etag, modified = response.headers.get("etag"), response.headers.get("last-modified")
                if etag or modified:
                    self.validators.put(full, etag, modified, REQUEST_TAG.get())
            return Reply(status, str(response.url), response.headers, data, text)
        raise HttpError(
            f"{method} {shown} still failing after {attempts} attempts ({last_problem}); "
            "the service may be down or limiting us, try again later.",
            url=shown,
        )

    # --- pacing ------------------------------------------------------------------------

    def _matching(self, url: str) -> list[_Bucket]:
        return [b for b in self._buckets if url.startswith(b.limit.prefix)]

    async def _pace(self, url: str) -> None:
        wait = 0.0
        now = self.clock.monotonic()
        for bucket in self._matching(url):
            slot = max(now, bucket.next_free, bucket.blocked_until)
            bucket.next_free = slot + 60.0 / (bucket.limit.per_minute * PACING_MARGIN)
            wait = max(wait, slot - now)
        if wait > 0:
            self.stats.waited += wait
            await self.clock.sleep(wait)

    def _note_limits(self, url: str, response: httpx.Response) -> None:
        """When the server says the budget is spent, hold the host's buckets until the reset."""
        reset_in = _reset_in(response, self.clock.time())
        if reset_in is None:
            return
        until = self.clock.monotonic() + min(reset_in, self.settings.http_max_wait)
        for bucket in self._matching(url):
            bucket.blocked_until = max(bucket.blocked_until, until)

    async def _backoff(self, url: str, attempt: int, attempts: int,
                       response: httpx.Response | None, problem: str) -> None:
        if attempt >= attempts:
            return
        self.stats.retries[_host(url)] += 1
        wait = _server_wait(response, self.clock.time()) if response is not None else None
        if wait is None:
            ceiling = min(60.0, 2.0 ** (attempt - 1))
            wait = ceiling / 2 + self._rng.uniform(0, ceiling / 2)
        if wait > self.settings.http_max_wait:
            raise HttpError(
                f"{redact_url(url)}: the server asks us to wait {wait:.0f}s ({problem}), "
                f"more than SONOHARVEST_HTTP_MAX_WAIT={self.settings.http_max_wait:.0f}s; "
                "rerun later or raise that limit.",
                status=response.status_code if response is not None else None,
                url=redact_url(url),
            )
        log.info("%s: %s, retrying in %.1fs (attempt %d of %d)",
                 redact_url(url), problem, wait, attempt + 1, attempts)
        self.stats.waited += wait
        await self.clock.sleep(wait)

    def _auth_for(self, url: str) -> dict[str, str]:
        best = max((p for p in self._auth if url.startswith(p)), key=len, default=None)
        return self._auth[best] if best is not None else {}


def _host(url: str) -> str:
    return urlsplit(url).netloc


def _with_params(url: str, params: dict[str, Any] | None) -> str:
    if not params:
        return url
    clean = {k: v for k, v in params.items() if v is not None}
    return f"{url}{'&' if '?' in url else '?'}{urlencode(clean, doseq=True)}"


class BodyTooLarge(Exception):
    """A response body over MAX_BODY_BYTES: refused at once, never retried."""


async def _read_capped(response: httpx.Response) -> bytes:
    """The body of a streamed response, read no further than MAX_BODY_BYTES."""
    try:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise BodyTooLarge(int(declared))
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise BodyTooLarge(size)
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        await response.aclose()


def _is_rate_limited(response: httpx.Response) -> bool:
    # GitHub answers an exhausted primary or secondary limit with 403 (or 429).
    return response.status_code == 403 and (
        response.headers.get("x-ratelimit-remaining") == "0" or "retry-after" in response.headers
    )


def _reset_in(response: httpx.Response, wall_now: float) -> float | None:
    """Seconds until the budget resets, when the response says none is left."""
    headers = response.headers
    if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset"):
        try:
            return max(0.0, float(headers["x-ratelimit-reset"]) - wall_now) + 1.0
        except ValueError:
            return None
    fields = _ratelimit_fields(headers.get("ratelimit", ""))
    if fields.get("r") == 0 and "t" in fields:
        return fields["t"] + 1.0
    return None


def _ratelimit_fields(value: str) -> dict[str, float]:
    """Parse the IETF draft header, for example `"api";r=0;t=42` as the Hugging Face Hub sends."""
    out: dict[str, float] = {}
    for part in value.split(";"):
        key, _, raw = part.strip().partition("=")
        if raw:
            try:
                out[key.strip()] = float(raw.strip())
            except ValueError:
                continue
    return out


def _server_wait(response: httpx.Response, wall_now: float) -> float | None:
    """The wait a throttling response asks for: Retry-After first, then reset headers."""
    retry_after = response.headers.get("retry-after")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(retry_after).timestamp() - wall_now)
            except (TypeError, ValueError):
                pass
    return _reset_in(response, wall_now)


def _hint(status: int) -> str:
    return {
        401: " (unauthorized: check the token for this source)",
        403: " (forbidden: the token may lack access)",
        404: " (not found)",
        422: " (the API rejected the query)",
    }.get(status, "")
