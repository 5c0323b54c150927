"""The HTTP client against a real local server (sockets), with faults injected on the wire.

tests/test_http.py and tests/test_faults.py script faults in an httpx.MockTransport; here a
threaded stdlib server on 127.0.0.1 (tests/faultserver.py) produces them on the network:
read timeouts, bodies sent slowly, connections closed mid-body, redirect chains, oversized
streams. The clock is the real one (`FastClock`): timeouts are real, while the client's own
waits (backoff, Retry-After, pacing) are recorded in full and slept at 1/100, except where a
test checks that a wait really happens.
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from faultserver import SLEEP_PAST_TIMEOUT, FastClock, FaultServer

from sonoharvest import http as http_module
from sonoharvest import warehouse
from sonoharvest.demo.fakeapi import FakeInternet, Faults
from sonoharvest.demo.zenodo import FakeZenodo
from sonoharvest.harvest import harvest
from sonoharvest.http import MAX_BODY_BYTES, HttpClient, HttpError, Reply, VirtualClock
from sonoharvest.settings import REPO_ROOT, Settings
from sonoharvest.sources import get_source

TIMEOUT = 0.5
SECRET = "s3cr3t-T0KEN-value"


@pytest.fixture(scope="module")
def server():
    srv = FaultServer().start()
    yield srv
    srv.close()


@pytest.fixture(autouse=True)
def fresh(server: FaultServer) -> FaultServer:
    server.reset()
    return server


class Outcome:
    """What one client call ended with, and what the client counted on the way."""

    def __init__(self, reply: Reply | None, error: HttpError | None, http: HttpClient,
                 clock: FastClock, elapsed: float) -> None:
        self.reply, self.error, self.clock, self.elapsed = reply, error, clock, elapsed
        self.stats = http.stats


def fetch(server: FaultServer, path: str, *, scale: float = 0.01, limit: float | None = None,
          paths: tuple[str, ...] = (), **options: Any) -> Outcome:
    """GET `path` (then `paths`) with a fresh client: small timeout, seeded jitter."""
    settings = Settings(http_timeout=TIMEOUT, http_max_attempts=options.pop("attempts", 5),
                        http_max_wait=options.pop("max_wait", 60.0))
    clock = FastClock(scale)

    async def go() -> Outcome:
        async with HttpClient(settings, clock=clock, rng=random.Random(3)) as http:
            if limit:
                http.limit(server.base, limit)
            reply = error = None
            start = time.monotonic()
            try:
                for each in (path, *paths):
                    reply = await http.get(server.url(each), **options)
            except HttpError as exc:
                error = exc
            return Outcome(reply, error, http, clock, time.monotonic() - start)
    return asyncio.run(go())


def one_line(error: HttpError | None, url: str) -> str:
    """The error's message: one line naming the URL, with no query string or token."""
    assert error is not None
    message = str(error)
    assert "\n" not in message
    assert url in message
    assert "?" not in message and SECRET not in message
    return message


# --- throttling ------------------------------------------------------------------------------

def test_429_with_retry_after_waits_that_long_then_succeeds(server):
    out = fetch(server, "/429-retry-after", scale=1.0)   # the one real wait of the module
    assert out.reply is not None and out.reply.data == {"path": "/429-retry-after", "attempt": 2}
    assert server.count("/429-retry-after") == 2
    assert out.clock.asked == [1.0] and out.elapsed >= 1.0
    assert out.stats.throttled[server.host] == 1 and out.stats.requests[server.host] == 2


def test_429_without_retry_after_backs_off_exponentially(server):
    out = fetch(server, "/429-no-retry-after")
    assert out.reply is not None and out.reply.data["attempt"] == 3
    assert server.count("/429-no-retry-after") == 3
    first, second = out.clock.asked
    assert 0.5 <= first <= 1.0 and 1.0 <= second <= 2.0     # jittered, doubling
    assert out.stats.throttled[server.host] == 2 and out.stats.retries[server.host] == 2


def test_retry_after_as_http_date(server):
    out = fetch(server, "/429-retry-date")
    assert out.reply is not None and out.reply.status == 200
    assert server.count("/429-retry-date") == 2
    assert len(out.clock.asked) == 1 and 0.0 <= out.clock.asked[0] <= 1.0
    assert out.stats.throttled[server.host] == 1


def test_ietf_ratelimit_and_github_403_wait_for_the_reset(server):
    out = fetch(server, "/ietf-ratelimit")
    assert out.reply is not None and server.count("/ietf-ratelimit") == 2
    assert out.clock.asked == [2.0]                          # t=1, plus one second of margin
    assert out.stats.throttled[server.host] == 1

    out = fetch(server, "/github-403")
    assert out.reply is not None and out.reply.status == 200
    assert server.count("/github-403") == 2
    assert len(out.clock.asked) == 1 and 1.0 <= out.clock.asked[0] <= 2.1
    assert out.stats.throttled[server.host] == 1


def test_spent_budget_holds_the_next_request_until_the_reset(server):
    out = fetch(server, "/budget-spent", limit=6000, paths=("/ok",))
    assert out.reply is not None and out.reply.data == {"path": "/ok", "attempt": 1}
    assert server.count("/budget-spent") == 1 and server.count("/ok") == 1
    assert len(out.clock.asked) == 1 and 0.9 <= out.clock.asked[0] <= 2.1
    assert out.stats.throttled[server.host] == 0              # a 200 is not a throttle


def test_retry_after_beyond_the_allowed_wait_fails_with_advice(server):
    out = fetch(server, "/429-retry-after", max_wait=0.5, params={"access_token": SECRET})
    message = one_line(out.error, f"{server.base}/429-retry-after")
    assert "SONOHARVEST_HTTP_MAX_WAIT" in message and out.error.status == 429
    assert server.count("/429-retry-after") == 1 and out.clock.asked == []
    assert out.stats.throttled[server.host] == 1


# --- server errors and network faults --------------------------------------------------------

def test_5xx_burst_is_retried_then_succeeds(server):
    out = fetch(server, "/5xx-burst")
    assert out.reply is not None and out.reply.data == {"path": "/5xx-burst", "attempt": 4}
    assert server.count("/5xx-burst") == 4
    assert [server.answered(s) for s in ("502", "503", "500", "200")] == [1, 1, 1, 1]
    assert len(out.clock.asked) == 3 and 3.5 <= sum(out.clock.asked) <= 7.0
    assert out.stats.retries[server.host] == 3 and out.stats.throttled[server.host] == 0


def test_5xx_burst_longer_than_the_attempts_fails_in_one_line(server):
    out = fetch(server, "/5xx-burst", attempts=3, params={"access_token": SECRET})
    message = one_line(out.error, f"{server.base}/5xx-burst")
    assert "still failing after 3 attempts (HTTP 500)" in message
    assert server.count("/5xx-burst") == 3


def test_read_timeout_is_retried(server):
    out = fetch(server, "/timeout")
    assert out.reply is not None and out.reply.data == {"path": "/timeout", "attempt": 2}
    assert server.count("/timeout") == 2
    # the client gave up on the hung server after its timeout, not after the server's sleep
    assert TIMEOUT <= out.elapsed < SLEEP_PAST_TIMEOUT
    assert out.stats.retries[server.host] == 1 and out.stats.throttled[server.host] == 0


def test_a_server_that_always_hangs_fails_naming_the_timeout(server):
    out = fetch(server, "/timeout-always", attempts=2, params={"access_token": SECRET})
    message = one_line(out.error, f"{server.base}/timeout-always")
    assert "still failing after 2 attempts (ReadTimeout)" in message
    assert server.count("/timeout-always") == 2
    assert 2 * TIMEOUT <= out.elapsed < 2 * SLEEP_PAST_TIMEOUT


def test_connection_refused_is_retried_then_reported():
    with socket.socket() as sock:            # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/nothing"

    async def go() -> HttpError:
        async with HttpClient(Settings(http_timeout=TIMEOUT, http_max_attempts=3),
                              clock=FastClock(), rng=random.Random(3)) as http:
            with pytest.raises(HttpError) as err:
                await http.get(url)
            assert http.stats.requests[f"127.0.0.1:{port}"] == 3
            return err.value
    message = str(asyncio.run(go()))
    assert message.startswith(f"GET {url} still failing after 3 attempts (ConnectError)")


def test_slow_body_within_the_timeout_succeeds(server):
    out = fetch(server, "/slow")
    assert out.reply is not None and out.reply.data["path"] == "/slow"
    assert len(out.reply.data["slow"]) == 200
    assert server.count("/slow") == 1 and out.clock.asked == []


def test_timeout_bounds_each_read_not_the_whole_request(server):
    """A body trickling in, each gap shorter than http_timeout but the whole longer, is read
    to the end: the timeout is httpx's per-read timeout, not a deadline for the request."""
    out = fetch(server, "/trickle")
    assert out.reply is not None and len(out.reply.data["trickle"]) == 200
    assert server.count("/trickle") == 1
    assert out.elapsed > 1.5 * TIMEOUT


def test_truncated_body_is_retried(server):
    out = fetch(server, "/truncated")
    assert out.reply is not None and out.reply.data == {"path": "/truncated", "attempt": 2}
    assert server.count("/truncated") == 2 and server.answered("truncated") == 1
    assert out.stats.retries[server.host] == 1 and out.stats.throttled[server.host] == 0


# --- bodies ----------------------------------------------------------------------------------

def test_invalid_json_is_retried(server):
    out = fetch(server, "/invalid-json")
    assert out.reply is not None and out.reply.data == {"path": "/invalid-json", "attempt": 2}
    assert server.count("/invalid-json") == 2 and out.stats.retries[server.host] == 1


def test_html_error_page_served_with_200_is_retried(server):
    out = fetch(server, "/html-200")
    assert out.reply is not None and out.reply.data == {"path": "/html-200", "attempt": 2}
    assert server.count("/html-200") == 2

    server.reset()
    out = fetch(server, "/html-200", attempts=1)
    message = one_line(out.error, f"{server.base}/html-200")
    assert "unreadable JSON (text/html; charset=utf-8" in message
    assert server.count("/html-200") == 1


def test_html_page_is_fine_when_text_is_expected(server):
    out = fetch(server, "/html-200", expect="text")
    assert out.reply is not None and out.reply.data is None
    assert "maintenance" in out.reply.text and server.count("/html-200") == 1


def test_json_served_as_text_plain_is_accepted(server):
    """The client parses the body whatever the Content-Type says (http.py ignores it unless
    parsing fails); text/plain without a charset is decoded as UTF-8."""
    out = fetch(server, "/wrong-content-type")
    assert out.reply is not None
    assert out.reply.data == {"title": "Échographie fœtale", "n": 1}
    assert out.reply.headers["content-type"] == "text/plain"
    assert server.count("/wrong-content-type") == 1 and out.clock.asked == []


def test_body_at_the_cap_is_accepted(server, monkeypatch):
    monkeypatch.setattr(http_module, "MAX_BODY_BYTES", 64 * 1024)
    out = fetch(server, f"/oversized-declared/{64 * 1024}")
    assert out.reply is not None and len(out.reply.text) == 64 * 1024


def test_declared_oversized_body_is_refused_at_once(server, monkeypatch):
    monkeypatch.setattr(http_module, "MAX_BODY_BYTES", 256 * 1024)
    out = fetch(server, f"/oversized-declared/{1024 * 1024}", attempts=3)
    assert out.error is not None
    assert server.count(f"/oversized-declared/{1024 * 1024}") == 1      # not retried
    assert "larger than" in str(out.error)


def test_streamed_oversized_body_is_refused(server):
    size = MAX_BODY_BYTES + 1
    out = fetch(server, f"/oversized/{size}", attempts=1)
    assert server.count(f"/oversized/{size}") == 1
    assert out.error is not None, f"a {size}-byte chunked body was accepted"


# --- client errors and redirects -------------------------------------------------------------

def test_404_fails_at_once_without_retry(server):
    out = fetch(server, "/gone", params={"access_token": SECRET})
    message = one_line(out.error, f"{server.base}/gone")
    assert message == f"GET {server.base}/gone failed with HTTP 404 (not found)"
    assert out.error.status == 404 and out.error.url == f"{server.base}/gone"
    assert server.count("/gone") == 1 and out.clock.asked == []
    assert out.stats.retries[server.host] == 0


def test_redirect_loop_is_a_clear_error(server):
    out = fetch(server, "/redirect-loop/a", params={"access_token": SECRET})
    message = one_line(out.error, f"{server.base}/redirect-loop/a")
    assert message == f"GET {server.base}/redirect-loop/a: too many redirects"
    # the first request and five redirects followed, never retried
    assert server.count("/redirect-loop/a") == 3 and server.count("/redirect-loop/b") == 3
    assert out.clock.asked == []
    assert out.stats.requests[server.host] == 1       # hops are not counted (nor paced)


def test_five_redirects_are_followed_six_are_too_many(server):
    out = fetch(server, "/too-many-redirects/5")
    assert out.reply is not None and out.reply.data["path"] == "/too-many-redirects/0"
    assert out.reply.url == f"{server.base}/too-many-redirects/0"
    assert server.count() == 6

    server.reset()
    out = fetch(server, "/too-many-redirects/6", params={"access_token": SECRET})
    message = one_line(out.error, f"{server.base}/too-many-redirects/6")
    assert message.endswith("too many redirects")
    assert server.count() == 6 and server.count("/too-many-redirects/0") == 0


# --- random faults ---------------------------------------------------------------------------

def test_ten_percent_random_faults_over_200_requests(server):
    server.faults = Faults(rate=0.10, seed=1)
    settings = Settings(http_timeout=TIMEOUT, http_max_attempts=4)

    async def go() -> tuple[list[Reply], HttpClient]:
        async with HttpClient(settings, clock=FastClock(), rng=random.Random(3)) as http:
            return [await http.get(server.url(f"/flaky/{i}")) for i in range(200)], http
    replies, http = asyncio.run(go())

    assert [r.data for r in replies] == [{"path": f"/flaky/{i}"} for i in range(200)]
    extra = server.injected()
    kinds = {what for _, what in server.log if what.startswith("fault:")}
    assert {"fault:timeout", "fault:truncated", "fault:429"} <= kinds     # network faults too
    assert 0.05 * 200 <= extra <= 0.15 * 200                               # about 10%
    assert server.count() == 200 + extra == http.stats.requests[server.host]
    assert http.stats.retries[server.host] == extra
    assert http.stats.throttled[server.host] == server.answered("fault:429")


# --- a whole source --------------------------------------------------------------------------

def small_pages(tmp_path: Path) -> Path:
    """The real rubrics with Zenodo pages of 3 hits: two dozen requests for the demo data."""
    folder = tmp_path / "rubrics" / "harvest"
    folder.mkdir(parents=True)
    source = REPO_ROOT / "rubrics" / "harvest"
    (folder / "vocabulary.yaml").write_text((source / "vocabulary.yaml").read_text())
    config = {**yaml.safe_load((source / "zenodo.yaml").read_text()), "page_size": 3}
    (folder / "zenodo.yaml").write_text(yaml.safe_dump(config))
    return folder.parent


def stored_rows(con) -> set[tuple]:
    return set(con.execute(
        "SELECT source, source_id, content_hash, status FROM source_records").fetchall())


def test_zenodo_harvest_through_faulty_sockets_matches_a_clean_run(server, tmp_path):
    rubrics = small_pages(tmp_path)

    # the reference: the fake Zenodo in-process, no faults (as tests/test_faults.py does)
    con = warehouse.open_warehouse(":memory:")
    internet = FakeInternet([FakeZenodo()], VirtualClock())
    clean = asyncio.run(harvest(con, Settings(home=tmp_path / "clean", rubrics_dir=rubrics),
                                [get_source("zenodo")], full=True,
                                transport=internet.transport(), clock=internet.clock))
    clean_rows = stored_rows(con)
    con.close()
    assert clean["zenodo"].status == "ok" and len(clean_rows) == 66

    # the same fake behind the real server, 10% of requests failing on the wire
    server.bridge = FakeZenodo()
    server.faults = Faults(rate=0.10, seed=5)
    settings = Settings(home=tmp_path / "faulty", rubrics_dir=rubrics, zenodo_url=server.base,
                        http_timeout=TIMEOUT)
    con = warehouse.open_warehouse(":memory:")
    faulty = asyncio.run(harvest(con, settings, [get_source("zenodo")], full=True,
                                 clock=FastClock()))
    faulty_rows = stored_rows(con)
    con.close()

    kinds = sorted(what for _, what in server.log if what.startswith("fault:"))
    assert "fault:timeout" in kinds and "fault:truncated" in kinds
    assert faulty["zenodo"].status == "ok", faulty["zenodo"].message
    assert faulty_rows == clean_rows
    # every injected fault cost exactly one more request, and nothing else changed
    assert server.count() == len(internet.log) + len(kinds)
    assert faulty["zenodo"].counts["requests"] == server.count()
    assert len(server.bridge.requests) == len(internet.log)
