"""What is known about one entity, gathered from all its copies: the facts scoring reads.

Pure: `build_facts` takes the member records (primary first) and returns a JSON-ready dict
whose keys are the contract documented in rubrics/README.md ("Entity facts").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sonoharvest.access import classify_access
from sonoharvest.identifiers import WEIGHT_FILE
from sonoharvest.licences import normalize_license
from sonoharvest.records import Record
from sonoharvest.sizes import extract_sizes

TEXT_LIMIT = 30000
METRICS_SUMMED = ("downloads", "views", "likes", "votes")
METRICS_MAX = ("stars", "forks")
PAPER_PREFIXES = ("doi:", "arxiv:")
# DOI prefixes of data repositories (Zenodo, figshare, Mendeley Data, Hugging Face, Dryad,
# Harvard Dataverse, PhysioNet, TCIA, 4TU.ResearchData): such DOIs name data, not papers.
REPOSITORY_DOIS = ("doi:10.5281/zenodo.", "doi:10.6084/m9.figshare.", "doi:10.17632/",
                   "doi:10.57967/hf/", "doi:10.5061/dryad.", "doi:10.7910/dvn/", "doi:10.13026/",
                   "doi:10.7937/", "doi:10.4121/")


@dataclass(frozen=True)
class Member:
    key: str
    record: Record
    kind: str
    relevance: float
    anatomy: tuple[str, ...]
    tasks: tuple[str, ...]
    status: str
    first_seen: datetime
    last_seen: datetime


def build_facts(kind: str, members: Sequence[Member], *, datasets: Sequence[str] = (),
                used_by: Sequence[str] = (), link: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    """Facts of one entity; `members[0]` is the primary copy."""
    primary = members[0].record
    records = [m.record for m in members]
    own = sorted({i for r in records for i in r.identifiers})
    related = [i for r in records for i in r.related]
    text = "\n".join(f"{r.title}\n{r.description}" for r in records)[:TEXT_LIMIT]
    licence = next((lic for lic in (normalize_license(r.license) for r in records)
                    if lic.license_class != "unknown"), normalize_license(primary.license))
    access = classify_access(primary.source, primary.access,
                             f"{primary.title}\n{primary.description}")
    sizes = _sizes(records)
    dates = [d for r in records for d in (r.created_at,) if d]
    updates = [d for r in records for d in (r.updated_at, r.created_at) if d]
    return {
        "kind": kind,
        "name": primary.title,
        "description": primary.description[:4000],
        "text": text,
        "primary_url": primary.url,
        "urls": _unique(r.url for r in records),
        "doi": primary.doi,           # a copy's DOI (a mirror on Zenodo) is not the resource's
        "dois": sorted({r.doi for r in records if r.doi}),
        "identifiers": own,
        "sources": sorted({r.source for r in records}),
        "source_ids": [m.key for m in members],
        "n_copies": len(members),
        "status": "active" if any(m.status == "active" for m in members) else "withdrawn",
        "license": licence.spdx or (licence.label if licence.label != "unknown" else None),
        "license_class": licence.license_class,
        "access": access.level,
        "access_reason": access.reason,
        "size": {unit: s.count for unit, s in sizes.items()},
        "size_evidence": {unit: s.phrase for unit, s in sizes.items()},
        "anatomy": _unique(a for m in members for a in m.anatomy),
        "tasks": _unique(t for m in members for t in m.tasks),
        "keywords": _unique((k.lower() for r in records for k in r.keywords), limit=40),
        "relevance": round(max(m.relevance for m in members), 4),
        "papers": _unique(i for i in related
                          if i.startswith(PAPER_PREFIXES) and i not in own
                          and not i.startswith(REPOSITORY_DOIS)),
        "weights": _weights(kind, records, related),
        "datasets": sorted(datasets),
        "used_by": sorted(used_by),
        "created_at": min(dates).isoformat() if dates else None,
        "updated_at": max(updates).isoformat() if updates else None,
        "versions": max(1, len({i for i in own if i.startswith("doi:10.5281/zenodo.")}) - 1),
        "metrics": _metrics(records),
        "link": link or {},
        "first_seen": min(m.first_seen for m in members).isoformat(),
        "last_seen": max(m.last_seen for m in members).isoformat(),
    }


def link_facts(check: dict[str, Any] | None) -> dict[str, Any]:
    """The part of a link check that entity facts carry (JSON-ready)."""
    return {k: (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in (check or {}).items()
            if k in ("status", "ok", "checked_at", "final_url", "error")}


def facts_hash(facts: dict[str, Any]) -> str:
    """Hash of the facts that matter for scoring (not the last_seen clock, not when the link
    was last checked or the landing page last read)."""
    body = {k: v for k, v in facts.items() if k not in ("last_seen",)}
    body["link"] = {k: v for k, v in (facts.get("link") or {}).items() if k != "checked_at"}
    if facts.get("landing"):
        body["landing"] = {k: v for k, v in facts["landing"].items() if k != "fetched_at"}
    blob = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _sizes(records: Sequence[Record]) -> dict[str, Any]:
    """The primary's stated sizes, completed by what the copies state."""
    out: dict[str, Any] = {}
    for r in records:
        for unit, size in extract_sizes(f"{r.title}. {r.description}").items():
            out.setdefault(unit, size)
    return out


def _weights(kind: str, records: Sequence[Record], related: Sequence[str]) -> list[str]:
    urls = [i for i in related if i.startswith("http") and WEIGHT_FILE.search(i)]
    if kind == "model":
        urls += [i for r in records for i in r.identifiers if i.startswith("hf:models/")]
        # A README's link to a Hub model is a release; an HF card's base_model is not.
        urls += [i for r in records if r.source != "huggingface"
                 for i in r.related if i.startswith("hf:models/")]
    return _unique(urls)


def _metrics(records: Sequence[Record]) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in records:
        for name, value in r.metrics.items():
            if name in METRICS_SUMMED:
                out[name] = out.get(name, 0.0) + value
            elif name in METRICS_MAX:
                out[name] = max(out.get(name, 0.0), value)
    return out


def _unique(values: Any, limit: int | None = None) -> list[Any]:
    out = list(dict.fromkeys(v for v in values if v))
    return out[:limit] if limit else out
