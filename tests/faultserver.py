"""A real local HTTP server whose paths script faults, for tests/test_faults_server.py.

`FaultServer` runs `http.server.ThreadingHTTPServer` on 127.0.0.1 (ephemeral port) in a
background thread. Every request is counted per path (thread-safe), so "the first call fails,
then it succeeds" is a count check; `reset()` clears the counts between tests. Timeouts, slow
and truncated bodies happen on the socket, not in a mock transport.

Scripted paths (the count `n` is 1 for the first request to that exact path):

    /ok                      200 JSON
    /429-retry-after         429 with Retry-After: 1, then 200
    /429-no-retry-after      429 twice without any hint, then 200
    /429-retry-date          429 with Retry-After as an HTTP date about 1 s ahead, then 200
    /ietf-ratelimit          429 with `RateLimit: "api";r=0;t=1`, then 200
    /github-403              403 with X-RateLimit-Remaining: 0 and a reset 1 s ahead, then 200
    /budget-spent            200 with X-RateLimit-Remaining: 0 and a reset 1 s ahead
    /5xx-burst               502, 503, 500, then 200
    /timeout                 sleeps past the client timeout on the first call, then answers
    /timeout-always          sleeps past the client timeout on every call
    /slow                    the body in small pieces, the whole well within the timeout
    /trickle                 the body in pieces, each gap within the timeout, the sum beyond it
    /truncated               Content-Length larger than the body, connection closed; then 200
    /invalid-json            200 application/json with broken JSON, then good JSON
    /html-200                200 text/html error page, then JSON
    /wrong-content-type      valid (UTF-8, non-ASCII) JSON served as text/plain
    /redirect-loop/a         302 -> /redirect-loop/b -> /redirect-loop/a -> ...
    /too-many-redirects/N    302 -> /too-many-redirects/N-1 ... /too-many-redirects/0 is 200
    /oversized/N             a JSON body of N bytes, streamed chunked (no Content-Length)
    /oversized-declared/N    a JSON body of N bytes with its Content-Length
    /gone                    404 JSON
    /flaky/...               200 JSON, except the share `faults.rate` of requests (seeded)
    /api/...                 the bridged fake service (`bridge`), with the same random faults

Random faults (`faults`, a `sonoharvest.demo.fakeapi.Faults`) are real network faults here:
"timeout" sleeps past the client timeout, "truncated" closes the connection mid-body, "html"
is a 200 text/html page, "429" carries Retry-After: 1, "500"/"503" are plain errors.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx

from sonoharvest.demo.fakeapi import Faults
from sonoharvest.http import RealClock

# How long a "timeout" answer sleeps: longer than any client timeout the tests use.
SLEEP_PAST_TIMEOUT = 1.2


class FastClock(RealClock):
    """The real clock, fast-forwarded over the client's own waits.

    Network time is real (timeouts, slow bodies), but a requested sleep (backoff, Retry-After,
    pacing) lasts only `scale` of itself and `monotonic()` jumps by the rest, so pacing still
    sees the full wait. `time()` stays the wall clock, to read the server's reset times.
    `asked` keeps every requested wait, so tests can check the waits themselves.
    """

    def __init__(self, scale: float = 0.01) -> None:
        self.scale = scale
        self.asked: list[float] = []
        self.skipped = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.skipped

    async def sleep(self, seconds: float) -> None:
        self.asked.append(seconds)
        if seconds > 0:
            short = seconds * self.scale
            await asyncio.sleep(short)
            self.skipped += seconds - short


class FaultServer:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.hits: Counter[str] = Counter()
        self.log: list[tuple[str, str]] = []      # (path, what was answered)
        self.faults = Faults()
        self.bridge: Any = None                   # an object with handle(httpx.Request)
        self.stopping = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # clients hang up on purpose
        self.httpd.faults_server = self  # type: ignore[attr-defined]
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.host = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self.stopping.set()             # wakes handlers sleeping on a "timeout"
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)

    def url(self, path: str) -> str:
        return self.base + path

    def reset(self) -> None:
        with self.lock:
            self.hits.clear()
            self.log.clear()
            self.faults = Faults()
            self.bridge = None

    def count(self, path: str | None = None) -> int:
        """Requests seen for one exact path (no query), or for every path."""
        with self.lock:
            return sum(self.hits.values()) if path is None else self.hits[path]

    def answered(self, what: str) -> int:
        with self.lock:
            return sum(1 for _, w in self.log if w == what)

    def injected(self) -> int:
        """How many random faults were served."""
        with self.lock:
            return sum(1 for _, w in self.log if w.startswith("fault:"))

    # called from handler threads
    def _arrive(self, path: str) -> int:
        with self.lock:
            self.hits[path] += 1
            return self.hits[path]

    def _note(self, path: str, what: str) -> None:
        with self.lock:
            self.log.append((path, what))

    def _pick_fault(self) -> str | None:
        with self.lock:
            return self.faults.pick()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10          # idle keep-alive connections end after this
    disable_nagle_algorithm = True   # headers and body go out at once: no 40 ms delayed ACKs
    server: ThreadingHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    @property
    def fs(self) -> FaultServer:
        return self.server.faults_server  # type: ignore[attr-defined]

    # --- answers ---------------------------------------------------------------------

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json",
              headers: dict[str, str] | None = None, *, note: str | None = None) -> None:
        self.fs._note(self.path_only, note or str(status))
        self.send_response(status)
        if body or status not in (204, 304):
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data: Any, status: int = 200, headers: dict[str, str] | None = None,
              **kw: Any) -> None:
        self._send(status, json.dumps(data).encode(), "application/json", headers, **kw)

    def _good(self, n: int) -> None:
        self._json({"path": self.path_only, "attempt": n})

    def _sleep_past_timeout(self) -> bool:
        """Sleep like a hung server; False when the server is shutting down."""
        return not self.fs.stopping.wait(SLEEP_PAST_TIMEOUT)

    def _redirect(self, location: str) -> None:
        self._send(302, b"", headers={"Location": location})

    def _fault(self, kind: str) -> None:
        note = f"fault:{kind}"
        if kind == "timeout":
            self.fs._note(self.path_only, note)
            if self._sleep_past_timeout():
                self._send_raw_ok()
            self.close_connection = True
        elif kind == "truncated":
            self.fs._note(self.path_only, note)
            self._truncated(b'{"hits": {"hits": [{"id": 1, "title": "a truncated answer"}]}}')
        elif kind == "html":
            self._send(200, b"<html><body>Service unavailable</body></html>", "text/html",
                       note=note)
        elif kind == "429":
            self._json({"message": "slow down"}, 429, {"Retry-After": "1"}, note=note)
        else:
            self._json({"message": "injected failure"}, int(kind), note=note)

    def _send_raw_ok(self) -> None:
        try:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
        except OSError:
            pass

    def _truncated(self, body: bytes) -> None:
        """Promise the whole body, send half of it, and hang up."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True

    def _pieces(self, body: bytes, pieces: int, gap: float) -> None:
        self.fs._note(self.path_only, "200")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.flush()
        step = -(-len(body) // pieces)
        for start in range(0, len(body), step):
            time.sleep(gap)
            self.wfile.write(body[start:start + step])
            self.wfile.flush()

    def _chunked(self, size: int) -> None:
        """A JSON document of exactly `size` bytes, sent with chunked transfer encoding."""
        head, tail = b'{"blob": "', b'"}'
        self.fs._note(self.path_only, "200")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        filler = size - len(head) - len(tail)
        block = b"x" * 65536
        try:
            self._chunk(head)
            while filler > 0:
                piece = block[:filler]
                self._chunk(piece)
                filler -= len(piece)
            self._chunk(tail)
            self.wfile.write(b"0\r\n\r\n")
        except OSError:            # the client stopped reading: that is what a cap does
            self.fs._note(self.path_only, "client hung up")
            self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    # --- routing ---------------------------------------------------------------------

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        self.path_only = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        n = self.fs._arrive(self.path_only)
        try:
            self._route(self.path_only, n)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _route(self, path: str, n: int) -> None:  # noqa: C901 - one branch per scripted path
        parts = path.strip("/").split("/")
        head = parts[0]
        if head == "ok":
            self._good(n)
        elif head == "429-retry-after":
            if n == 1:
                self._json({"message": "Too many requests"}, 429, {"Retry-After": "1"})
            else:
                self._good(n)
        elif head == "429-no-retry-after":
            if n <= 2:
                self._json({"message": "Too many requests"}, 429)
            else:
                self._good(n)
        elif head == "429-retry-date":
            if n == 1:
                when = formatdate(time.time() + 1.0, usegmt=True)
                self._json({"message": "Too many requests"}, 429, {"Retry-After": when})
            else:
                self._good(n)
        elif head == "ietf-ratelimit":
            if n == 1:
                self._json({"error": "rate limited"}, 429,
                           {"RateLimit": '"api";r=0;t=1', "RateLimit-Policy": '"api";q=100;w=60'})
            else:
                self._good(n)
        elif head == "github-403":
            if n == 1:
                self._json({"message": "API rate limit exceeded"}, 403, {
                    "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 1)})
            else:
                self._good(n)
        elif head == "budget-spent":
            self._json({"path": path, "attempt": n}, 200, {
                "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 1)})
        elif head == "5xx-burst":
            if n <= 3:
                self._json({"message": "upstream trouble"}, (502, 503, 500)[n - 1])
            else:
                self._good(n)
        elif head in ("timeout", "timeout-always"):
            if n == 1 or head == "timeout-always":
                self.fs._note(path, "hung")
                if self._sleep_past_timeout():
                    self._send_raw_ok()
                self.close_connection = True
            else:
                self._good(n)
        elif head == "slow":
            self._pieces(json.dumps({"path": path, "slow": "y" * 200}).encode(), 5, 0.04)
        elif head == "trickle":
            self._pieces(json.dumps({"path": path, "trickle": "z" * 200}).encode(), 4, 0.25)
        elif head == "truncated":
            if n == 1:
                self.fs._note(path, "truncated")
                self._truncated(json.dumps({"path": path, "items": list(range(50))}).encode())
            else:
                self._good(n)
        elif head == "invalid-json":
            if n == 1:
                self._send(200, b'{"items": [1, 2, ', "application/json")
            else:
                self._good(n)
        elif head == "html-200":
            if n == 1:
                self._send(200, b"<!doctype html><html><body><h1>Oops</h1>We are down for "
                           b"maintenance.</body></html>", "text/html; charset=utf-8")
            else:
                self._good(n)
        elif head == "wrong-content-type":
            body = json.dumps({"title": "Échographie fœtale", "n": n}, ensure_ascii=False)
            self._send(200, body.encode("utf-8"), "text/plain")
        elif head == "redirect-loop":
            self._redirect("/redirect-loop/b" if parts[-1] == "a" else "/redirect-loop/a")
        elif head == "too-many-redirects":
            left = int(parts[1])
            if left > 0:
                self._redirect(f"/too-many-redirects/{left - 1}")
            else:
                self._good(n)
        elif head == "oversized":
            self._chunked(int(parts[1]))
        elif head == "oversized-declared":
            size = int(parts[1])
            head_, tail = b'{"blob": "', b'"}'
            self._send(200, head_ + b"x" * (size - len(head_) - len(tail)) + tail)
        elif head == "gone":
            self._json({"message": "Not found"}, 404)
        elif head == "flaky":
            kind = self.fs._pick_fault()
            if kind:
                self._fault(kind)
            else:
                self._json({"path": path})
        elif head == "api" and self.fs.bridge is not None:
            kind = self.fs._pick_fault()
            if kind:
                self._fault(kind)
            else:
                self._bridged()
        else:
            self._json({"message": f"no scripted path {path}"}, 404)

    def _bridged(self) -> None:
        """Hand the request to an in-process fake (an httpx.Request in, httpx.Response out)."""
        request = httpx.Request(
            self.command, f"{self.fs.base}{self.path}",
            headers=[(k, v) for k, v in self.headers.items()
                     if k.lower() not in ("host", "content-length")],
            content=self.body)
        response = self.fs.bridge.handle(request)
        body = response.read()
        headers = {k: v for k, v in response.headers.items()
                   if k.lower() not in ("content-length", "transfer-encoding", "content-type",
                                        "connection", "content-encoding")}
        self._send(response.status_code, body,
                   response.headers.get("content-type", "application/json"), headers)
