"""Landing-page statements folded into entity facts, never over what a source API stated.

Pure. A page fills a fact only where the APIs left it empty or unknown; where both state a
value and they differ, the API's value stays and both are recorded under
`facts["landing"]["conflicts"]`. What was filled is remembered with the value it replaced, so
applying a newer reading of the page (or none) first restores the API's facts: applying is
idempotent and never compounds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sonoharvest.access import classify_access
from sonoharvest.entity_facts import REPOSITORY_DOIS
from sonoharvest.identifiers import bare_doi
from sonoharvest.licences import normalize_license
from sonoharvest.sizes import extract_sizes

SOURCE = "landing"      # the access rules' source name for text read on a page
RESOURCE_DOI_VIA = ("json-ld", "signposting")


def apply_landing(facts: dict[str, Any], page: dict[str, Any] | None) -> dict[str, Any]:
    """`facts` with the page's statements (a landing_pages row, or None for no page)."""
    out = without_landing(facts)
    if not page:
        return out
    fields = (page.get("extracted") or {}).get("fields") or {}
    summary: dict[str, Any] = {
        "url": page["url"], "final_url": page.get("final_url"),
        "ok": page.get("ok"), "robots": page.get("robots"), "error": page.get("error"),
        "fetched_at": _iso(page.get("fetched_at")),
        "fields": fields,
        "signposting": (page.get("extracted") or {}).get("signposting") or {},
        "filled": {}, "conflicts": {},
    }
    for apply in (_licence, _doi, _access, _sizes, _text_fields):
        apply(out, fields, summary)
    out["landing"] = summary
    return out


def without_landing(facts: dict[str, Any]) -> dict[str, Any]:
    """The facts as the APIs alone state them: filled values restored, no landing block."""
    out = dict(facts)
    landing = out.pop("landing", None) or {}
    for originals in (landing.get("filled") or {}).values():
        out.update(originals.get("replaced") or {})
    return out


def _fill(out: dict[str, Any], summary: dict[str, Any], name: str, values: dict[str, Any],
          via: str) -> None:
    summary["filled"][name] = {"via": via, "replaced": {k: out.get(k) for k in values}}
    out.update(values)


def _conflict(summary: dict[str, Any], name: str, api: Any, page: Any, via: str) -> None:
    summary["conflicts"][name] = {"api": api, "page": page, "via": via}


def _via(fields: dict[str, Any], name: str) -> str:
    return f"landing page ({fields[name].get('via', '?')})"


def _licence(out: dict[str, Any], fields: dict[str, Any], summary: dict[str, Any]) -> None:
    if "license" not in fields:
        return
    found = normalize_license(str(fields["license"].get("value")))
    if found.license_class == "unknown":
        return
    stated = found.spdx or found.label
    if out.get("license_class", "unknown") == "unknown":
        _fill(out, summary, "license", {"license": stated, "license_class": found.license_class},
              _via(fields, "license"))
    elif stated != out.get("license"):
        _conflict(summary, "license", out.get("license"), stated, _via(fields, "license"))


def _doi(out: dict[str, Any], fields: dict[str, Any], summary: dict[str, Any]) -> None:
    """The resource's DOI: what JSON-LD or signposting name as the page's own identifier, or a
    data repository's DOI; a citation_doi or a mention may be the paper's, so it only shows
    in the landing fields."""
    doi = bare_doi(fields.get("doi", {}).get("value"))
    if not doi or (fields["doi"].get("via") not in RESOURCE_DOI_VIA
                   and not f"doi:{doi}".startswith(REPOSITORY_DOIS)):
        return
    if not out.get("doi"):
        _fill(out, summary, "doi", {"doi": doi}, _via(fields, "doi"))
    elif doi != out["doi"] and doi not in (out.get("dois") or []):
        _conflict(summary, "doi", out["doi"], doi, _via(fields, "doi"))


def _access(out: dict[str, Any], fields: dict[str, Any], summary: dict[str, Any]) -> None:
    text = fields.get("access", {}).get("value")
    if not text:
        return
    found = classify_access(SOURCE, None, str(text))
    if found.level == "unknown":
        return
    via = _via(fields, "access")
    if out.get("access", "unknown") == "unknown":
        _fill(out, summary, "access",
              {"access": found.level, "access_reason": f"{via}: {found.reason}"}, via)
    elif found.level != out.get("access"):
        _conflict(summary, "access", out.get("access"), found.level, via)


def _sizes(out: dict[str, Any], fields: dict[str, Any], summary: dict[str, Any]) -> None:
    stated = {}
    for name in ("size", "description"):
        if name in fields:
            for unit, size in extract_sizes(str(fields[name].get("value"))).items():
                stated.setdefault(unit, (size, _via(fields, name)))
    missing = {u: s for u, s in stated.items() if u not in (out.get("size") or {})}
    if not missing:
        return
    size = {**(out.get("size") or {}), **{u: s.count for u, (s, _) in missing.items()}}
    evidence = {**(out.get("size_evidence") or {}),
                **{u: f"{via}: {s.phrase}" for u, (s, via) in missing.items()}}
    _fill(out, summary, "size", {"size": size, "size_evidence": evidence},
          ", ".join(sorted({via for _, via in missing.values()})))


def _text_fields(out: dict[str, Any], fields: dict[str, Any], summary: dict[str, Any]) -> None:
    if not out.get("description") and fields.get("description", {}).get("value"):
        _fill(out, summary, "description", {"description": fields["description"]["value"]},
              _via(fields, "description"))
    keywords = fields.get("keywords", {}).get("value")
    if not out.get("keywords") and isinstance(keywords, list) and keywords:
        _fill(out, summary, "keywords", {"keywords": [str(k).lower() for k in keywords]},
              _via(fields, "keywords"))


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
