"""Weekly link checks: is each catalogue entity's primary URL still alive, and where does it go?

Every URL (and every redirect hop) is vetted by `check_target` before a request is sent, so a
catalogue entry or a hostile redirect cannot point the checker at this machine or its network.
Requests are paced per host through the `Clock` protocol of `sonoharvest.http`, HEAD comes
first with a streamed GET as fallback, and one `LinkStatus` comes back per unique input URL.

Known limit: the host is resolved once for the check and again by the HTTP stack when it
connects, so a DNS server that answers differently the second time (DNS rebinding) is not
caught. Run the checker where private services need no protection if that matters.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from sonoharvest.http import Clock, RealClock

__all__ = [
    "DnsLookupFailed",
    "LinkStatus",
    "UnsafeTarget",
    "check_links",
    "check_target",
    "default_resolve",
]

log = logging.getLogger(__name__)

ALLOWED_SCHEMES = frozenset({"http", "https"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# A HEAD answered with one of these is retried as a GET: many servers refuse or mishandle HEAD.
HEAD_FALLBACK_STATUSES = frozenset({403, 405, 501})
RETRY_AFTER_STATUSES = frozenset({429, 503})
# Longest Retry-After (s) honoured; a longer one is reported instead of waited for.
MAX_RETRY_AFTER = 120.0
# Longest URL shown in an error message.
MAX_SHOWN = 200
_ALLOW_HINT = "set SONOHARVEST_ALLOW_PRIVATE_LINKS=true to let the link checker visit it"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], list[str]]


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """The outcome of checking one URL.

    `status` and `final_url` describe the last response received (None when none was);
    `redirects` counts the redirects followed; `error` says why `ok` is False.
    """

    url: str
    status: int | None
    final_url: str | None
    redirects: int
    ok: bool
    error: str | None
    checked_at: datetime


class UnsafeTarget(ValueError):
    """A URL the checker refuses to request; the message says why and what would allow it."""


class DnsLookupFailed(UnsafeTarget):
    """The host name did not resolve, so the target cannot be vetted (or reached)."""


# --- vetting targets -----------------------------------------------------------------------


def default_resolve(host: str) -> list[str]:
    """Every address `host` resolves to, via `socket.getaddrinfo`; raises OSError on failure."""
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_target(url: str, *, allow_private: bool, resolve: Resolver = default_resolve) -> None:
    """Raise UnsafeTarget unless `url` is an http(s) URL, without credentials, on a public host.

    With `allow_private`, the scheme and credential checks still apply but the host is not
    resolved or vetted. A host that does not resolve raises DnsLookupFailed (an UnsafeTarget).
    """
    shown = _shown(url)
    parsed = _parse(url, shown)
    if parsed.scheme not in ALLOWED_SCHEMES:
        scheme = f"scheme {_shown(parsed.scheme)!r}" if parsed.scheme else "no scheme"
        raise UnsafeTarget(
            f"refused {shown}: {scheme}, not http or https; "
            "only web links are checked, fix the catalogue URL (no setting allows this)"
        )
    if parsed.userinfo:
        raise UnsafeTarget(
            f"refused {shown}: the URL embeds credentials; "
            "remove the user:password part from the catalogue URL (no setting allows this)"
        )
    host = _host_of(parsed)
    if not host:
        raise UnsafeTarget(f"refused {shown}: the URL has no host; fix the catalogue URL")
    if allow_private:
        return
    _vet_host(host, shown, resolve)


def _parse(url: str, shown: str) -> httpx.URL:
    """The URL as httpx will send it: vetting what httpx parses avoids parser mismatches."""
    if not isinstance(url, str):
        raise UnsafeTarget(f"refused {shown}: not a string URL; pass URLs as text")
    try:
        return httpx.URL(url)
    except Exception as exc:  # httpx raises several types for malformed input
        raise UnsafeTarget(
            f"refused {shown}: not a valid URL ({_one_line(str(exc))[:MAX_SHOWN]}); "
            "fix the catalogue URL"
        ) from None


def _host_of(url: httpx.URL) -> str:
    """The ASCII host that will be connected to, lower case and without a trailing dot."""
    return url.raw_host.decode("ascii", errors="replace").lower().rstrip(".")


def _vet_host(host: str, shown: str, resolve: Resolver) -> None:
    """Refuse local names, non-public IP literals and names resolving to non-public addresses."""
    if host == "localhost" or host.endswith(".localhost"):
        raise UnsafeTarget(f"refused {shown}: {host} is a loopback name; {_ALLOW_HINT}")
    literal = _ip_literal(host, shown)
    if literal is not None:
        _vet_address(literal, f"{host} is {literal}," if str(literal) != host else f"{host} is",
                     shown)
        return
    for address in _resolve(host, shown, resolve):
        _vet_address(address, f"{host} resolves to {address},", shown)


def _ip_literal(host: str, shown: str) -> IPAddress | None:
    """The address when `host` is an IP literal in any form a resolver would accept."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.replace("%25", "%", 1))
        except ValueError:
            raise UnsafeTarget(
                f"refused {shown}: {host} is not a valid IPv6 address; fix the catalogue URL"
            ) from None
    return _legacy_ipv4(host)


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """Parse IPv4 as inet_aton does: 1 to 4 parts, each decimal, octal (0...) or hex (0x...).

    So `2130706433`, `0x7f.1`, `0177.0.0.1` and `127.1` are all 127.0.0.1, as the system
    resolver would treat them. Returns None when `host` is not such a literal.
    """
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values: list[int] = []
    for part in parts:
        value = _inet_number(part)
        if value is None:
            return None
        values.append(value)
    *leading, last = values
    if any(v > 255 for v in leading) or last >= 256 ** (5 - len(values)):
        return None
    number = last
    for index, value in enumerate(leading):
        number += value << (8 * (3 - index))
    return ipaddress.IPv4Address(number)


def _inet_number(part: str) -> int | None:
    """One inet_aton component, or None if it is not a number in C notation."""
    if re.fullmatch(r"0[xX][0-9a-fA-F]*", part):
        return int(part[2:] or "0", 16)
    if re.fullmatch(r"0[0-7]+", part):
        return int(part, 8)
    if re.fullmatch(r"[0-9]+", part) and (part == "0" or not part.startswith("0")):
        return int(part)
    return None


def _resolve(host: str, shown: str, resolve: Resolver) -> list[IPAddress]:
    """Resolve `host` to addresses; any failure is DnsLookupFailed."""
    try:
        answers = list(resolve(host))
    except Exception as exc:  # resolvers raise OSError, UnicodeError, ValueError, ...
        raise DnsLookupFailed(
            f"DNS lookup failed for {_shown(host)} in {shown} ({type(exc).__name__}); "
            "check the host name in the catalogue URL, or the network"
        ) from None
    if not answers:
        raise DnsLookupFailed(
            f"DNS lookup failed for {_shown(host)} in {shown} (no addresses); "
            "check the host name in the catalogue URL"
        )
    addresses: list[IPAddress] = []
    for answer in answers:
        try:
            addresses.append(ipaddress.ip_address(str(answer)))
        except ValueError:
            raise UnsafeTarget(
                f"refused {shown}: the resolver returned {_shown(str(answer))!r}, "
                "not an IP address; fix the resolve function"
            ) from None
    return addresses


def _vet_address(address: IPAddress, where: str, shown: str) -> None:
    """Raise UnsafeTarget if `address` is not public; `where` says how the host got it."""
    problem = _address_problem(address)
    if problem is None:
        return
    raise UnsafeTarget(f"refused {shown}: {where} a {problem} address; {_ALLOW_HINT}")


def _address_problem(address: IPAddress) -> str | None:
    """Why `address` is not a public target ("loopback", "private", ...), or None if it is."""
    if isinstance(address, ipaddress.IPv6Address):
        teredo = address.teredo
        embedded = [address.ipv4_mapped, address.sixtofour, *(teredo or ())]
        for inner in embedded:
            inner_problem = _address_problem(inner) if inner is not None else None
            if inner_problem:
                return f"{inner_problem} (embedded {inner})"
        if address.is_site_local:
            return "site-local"
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    )
    for label, flagged in checks:
        if flagged:
            return label
    return None if address.is_global else "non-public"


def _shown(text: str) -> str:
    """A URL fit for a one-line message: credentials dropped, control characters escaped."""
    text = str(text)
    try:
        parsed = httpx.URL(text)
        if parsed.userinfo:
            text = str(parsed.copy_with(userinfo=b""))
    except Exception:  # unparseable text is shown as it is
        pass
    text = _one_line(text)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "..."


def _one_line(text: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f\u2028\u2029\x85]", "?", text)


# --- checking ------------------------------------------------------------------------------


async def check_links(
    urls: Iterable[str],
    *,
    user_agent: str,
    allow_private: bool = False,
    per_host_per_minute: float = 30.0,
    timeout: float = 20.0,
    max_redirects: int = 5,
    transport: httpx.AsyncBaseTransport | None = None,
    resolve: Resolver = default_resolve,
    clock: Clock | None = None,
    concurrency: int = 4,
    on_result: Callable[[LinkStatus], None] | None = None,
) -> list[LinkStatus]:
    """Check every unique URL once; return one LinkStatus per unique URL, in input order.

    A bad URL never raises: refusals, DNS failures, timeouts and HTTP errors all come back as
    a LinkStatus with ok=False. `on_result` is called as each URL finishes; an exception it
    raises stops the run and propagates. `resolve` runs in a worker thread.
    """
    _validate_options(user_agent, per_host_per_minute, timeout, max_redirects, concurrency)
    unique = list(dict.fromkeys(urls))
    the_clock: Clock = clock or RealClock()
    client = httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": user_agent},
        follow_redirects=False,
    )
    async with client:
        checker = _Checker(
            client=client,
            clock=the_clock,
            pacer=HostPacer(the_clock, per_host_per_minute),
            resolve=CachedResolver(resolve),
            allow_private=allow_private,
            max_redirects=max_redirects,
            timeout=timeout,
        )
        gate = asyncio.Semaphore(concurrency)

        async def one(url: str) -> LinkStatus:
            async with gate:
                result = await checker.check(url)
            if on_result is not None:
                on_result(result)
            return result

        tasks = [asyncio.ensure_future(one(url)) for url in unique]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise


def _validate_options(user_agent: str, per_host_per_minute: float, timeout: float,
                      max_redirects: int, concurrency: int) -> None:
    """Raise ValueError for settings that make no sense (a caller's bug, not a bad URL)."""
    if not user_agent or not user_agent.strip():
        raise ValueError("user_agent is empty; pass sonoharvest.http.user_agent(settings)")
    if not per_host_per_minute > 0:
        raise ValueError(f"per_host_per_minute={per_host_per_minute}; use a positive rate")
    if not timeout > 0:
        raise ValueError(f"timeout={timeout}; use a positive number of seconds")
    if max_redirects < 0:
        raise ValueError(f"max_redirects={max_redirects}; use 0 or more")
    if concurrency < 1:
        raise ValueError(f"concurrency={concurrency}; use 1 or more")


class CachedResolver:
    """Resolve each host once per run; failures are remembered too."""

    def __init__(self, resolve: Resolver) -> None:
        self._resolve = resolve
        self._answers: dict[str, list[str] | Exception] = {}

    def __call__(self, host: str) -> list[str]:
        if host not in self._answers:
            try:
                self._answers[host] = list(self._resolve(host))
            except Exception as exc:  # re-raised below, and on every later lookup
                self._answers[host] = exc
        answer = self._answers[host]
        if isinstance(answer, Exception):
            raise answer
        return answer


class HostPacer:
    """Space requests to one host by 60 / per_minute seconds; other hosts are not held up."""

    def __init__(self, clock: Clock, per_minute: float) -> None:
        self._clock = clock
        self._interval = 60.0 / per_minute
        self._intervals: dict[str, float] = {}
        self._next_free: dict[str, float] = {}

    def slow(self, host: str, seconds: float) -> None:
        """Space this host's requests by at least `seconds` (a robots.txt Crawl-delay)."""
        self._intervals[host] = max(seconds, self._intervals.get(host, self._interval))

    async def wait(self, host: str) -> None:
        """Take the host's next slot and sleep until it comes."""
        now = self._clock.monotonic()
        slot = max(now, self._next_free.get(host, now))
        self._next_free[host] = slot + self._intervals.get(host, self._interval)
        if slot > now:
            await self._clock.sleep(slot - now)

    def hold(self, host: str, seconds: float) -> None:
        """Keep the host free of requests for `seconds`, as a Retry-After asks."""
        until = self._clock.monotonic() + seconds
        self._next_free[host] = max(self._next_free.get(host, until), until)


@dataclass
class _Budget:
    """Per-URL allowance: one Retry-After wait and retry across all hops."""

    retried: bool = False


@dataclass(frozen=True, slots=True)
class _Failure:
    """A request that got no response: what happened and what to do."""

    what: str
    advice: str

    def explain(self) -> str:
        return f"{self.what}; {self.advice}"


class BadRedirect(ValueError):
    """A redirect without a usable Location header."""


@dataclass
class _Checker:
    client: httpx.AsyncClient
    clock: Clock
    pacer: HostPacer
    resolve: CachedResolver
    allow_private: bool
    max_redirects: int
    timeout: float

    async def check(self, url: str) -> LinkStatus:
        """Check one URL; never raises (an unexpected failure becomes the error)."""
        try:
            return await self._follow(url)
        except Exception as exc:  # one bad URL must not stop the run
            log.exception("link check of %s failed unexpectedly", _shown(url))
            return self._result(url, None, None, 0,
                                f"check failed unexpectedly ({type(exc).__name__}); report a bug")

    async def _follow(self, url: str) -> LinkStatus:
        """Request `url`, following redirects by hand and vetting every hop."""
        budget = _Budget()
        current, redirects = url, 0
        seen: set[str] = set()
        last: httpx.Response | None = None
        last_url: str | None = None
        while True:
            try:
                await asyncio.to_thread(check_target, current,
                                        allow_private=self.allow_private, resolve=self.resolve)
            except UnsafeTarget as exc:
                if not redirects:
                    return self._result(url, last, last_url, 0, str(exc))
                reason = f"redirect {redirects}: {exc}"
                return self._result(url, last, last_url, redirects - 1, reason)
            seen.add(str(httpx.URL(current)))
            outcome = await self._probe(current, budget)
            if isinstance(outcome, _Failure):
                return self._result(url, last, last_url, redirects, outcome.explain())
            last, last_url = outcome, current
            if outcome.status_code not in REDIRECT_STATUSES:
                return self._result(url, last, last_url, redirects, _http_error(outcome))
            try:
                target = redirect_target(current, outcome)
            except BadRedirect as exc:
                return self._result(url, last, last_url, redirects, str(exc))
            if target in seen:
                return self._result(url, last, last_url, redirects,
                                    f"redirect loop: {_shown(current)} redirects back to "
                                    f"{_shown(target)}; report it to the site or retire the link")
            if redirects >= self.max_redirects:
                return self._result(url, last, last_url, redirects,
                                    f"too many redirects (more than {self.max_redirects}); "
                                    "point the catalogue at the final address instead")
            redirects += 1
            current = target

    async def _probe(self, url: str, budget: _Budget) -> httpx.Response | _Failure:
        """HEAD, then a streamed GET if HEAD is refused or fails."""
        head = await self._send("HEAD", url, budget)
        if isinstance(head, httpx.Response) and head.status_code not in HEAD_FALLBACK_STATUSES:
            return head
        get = await self._send("GET", url, budget)
        if isinstance(get, _Failure) and isinstance(head, _Failure):
            return _Failure(f"{head.what}, then {get.what}", get.advice)
        return get

    async def _send(self, method: str, url: str, budget: _Budget) -> httpx.Response | _Failure:
        """One paced request, retried once after a Retry-After wait."""
        response = await self._send_once(method, url)
        if isinstance(response, _Failure) or budget.retried:
            return response
        if response.status_code not in RETRY_AFTER_STATUSES:
            return response
        wait = retry_after_seconds(response.headers.get("retry-after"), self.clock.time())
        if wait is None or wait > MAX_RETRY_AFTER:
            return response
        budget.retried = True
        log.info("%s: HTTP %d, retrying once in %.0fs", _shown(url), response.status_code, wait)
        self.pacer.hold(_host_of(httpx.URL(url)), wait)
        return await self._send_once(method, url)

    async def _send_once(self, method: str, url: str) -> httpx.Response | _Failure:
        """Send without reading the body; a network failure comes back as a _Failure."""
        await self.pacer.wait(_host_of(httpx.URL(url)))
        try:
            response = await self.client.send(self.client.build_request(method, url),
                                               stream=True)
            await response.aclose()
        except httpx.TimeoutException:
            return _Failure(f"{method} timed out after {self.timeout:g}s",
                            "the site may be down, recheck later or raise timeout")
        except httpx.HTTPError as exc:
            detail = _one_line(str(exc))[:MAX_SHOWN]
            return _Failure(f"{method} failed ({type(exc).__name__}: {detail})",
                            "the site may be down, recheck later")
        return response

    def _result(self, url: str, last: httpx.Response | None, last_url: str | None,
                redirects: int, error: str | None) -> LinkStatus:
        return LinkStatus(
            url=url,
            status=last.status_code if last is not None else None,
            final_url=last_url,
            redirects=redirects,
            ok=error is None,
            error=error,
            checked_at=datetime.fromtimestamp(self.clock.time(), tz=UTC),
        )


def redirect_target(current: str, response: httpx.Response) -> str:
    """The absolute URL a redirect points to; raises BadRedirect without a usable Location."""
    location = response.headers.get("location")
    if not location:
        raise BadRedirect(f"HTTP {response.status_code} without a Location header; "
                           "report it to the site or retire the link")
    try:
        return str(httpx.URL(current).join(location))
    except Exception:  # httpx raises several types for a malformed Location
        raise BadRedirect(f"HTTP {response.status_code} redirects to an invalid Location "
                           f"{_shown(location)!r}; report it to the site") from None


def _http_error(response: httpx.Response) -> str | None:
    """None for a live link (status < 400), else a one-line explanation."""
    status = response.status_code
    if status < 400:
        return None
    if status in RETRY_AFTER_STATUSES:
        after = response.headers.get("retry-after")
        asked = f" (Retry-After: {_one_line(after)[:40]})" if after else ""
        return (f"HTTP {status} rate limited or unavailable{asked}; "
                "recheck later or lower per_host_per_minute")
    hints = {
        401: "login required; the link is not public, check it by hand",
        403: "forbidden; the site may block automated checks, check it by hand",
        404: "not found; update or retire the catalogue URL",
        410: "gone; retire the catalogue URL",
    }
    default = ("server error; recheck next week before retiring the link" if status >= 500
               else "check the URL by hand")
    return f"HTTP {status} {hints.get(status, default)}"


def retry_after_seconds(value: str | None, wall_now: float) -> float | None:
    """Seconds a Retry-After header asks for (delta seconds or an HTTP date), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - wall_now)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
