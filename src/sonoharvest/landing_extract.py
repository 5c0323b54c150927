"""What a landing page states about its resource, read from its HTML and headers (pure).

Sources on the page, most trusted first: schema.org JSON-LD, FAIR signposting (`Link` header
and `<link>` elements), citation meta tags (Google Scholar's `citation_*`), Dublin Core meta,
`rel="license"` links, and DOI mentions in links and text. Every field says which of them it
came from (`via`), so a curator can weigh it; the first source that states a field wins.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urljoin

from bs4 import BeautifulSoup

from sonoharvest.identifiers import bare_doi
from sonoharvest.records import clean_text

# schema.org types read as the page's resource, the most specific first.
RESOURCE_TYPES = ("Dataset", "SoftwareSourceCode", "SoftwareApplication", "CreativeWork",
                  "ScholarlyArticle")
# Signposting relations (signposting.org/FAIR) kept from Link headers and <link> elements.
SIGNPOSTING_RELS = ("cite-as", "describedby", "item", "license", "author", "type",
                    "collection", "linkset")
LICENCE_HOSTS = re.compile(r"https?://(?:www\.)?(?:creativecommons\.org/(?:licenses|publicdomain)"
                           r"|opensource\.org/licen[cs]es|spdx\.org/licenses)/", re.I)
DOI_TEXT = re.compile(r"\b(10\.\d{4,9}/[^\s\"'<>]+)")
MAX_TEXT = 4000
MAX_LIST = 30


def extract(html: str, url: str, link_header: str | None = None) -> dict[str, Any]:
    """Fields (each `{"value", "via"}`), signposting links, licence links and DOI mentions."""
    soup = BeautifulSoup(html or "", "html.parser")
    fields: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    signposting = _signposting(soup, url, link_header)
    resource = _jsonld_resource(soup, problems)
    if resource is not None:
        _put_all(fields, _from_jsonld(resource, url), "json-ld")
    _put_all(fields, _from_signposting(signposting), "signposting")
    _put_all(fields, _from_meta(soup, "citation_"), "citation meta")
    _put_all(fields, _from_meta(soup, "dc."), "dublin core meta")
    licences = _licence_links(soup, url)
    if licences:
        _put(fields, "license", licences[0], "rel=license link")
    dois = _doi_mentions(soup)
    if dois and "doi" not in fields and len(dois) == 1:
        _put(fields, "doi", dois[0], "doi mention")   # several DOIs: which is this page's?
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    if title:
        _put(fields, "name", clean_text(title)[:300], "html title")
    return {"fields": fields, "signposting": signposting, "licence_links": licences,
            "dois": dois[:MAX_LIST], "problems": problems}


def _put(fields: dict[str, dict[str, Any]], name: str, value: Any, via: str) -> None:
    if value in (None, "", [], {}) or name in fields:
        return
    fields[name] = {"value": value, "via": via}


def _put_all(fields: dict[str, dict[str, Any]], values: dict[str, Any], via: str) -> None:
    for name, value in values.items():
        _put(fields, name, value, via)


# --- JSON-LD -------------------------------------------------------------------------------

def _jsonld_resource(soup: BeautifulSoup, problems: list[str]) -> dict[str, Any] | None:
    """The page's own resource among its JSON-LD objects (a Dataset before a CreativeWork)."""
    objects: list[dict[str, Any]] = []
    for script in soup.find_all("script", type=re.compile(r"application/ld\+json", re.I)):
        try:
            data = json.loads(script.string or script.get_text() or "null")
        except ValueError as exc:
            problems.append(f"unreadable JSON-LD block ({exc.msg} at line {exc.lineno})")
            continue
        objects += _flatten(data)
    for wanted in RESOURCE_TYPES:
        for obj in objects:
            if wanted in _types(obj):
                return obj
    return None


def _flatten(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, list):
        return [o for item in data for o in _flatten(item)]
    if not isinstance(data, dict):
        return []
    return [data, *_flatten(data.get("@graph", []))]


def _types(obj: dict[str, Any]) -> list[str]:
    kind = obj.get("@type", [])
    kinds = kind if isinstance(kind, list) else [kind]
    return [str(k).rsplit("/", 1)[-1].rsplit(":", 1)[-1] for k in kinds]


def _from_jsonld(obj: dict[str, Any], url: str) -> dict[str, Any]:
    distribution = obj.get("distribution")
    parts = distribution if isinstance(distribution, list) else [distribution]
    sizes = [str(d["contentSize"]) for d in parts if isinstance(d, dict) and d.get("contentSize")]
    return {
        "name": _text(obj.get("name") or obj.get("headline"), 300),
        "description": _text(obj.get("description")),
        "license": _first_url_or_text(obj.get("license")),
        "doi": _jsonld_doi(obj),
        "url": _abs(url, _first_url_or_text(obj.get("url"))),
        "keywords": _keywords(obj.get("keywords")),
        "creators": _names(obj.get("creator") or obj.get("author")),
        "published": _text(obj.get("datePublished"), 40),
        "modified": _text(obj.get("dateModified"), 40),
        "version": _text(obj.get("version"), 40),
        "size": _text(obj.get("contentSize"), 100) or ("; ".join(sizes)[:200] or None),
        "free": obj.get("isAccessibleForFree") if isinstance(obj.get("isAccessibleForFree"),
                                                             bool) else None,
        "access": _text(obj.get("conditionsOfAccess"), 1000),
    }


def _jsonld_doi(obj: dict[str, Any]) -> str | None:
    candidates: list[Any] = []
    for key in ("identifier", "@id", "sameAs", "url"):
        value = obj.get(key)
        candidates += value if isinstance(value, list) else [value]
    for value in candidates:
        if isinstance(value, dict):   # PropertyValue {"propertyID": "DOI", "value": "10..."}
            value = value.get("value") or value.get("url") or value.get("@id")
        doi = bare_doi(value) if isinstance(value, str) and "10." in value else None
        if doi:
            return doi
    return None


def _first_url_or_text(value: Any) -> str | None:
    if isinstance(value, list):
        value = next((v for v in value if v), None)
    if isinstance(value, dict):
        value = value.get("url") or value.get("@id") or value.get("name")
    return _text(value, 500)


def _keywords(value: Any) -> list[str] | None:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        return None
    out = [_text(k if not isinstance(k, dict) else k.get("name"), 100) for k in items]
    return list(dict.fromkeys(k for k in out if k))[:MAX_LIST] or None


def _names(value: Any) -> list[str] | None:
    items = value if isinstance(value, list) else [value]
    out = [_text(v.get("name") if isinstance(v, dict) else v, 200) for v in items]
    return list(dict.fromkeys(n for n in out if n))[:MAX_LIST] or None


def _text(value: Any, limit: int = MAX_TEXT) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    return clean_text(value)[:limit] or None


def _abs(base: str, value: str | None) -> str | None:
    return urljoin(base, value) if value else None


# --- signposting, meta tags, links ---------------------------------------------------------

def _signposting(soup: BeautifulSoup, url: str, header: str | None) -> dict[str, list[str]]:
    """rel -> targets, from the HTTP Link header then the page's <link> elements."""
    found: dict[str, list[str]] = {}
    for target, rels in [*_link_header(header or ""), *_link_elements(soup)]:
        for rel in rels:
            if rel in SIGNPOSTING_RELS:
                targets = found.setdefault(rel, [])
                absolute = urljoin(url, target)
                if absolute not in targets and len(targets) < MAX_LIST:
                    targets.append(absolute)
    return found


def _link_header(header: str) -> list[tuple[str, list[str]]]:
    """(target, rels) of an RFC 8288 Link header; tolerant of odd spacing and quoting."""
    out = []
    for match in re.finditer(r"<([^>]*)>\s*((?:;\s*[^;,<]+)*)", header):
        params = dict(_param(p) for p in match.group(2).split(";") if "=" in p)
        rels = params.get("rel", "").lower().split()
        if rels:
            out.append((match.group(1).strip(), rels))
    return out


def _param(text: str) -> tuple[str, str]:
    key, _, value = text.partition("=")
    return key.strip().lower(), value.strip().strip('"')


def _link_elements(soup: BeautifulSoup) -> list[tuple[str, list[str]]]:
    out = []
    for tag in soup.find_all("link", href=True):
        rels = tag.get("rel") or []
        rels = rels.split() if isinstance(rels, str) else rels
        out.append((str(tag["href"]), [str(r).lower() for r in rels]))
    return out


def _from_signposting(links: dict[str, list[str]]) -> dict[str, Any]:
    cite = next((bare_doi(u) for u in links.get("cite-as", []) if bare_doi(u)), None)
    return {"doi": cite, "license": (links.get("license") or [None])[0]}


def _from_meta(soup: BeautifulSoup, prefix: str) -> dict[str, Any]:
    """citation_* (Highwire/Google Scholar) or DC.* meta tags as fields."""
    meta: dict[str, list[str]] = {}
    for tag in soup.find_all("meta", attrs={"name": True, "content": True}):
        name = str(tag["name"]).strip().lower()
        if name.startswith(prefix):
            meta.setdefault(name.removeprefix(prefix), []).append(str(tag["content"]))
    first = {k: _text(v[0]) for k, v in meta.items()}
    if prefix == "citation_":
        return {"name": first.get("title"), "doi": bare_doi(first.get("doi")),
                "creators": _names(meta.get("author")),
                "published": first.get("publication_date") or first.get("date"),
                "keywords": _keywords(";".join(meta.get("keywords", [])).replace(";", ","))}
    identifier = next((bare_doi(v) for v in meta.get("identifier", []) if bare_doi(v)), None)
    return {"name": first.get("title"), "doi": identifier,
            "license": first.get("rights") or first.get("license"),
            "creators": _names(meta.get("creator"))}


def _licence_links(soup: BeautifulSoup, url: str) -> list[str]:
    """Targets of rel="license" anchors and links, then any link to a known licence page."""
    tagged, known = [], []
    for tag in soup.find_all(["a", "link"], href=True):
        href = urljoin(url, str(tag["href"]))
        rels = tag.get("rel") or []
        rels = rels.split() if isinstance(rels, str) else rels
        if "license" in [str(r).lower() for r in rels]:
            tagged.append(href)
        elif LICENCE_HOSTS.match(href):
            known.append(href)
    return list(dict.fromkeys(tagged + known))[:MAX_LIST]


def _doi_mentions(soup: BeautifulSoup) -> list[str]:
    """DOIs in link targets (doi.org/...) and in the visible text, in order."""
    found = [str(a["href"]) for a in soup.find_all("a", href=True) if "10." in str(a["href"])]
    for script in soup(["script", "style"]):
        script.decompose()
    found += DOI_TEXT.findall(soup.get_text(" "))
    return list(dict.fromkeys(d for d in map(bare_doi, found) if d))
