"""Croissant 1.0 (schema.org Dataset) JSON-LD for the catalogued dataset entities.

`dataset_jsonld(row)` is pure: one row of datasets.parquet in, one Croissant metadata document
out. Every document is metadata-only (no recordSet: sonoharvest never opens the data files); a
`distribution` FileObject is added only when the primary URL is a direct file download and
the row also gives its checksum (`sha256` or `md5`, keys datasets.parquet v1 does not have
yet), because Croissant validators reject a FileObject without one. docs/exports.md lists
the mapping; tests/test_export.py validates the documents with mlcroissant.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from functools import cache
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from sonoharvest.identifiers import bare_doi, parse_arxiv

CONFORMS_TO = "http://mlcommons.org/croissant/1.0"

# The @context of the Croissant 1.0 example datasets (mlcommons/croissant datasets/1.0/*),
# plus `equivalentProperty` and `samplingRate`, which mlcroissant also treats as part of the
# standard 1.0 context (it warns when they are missing). Keys are sorted as in the examples.
CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
    "wd": "https://www.wikidata.org/wiki/",
}

# access (rubrics/access.yaml levels) -> (isAccessibleForFree, conditionsOfAccess). Free means
# no payment: a free account is still free. For "on request" and "controlled" the cost is not
# known, so isAccessibleForFree is left out; "unknown" says nothing at all.
ACCESS: dict[str, tuple[bool | None, str]] = {
    "open download": (True, "Open download: the files can be downloaded without an account "
                            "or a request."),
    "registration": (True, "Registration: a free account (or accepting the terms of use) is "
                           "needed before download."),
    "on request": (None, "On request: the data are shared by the owners on request."),
    "controlled": (None, "Controlled access: a data use agreement, credentials or an access "
                         "committee's approval is needed."),
}

# Licence labels that carry no information (docs/licences-and-access.md).
_NO_LICENSE = {"", "unknown", "none", "noassertion"}

# Extensions of files a primary URL can download directly, with their MIME type.
_DOWNLOAD_TYPES = {
    ".zip": "application/zip", ".tar": "application/x-tar", ".tar.gz": "application/x-gzip",
    ".tgz": "application/x-gzip", ".gz": "application/gzip", ".bz2": "application/x-bzip2",
    ".xz": "application/x-xz", ".7z": "application/x-7z-compressed",
    ".rar": "application/vnd.rar", ".csv": "text/csv", ".tsv": "text/tab-separated-values",
    ".json": "application/json", ".jsonl": "application/jsonlines",
    ".parquet": "application/x-parquet", ".h5": "application/x-hdf5",
    ".hdf5": "application/x-hdf5", ".mat": "application/x-matlab-data",
    ".npz": "application/octet-stream", ".npy": "application/octet-stream",
    ".nii": "application/octet-stream", ".nii.gz": "application/gzip",
    ".nrrd": "application/octet-stream", ".mha": "application/octet-stream",
    ".mhd": "text/plain", ".dcm": "application/dicom", ".png": "image/png",
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".tif": "image/tiff", ".tiff": "image/tiff",
    ".mp4": "video/mp4", ".avi": "video/x-msvideo", ".pdf": "application/pdf",
}
_MULTI_EXT = (".tar.gz", ".nii.gz")
_SPDX_OPERATOR = re.compile(r"\s(?:AND|OR|WITH)\s")
_HEX = {"sha256": re.compile(r"[0-9a-f]{64}"), "md5": re.compile(r"[0-9a-f]{32}")}


def dataset_jsonld(row: Mapping[str, Any]) -> dict[str, Any]:
    """The Croissant 1.0 metadata document of one datasets.parquet row."""
    name = _text(row.get("name")) or str(row["entity_id"])
    anatomy, tasks = _strings(row.get("anatomy")), _strings(row.get("tasks"))
    doi = bare_doi(row.get("doi")) if row.get("doi") else None
    urls = _strings(row.get("urls"))
    cite = paper_doi(_strings(row.get("papers")))
    # The dataset's page; for a dataset known only from a paper, the paper describing it.
    url = next((u for u in (_text(row.get("primary_url")), *urls[:1],
                            doi and f"https://doi.org/{doi}", cite and f"https://doi.org/{cite}")
                if u), None)
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "name": name,
        "description": _text(row.get("description")) or _fallback_description(name, row),
        "conformsTo": CONFORMS_TO,
    }
    if url:
        doc["url"] = url
    license_ = license_value(row.get("license"))
    if license_ is not None:
        doc["license"] = license_
    if doi:
        doc["identifier"] = f"https://doi.org/{doi}"
    doc["keywords"] = list(dict.fromkeys([*anatomy, *tasks, "ultrasound"]))
    if cite:
        doc["citeAs"] = f"https://doi.org/{cite}"
    same = [u for u in dict.fromkeys(urls) if u != url]
    if same:
        doc["sameAs"] = same
    for key, column in (("datePublished", "created_at"), ("dateModified", "updated_at")):
        when = _date(row.get(column))
        if when:
            doc[key] = when
    free, conditions = ACCESS.get(_text(row.get("access")) or "", (None, None))
    if free is not None:
        doc["isAccessibleForFree"] = free
    if conditions:
        doc["conditionsOfAccess"] = conditions
    if row.get("status") == "withdrawn":
        doc["creativeWorkStatus"] = "withdrawn"
    file_object = _file_object(url, row)
    if file_object is not None:
        doc["distribution"] = [file_object]
    return doc


def license_value(license_: object) -> str | dict[str, str] | None:
    """An SPDX licence id as its SPDX URL; an SPDX expression or another licence label as a
    schema.org CreativeWork naming it; None when nothing is known."""
    text = _text(license_)
    if text is None or text.lower() in _NO_LICENSE:
        return None
    if _is_spdx_id(text):
        return f"https://spdx.org/licenses/{text}.html"
    work = {"@type": "sc:CreativeWork", "name": text}
    if _is_spdx_expression(text):
        work["description"] = "SPDX license expression"
    return work


def paper_doi(papers: Iterable[str]) -> str | None:
    """The DOI of the first paper given by DOI, else the DataCite DOI of the first arXiv
    paper (10.48550/arXiv.ID); None when no paper has a DOI."""
    papers = list(papers)
    for paper in papers:
        doi = bare_doi(paper)
        if doi:
            return doi
    for paper in papers:
        arxiv = parse_arxiv(paper)
        if arxiv is not None:
            return f"10.48550/arXiv.{arxiv.id}"
    return None


def download_file(url: str | None) -> tuple[str, str] | None:
    """(file name, MIME type) when `url` downloads one file directly (its path ends in a known
    data-file extension), else None: landing pages and repositories are not downloads."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return None
    filename = PurePosixPath(unquote(parts.path)).name
    lower = filename.lower()
    ext = next((e for e in _MULTI_EXT if lower.endswith(e)), PurePosixPath(lower).suffix)
    mime = _DOWNLOAD_TYPES.get(ext)
    if mime is None or len(filename) <= len(ext):
        return None
    return filename, mime


def _file_object(url: str | None, row: Mapping[str, Any]) -> dict[str, Any] | None:
    found = download_file(url)
    checksums = {k: str(row[k]).lower() for k in ("sha256", "md5")
                 if row.get(k) and _HEX[k].fullmatch(str(row[k]).lower())}
    if found is None or not checksums:
        return None
    filename, mime = found
    obj: dict[str, Any] = {"@type": "cr:FileObject", "@id": quote(filename), "name": filename,
                           "contentUrl": url, "encodingFormat": mime, **checksums}
    if row.get("content_size"):
        obj["contentSize"] = f"{int(row['content_size'])} B"
    return obj


def _fallback_description(name: str, row: Mapping[str, Any]) -> str:
    about = ", ".join(_strings(row.get("anatomy"))) or "anatomy not stated"
    return (f"{name}: an ultrasound dataset ({about}) catalogued by sonoharvest. "
            "Its sources give no description.")


@cache
def _spdx_licensing() -> Any:
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


def _is_spdx_id(text: str) -> bool:
    """Whether `text` is exactly a listed SPDX licence id (the column holds canonical ids)."""
    symbol = _spdx_licensing().known_symbols.get(text)
    return symbol is not None and symbol.key == text and not text.startswith("LicenseRef-")


@cache
def _is_spdx_expression(text: str) -> bool:
    """Whether `text` is a compound SPDX expression ("MIT OR Apache-2.0"), validated offline."""
    if not _SPDX_OPERATOR.search(text):
        return False
    licensing = _spdx_licensing()
    try:
        expression = licensing.parse(text, validate=True, strict=True)
    except Exception:  # the parser raises assorted errors on free text
        return False
    keys = licensing.license_keys(expression) if expression is not None else []
    return bool(keys) and all(_is_spdx_id(k) for k in keys)


def _date(value: object) -> str | None:
    """An ISO 8601 date-time in UTC ("2020-01-15T00:00:00Z")."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    text = _text(value)
    if text is None:
        return None
    try:
        return _date(datetime.fromisoformat(text))
    except ValueError:
        return None


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _strings(value: object) -> list[str]:
    if value is None or isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value if v is not None and str(v).strip()]
