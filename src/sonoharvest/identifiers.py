"""Identifiers: one canonical form per kind of identifier, and the links found in text.

Every source maps what it harvests to these strings and entity resolution joins on them, so
their formats are a contract (other code and stored records rely on them):

    doi:10.1234/abc               bare DOI, lower case
    arxiv:2301.00001              arXiv id without its version (old style: arxiv:hep-th/9901001)
    github:owner/repo             lower case
    hf:models/owner/name          also hf:datasets/..., hf:spaces/... (lower case)
    kaggle:owner/slug             a dataset; kaggle:models/owner/slug is a model
    zenodo:123                    a record id (the DOI 10.5281/zenodo.123 stays a DOI)
    grandchallenge:camus          a challenge (its site <slug>.grand-challenge.org), lower case
    pmid:123

Links that are none of these are kept as URLs normalised by `normalize_url`.

Every function here is pure and total: it accepts any value, returns None (or an empty list)
for what it does not recognise rather than raising, and every normaliser is idempotent.

DOI, arXiv and PMID syntax is checked and normalised by idutils (inveniosoftware, what Zenodo
itself uses; it also folds old arXiv subject classes, math.GT/0309136 -> math/0309136); it knows
no code or model hubs and no URL forms beyond doi.org, so those, lower-casing, punctuation
trimming and arXiv versions are handled here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from html import unescape
from types import ModuleType
from typing import NamedTuple
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

__all__ = [
    "ArxivId", "bare_doi", "extract_identifiers", "hf_id", "is_url", "is_weight_file",
    "normalize_arxiv", "normalize_doi", "normalize_github", "normalize_grandchallenge",
    "normalize_hf", "normalize_identifier", "normalize_kaggle", "normalize_link", "normalize_pmid",
    "normalize_url", "normalize_zenodo", "parse_arxiv", "weight_links",
]

DOI_HOSTS = frozenset({"doi.org", "dx.doi.org", "www.doi.org"})
ARXIV_HOSTS = frozenset({"arxiv.org", "www.arxiv.org", "export.arxiv.org"})
GITHUB_HOSTS = frozenset({"github.com", "www.github.com"})
HF_HOSTS = frozenset({"huggingface.co", "www.huggingface.co", "hf.co"})
KAGGLE_HOSTS = frozenset({"kaggle.com", "www.kaggle.com"})
ZENODO_HOSTS = frozenset({"zenodo.org", "www.zenodo.org"})
GRAND_CHALLENGE = ".grand-challenge.org"
# Subdomains of grand-challenge.org that are the platform's own sites, not challenges.
GRAND_CHALLENGE_SITES = frozenset({"www", "support", "docs", "public", "api"})
PUBMED_HOSTS = frozenset({"pubmed.ncbi.nlm.nih.gov", "www.ncbi.nlm.nih.gov", "ncbi.nlm.nih.gov"})

# First path segments of github.com that are pages of GitHub itself, not an owner.
GITHUB_NOT_OWNERS = frozenset({
    "about", "account", "apps", "codespaces", "collections", "contact", "customer-stories",
    "dashboard", "enterprise", "events", "explore", "features", "issues", "join", "login",
    "logout", "marketplace", "new", "notifications", "organizations", "orgs", "pricing",
    "pulls", "readme", "search", "security", "sessions", "settings", "signup", "site",
    "solutions", "sponsors", "team", "topics", "trending", "user-attachments", "users",
})
# First path segments of huggingface.co that are pages of the Hub, not a model's owner.
HF_NOT_OWNERS = frozenset({
    "api", "blog", "changelog", "chat", "collections", "docs", "enterprise", "join", "learn",
    "login", "models", "new", "new-dataset", "new-space", "notifications", "organizations",
    "papers", "posts", "pricing", "privacy", "search", "settings", "tasks", "terms-of-service",
})
HF_KINDS = {"models": "models", "model": "models", "datasets": "datasets",
            "dataset": "datasets", "spaces": "spaces", "space": "spaces"}
# Query parameters that only say where a click came from.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid",
    "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "ref_src", "ref_url", "_ga", "_gl",
})
DEFAULT_PORTS = {"http": 80, "https": 443}
WEIGHT_FILE = re.compile(
    r"\.(?:pth|pt|pth\.tar|ckpt|safetensors|bin|h5|hdf5|keras|onnx|tflite|pb|gguf)$", re.I)

_NAME = re.compile(r"[A-Za-z0-9_.-]+")               # a repository, dataset or slug name
_GITHUB_OWNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_GITHUB_SSH = re.compile(r"(?:ssh://)?git@github\.com[:/](.+)", re.I)
_DOI_SHAPE = re.compile(r"10\.[0-9]{4,9}(?:\.[0-9]+)*/\S+")
_ARXIV_DOI = "10.48550/arxiv."
_ARXIV_SHAPE = re.compile(r"(?P<id>(?P<yymm>[0-9]{4})\.(?P<num>[0-9]{4,5})"
                          r"|[a-z-]+/(?P<old>[0-9]{7}))(?:v(?P<version>[0-9]+))?")
_PREFIX = re.compile(r"(?P<scheme>[a-z]+):\s*", re.I)
_PMID = re.compile(r"0*([1-9][0-9]{0,9})")
_ZENODO_RECID = re.compile(r"0*([1-9][0-9]*)")
_CHALLENGE_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")   # one DNS label
_TRAILING = ".,;:!?*~'\"`"  # not "_": names may end with it
# A DOI inside a publisher's URL ends before these (…/10.3389/fmed.2021.1/full).
_DOI_URL_TAIL = re.compile(r"(?:\.(?:svg|pdf|png)|/(?:full|abstract|pdf|epdf|html|figures|"
                           r"tables|references|metrics)(?:/.*)?)$", re.I)
_RELEASES = re.compile(r"/[^/]+/[^/]+/releases(?:/|$)")   # a GitHub repository's releases
_DOI_IN_PATH = re.compile(r"(?<![0-9.])10\.[0-9]{4,9}(?:\.[0-9]+)*/\S+")

_URL_CHARS = r"[^\s<>\"'\[\]{}|\\^`]+"
_TOKENS = re.compile(
    rf"(?P<url>\bhttps?://{_URL_CHARS})"
    r"|(?P<host>(?<![\w.@/-])(?:(?:www|dx|export)\.)?(?:github\.com|huggingface\.co|hf\.co|"
    rf"kaggle\.com|zenodo\.org|arxiv\.org|doi\.org|pubmed\.ncbi\.nlm\.nih\.gov)/{_URL_CHARS})"
    r"|(?P<arxiv>\barxiv:\s*(?:[0-9]{4}\.[0-9]{4,5}|[a-z-]+(?:\.[a-z]{2})?/[0-9]{7})"
    r"(?:v[0-9]+)?(?!\w))"
    r"|(?P<doi>(?:\bdoi:\s*|(?<![\w/.-]))10\.[0-9]{4,9}(?:\.[0-9]+)*/[^\s<>\"'\[\]{}|,;]+)"
    r"|(?P<pmid>\bpmid:?\s*[0-9]{1,10}(?![\w./]))",
    re.I)


class ArxivId(NamedTuple):
    """An arXiv identifier split from its version: ("2301.00001", 2) for 2301.00001v2."""

    id: str
    version: int | None


# --- DOI -----------------------------------------------------------------------------------

def bare_doi(value: object) -> str | None:
    """The bare lower-case DOI ("10.1234/abc") of a DOI, "doi:" string or doi.org URL.

    A trailing sentence punctuation or unbalanced bracket is dropped; anything that is not a
    whole DOI (a publisher's page, text around it) gives None.
    """
    text = _text(value)
    parts = _split(text, DOI_HOSTS)
    if parts is not None:
        if parts.hostname not in DOI_HOSTS:
            return None
        text = unquote(parts.path).lstrip("/")
    idutils = _idutils()
    if not idutils.is_doi(text):
        return None
    doi = _trim(idutils.normalize_doi(text).lower())
    return doi if _DOI_SHAPE.fullmatch(doi) else None


def normalize_doi(value: object) -> str | None:
    """"doi:10.1234/abc" for any DOI form (bare, "doi:", doi.org / dx.doi.org URL), else None.

    An arXiv DOI (10.48550/arXiv.X) stays a DOI here; `normalize_arxiv` reads it as arXiv.
    """
    doi = bare_doi(value)
    return f"doi:{doi}" if doi else None


# --- arXiv ---------------------------------------------------------------------------------

def parse_arxiv(value: object) -> ArxivId | None:
    """The arXiv id and version of an id ("2301.00001v2", "hep-th/9901001", "arXiv:…"),
    an arxiv.org abs/pdf/html URL, a huggingface.co/papers URL or an arXiv DOI; else None."""
    text = _text(value)
    doi = bare_doi(text)
    if doi is not None:
        if not doi.startswith(_ARXIV_DOI):
            return None
        text = doi[len(_ARXIV_DOI):]
    elif (parts := _split(text, ARXIV_HOSTS | HF_HOSTS)) is not None:
        segs = _segments(parts.path)
        if parts.hostname in ARXIV_HOSTS and len(segs) >= 2 and segs[0] in ("abs", "pdf",
                                                                           "html"):
            text = "/".join(segs[1:]).removesuffix(".pdf")
        elif parts.hostname in HF_HOSTS and len(segs) == 2 and segs[0] == "papers":
            text = segs[1]
        else:
            return None
    elif (prefix := _PREFIX.match(text)) and prefix["scheme"].lower() == "arxiv":
        text = text[prefix.end():]
    idutils = _idutils()
    if not idutils.is_arxiv(text):
        return None
    match = _ARXIV_SHAPE.fullmatch(idutils.normalize_arxiv(text).removeprefix("arXiv:").lower())
    if match is None or not _valid_arxiv(match):
        return None
    return ArxivId(match["id"], int(match["version"]) if match["version"] else None)


def normalize_arxiv(value: object) -> str | None:
    """"arxiv:<id>" without version for anything `parse_arxiv` reads, else None."""
    parsed = parse_arxiv(value)
    return f"arxiv:{parsed.id}" if parsed else None


def _valid_arxiv(match: re.Match[str]) -> bool:
    """YYMM a real month; new-style numbers have 4 digits until 1412 and 5 from 1501."""
    if match["old"]:
        return "01" <= match["old"][2:4] <= "12"
    yymm = match["yymm"]
    return "01" <= yymm[2:] <= "12" and yymm >= "0704" and \
        len(match["num"]) == (5 if yymm >= "1501" else 4)


# --- code and model hubs -------------------------------------------------------------------

def normalize_github(value: object) -> str | None:
    """"github:owner/repo" for a repository URL (any page in it; .git, query and fragment
    dropped), a git@github.com remote or a "github:" string; None for GitHub's own pages."""
    text, page = _text(value), True  # page: a URL, where GitHub's own pages can be met
    if (prefix := _PREFIX.match(text)) and prefix["scheme"].lower() == "github":
        segs, page = text[prefix.end():].split("/"), False
        if len(segs) != 2:
            return None
    elif ssh := _GITHUB_SSH.fullmatch(text):
        segs = _segments(ssh[1])
    else:
        parts = _split(text.removeprefix("git+"), GITHUB_HOSTS, ("http", "https", "git"))
        if parts is None or parts.hostname not in GITHUB_HOSTS:
            return None
        segs = _segments(parts.path)
    if len(segs) < 2:
        return None
    owner, repo = segs[0], segs[1].split("@", 1)[0]  # git+https://…/repo.git@v1.0
    while repo.lower().endswith(".git"):
        repo = repo[:-4]
    if not _GITHUB_OWNER.fullmatch(owner) or not _is_name(repo) or \
            (page and owner.lower() in GITHUB_NOT_OWNERS):
        return None
    return f"github:{owner.lower()}/{repo.lower()}"


def hf_id(kind: str, repo_id: object) -> str | None:
    """"hf:<kind>/<id>" for a Hub repository id ("owner/name", or a legacy "name") of kind
    models, datasets or spaces; None when the id is not a repository id."""
    plural = HF_KINDS.get(str(kind).strip().lower())
    segs = _text(repo_id).split("/")
    if plural is None or len(segs) > 2 or not all(map(_is_name, segs)):
        return None
    return f"hf:{plural}/{'/'.join(segs).lower()}"


def normalize_hf(value: object) -> str | None:
    """"hf:models/…", "hf:datasets/…" or "hf:spaces/…" for a huggingface.co (or hf.co) URL
    or an "hf:" string. huggingface.co/<owner>/<name> is a model; Hub pages give None."""
    text = _text(value)
    if (prefix := _PREFIX.match(text)) and prefix["scheme"].lower() == "hf":
        kind, _, repo_id = text[prefix.end():].partition("/")
        return hf_id(kind, repo_id)
    parts = _split(text, HF_HOSTS)
    if parts is None or parts.hostname not in HF_HOSTS:
        return None
    segs = _segments(parts.path)
    if segs and segs[0].lower() in ("datasets", "spaces"):
        kind, segs = segs[0].lower(), segs[1:]
        if kind == "datasets" and len(segs) == 1:  # a legacy dataset without an owner
            return hf_id(kind, segs[0])
    elif segs and segs[0].lower() in HF_NOT_OWNERS:
        return None
    else:
        kind = "models"
    return hf_id(kind, "/".join(segs[:2])) if len(segs) >= 2 else None


def normalize_kaggle(value: object) -> str | None:
    """"kaggle:owner/slug" (a dataset) or "kaggle:models/owner/slug" (a model) for a
    kaggle.com/datasets or /models URL or a "kaggle:" string, else None."""
    text = _text(value)
    if (prefix := _PREFIX.match(text)) and prefix["scheme"].lower() == "kaggle":
        segs = text[prefix.end():].split("/")
        model = len(segs) == 3 and segs[0].lower() == "models"
        segs = segs[1:] if model else segs
        if len(segs) != 2:
            return None
    else:
        parts = _split(text, KAGGLE_HOSTS)
        if parts is None or parts.hostname not in KAGGLE_HOSTS:
            return None
        segs = _segments(parts.path)
        if len(segs) < 3 or segs[0].lower() not in ("datasets", "models"):
            return None
        model, segs = segs[0].lower() == "models", segs[1:3]
    if not all(map(_is_name, segs)):
        return None
    return f"kaggle:{'models/' if model else ''}{segs[0].lower()}/{segs[1].lower()}"


def normalize_zenodo(value: object) -> str | None:
    """"zenodo:<recid>" for zenodo.org/record(s)/N (also /api/records/N) or "zenodo:N".

    A Zenodo DOI (10.5281/zenodo.N) is a DOI, not a record: it gives None here.
    """
    text = _text(value)
    if (prefix := _PREFIX.match(text)) and prefix["scheme"].lower() == "zenodo":
        recid = text[prefix.end():]
    else:
        parts = _split(text, ZENODO_HOSTS)
        if parts is None or parts.hostname not in ZENODO_HOSTS:
            return None
        segs = _segments(parts.path)
        segs = segs[1:] if segs[:1] == ["api"] else segs
        if len(segs) < 2 or segs[0] not in ("record", "records"):
            return None
        recid = segs[1]
    match = _ZENODO_RECID.fullmatch(recid)
    return f"zenodo:{match[1]}" if match else None


def normalize_grandchallenge(value: object) -> str | None:
    """"grandchallenge:<slug>" for any page of a challenge's site (https://camus.grand-
    challenge.org/Data/) or a "grandchallenge:" string, else None."""
    text = _text(value)
    if (prefix := _PREFIX.match(text)) and prefix["scheme"].lower() == "grandchallenge":
        slug = text[prefix.end():]
    else:
        parts = _split(text, frozenset())
        host = (parts.hostname or "") if parts is not None else ""
        if not host.endswith(GRAND_CHALLENGE):
            return None
        slug = host[:-len(GRAND_CHALLENGE)]
    slug = slug.strip().lower()
    if not _CHALLENGE_SLUG.fullmatch(slug) or slug in GRAND_CHALLENGE_SITES:
        return None
    return f"grandchallenge:{slug}"


def normalize_pmid(value: object) -> str | None:
    """"pmid:N" for a PubMed id (digits, "PMID: N") or a PubMed URL, else None."""
    text = _text(value)
    parts = _split(text, PUBMED_HOSTS)
    if parts is not None:
        segs = _segments(parts.path)
        if parts.hostname == "pubmed.ncbi.nlm.nih.gov" and len(segs) == 1:
            text = segs[0]
        elif parts.hostname in PUBMED_HOSTS and len(segs) == 2 and segs[0] == "pubmed":
            text = segs[1]
        else:
            return None
    elif (prefix := _PREFIX.match(text)) and prefix["scheme"].lower() == "pmid":
        text = f"pmid:{text[prefix.end():]}"
    idutils = _idutils()
    if not idutils.is_pmid(text):
        return None
    match = _PMID.fullmatch(idutils.normalize_pmid(text))
    return f"pmid:{match[1]}" if match else None


# --- dispatch, URLs ------------------------------------------------------------------------

def normalize_identifier(value: object, scheme: str | None = None) -> str | None:
    """The canonical identifier a value names, of any kind above, or None.

    `scheme` is a declared scheme such as DataCite's ("doi", "arxiv", "pmid", "url"): it lets
    bare digits count as a PMID. An arXiv DOI gives its "arxiv:" form. A plain URL gives None
    (see `normalize_link`).
    """
    declared = (scheme or "").strip().lower()
    if declared == "arxiv":
        return normalize_arxiv(value)
    if declared == "pmid":
        return normalize_pmid(value)
    doi = normalize_doi(value)
    if doi is not None:
        return normalize_arxiv(doi) or doi
    if declared == "doi":
        return None
    text = _text(value)
    for normalise in (normalize_arxiv, normalize_github, normalize_hf, normalize_kaggle,
                      normalize_zenodo, normalize_grandchallenge):
        if found := normalise(text):
            return found
    prefix = _PREFIX.match(text)
    if (prefix and prefix["scheme"].lower() == "pmid") or _split(text, PUBMED_HOSTS):
        return normalize_pmid(text)
    return None


def normalize_link(value: object) -> str | None:
    """The canonical identifier of a value if it names one, else its normalised URL, else None."""
    return normalize_identifier(value) or normalize_url(value)


def normalize_url(value: object) -> str | None:
    """An http(s) URL with scheme and host in lower case and without default port, user info,
    fragment, tracking parameters (utm_*, fbclid, gclid, ref_src…) or trailing slash.

    The path, the remaining query parameters and their order are kept as written.
    """
    text = _text(value)
    if not text or any(c.isspace() for c in text):
        return None
    parts = _split(text, frozenset())
    if parts is None or not parts.hostname:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    port = parts.port  # validated by _split
    host = f"[{host}]" if ":" in host else host
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = "&".join(p for p in parts.query.split("&")
                     if p and not _is_tracking(p.partition("=")[0]))
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), query, ""))


def is_url(value: str) -> bool:
    """Whether a string from these functions is a URL rather than a canonical identifier."""
    return value.startswith(("http://", "https://"))


# --- text ----------------------------------------------------------------------------------

def extract_identifiers(text: object) -> list[str]:
    """Every identifier and link in free text, Markdown or HTML, deduplicated, in order of first
    appearance: canonical identifiers where a link or mention names one (a DOI inside a
    publisher's URL or a Zenodo badge too), other links as normalised URLs."""
    found: list[str | None] = []
    for kind, token in _tokens(text):
        if kind == "url":
            ident = normalize_identifier(token)
            found += [ident] if ident else [_doi_in_url(token), normalize_url(token)]
        elif kind == "doi":
            found.append(normalize_identifier(token, "doi"))
        elif kind == "arxiv":
            found.append(normalize_arxiv(token))
        else:
            found.append(normalize_pmid(token))
    return list(dict.fromkeys(f for f in found if f))


def weight_links(text: object) -> list[str]:
    """Links in a text that point at model weights, as normalised URLs: weight files (.pth,
    .pt, .ckpt, .safetensors, .h5, .onnx, .bin…), GitHub releases, Google Drive files and
    Hugging Face model repositories."""
    links = (normalize_url(token) for kind, token in _tokens(text) if kind == "url")
    return list(dict.fromkeys(u for u in links if u and _is_weight_url(u)))


def is_weight_file(name: str) -> bool:
    """Whether a file name or URL path has a model-weight extension (.pth, .safetensors…)."""
    return bool(WEIGHT_FILE.search(name))


def _tokens(text: object) -> Iterator[tuple[str, str]]:
    """(kind, token) of each link or mention in order: url (scheme added), doi, arxiv, pmid."""
    for match in _TOKENS.finditer(unescape("" if text is None else str(text))):
        kind, token = match.lastgroup or "", _trim(match.group())
        if kind == "host":
            kind, token = "url", f"https://{token}"
        yield kind, token


def _doi_in_url(url: str) -> str | None:
    parts = _split(url, frozenset())
    match = _DOI_IN_PATH.search(unquote(parts.path)) if parts else None
    if match is None:
        return None
    return normalize_identifier(_DOI_URL_TAIL.sub("", match.group()), "doi")


def _is_weight_url(url: str) -> bool:
    parts = urlsplit(url)
    host, path = parts.hostname or "", parts.path
    return (is_weight_file(path) or host == "drive.google.com"
            or (host == "docs.google.com" and path.startswith("/uc"))
            or (host in GITHUB_HOSTS and _RELEASES.match(path) is not None)
            or (normalize_hf(url) or "").startswith("hf:models/"))


# --- helpers -------------------------------------------------------------------------------

@cache
def _idutils() -> ModuleType:
    """idutils, imported on first use: its import compiles RFC 3987 regexes (about 0.5 s),
    which every `sonoharvest` command would otherwise pay at start-up."""
    import idutils

    return idutils


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _trim(text: str) -> str:
    """Drop what ends a sentence or markup after a link: punctuation, unbalanced ) or ]."""
    end, opened, closed = len(text), text.count("(") - text.count(")"), \
        text.count("[") - text.count("]")
    while end:
        last = text[end - 1]
        if last == ")" and opened < 0:
            opened += 1
        elif last == "]" and closed < 0:
            closed += 1
        elif last not in _TRAILING:
            break
        end -= 1
    return text[:end]


def _split(text: str, hosts: frozenset[str],
           schemes: tuple[str, ...] = ("http", "https")) -> SplitResult | None:
    """The parts of a URL with one of `schemes`, or of "host/path" when host is in `hosts`."""
    if "://" not in text:
        if text.split("/", 1)[0].lower() not in hosts:
            return None
        text = f"https://{text}"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return None
    return parts if parts.scheme.lower() in schemes else None


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def _is_name(segment: str) -> bool:
    return bool(_NAME.fullmatch(segment)) and segment not in (".", "..")


def _is_tracking(key: str) -> bool:
    key = key.lower()
    return key.startswith("utm_") or key in TRACKING_PARAMS
