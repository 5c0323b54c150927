"""Fetch entities' landing pages politely and read what they state.

Polite means: robots.txt is read once per host and obeyed (RFC 9309: a 4xx robots.txt allows
everything, an unreachable or 5xx one forbids everything for this run), requests to one host
are spaced by the configured rate or the site's Crawl-delay if longer, pages are cached (not
fetched again for `refresh_days`, then revalidated with ETag / Last-Modified), bodies are
capped, and every URL and redirect hop is vetted by `linkcheck.check_target` so a catalogue
URL cannot point the fetcher at this machine's network.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.robotparser import RobotFileParser

import httpx

from sonoharvest.datafiles import read_yaml
from sonoharvest.http import Clock, RealClock
from sonoharvest.landing_extract import extract
from sonoharvest.linkcheck import (
    REDIRECT_STATUSES,
    BadRedirect,
    CachedResolver,
    HostPacer,
    Resolver,
    UnsafeTarget,
    check_target,
    default_resolve,
    redirect_target,
    retry_after_seconds,
)

log = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")
ROBOTS_AGENT = "sonoharvest"
MAX_ROBOTS_BYTES = 500_000      # RFC 9309 asks crawlers to read at least 500 KiB
MAX_CRAWL_DELAY = 60.0          # a longer Crawl-delay is capped (and logged)
MAX_RETRY_AFTER = 120.0


@dataclass(frozen=True)
class LandingConfig:
    """rubrics/landing.yaml: which pages to fetch, how often, how much."""

    skip_hosts: tuple[str, ...]
    refresh_days: float
    max_pages_per_run: int
    max_bytes: int
    max_redirects: int

    @classmethod
    def load(cls, rubrics_dir: Path) -> LandingConfig:
        path = rubrics_dir / "landing.yaml"
        data = read_yaml(path, "rubrics/landing.yaml") or {}
        try:
            return cls(skip_hosts=tuple(str(h).lower() for h in data.get("skip_hosts") or []),
                       refresh_days=float(data.get("refresh_days", 30)),
                       max_pages_per_run=int(data.get("max_pages_per_run", 500)),
                       max_bytes=int(data.get("max_bytes", 2_000_000)),
                       max_redirects=int(data.get("max_redirects", 5)))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: {exc}; fix the value (see the comments in the file)"
                             ) from None


@dataclass
class Page:
    """The outcome of fetching one landing page; `extracted` is None when nothing was read
    (an error, a refusal, or a 304 that keeps the cached reading)."""

    url: str
    robots: str = "not checked"
    status: int | None = None
    final_url: str | None = None
    ok: bool = False
    error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    extracted: dict[str, Any] | None = None
    fetched_at: datetime = field(default_factory=lambda: datetime.now(tz=UTC))

    def row(self) -> dict[str, Any]:
        return {"url": self.url, "final_url": self.final_url, "status": self.status,
                "ok": self.ok, "robots": self.robots, "error": self.error, "etag": self.etag,
                "last_modified": self.last_modified, "extracted": self.extracted,
                "fetched_at": self.fetched_at}


async def fetch_pages(
    urls: Iterable[str],
    *,
    user_agent: str,
    config: LandingConfig,
    validators: dict[str, tuple[str | None, str | None]] | None = None,
    allow_private: bool = False,
    per_host_per_minute: float = 30.0,
    timeout: float = 20.0,
    transport: httpx.AsyncBaseTransport | None = None,
    resolve: Resolver = default_resolve,
    clock: Clock | None = None,
    concurrency: int = 4,
    on_page: Callable[[Page], None] | None = None,
) -> list[Page]:
    """Fetch each unique URL once (conditionally when `validators` has its ETag /
    Last-Modified); never raises for a bad page. `on_page` runs as each page finishes."""
    the_clock = clock or RealClock()
    client = httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(timeout),
                               headers={"User-Agent": user_agent}, follow_redirects=False)
    async with client:
        fetcher = _Fetcher(client, the_clock, HostPacer(the_clock, per_host_per_minute),
                           CachedResolver(resolve), allow_private, config, validators or {},
                           60.0 / per_host_per_minute)
        gate = asyncio.Semaphore(concurrency)

        async def one(url: str) -> Page:
            async with gate:
                page = await fetcher.fetch(url)
            page.fetched_at = datetime.fromtimestamp(the_clock.time(), tz=UTC)
            if on_page is not None:
                on_page(page)
            return page

        return list(await asyncio.gather(*(one(u) for u in dict.fromkeys(urls))))


@dataclass
class _Fetcher:
    client: httpx.AsyncClient
    clock: Clock
    pacer: HostPacer
    resolve: CachedResolver
    allow_private: bool
    config: LandingConfig
    validators: dict[str, tuple[str | None, str | None]]
    interval: float
    robots: dict[str, tuple[str, RobotFileParser | None]] = field(default_factory=dict)
    robots_locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def fetch(self, url: str) -> Page:
        page = Page(url)
        try:
            await self._follow(page)
        except Exception as exc:  # one bad page must not stop the others
            log.exception("landing page %s failed unexpectedly", url)
            page.error = f"fetch failed unexpectedly ({type(exc).__name__}); report a bug"
        return page

    async def _follow(self, page: Page) -> None:
        current, seen = page.url, set()
        for _ in range(self.config.max_redirects + 1):
            try:
                await asyncio.to_thread(check_target, current, allow_private=self.allow_private,
                                        resolve=self.resolve)
            except UnsafeTarget as exc:
                page.error = str(exc)
                return
            page.robots = await self._robots_verdict(current)
            if page.robots != "allowed":
                why = "forbids" if page.robots == "disallowed" else "was unreachable, so forbids"
                page.error = (f"robots.txt of {_host(current)} {why} this page; nothing was "
                              "read (the site's choice, asked again next refresh)")
                return
            seen.add(current)
            response = await self._get(current, conditional=current == page.url)
            if isinstance(response, str):
                page.error = response
                return
            page.status, page.final_url = response.status_code, current
            if response.status_code not in REDIRECT_STATUSES:
                await self._read(page, response)
                return
            try:
                target = redirect_target(current, response)
            except BadRedirect as exc:
                page.error = str(exc)
                return
            finally:
                await response.aclose()
            if target in seen:
                page.error = f"redirect loop back to {target}; check the URL by hand"
                return
            current = target
        page.error = (f"more than {self.config.max_redirects} redirects; "
                      "point the catalogue at the final address")

    async def _get(self, url: str, *, conditional: bool) -> httpx.Response | str:
        """A paced, streamed GET (retried once after a short Retry-After); a string on failure."""
        headers = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"}
        etag, modified = self.validators.get(url, (None, None)) if conditional else (None, None)
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        for attempt in (1, 2):
            await self.pacer.wait(_host(url))
            try:
                response = await self.client.send(
                    self.client.build_request("GET", url, headers=headers), stream=True)
            except httpx.TimeoutException:
                return "timed out; the site may be slow or down, it is retried next run"
            except httpx.HTTPError as exc:
                return f"request failed ({type(exc).__name__}); retried next run"
            wait = retry_after_seconds(response.headers.get("retry-after"), self.clock.time())
            if (response.status_code in (429, 503) and attempt == 1 and wait is not None
                    and wait <= MAX_RETRY_AFTER):
                await response.aclose()
                self.pacer.hold(_host(url), wait)
                continue
            return response
        return "still rate limited after one retry; retried next run"

    async def _read(self, page: Page, response: httpx.Response) -> None:
        try:
            page.etag = response.headers.get("etag")
            page.last_modified = response.headers.get("last-modified")
            if response.status_code == 304:
                page.ok = True      # the cached extraction still holds
                return
            if response.status_code >= 400:
                page.error = f"HTTP {response.status_code}; the page is not readable now"
                return
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if kind and kind not in HTML_TYPES:
                page.error = f"not a web page ({kind}); nothing to read"
                return
            body = await _capped(response, self.config.max_bytes)
            if body is None:
                page.error = (f"page larger than {self.config.max_bytes} bytes; not read "
                              "(raise max_bytes in rubrics/landing.yaml)")
                return
            text = body.decode(response.encoding or "utf-8", errors="replace")
            page.extracted = extract(text, page.final_url or page.url,
                                     response.headers.get("link"))
            page.ok = True
        finally:
            await response.aclose()

    async def _robots_verdict(self, url: str) -> str:
        """allowed | disallowed | unreachable, from the host's robots.txt (read once)."""
        origin = _origin(url)
        lock = self.robots_locks.setdefault(origin, asyncio.Lock())
        async with lock:
            if origin not in self.robots:
                self.robots[origin] = await self._load_robots(origin)
        state, parser = self.robots[origin]
        if parser is None:
            return state
        return "allowed" if parser.can_fetch(ROBOTS_AGENT, url) else "disallowed"

    async def _load_robots(self, origin: str) -> tuple[str, RobotFileParser | None]:
        response = await self._get(f"{origin}/robots.txt", conditional=False)
        if isinstance(response, str):
            return "unreachable", None
        try:
            status = response.status_code
            if 400 <= status < 500 or status in REDIRECT_STATUSES:
                return "allowed", None          # no robots.txt: everything is allowed
            if status >= 500:
                return "unreachable", None
            body = await _capped(response, MAX_ROBOTS_BYTES, truncate=True) or b""
        finally:
            await response.aclose()
        parser = RobotFileParser()
        parser.parse(body.decode("utf-8", errors="replace").splitlines())
        delay = parser.crawl_delay(ROBOTS_AGENT)
        if delay:
            seconds = min(float(delay), MAX_CRAWL_DELAY)
            if seconds > self.interval:
                log.info("%s asks for a crawl delay of %ss; honoured", origin, seconds)
                self.pacer.slow(_host(origin), seconds)
        return "allowed", parser


async def _capped(response: httpx.Response, limit: int, *, truncate: bool = False
                  ) -> bytes | None:
    """The body up to `limit` bytes; None when it is longer (or the first `limit` bytes if
    `truncate`)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit and not truncate:
        return None
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks)[:limit] if truncate else None
    return b"".join(chunks)


def _origin(url: str) -> str:
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


def _host(url: str) -> str:
    return httpx.URL(url).host.lower()
