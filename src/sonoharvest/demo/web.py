"""Fake web pages for the demo's link checks: every page is up except a few gone or moved."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from sonoharvest.demo.fakeapi import FakeService

DATA = Path(__file__).parent / "data" / "web.json"
# Landing-page hosts of the demo records (the APIs' own paths are served by the API fakes).
HOSTS = {"zenodo.org": ["/records/"], "github.com": ["/"], "huggingface.co": ["/"],
         "www.kaggle.com": ["/"], "paperswithcode.com": ["/"], "arxiv.org": ["/"],
         "www.creatis.insa-lyon.fr": ["/"], "humanheart-project.creatis.insa-lyon.fr": ["/"],
         "hc18.grand-challenge.org": ["/"], "tmed.cs.tufts.edu": ["/"]}


class FakeWeb:
    limits: list[tuple[str, float]] = []

    def __init__(self, host: str, paths: list[str], gone: dict[str, int],
                 moved: dict[str, str]) -> None:
        self.host, self.paths, self._gone, self._moved = host, paths, gone, moved

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url.copy_with(query=None)).rstrip("/")
        if url in self._gone:
            return httpx.Response(self._gone[url], text="Not here any more")
        if url in self._moved:
            return httpx.Response(301, headers={"Location": self._moved[url]})
        return httpx.Response(200, headers={"Content-Type": "text/html"},
                              text="<html><title>demo page</title></html>")


def services() -> list[FakeService]:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    return [FakeWeb(host, paths, data["gone"], data["moved"]) for host, paths in HOSTS.items()]
