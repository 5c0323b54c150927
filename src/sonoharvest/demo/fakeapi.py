"""A fake internet for the demo, tests and benchmarks: routes requests to fake API services.

Each fake service answers in the real API's shapes, enforces its documented rate limits on the
same clock the client uses, and can inject faults (5xx, 429, truncated JSON, timeouts).
"""

from __future__ import annotations

import json
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from sonoharvest.http import Clock

# Allowance for float drift when a client paces requests exactly at the limit.
_EPSILON = 1e-6


class FakeService(Protocol):
    """A fake API on one host, serving the URL paths that start with one of `paths`.

    `limits` are (path prefix, requests per minute) like the real API's; services on one host
    that declare the same prefix share one budget, as they do on the real host.
    """

    host: str
    paths: list[str]
    limits: list[tuple[str, float]]

    def handle(self, request: httpx.Request) -> httpx.Response: ...


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> httpx.Response:
    body = json.dumps(data).encode()
    return httpx.Response(status, content=body,
                          headers={"content-type": "application/json", **(headers or {})})


def request_json(request: httpx.Request) -> dict[str, Any]:
    """The JSON body of a POST, or {} when there is none."""
    return json.loads(request.content) if request.content else {}


@dataclass
class Faults:
    """Random faults: `rate` is the share of requests that fail, picked among `kinds`."""

    rate: float = 0.0
    kinds: tuple[str, ...] = ("500", "503", "429", "truncated", "timeout", "html")
    seed: int = 0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def pick(self) -> str | None:
        return self.rng.choice(self.kinds) if self.rng.random() < self.rate else None


class FakeInternet:
    """Dispatches requests by host; counts them; answers 429 when a client exceeds a limit."""

    def __init__(self, services: list[FakeService], clock: Clock,
                 faults: Faults | None = None) -> None:
        self.services = services
        self.clock = clock
        for service in services:       # fakes that keep time windows use the client's clock
            budget = getattr(service, "budget", None)
            if budget is not None and hasattr(budget, "clock"):
                budget.clock = clock
            if hasattr(service, "clock") and service.clock is None:
                service.clock = clock
        self.faults = faults or Faults()
        self.log: list[tuple[str, str, int]] = []
        self.times: list[float] = []        # clock time of each logged request
        self.rejected = 0
        self._windows: dict[tuple[str, str], deque[float]] = {}

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def count(self, host: str | None = None, status: int | None = None) -> int:
        return sum(1 for _, url, st in self.log
                   if (host is None or urlsplit(url).netloc == host)
                   and (status is None or st == status))

    def _handle(self, request: httpx.Request) -> httpx.Response:
        service = self._route(request.url)
        if service is None:
            response = json_response({"message": f"no fake service for {request.url}"}, 404)
        else:
            response = self._throttle(service, request) or self._fault(request) or \
                service.handle(request)
        self.log.append((request.method, str(request.url), response.status_code))
        self.times.append(self.clock.monotonic())
        return response

    def _route(self, url: httpx.URL) -> FakeService | None:
        """The service of the URL's host with the longest matching path prefix; a service
        on host "*" (a catch-all web) answers only what no other service does."""
        best: tuple[int, FakeService] | None = None
        for service in self.services:
            if service.host not in (url.host, "*"):
                continue
            for prefix in service.paths:
                length = len(prefix) if service.host != "*" else -1
                if url.path.startswith(prefix) and (best is None or length > best[0]):
                    best = (length, service)
        return best[1] if best else None

    def _throttle(self, service: FakeService, request: httpx.Request) -> httpx.Response | None:
        now = self.clock.monotonic()
        for prefix, per_minute in service.limits:
            if not request.url.path.startswith(prefix):
                continue
            window = self._windows.setdefault((service.host, prefix), deque())
            while window and window[0] <= now - 60.0 + _EPSILON:
                window.popleft()
            if len(window) >= per_minute:
                self.rejected += 1
                retry = max(1, int(window[0] + 60.0 - now) + 1)
                return json_response({"message": "rate limit exceeded", "status": 429}, 429,
                                     {"retry-after": str(retry)})
            window.append(now)
        return None

    def _fault(self, request: httpx.Request) -> httpx.Response | None:
        kind = self.faults.pick()
        if kind is None:
            return None
        if kind == "timeout":
            raise httpx.ReadTimeout("injected timeout", request=request)
        if kind == "truncated":
            return httpx.Response(200, content=b'{"hits": {"hits": [{"id": 1, "tit',
                                  headers={"content-type": "application/json"})
        if kind == "html":
            return httpx.Response(200, content=b"<html><body>Service unavailable</body></html>",
                                  headers={"content-type": "text/html"})
        if kind == "429":
            return json_response({"message": "slow down"}, 429, {"retry-after": "2"})
        return json_response({"message": "injected failure"}, int(kind))

