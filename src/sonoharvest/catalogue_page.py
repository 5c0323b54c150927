"""The public catalogue page: one static, self-contained HTML page over the Parquet exports.

`build_catalogue(exports_dir)` reads datasets.parquet, models.parquet and score_history.parquet
and writes <exports_dir>/catalogue/index.html with its stylesheet and script next to it. The
page needs no server, no network and no build step: it works opened from disk (file://) and
served by any static web server.

Harvested text is hostile until proven otherwise. The data goes into the page as JSON inside
`<script type="application/json">`, with every `<`, `>`, `&` and the JS line separators written
as \\u escapes, so no text can close the element or open a comment. The script renders it with
textContent and createElement only (never innerHTML), links are made only from http(s) URLs,
and a Content-Security-Policy forbids inline and remote script. The <noscript> fallback list
is escaped with html.escape.

The page is rebuilt in a temporary sibling folder and swapped in whole, so a reader sees the
old page or the new one, never half of either: one atomic renameat2(RENAME_EXCHANGE) on Linux,
elsewhere two renames (with a moment in which the folder is absent).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import html
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import quote, urlsplit

import pyarrow as pa
import pyarrow.parquet as pq

from sonoharvest import __version__

ASSETS = Path(__file__).parent / "catalogue"
ASSET_FILES = ("catalogue.css", "catalogue.js")
MARKER = ".sonoharvest-catalogue"
TIERS = ("Diamond", "Platinum", "Gold", "Silver", "Bronze", "Steel")
SOURCE_LABELS = {"github": "GitHub", "huggingface": "Hugging Face", "kaggle": "Kaggle",
                 "zenodo": "Zenodo", "papers": "Papers", "datacite": "DataCite",
                 "figshare": "figshare", "grandchallenge": "Grand Challenge"}
STALE_SECONDS = 3600
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "base-uri 'none'; form-action 'none'; object-src 'none'")
_SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                   "\u2028": "\\u2028", "\u2029": "\\u2029"}
_SCRIPT_UNSAFE = re.compile("[<>&\u2028\u2029]")


class CatalogueError(ValueError):
    """The catalogue cannot be built as asked (the message says why)."""


def build_catalogue(exports_dir: Path, out_dir: Path | None = None) -> Path:
    """Build the catalogue page from the Parquet exports; return the path of its index.html.

    out_dir defaults to <exports_dir>/catalogue. It is replaced as a whole, so it must be a
    folder this function made before (it holds a marker file), an empty folder, or absent.
    """
    exports_dir = Path(exports_dir)
    out_dir = Path(out_dir) if out_dir is not None else exports_dir / "catalogue"
    data = load_catalogue(exports_dir)
    page = render_page(data)
    return _write_atomically(out_dir, page)


# --- reading the exports ---------------------------------------------------------------------

def load_catalogue(exports_dir: Path) -> dict[str, Any]:
    """The page's data: every entity with its latest tier explanation, plus build facts."""
    exports_dir = Path(exports_dir)
    files = {name: exports_dir / f"{name}.parquet" for name in ("datasets", "models")}
    if not any(path.exists() for path in files.values()):
        raise FileNotFoundError(
            f"no datasets.parquet or models.parquet in {exports_dir}: run the export first "
            "('sonoharvest run' writes them)")
    rows: list[dict[str, Any]] = []
    schema_versions: dict[str, str] = {}
    for kind, path in (("dataset", files["datasets"]), ("model", files["models"])):
        if path.exists():
            table = pq.ParquetFile(path).read()
            schema_versions[path.name] = _schema_version(table.schema.metadata)
            rows.extend({**row, "kind": row.get("kind") or kind} for row in _pylist(table))
    history_path = exports_dir / "score_history.parquet"
    latest = _latest_scores(history_path) if history_path.exists() else {}
    if history_path.exists():
        schema_versions[history_path.name] = _schema_version(
            pq.read_schema(history_path).metadata)

    names = {str(row["entity_id"]): str(row.get("name") or row["entity_id"]) for row in rows}
    kinds = {str(row["entity_id"]): str(row.get("kind") or "") for row in rows}
    entities = [_entity(row, latest, names, kinds) for row in rows]
    entities.sort(key=lambda e: (e["kind"], e["name"].casefold(), e["id"]))
    return {
        "generated_at": _iso(datetime.now(UTC)),
        "generator": f"sonoharvest {__version__}",
        "schema_versions": schema_versions,
        "tiers": list(TIERS),
        "source_labels": SOURCE_LABELS,
        "counts": {"dataset": sum(e["kind"] == "dataset" for e in entities),
                   "model": sum(e["kind"] == "model" for e in entities)},
        "entities": entities,
    }


def _pylist(table: pa.Table) -> list[dict[str, Any]]:
    """The rows as dicts; UTC timestamps come back naive (pyarrow would import pandas for tz)."""
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            column = column.cast(pa.timestamp(field.type.unit))
        columns.append(column)
    return pa.table(columns, names=table.column_names).to_pylist()


def _schema_version(metadata: Mapping[bytes, bytes] | None) -> str:
    raw = (metadata or {}).get(b"schema_version")
    return raw.decode("utf-8", "replace") if raw else "unknown"


def _latest_scores(path: Path) -> dict[str, dict[str, Any]]:
    """The newest score_history row of each entity (by scored_at, then run_id)."""
    latest: dict[str, dict[str, Any]] = {}
    for row in _pylist(pq.ParquetFile(path).read()):
        entity_id = str(row.get("entity_id"))
        key = (_sort_time(row.get("scored_at")), str(row.get("run_id") or ""))
        held = latest.get(entity_id)
        if held is None or key >= held["_key"]:
            latest[entity_id] = {**row, "_key": key}
    return latest


def _sort_time(value: Any) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return float("-inf")


def _entity(row: Mapping[str, Any], latest: Mapping[str, Mapping[str, Any]],
            names: Mapping[str, str], kinds: Mapping[str, str]) -> dict[str, Any]:
    entity_id = str(row["entity_id"])
    kind = str(row.get("kind") or "")
    related_ids = _strings(row.get("uses_datasets") if kind == "model"
                           else row.get("used_by_models"))
    primary = _text(row.get("primary_url"))
    urls = _strings(row.get("urls"))
    links: list[dict[str, Any]] = []
    if primary:
        links.append(_link("Primary", primary))
    links.extend(_link("Copy", url) for url in urls if url != primary)
    doi = _text(row.get("doi"))
    if doi:
        links.append(_link("DOI", _paper_href("doi:" + doi.removeprefix("doi:")),
                           label_text=doi.removeprefix("doi:")))
    links.extend(_link("Paper", _paper_href(paper), label_text=paper)
                 for paper in _strings(row.get("papers")))
    links.extend(_link("Weights", _weights_href(w), label_text=w)
                 for w in _strings(row.get("weights")))
    score = latest.get(entity_id)
    return {
        "id": entity_id,
        "kind": kind,
        "name": _text(row.get("name")) or entity_id,
        "description": _text(row.get("description")),
        "status": _text(row.get("status")),
        "primary_url": primary,
        "href": _safe_href(primary),
        "links": links,
        "doi": doi,
        "sources": _strings(row.get("sources")),
        "source_ids": _strings(row.get("source_ids")),
        "n_copies": _number(row.get("n_copies")),
        "license": _text(row.get("license")),
        "license_class": _text(row.get("license_class")) or "unknown",
        "access": _text(row.get("access")) or "unknown",
        "anatomy": _strings(row.get("anatomy")),
        "tasks": _strings(row.get("tasks")),
        "relevance": _number(row.get("relevance")),
        "review_status": _text(row.get("review_status")),
        "score": _number(row.get("score")),
        "tier": _text(row.get("tier")),
        "auto_tier": _text(row.get("auto_tier")),
        "override_reason": _text(row.get("override_reason")),
        "rubric_id": _text(row.get("rubric_id")),
        "rubric_version": _number(row.get("rubric_version")),
        "size": {"images": _number(row.get("size_images")),
                 "videos": _number(row.get("size_videos")),
                 "patients": _number(row.get("size_patients"))},
        "papers": _strings(row.get("papers")),
        "weights": _strings(row.get("weights")),
        "related": [{"id": rid, "name": names.get(rid), "kind": kinds.get(rid)}
                    for rid in related_ids],
        "link_ok": row.get("link_ok") if isinstance(row.get("link_ok"), bool) else None,
        "link_status": _number(row.get("link_status")),
        "created_at": _iso(row.get("created_at")),
        "updated_at": _iso(row.get("updated_at")),
        "first_seen": _iso(row.get("first_seen")),
        "last_seen": _iso(row.get("last_seen")),
        "explanation": _explanation(score) if score else None,
    }


def _explanation(score: Mapping[str, Any]) -> dict[str, Any]:
    criteria = score.get("criteria")
    if isinstance(criteria, str | bytes):
        try:
            criteria = json.loads(criteria)
        except ValueError:
            criteria = []
    if not isinstance(criteria, list):
        criteria = []
    return {
        "score": _number(score.get("score")),
        "tier": _text(score.get("tier")),
        "rubric_id": _text(score.get("rubric_id")),
        "rubric_version": _number(score.get("rubric_version")),
        "rubric_hash": _text(score.get("rubric_hash")),
        "scored_at": _iso(score.get("scored_at")),
        "run_id": _text(score.get("run_id")),
        "criteria": [{
            "id": _text(c.get("id")),
            "title": _text(c.get("title")) or _text(c.get("id")),
            "weight": _number(c.get("weight")),
            "credit": _number(c.get("credit")),
            "points": _number(c.get("points")),
            "max_points": _number(c.get("max_points")),
            "evidence": _text(c.get("evidence")),
        } for c in criteria if isinstance(c, Mapping)],
    }


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def _strings(value: Any) -> list[str]:
    if value is None or isinstance(value, str | bytes):
        return [str(value)] if isinstance(value, str) and value.strip() else []
    return [str(v) for v in value if v is not None and str(v).strip()]


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return _text(value)


def _safe_href(url: str | None) -> str | None:
    """The URL if it is an absolute http(s) URL a browser can follow safely, else None."""
    if not url:
        return None
    url = url.strip()
    if any(ch in url for ch in "\x00\r\n\t<>\"' ") or "\\" in url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def _paper_href(ref: str) -> str | None:
    ref = ref.strip()
    lowered = ref.lower()
    if lowered.startswith("doi:"):
        return "https://doi.org/" + quote(ref[4:], safe="/:;()._-")
    if lowered.startswith("arxiv:"):
        return "https://arxiv.org/abs/" + quote(ref[6:], safe="/._-")
    return _safe_href(ref)


def _weights_href(ref: str) -> str | None:
    if ref.startswith("hf:"):
        path = ref[3:].removeprefix("models/")
        return "https://huggingface.co/" + quote(path, safe="/._-")
    return _safe_href(ref)


def _link(role: str, href: str | None, label_text: str | None = None) -> dict[str, Any]:
    return {"role": role, "text": label_text or href, "href": _safe_href(href)}


# --- rendering -------------------------------------------------------------------------------

def script_json(value: Any) -> str:
    """JSON that is safe verbatim inside any <script> element (it cannot end or comment it)."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return _SCRIPT_UNSAFE.sub(lambda m: _SCRIPT_ESCAPES[m.group(0)], text)


def asset_version() -> str:
    """A short hash of the stylesheet and script, so a served page never mixes versions."""
    digest = hashlib.sha256()
    for name in ASSET_FILES:
        digest.update((ASSETS / name).read_bytes())
    return digest.hexdigest()[:12]


def render_page(data: Mapping[str, Any]) -> str:
    """The index.html text for `data` (as returned by load_catalogue)."""
    template = Template((ASSETS / "index.html").read_text(encoding="utf-8"))
    entities = data["entities"]
    counts = data["counts"]
    esc = html.escape
    return template.substitute(
        csp=CSP,  # our constant: no double quote or markup
        asset_version=asset_version(),
        generator=esc(data["generator"]),
        generated_at=esc(data["generated_at"]),
        generated_date=esc(data["generated_at"][:10]),
        n_total=len(entities),
        n_datasets=counts["dataset"],
        n_models=counts["model"],
        data_json=script_json(data),
        noscript_rows="\n".join(_noscript_row(e) for e in _by_tier(entities)),
    )


def _by_tier(entities: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    rank = {tier: i for i, tier in enumerate(TIERS)}
    return sorted(entities, key=lambda e: (rank.get(e["tier"] or "", len(TIERS)),
                                           -(e["score"] or 0), e["name"].casefold()))


def _noscript_row(entity: Mapping[str, Any]) -> str:
    esc = html.escape
    name = esc(entity["name"])
    if entity["href"]:
        name = f'<a href="{esc(entity["href"])}" rel="noopener noreferrer nofollow">{name}</a>'
    score = "" if entity["score"] is None else f"{entity['score']:g}"
    return (f"<tr><td>{name}</td><td>{esc(entity['kind'])}</td>"
            f"<td>{esc(entity['tier'] or '')}</td><td>{esc(score)}</td>"
            f"<td>{esc(', '.join(entity['anatomy']))}</td>"
            f"<td>{esc(entity['license'] or entity['license_class'])}</td></tr>")


# --- writing ---------------------------------------------------------------------------------

def _write_atomically(out_dir: Path, page: str) -> Path:
    parent = out_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    foreign = out_dir.exists() and not (out_dir / MARKER).exists()
    if foreign and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise CatalogueError(
            f"{out_dir} exists and was not made by build_catalogue; it would be replaced "
            "as a whole, so choose an empty or new folder")
    _remove_stale(parent, out_dir.name)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=parent))
    try:
        (staging / "index.html").write_text(page, encoding="utf-8")
        for name in ASSET_FILES:
            shutil.copyfile(ASSETS / name, staging / name)
        (staging / MARKER).write_text(
            "Built by sonoharvest.catalogue_page.build_catalogue; this folder is replaced "
            "as a whole on every build.\n", encoding="utf-8")
        staging.chmod(0o755)
        _swap(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir / "index.html"


def _swap(staging: Path, out_dir: Path) -> None:
    """Put staging in out_dir's place: one atomic exchange where Linux allows, else two renames."""
    if not out_dir.exists():
        os.replace(staging, out_dir)
        return
    if _exchange(staging, out_dir):
        shutil.rmtree(staging, ignore_errors=True)  # now holds the previous page
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    os.replace(out_dir, old / "page")
    try:
        os.replace(staging, out_dir)
    except BaseException:
        os.replace(old / "page", out_dir)
        shutil.rmtree(old, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE); False where unsupported."""
    renameat2 = getattr(_libc(), "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    done = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return done == 0


@functools.cache
def _libc() -> Any:
    if sys.platform != "linux":
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _remove_stale(parent: Path, name: str) -> None:
    """Leftovers of builds that crashed more than an hour ago."""
    cutoff = time.time() - STALE_SECONDS
    for pattern in (f".{name}.tmp-*", f".{name}.old-*"):
        for path in parent.glob(pattern):
            try:
                if path.is_dir() and path.stat().st_mtime < cutoff:
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:
                continue
