"""The demo's fake web: the pages behind the demo records' URLs, for link checks and landing
pages. Every page answers 200 except a few gone or moved; some hosts publish a robots.txt, and
some pages carry JSON-LD, signposting and citation meta tags (rendered from data/web.json)."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

import httpx

from sonoharvest.demo.fakeapi import FakeService

DATA = Path(__file__).parent / "data" / "web.json"


class FakeWeb:
    """Any host, any path (a catch-all behind the fake APIs)."""

    host = "*"
    paths = ["/"]
    limits: list[tuple[str, float]] = []

    def __init__(self, data: dict[str, Any]) -> None:
        self._gone: dict[str, int] = data.get("gone", {})
        self._moved: dict[str, str] = data.get("moved", {})
        self._robots: dict[str, str] = data.get("robots", {})
        self._pages: dict[str, dict[str, Any]] = {
            url.rstrip("/"): spec for url, spec in data.get("pages", {}).items()}

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/robots.txt":
            text = self._robots.get(request.url.host)
            return (httpx.Response(200, text=text, headers={"Content-Type": "text/plain"})
                    if text is not None else httpx.Response(404, text="no robots.txt"))
        url = str(request.url.copy_with(query=None)).rstrip("/")
        if url in self._gone:
            return httpx.Response(self._gone[url], text="Not here any more")
        if url in self._moved:
            return httpx.Response(301, headers={"Location": self._moved[url]})
        spec = self._pages.get(url)
        if spec is None:
            return httpx.Response(200, headers={"Content-Type": "text/html"},
                                  text="<html><title>demo page</title></html>")
        etag = f'"{spec.get("version", 1)}"'
        if request.headers.get("if-none-match") == etag:
            return httpx.Response(304, headers={"ETag": etag})
        headers = {"Content-Type": "text/html; charset=utf-8", "ETag": etag}
        if spec.get("link_header"):
            headers["Link"] = spec["link_header"]
        return httpx.Response(200, headers=headers, text=render(spec))


def render(spec: dict[str, Any]) -> str:
    """A landing page from its spec: title, meta tags, <link>s, JSON-LD and body text."""
    head = [f"<title>{escape(spec.get('title', 'demo page'))}</title>"]
    head += [f'<meta name="{escape(k)}" content="{escape(str(v))}">'
             for k, values in spec.get("meta", {}).items()
             for v in (values if isinstance(values, list) else [values])]
    head += [f'<link rel="{escape(rel)}" href="{escape(href)}">'
             for rel, href in spec.get("links", [])]
    if spec.get("jsonld"):
        blob = json.dumps(spec["jsonld"]).replace("<", "\\u003c")
        head.append(f'<script type="application/ld+json">{blob}</script>')
    body = f"<p>{escape(spec.get('body', ''))}</p>"
    body += "".join(f'<a rel="license" href="{escape(href)}">licence</a>'
                    for href in spec.get("license_links", []))
    return f"<html><head>{''.join(head)}</head><body>{body}</body></html>"


def services() -> list[FakeService]:
    return [FakeWeb(json.loads(DATA.read_text(encoding="utf-8")))]
