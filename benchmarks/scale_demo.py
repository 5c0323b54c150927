"""Scale the bundled demo data by copies with fresh ids, so benchmarks see realistic volumes."""

from __future__ import annotations

import copy
import json
from typing import Any

from sonoharvest.demo import fakeapi

OFFSET = 10_000_000


def _zenodo(items: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    out = []
    for r in items:
        c = copy.deepcopy(r)
        if isinstance(c.get("id"), int):
            c["id"] += k * OFFSET
            c["recid"] = str(c["id"])
            c["doi"] = f"10.5281/zenodo.{c['id']}"
            c.setdefault("metadata", {})["doi"] = c["doi"]
        if isinstance(c.get("conceptrecid"), str) and c["conceptrecid"].isdigit():
            c["conceptrecid"] = str(int(c["conceptrecid"]) + k * OFFSET)
            c["conceptdoi"] = f"10.5281/zenodo.{c['conceptrecid']}"
        _suffix(c.get("metadata", {}), "title", k)
        _suffix(c, "title", k)
        out.append(c)
    return out


def _kaggle(items: dict[str, list[dict[str, Any]]], k: int) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for kind, rows in items.items():
        out[kind] = []
        for r in rows:
            c = copy.deepcopy(r)
            if isinstance(c.get("id"), int):
                c["id"] += k * OFFSET
            if isinstance(c.get("ref"), str):
                c["ref"] = f"{c['ref']}-copy{k}"
            for key in ("lastUpdated", "updateTime"):   # copies were not all updated at once
                c[key] = _earlier(c.get(key), k)
            _suffix(c, "title", k)
            out[kind].append(c)
    return out


def _github(items: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    out = []
    for r in items:
        c = copy.deepcopy(r)
        repo = c["repo"]
        if isinstance(repo.get("id"), int):
            repo["id"] += k * OFFSET
        if isinstance(repo.get("full_name"), str) and "/" in repo["full_name"]:
            repo["name"] = f"{repo['name']}-copy{k}"
            repo["full_name"] = f"{repo['full_name']}-copy{k}"
            repo["html_url"] = f"https://github.com/{repo['full_name']}"
        out.append(c)
    return out


def _huggingface(items: dict[str, list[dict[str, Any]]], k: int) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for kind, rows in items.items():
        out[kind] = []
        for r in rows:
            c = copy.deepcopy(r)
            if isinstance(c.get("id"), str):
                c["id"] = f"{c['id']}-copy{k}"
                if "modelId" in c:
                    c["modelId"] = c["id"]
            if isinstance(c.get("_id"), str):
                c["_id"] = f"{c['_id']}{k:04d}"
            out[kind].append(c)
    return out


def _papers(items: dict[str, Any], k: int) -> dict[str, Any]:
    papers = []
    for r in items["hf_papers"]:
        c = copy.deepcopy(r)
        if isinstance(c.get("id"), str) and "." in c["id"]:
            head, tail = c["id"].split(".", 1)
            c["id"] = f"{head}.{(int(tail) + k * 7919) % 100000:05d}"
        _suffix(c, "title", k)
        papers.append(c)
    archive = {}
    for dump, rows in items["pwc_archive"].items():
        archive[dump] = []
        for r in rows:
            c = copy.deepcopy(r)
            for key in ("url", "paper_url", "name", "title", "paper_title", "repo_url"):
                _suffix(c, key, k, sep="-copy")
            archive[dump].append(c)
    return {"hf_papers": papers, "pwc_archive": archive}


def _datacite(items: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    out = []
    for r in items:
        c = copy.deepcopy(r)
        attrs = c.get("attributes") or {}
        if isinstance(attrs.get("doi"), str):
            attrs["doi"] = f"{attrs['doi']}.copy{k}"
            c["id"] = attrs["doi"]
        attrs["created"] = _earlier(attrs.get("created"), k)     # cursor order: created
        for t in attrs.get("titles") or []:
            _suffix(t, "title", k)
        out.append(c)
    return out


def _figshare(items: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    out = []
    for r in items:
        c = copy.deepcopy(r)
        if isinstance(c.get("id"), int):
            c["id"] += k * OFFSET
            if isinstance(c.get("doi"), str):
                c["doi"] = f"10.6084/m9.figshare.{c['id']}.v1"
            if isinstance(c.get("url_public_html"), str):
                c["url_public_html"] = c["url_public_html"].rsplit("/", 1)[0] + f"/{c['id']}"
        _suffix(c, "title", k)
        out.append(c)
    return out


def _grandchallenge(items: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    out = []
    for r in items:
        c = copy.deepcopy(r)
        if isinstance(c.get("slug"), str):
            c["slug"] = f"{c['slug']}-copy{k}"
            c["url"] = f"https://{c['slug'].lower()}.grand-challenge.org/"
            c["api_url"] = f"https://grand-challenge.org/api/v1/challenges/{c['slug']}/"
        out.append(c)
    return out


def _earlier(stamp: Any, minutes: int) -> Any:
    from datetime import datetime, timedelta

    try:
        moved = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        moved -= timedelta(minutes=minutes)
    except ValueError:
        return stamp
    return moved.isoformat().replace("+00:00", "Z")


def _suffix(row: dict[str, Any], key: str, k: int, sep: str = " copy ") -> None:
    if isinstance(row.get(key), str) and row[key]:
        row[key] = f"{row[key]}{sep}{k}"


def _merge(parts: list[Any]) -> Any:
    if isinstance(parts[0], list):
        return [row for part in parts for row in part]
    merged: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, dict):
                merged[key] = _merge([merged.get(key, {}), value])
            else:
                merged.setdefault(key, []).extend(value)
    return merged


def _demo_items(name: str) -> Any:
    from importlib.resources import files

    return json.loads(files("sonoharvest.demo").joinpath(f"data/{name}.json").read_text())


CLONERS = {"zenodo": _zenodo, "kaggle": _kaggle, "github": _github,
           "huggingface": _huggingface, "papers": _papers, "datacite": _datacite,
           "figshare": _figshare, "grandchallenge": _grandchallenge}
# Where the records sit in a source's demo file, when not at the top.
RECORDS_KEY = {"github": "repositories", "datacite": "data", "figshare": "articles"}


def scale_services(name: str, _demo: list[fakeapi.FakeService], copies: int
                   ) -> list[fakeapi.FakeService]:
    """The source's fake services holding `copies` copies of the demo data."""
    from importlib import import_module

    items = _demo_items(name)
    if name in RECORDS_KEY:
        items = items[RECORDS_KEY[name]]
    clone = CLONERS[name]
    scaled = _merge([items] + [clone(items, k) for k in range(1, copies)])
    return import_module(f"sonoharvest.demo.{name}").services(scaled)
