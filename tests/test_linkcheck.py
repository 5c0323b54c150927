"""Link checks, offline: a scripted web (httpx.MockTransport), a fake resolver, a virtual clock."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sonoharvest.http import VirtualClock
from sonoharvest.linkcheck import (
    DnsLookupFailed,
    LinkStatus,
    UnsafeTarget,
    check_links,
    check_target,
    default_resolve,
)

UA = "sonoharvest/test (+mailto:ops@example.org)"
DNS = {
    "zenodo.org": ["188.184.103.159"],
    "github.com": ["140.82.121.4"],
    "huggingface.co": ["2600:9000:2000::1", "18.239.50.10"],
    "www.kaggle.com": ["35.244.233.98"],
    "intranet.example": ["192.168.1.5"],
    "sneaky.example": ["93.184.216.34", "10.1.2.3"],
}

Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def fake_resolve(host: str) -> list[str]:
    if host in DNS:
        return DNS[host]
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


class Web:
    """A scripted web: URL -> answer (a response, an exception, a list consumed in order)."""

    def __init__(self, clock: VirtualClock, routes: dict[str, Answer | list[Answer]]) -> None:
        self.clock = clock
        self.routes = {str(httpx.URL(url)): answer for url, answer in routes.items()}
        self.requests: list[tuple[str, str, float]] = []
        self.user_agents: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.requests.append((request.method, url, self.clock.monotonic()))
        self.user_agents.add(request.headers.get("user-agent", ""))
        answer = self.routes.get(url, httpx.Response(404))
        if isinstance(answer, list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer

    def methods(self) -> list[str]:
        return [method for method, _, _ in self.requests]

    def urls(self) -> list[str]:
        return [url for _, url, _ in self.requests]


def run(web: Web, urls: list[str], **kwargs) -> list[LinkStatus]:
    kwargs.setdefault("resolve", fake_resolve)
    return asyncio.run(check_links(urls, user_agent=UA, transport=httpx.MockTransport(web),
                                   clock=web.clock, **kwargs))


def one(web: Web, url: str, **kwargs) -> LinkStatus:
    [result] = run(web, [url], **kwargs)
    return result


def moved(location: str, status: int = 301) -> httpx.Response:
    return httpx.Response(status, headers={"location": location})


# --- live, dead, redirected --------------------------------------------------------------


def test_live_link_is_ok_with_one_head_request(clock):
    web = Web(clock, {"https://zenodo.org/records/1": httpx.Response(200)})
    result = one(web, "https://zenodo.org/records/1")
    assert result.ok and result.status == 200 and result.error is None
    assert result.final_url == "https://zenodo.org/records/1" and result.redirects == 0
    assert result.checked_at == datetime.fromtimestamp(clock.time(), tz=UTC)
    assert web.methods() == ["HEAD"]
    assert web.user_agents == {UA}


def test_dead_link_is_reported_not_raised(clock):
    web = Web(clock, {})
    result = one(web, "https://github.com/gone/repo")
    assert not result.ok and result.status == 404
    assert "not found" in result.error and "catalogue URL" in result.error


def test_redirect_chain_is_followed_and_counted(clock):
    web = Web(clock, {
        "http://github.com/old/repo": moved("https://github.com/old/repo"),
        "https://github.com/old/repo": moved("/new/repo", 302),
        "https://github.com/new/repo": httpx.Response(200),
    })
    result = one(web, "http://github.com/old/repo")
    assert result.ok and result.status == 200 and result.redirects == 2
    assert result.final_url == "https://github.com/new/repo"
    assert result.url == "http://github.com/old/repo"


def test_redirect_loop_is_reported(clock):
    web = Web(clock, {
        "https://zenodo.org/a": moved("https://zenodo.org/b"),
        "https://zenodo.org/b": moved("https://zenodo.org/a"),
    })
    result = one(web, "https://zenodo.org/a")
    assert not result.ok and result.status == 301
    assert result.error.startswith("redirect loop")
    assert len(web.requests) == 2


def test_too_many_redirects_are_reported(clock):
    web = Web(clock, {f"https://zenodo.org/{i}": moved(f"/{i + 1}") for i in range(10)})
    result = one(web, "https://zenodo.org/0", max_redirects=3)
    assert not result.ok and result.redirects == 3
    assert "too many redirects (more than 3)" in result.error
    assert len(web.requests) == 4


def test_redirect_without_location_is_an_error(clock):
    web = Web(clock, {"https://zenodo.org/x": httpx.Response(302)})
    result = one(web, "https://zenodo.org/x")
    assert not result.ok and "without a Location" in result.error


def test_redirect_to_loopback_is_refused_before_any_request(clock):
    web = Web(clock, {"https://github.com/x": moved("http://127.0.0.1/admin")})
    result = one(web, "https://github.com/x")
    assert not result.ok and result.redirects == 0 and result.status == 301
    assert result.error.startswith("redirect 1: refused http://127.0.0.1/admin")
    assert "loopback" in result.error
    assert web.urls() == ["https://github.com/x"]


# --- refusing unsafe targets -------------------------------------------------------------

UNSAFE = [
    "http://127.0.0.1/",
    "http://10.0.0.1/",
    "http://192.168.0.1:8080/x",
    "http://169.254.169.254/latest/meta-data/",
    "http://224.0.0.1/",
    "http://0.0.0.0/",
    "http://240.0.0.1/",
    "http://localhost/",
    "http://LOCALHOST./",
    "http://api.localhost/",
    "http://[::1]/",
    "http://[::]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[ff02::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[2002:7f00:1::]/",
    "http://2130706433/",
    "http://0x7f.1/",
    "http://0177.1/",
    "http://127.1/",
    "http://0x7f000001/",
    "http://intranet.example/",
    "http://sneaky.example/",
]


@pytest.mark.parametrize("url", UNSAFE)
def test_non_public_targets_are_refused(url):
    with pytest.raises(UnsafeTarget, match="SONOHARVEST_ALLOW_PRIVATE_LINKS=true"):
        check_target(url, allow_private=False, resolve=fake_resolve)


@pytest.mark.parametrize("url", ["http://0177.0.0.1/", "http://127.000.000.001/"])
def test_malformed_ip_literals_are_refused(url):
    with pytest.raises(UnsafeTarget, match="not a valid URL"):
        check_target(url, allow_private=False, resolve=fake_resolve)


def test_refused_targets_come_back_as_statuses_without_requests(clock):
    web = Web(clock, {})
    results = run(web, UNSAFE)
    assert [r.url for r in results] == UNSAFE
    assert all(not r.ok and r.status is None and "refused" in r.error for r in results)
    assert web.requests == []


def test_public_targets_pass():
    for url in ["https://zenodo.org/records/1", "https://huggingface.co/datasets/x",
                "http://93.184.216.34/", "http://[2606:4700::1111]/", "https://0x5db8d822/"]:
        check_target(url, allow_private=False, resolve=fake_resolve)


def test_allow_private_permits_a_local_target(clock):
    def no_dns(host: str) -> list[str]:
        raise AssertionError("allow_private=True must not resolve")

    web = Web(clock, {"http://127.0.0.1:8080/health": httpx.Response(200),
                      "http://localhost/": httpx.Response(200)})
    results = run(web, ["http://127.0.0.1:8080/health", "http://localhost/"],
                  allow_private=True, resolve=no_dns)
    assert all(r.ok and r.status == 200 for r in results)
    assert len(web.requests) == 2


@pytest.mark.parametrize("url", [
    "file:///etc/passwd",
    "ftp://ftp.example.org/data.zip",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "gopher://zenodo.org/",
    "zenodo.org/records/1",
    "",
])
def test_non_http_schemes_are_refused_even_when_private_is_allowed(url, clock):
    with pytest.raises(UnsafeTarget, match="not http or https"):
        check_target(url, allow_private=True, resolve=fake_resolve)
    web = Web(clock, {})
    result = one(web, url, allow_private=True)
    assert not result.ok and "not http or https" in result.error and web.requests == []


def test_credentials_are_refused_and_not_echoed(clock):
    url = "https://alice:s3cret@zenodo.org/records/1"
    with pytest.raises(UnsafeTarget, match="credentials") as refused:
        check_target(url, allow_private=True, resolve=fake_resolve)
    assert "s3cret" not in str(refused.value)
    web = Web(clock, {})
    result = one(web, url)
    assert not result.ok and "credentials" in result.error and "s3cret" not in result.error
    assert web.requests == []


def test_default_resolve_uses_the_system_resolver_offline():
    assert default_resolve("127.0.0.1") == ["127.0.0.1"]


def test_dns_failure_is_a_status_not_a_crash(clock):
    with pytest.raises(DnsLookupFailed):
        check_target("https://no-such-host.example/", allow_private=False, resolve=fake_resolve)
    web = Web(clock, {})
    result = one(web, "https://no-such-host.example/")
    assert not result.ok and result.status is None
    assert result.error.startswith("DNS lookup failed")
    assert web.requests == []


# --- HEAD, GET fallback, retries, failures -----------------------------------------------


@pytest.mark.parametrize("head_status", [403, 405, 501])
def test_refused_head_falls_back_to_a_streamed_get(head_status, clock):
    chunks_read = 0

    async def endless_body():
        nonlocal chunks_read
        while True:
            chunks_read += 1
            yield b"x" * 1024

    def by_method(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(head_status)
        return httpx.Response(200, content=endless_body())

    web = Web(clock, {"https://www.kaggle.com/datasets/x": by_method})
    result = one(web, "https://www.kaggle.com/datasets/x")
    assert result.ok and result.status == 200
    assert web.methods() == ["HEAD", "GET"]
    assert chunks_read <= 4


def test_failed_head_falls_back_to_get(clock):
    web = Web(clock, {"https://zenodo.org/x": [httpx.ConnectError("reset"), httpx.Response(200)]})
    result = one(web, "https://zenodo.org/x")
    assert result.ok and web.methods() == ["HEAD", "GET"]


def test_retry_after_is_waited_once_then_retried(clock):
    web = Web(clock, {"https://huggingface.co/x": [
        httpx.Response(429, headers={"retry-after": "7"}), httpx.Response(200)]})
    result = one(web, "https://huggingface.co/x")
    assert result.ok and len(web.requests) == 2
    assert clock.slept == pytest.approx(7)
    assert web.requests[1][2] - web.requests[0][2] == pytest.approx(7)


def test_retry_after_is_retried_only_once(clock):
    web = Web(clock, {"https://huggingface.co/x": [
        httpx.Response(503, headers={"retry-after": "3"})]})
    result = one(web, "https://huggingface.co/x")
    assert not result.ok and result.status == 503 and "recheck later" in result.error
    assert len(web.requests) == 2


def test_throttling_without_retry_after_is_reported_at_once(clock):
    web = Web(clock, {"https://huggingface.co/x": httpx.Response(429)})
    result = one(web, "https://huggingface.co/x")
    assert not result.ok and result.status == 429 and len(web.requests) == 1
    assert clock.slept == 0


def test_timeout_is_reported_as_an_error(clock):
    web = Web(clock, {"https://zenodo.org/slow": httpx.ReadTimeout("slow")})
    result = one(web, "https://zenodo.org/slow", timeout=5)
    assert not result.ok and result.status is None
    assert "timed out after 5s" in result.error and "\n" not in result.error
    assert web.methods() == ["HEAD", "GET"]


def test_an_unexpected_failure_for_one_url_does_not_stop_the_others(clock):
    web = Web(clock, {"https://zenodo.org/bug": RuntimeError("boom"),
                      "https://zenodo.org/fine": httpx.Response(200)})
    bad, good = run(web, ["https://zenodo.org/bug", "https://zenodo.org/fine"])
    assert not bad.ok and "unexpectedly" in bad.error
    assert good.ok


# --- politeness, ordering, duplicates ----------------------------------------------------


def test_same_host_is_paced_and_other_hosts_are_not(clock):
    urls = ["https://zenodo.org/1", "https://github.com/a", "https://zenodo.org/2"]
    web = Web(clock, {url: httpx.Response(200) for url in urls})
    start = clock.monotonic()
    run(web, urls, per_host_per_minute=30, concurrency=1)
    when = {url: at - start for _, url, at in web.requests}
    assert when["https://zenodo.org/1"] == 0
    assert when["https://github.com/a"] == 0
    assert when["https://zenodo.org/2"] == pytest.approx(60 / 30)
    assert clock.slept == pytest.approx(2)


def test_concurrency_is_bounded(clock):
    in_flight = peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range(5):
            await asyncio.sleep(0)
        in_flight -= 1
        return httpx.Response(200)

    hosts = [f"h{i}.example" for i in range(12)]
    urls = [f"https://{host}/" for host in hosts]
    answers = dict.fromkeys(hosts, ["93.184.216.34"])
    results = asyncio.run(check_links(urls, user_agent=UA, transport=httpx.MockTransport(slow),
                                      resolve=answers.__getitem__, clock=clock, concurrency=3))
    assert all(r.ok for r in results)
    assert 1 <= peak <= 3


def test_duplicates_are_checked_once_and_order_is_kept(clock):
    urls = ["https://github.com/b", "https://zenodo.org/a", "https://github.com/b"]
    web = Web(clock, {"https://github.com/b": httpx.Response(200)})
    seen: list[str] = []
    results = run(web, urls, on_result=lambda r: seen.append(r.url))
    assert [r.url for r in results] == ["https://github.com/b", "https://zenodo.org/a"]
    assert [r.ok for r in results] == [True, False]
    assert web.urls().count("https://github.com/b") == 1
    assert sorted(seen) == sorted(r.url for r in results)


def test_an_empty_user_agent_is_rejected():
    with pytest.raises(ValueError, match="user_agent"):
        asyncio.run(check_links(["https://zenodo.org/"], user_agent=" "))


# --- property --------------------------------------------------------------------------


def flaky_resolve(host: str) -> list[str]:
    """Public, private, garbage or failure, depending on the host."""
    return [["93.184.216.34"], ["10.0.0.1"], ["not-an-ip"], []][len(host) % 4] if len(
        host) % 5 else fake_resolve(host)


url_like = st.builds(
    "{}://{}{}/{}".format,
    st.sampled_from(["http", "https", "HTTP", "file", "ftp", "javascript", "", "h ttp"]),
    st.sampled_from(["", "u:p@", "@", ":@"]),
    st.one_of(st.text(max_size=30),
              st.from_regex(r"\[[0-9a-fA-F:.%]{0,30}\]", fullmatch=True),
              st.from_regex(r"(0x?[0-9a-fA-F]{0,9}\.?){1,5}", fullmatch=True)),
    st.text(max_size=20),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(url=st.one_of(st.text(), url_like), allow_private=st.booleans())
def test_check_target_only_ever_raises_unsafe_target(url, allow_private):
    try:
        check_target(url, allow_private=allow_private, resolve=flaky_resolve)
    except UnsafeTarget as exc:
        assert "\n" not in str(exc)
