"""Fakes of Hugging Face paper pages (/api/papers) and of the dataset viewer API serving the
frozen Papers with Code dumps (datasets-server.huggingface.co /search and /rows)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from sonoharvest.demo.fakeapi import FakeService, json_response
from sonoharvest.demo.huggingface import HOST, PER_MINUTE, Budget, gate
from sonoharvest.http import Clock

DATA = Path(__file__).parent / "data" / "papers.json"
DATASETS_SERVER = "datasets-server.huggingface.co"
MAX_LENGTH = 100                     # /rows and /search return at most 100 rows per call
DS_PER_MINUTE = 100.0                # not published; the fake refuses clients faster than this
LINKED = ("linkedModels", "linkedDatasets", "linkedSpaces", "numTotalModels",
          "numTotalDatasets", "numTotalSpaces")
NO_DATASET = ("The dataset does not exist, or is not accessible without authentication (private "
              "or gated). Please check the spelling of the dataset name or retry with "
              "authentication.")


def load(path: Path = DATA) -> dict[str, Any]:
    return json.loads(path.read_text())


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False).lower()


def _hit(query: str, value: Any) -> bool:
    """Every word of the query occurs in the value's text (case-insensitive), as full-text does."""
    text = _text(value)
    return bool(query.split()) and all(word in text for word in query.lower().split())


class FakePapers:
    """/api/papers/search?q=&limit= (unpaged) and /api/papers/{arxiv id} (404 when unknown)."""

    paths = ["/api/papers"]

    def __init__(self, papers: list[dict[str, Any]], *, host: str = HOST,
                 budget: Budget | None = None, tokens: set[str] | None = None) -> None:
        self.papers = list(papers)   # paper pages, as /api/papers/{id} returns them
        self.host = host
        self.limits = [("/api", PER_MINUTE)]   # the Hub's "api" bucket, shared with FakeHub
        self.budget = budget
        self.tokens = tokens
        self.inject: list[httpx.Response] = []
        self.auth_seen: list[str | None] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.auth_seen.append(request.headers.get("authorization"))
        refused, headers = gate(request, self.tokens, self.inject, self.budget)
        if refused is not None:
            return refused
        rest = request.url.path.removeprefix("/api/papers").strip("/")
        if rest == "search":
            response = self._search(request.url.params)
        else:
            paper = next((p for p in self.papers if p.get("id") == rest), None)
            response = json_response(paper) if paper else \
                json_response({"error": "Paper not found"}, 404)
        response.headers.update(headers)
        return response

    def _search(self, q: httpx.QueryParams) -> httpx.Response:
        if not q.get("q"):
            return json_response({"error": "Missing query parameter q"}, 400)
        fields = ("title", "summary", "ai_keywords")
        found = [p for p in self.papers if _hit(q["q"], [p.get(f) for f in fields])]
        found.sort(key=lambda p: (-(p.get("upvotes") or 0), str(p.get("id"))))
        if q.get("limit"):
            found = found[: int(q["limit"])]
        return json_response([_entry(p) for p in found])


def _entry(paper: dict[str, Any]) -> dict[str, Any]:
    listed = {k: v for k, v in paper.items() if k not in LINKED}
    return {"paper": listed, "title": paper.get("title"), "summary": paper.get("summary"),
            "publishedAt": paper.get("publishedAt"), "numComments": 0,
            "thumbnail": f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/"
                         f"{paper.get('id')}.png", "isAuthorParticipating": False}


class FakeDatasetsServer:
    """The dataset viewer API over the pwc-archive dumps: /search (full text) and /rows."""

    paths = ["/search", "/rows"]

    def __init__(self, dumps: dict[str, list[dict[str, Any]]], *, host: str = DATASETS_SERVER,
                 org: str = "pwc-archive", tokens: set[str] | None = None) -> None:
        self.dumps = {name: list(rows) for name, rows in dumps.items()}   # mutable
        self.host = host
        self.org = org
        self.limits = [("/", DS_PER_MINUTE)]
        self.tokens = tokens
        self.inject: list[httpx.Response] = []
        self.auth_seen: list[str | None] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.auth_seen.append(request.headers.get("authorization"))
        refused, _ = gate(request, self.tokens, self.inject, None)
        if refused is not None:
            return refused
        q = request.url.params
        org, _, name = q.get("dataset", "").partition("/")
        if org != self.org or name not in self.dumps:
            return json_response({"error": NO_DATASET}, 404)
        if q.get("config") != "default" or q.get("split") != "train":
            return json_response({"error": "Not found."}, 404)
        try:
            offset, length = int(q.get("offset", 0)), int(q.get("length", MAX_LENGTH))
        except ValueError:
            return json_response({"error": "Parameters 'offset' and 'length' must be integers"},
                                 422)
        if offset < 0 or not 0 < length <= MAX_LENGTH:
            return json_response({"error": f"Parameter 'length' must be between 1 and "
                                           f"{MAX_LENGTH}, 'offset' at least 0"}, 422)
        rows = list(enumerate(self.dumps[name]))
        if request.url.path.startswith("/search"):
            if not q.get("query"):
                return json_response({"error": "Parameter 'query' is required"}, 422)
            rows = [(i, r) for i, r in rows if _hit(q["query"], r)]
        return json_response({
            "features": _features(self.dumps[name][:1]),
            "rows": [{"row_idx": i, "row": r, "truncated_cells": []}
                     for i, r in rows[offset:offset + length]],
            "num_rows_total": len(rows), "num_rows_per_page": MAX_LENGTH, "partial": False,
        })


def _features(sample: list[dict[str, Any]]) -> list[dict[str, Any]]:
    row = sample[0] if sample else {}
    return [{"feature_idx": n, "name": k, "type": _ftype(v)}
            for n, (k, v) in enumerate(row.items())]


def _ftype(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _ftype(v) for k, v in value.items()}
    if isinstance(value, list):
        return {"feature": _ftype(value[0] if value else ""), "_type": "Sequence"}
    dtype = {bool: "bool", int: "int64", float: "float64", type(None): "null"}.get(type(value),
                                                                                "string")
    return {"dtype": dtype, "_type": "Value"}


def services(items: dict[str, Any] | None = None, *, clock: Clock | None = None,
             hf_host: str = HOST, ds_host: str = DATASETS_SERVER, budget: Budget | None = None,
             tokens: set[str] | None = None) -> list[FakeService]:
    """Paper pages on the Hub host and the dataset viewer, loaded with the demo data."""
    data = items if items is not None else load()
    return [FakePapers(data.get("hf_papers", []), host=hf_host, budget=budget or Budget(clock),
                       tokens=tokens),
            FakeDatasetsServer(data.get("pwc_archive", {}), host=ds_host, tokens=tokens)]
