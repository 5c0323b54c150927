"""The HTTP client under injected faults: retries, rate limits, revalidation, secrets."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from sonoharvest.http import PACING_MARGIN, HttpClient, HttpError, VirtualClock
from sonoharvest.settings import Settings

URL = "https://api.example.org/items"


class Script:
    """A mock transport that answers from a list of responses (or exceptions), in order."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def ok(data=None, **headers) -> httpx.Response:
    return httpx.Response(200, json=data if data is not None else {"ok": True}, headers=headers)


def call(script: Script, clock: VirtualClock, settings: Settings | None = None, *,
         setup=None, store=None, **kwargs):
    async def go():
        async with HttpClient(settings or Settings(), transport=httpx.MockTransport(script),
                              clock=clock, validators=store) as http:
            if setup:
                setup(http)
            return await http.get(URL, **kwargs), http
    return asyncio.run(go())


def test_retry_after_seconds_is_honoured(clock):
    script = Script(httpx.Response(429, headers={"retry-after": "17"}), ok())
    reply, http = call(script, clock)
    assert reply.status == 200 and len(script.requests) == 2
    assert clock.slept == pytest.approx(17)
    assert http.stats.throttled["api.example.org"] == 1


def test_retry_after_http_date_is_honoured(clock):
    when = datetime.fromtimestamp(clock.time() + 42, tz=UTC)
    script = Script(httpx.Response(503, headers={"retry-after": format_datetime(when, usegmt=True)}),
                    ok())
    reply, _ = call(script, clock)
    assert reply.status == 200
    assert 41 <= clock.slept <= 42


def test_server_errors_back_off_exponentially_then_succeed(clock):
    script = Script(httpx.Response(500), httpx.Response(502), httpx.Response(504), ok())
    reply, http = call(script, clock)
    assert reply.data == {"ok": True}
    assert len(script.requests) == 4 and http.stats.retries["api.example.org"] == 3
    # waits of 0.5-1, 1-2 and 2-4 seconds: jittered, growing
    assert 3.5 <= clock.slept <= 7


def test_gives_up_after_max_attempts_with_a_clear_message(clock):
    script = Script(httpx.Response(500))
    with pytest.raises(HttpError, match=r"still failing after 3 attempts \(HTTP 500\)"):
        call(script, clock, Settings(http_max_attempts=3))
    assert len(script.requests) == 3


def test_timeouts_and_network_errors_are_retried(clock):
    script = Script(httpx.ReadTimeout("slow"), httpx.ConnectError("refused"),
                    httpx.RemoteProtocolError("reset"), ok())
    reply, _ = call(script, clock)
    assert reply.status == 200 and len(script.requests) == 4


def test_truncated_json_is_retried_then_reported(clock):
    truncated = httpx.Response(200, content=b'{"hits": [1, 2', headers={"content-type": "application/json"})
    script = Script(truncated, ok({"hits": [1, 2]}))
    reply, _ = call(script, clock)
    assert reply.data == {"hits": [1, 2]}

    html = httpx.Response(200, content=b"<html>maintenance</html>", headers={"content-type": "text/html"})
    with pytest.raises(HttpError, match="unreadable JSON .text/html"):
        call(Script(html), VirtualClock(), Settings(http_max_attempts=2))


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_other_client_errors_fail_at_once(clock, status):
    script = Script(httpx.Response(status))
    with pytest.raises(HttpError) as err:
        call(script, clock)
    assert err.value.status == status and len(script.requests) == 1 and clock.slept == 0


def test_github_403_with_exhausted_limit_waits_for_the_reset(clock):
    reset = int(clock.time()) + 120
    limited = httpx.Response(403, headers={"x-ratelimit-remaining": "0",
                                           "x-ratelimit-reset": str(reset)})
    reply, _ = call(Script(limited, ok()), clock)
    assert reply.status == 200
    assert 119 <= clock.slept <= 122


def test_exhausted_budget_holds_the_next_request_until_reset(clock):
    reset = int(clock.time()) + 60
    first = ok(**{"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)})
    script = Script(first, ok())

    async def go():
        async with HttpClient(Settings(), transport=httpx.MockTransport(script), clock=clock) as http:
            http.limit("https://api.example.org", 600)
            await http.get(URL)
            before = clock.monotonic()
            await http.get(URL)
            return clock.monotonic() - before
    waited = asyncio.run(go())
    assert 59 <= waited <= 62 and len(script.requests) == 2


def test_ietf_ratelimit_header_is_understood(clock):
    limited = httpx.Response(429, headers={"ratelimit": '"api";r=0;t=30'})
    reply, _ = call(Script(limited, ok()), clock)
    assert reply.status == 200 and 30 <= clock.slept <= 32


def test_wait_longer_than_allowed_fails_with_advice(clock):
    script = Script(httpx.Response(429, headers={"retry-after": "3600"}))
    with pytest.raises(HttpError, match="SONOHARVEST_HTTP_MAX_WAIT"):
        call(script, clock, Settings(http_max_wait=60))


def test_pacing_spaces_requests_by_the_declared_budget(clock):
    script = Script(ok())

    async def go():
        async with HttpClient(Settings(), transport=httpx.MockTransport(script), clock=clock) as http:
            http.limit("https://api.example.org/items", 30)   # search: 30/min
            http.limit("https://api.example.org", 60)         # global: 60/min
            await asyncio.gather(*(http.get(URL) for _ in range(10)))
            await http.get("https://api.example.org/other")
    asyncio.run(go())
    assert len(script.requests) == 11
    # ten searches two seconds apart (plus the 5% safety margin)
    assert clock.slept == pytest.approx(9 * 2.0 / PACING_MARGIN)


class MemoryStore:
    def __init__(self):
        self.data = {}

    def get(self, url):
        return self.data.get(url, (None, None))

    def put(self, url, etag, last_modified, tag=""):
        self.data[url] = (etag, last_modified)

    def take(self, tag=""):
        return []


def test_etag_revalidation_returns_not_modified(clock):
    store = MemoryStore()
    first = ok({"v": 1}, etag='"abc"', **{"last-modified": "Wed, 01 Jan 2025 00:00:00 GMT"})
    call(Script(first), clock, store=store, revalidate=True)
    assert store.data[URL] == ('"abc"', "Wed, 01 Jan 2025 00:00:00 GMT")

    script = Script(httpx.Response(304))
    reply, http = call(script, clock, store=store, revalidate=True)
    assert reply.not_modified and reply.data is None
    assert script.requests[0].headers["if-none-match"] == '"abc"'
    assert script.requests[0].headers["if-modified-since"] == "Wed, 01 Jan 2025 00:00:00 GMT"
    assert http.stats.not_modified["api.example.org"] == 1


def test_without_revalidate_no_conditional_headers(clock):
    store = MemoryStore()
    store.put(URL, '"abc"', None)
    script = Script(ok())
    call(script, clock, store=store)
    assert "if-none-match" not in script.requests[0].headers


def test_tokens_go_only_to_their_host_and_never_into_errors_or_logs(clock, caplog):
    token = "ghp_SECRET123456"
    script = Script(httpx.Response(500))
    caplog.set_level(logging.DEBUG)

    async def go():
        async with HttpClient(Settings(http_max_attempts=2), transport=httpx.MockTransport(script),
                              clock=clock) as http:
            http.authorize("https://api.example.org", {"Authorization": f"Bearer {token}"})
            with pytest.raises(HttpError) as err:
                await http.get(URL, params={"q": "x"})
            return err.value
    err = asyncio.run(go())
    assert script.requests[0].headers["authorization"] == f"Bearer {token}"
    assert token not in str(err) and token not in caplog.text

    other = Script(ok())
    call(other, VirtualClock(), setup=lambda h: h.authorize("https://api.example.org/private",
                                                             {"Authorization": "Bearer t0k3n"}))
    assert "authorization" not in other.requests[0].headers


def test_user_agent_names_tool_and_contact(clock):
    script = Script(ok())
    call(script, clock, Settings(contact="curator@example.org"))
    assert script.requests[0].headers["user-agent"].startswith("sonoharvest/")
    assert "curator@example.org" in script.requests[0].headers["user-agent"]


def test_redirect_loop_is_a_clear_error(clock):
    loop = httpx.Response(302, headers={"location": URL})
    with pytest.raises(HttpError, match="too many redirects"):
        call(Script(loop), clock)


def test_link_header_next(clock):
    link = '<https://api.example.org/items?cursor=abc>; rel="next", <https://api.example.org/items?page=9>; rel="last"'
    reply, _ = call(Script(ok([1], link=link)), clock)
    assert reply.link("next") == "https://api.example.org/items?cursor=abc"
    assert reply.link("last").endswith("page=9")
    assert reply.link("prev") is None
