"""Identifier normalisation and link extraction: examples, then properties (hypothesis)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sonoharvest.identifiers import (
    GITHUB_NOT_OWNERS,
    HF_NOT_OWNERS,
    ArxivId,
    bare_doi,
    extract_identifiers,
    hf_id,
    is_weight_file,
    normalize_arxiv,
    normalize_grandchallenge,
    normalize_doi,
    normalize_github,
    normalize_hf,
    normalize_identifier,
    normalize_kaggle,
    normalize_link,
    normalize_pmid,
    normalize_url,
    normalize_zenodo,
    parse_arxiv,
    weight_links,
)

NORMALISERS: list[Callable[[object], str | None]] = [
    normalize_doi, bare_doi, normalize_arxiv, normalize_github, normalize_hf, normalize_kaggle,
    normalize_zenodo, normalize_pmid, normalize_url, normalize_identifier, normalize_link,
    normalize_grandchallenge,
]


# --- examples --------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("10.1038/S41586-020-2145-8", "doi:10.1038/s41586-020-2145-8"),
    ("https://doi.org/10.5281/ZENODO.3904280.", "doi:10.5281/zenodo.3904280"),
    ("http://dx.doi.org/10.1109/TMI.2019.2900516", "doi:10.1109/tmi.2019.2900516"),
    ("https://www.doi.org/10.1002/mp.16812?download=1#x", "doi:10.1002/mp.16812"),
    ("doi.org/10.1002/mp.16812", "doi:10.1002/mp.16812"),
    ("DOI: 10.1002/MP.16812)", "doi:10.1002/mp.16812"),
    ("doi:10.1016/S0140-6736(20)30183-5", "doi:10.1016/s0140-6736(20)30183-5"),
    ("https://doi.org/10.1002%2F%28SICI%291", "doi:10.1002/(sici)1"),
    ("10.48550/arXiv.2301.00001", "doi:10.48550/arxiv.2301.00001"),
    ("10.5281/zenodo.7654321", "doi:10.5281/zenodo.7654321"),
    ("https://example.org/10.1234/x", None),
    ("10.12/abc", None),
    ("", None),
    (None, None),
])
def test_normalize_doi(value, expected):
    assert normalize_doi(value) == expected
    assert bare_doi(value) == (expected.removeprefix("doi:") if expected else None)


@pytest.mark.parametrize(("value", "expected"), [
    ("2301.00001", ArxivId("2301.00001", None)),
    ("2301.00001v2", ArxivId("2301.00001", 2)),
    ("arXiv:2103.10003", ArxivId("2103.10003", None)),
    ("arxiv: 2301.00001", ArxivId("2301.00001", None)),
    ("0704.0001", ArxivId("0704.0001", None)),
    ("hep-th/9901001v2", ArxivId("hep-th/9901001", 2)),
    ("math.GT/0309136", ArxivId("math/0309136", None)),  # subject class folded by idutils
    ("https://arxiv.org/abs/2301.01234v2", ArxivId("2301.01234", 2)),
    ("https://arxiv.org/pdf/2004.12084v3.pdf", ArxivId("2004.12084", 3)),
    ("arxiv.org/pdf/hep-th/9901001v2", ArxivId("hep-th/9901001", 2)),
    ("https://export.arxiv.org/abs/2301.00001?context=cs", ArxivId("2301.00001", None)),
    ("https://huggingface.co/papers/2302.05555", ArxivId("2302.05555", None)),
    ("10.48550/arXiv.2004.12084", ArxivId("2004.12084", None)),
    ("https://doi.org/10.48550/ARXIV.2004.12084", ArxivId("2004.12084", None)),
    ("10.1016/j.dib.2019.104863", None),
    ("2313.00001", None),     # no 13th month
    ("2301.0001", None),      # five digits since 2015
    ("1412.12345", None),     # four digits before
    ("owner/1234567x", None),
    ("https://arxiv.org/list/cs.CV/recent", None),
])
def test_parse_arxiv(value, expected):
    assert parse_arxiv(value) == expected
    assert normalize_arxiv(value) == (f"arxiv:{expected.id}" if expected else None)


@pytest.mark.parametrize(("value", "expected"), [
    ("https://github.com/Echonet/Dynamic.git", "github:echonet/dynamic"),
    ("github.com/a/b/tree/main/src", "github:a/b"),
    ("https://www.github.com/Org/Repo/blob/main/README.md?plain=1#L3", "github:org/repo"),
    ("https://github.com/EchoNet/Dynamic/tree/v1.0.0", "github:echonet/dynamic"),
    ("git@github.com:Owner/Repo.git", "github:owner/repo"),
    ("git+https://github.com/o/r.git@v1.0", "github:o/r"),
    ("github:Owner/Repo", "github:owner/repo"),
    ("https://github.com/us-lab/echo-seg/releases/download/v1/echoseg.ckpt",
     "github:us-lab/echo-seg"),
    ("https://gitlab.com/a/b", None),
    ("https://echonet.github.io/dynamic/", None),
    ("https://github.com/owner", None),
    *[(f"https://github.com/{page}/x", None)
      for page in ("orgs", "features", "topics", "sponsors", "apps", "marketplace", "settings",
                   "login", "collections", "user-attachments")],
])
def test_normalize_github(value, expected):
    assert normalize_github(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("https://huggingface.co/datasets/us-lab/Camus-Frames", "hf:datasets/us-lab/camus-frames"),
    ("https://huggingface.co/us-lab/echoseg-base", "hf:models/us-lab/echoseg-base"),
    ("https://huggingface.co/org/model/resolve/main/model.safetensors", "hf:models/org/model"),
    ("https://huggingface.co/spaces/org/demo", "hf:spaces/org/demo"),
    ("hf.co/datasets/squad", "hf:datasets/squad"),
    ("hf:datasets/bookcorpus", "hf:datasets/bookcorpus"),
    ("https://huggingface.co/docs/hub/index", None),
    ("https://huggingface.co/papers/2302.05555", None),
    ("https://huggingface.co/blog/post", None),
    ("https://huggingface.co/org", None),
])
def test_normalize_hf(value, expected):
    assert normalize_hf(value) == expected


def test_hf_id_builds_from_hub_ids():
    assert hf_id("models", "Google-BERT/bert-base-uncased") == \
        "hf:models/google-bert/bert-base-uncased"
    assert hf_id("dataset", "bookcorpus") == "hf:datasets/bookcorpus"
    assert hf_id("datasets", "a custom dataset") is None
    assert hf_id("kernels", "a/b") is None


@pytest.mark.parametrize(("value", "expected"), [
    ("https://www.kaggle.com/datasets/Foo/Echo-Set", "kaggle:foo/echo-set"),
    ("https://www.kaggle.com/datasets/a/b/data?select=x.csv", "kaggle:a/b"),
    ("https://www.kaggle.com/models/google/gemma/pyTorch/2b/1", "kaggle:models/google/gemma"),
    ("kaggle:models/Google/Gemma", "kaggle:models/google/gemma"),
    ("kaggle:aryashah2k/breast-ultrasound-images-dataset",
     "kaggle:aryashah2k/breast-ultrasound-images-dataset"),
    ("https://www.kaggle.com/code/a/b", None),
    ("https://www.kaggle.com/datasets", None),
])
def test_normalize_kaggle(value, expected):
    assert normalize_kaggle(value) == expected


@pytest.mark.parametrize(("normalise", "value", "expected"), [
    (normalize_zenodo, "https://zenodo.org/records/1327317", "zenodo:1327317"),
    (normalize_zenodo, "https://zenodo.org/record/7089850#.Y2", "zenodo:7089850"),
    (normalize_zenodo, "https://zenodo.org/api/records/12/files/a.zip", "zenodo:12"),
    (normalize_zenodo, "zenodo:7089850", "zenodo:7089850"),
    (normalize_zenodo, "10.5281/zenodo.7654321", None),  # a DOI stays a DOI
    (normalize_zenodo, "https://sandbox.zenodo.org/records/1", None),
    (normalize_pmid, "31234567", "pmid:31234567"),
    (normalize_pmid, "PMID: 31234567", "pmid:31234567"),
    (normalize_pmid, "https://pubmed.ncbi.nlm.nih.gov/31234567/", "pmid:31234567"),
    (normalize_pmid, "https://www.ncbi.nlm.nih.gov/pubmed/31234567", "pmid:31234567"),
    (normalize_pmid, "0", None),
    (normalize_grandchallenge, "https://CAMUS.grand-challenge.org/Data/", "grandchallenge:camus"),
    (normalize_grandchallenge, "http://hc18.grand-challenge.org", "grandchallenge:hc18"),
    (normalize_grandchallenge, "grandchallenge: TUS-REC2024", "grandchallenge:tus-rec2024"),
    (normalize_grandchallenge, "https://grand-challenge.org/challenges/", None),
    (normalize_grandchallenge, "https://www.grand-challenge.org/", None),
    (normalize_grandchallenge, "https://a.b.grand-challenge.org/", None),
    (normalize_grandchallenge, "https://camus.grand-challenge.org.evil.com/", None),
])
def test_normalize_zenodo_and_pmid(normalise, value, expected):
    assert normalise(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("HTTPS://Example.ORG:443/Path/?utm_source=x&q=1&fbclid=2&gclid=3#frag",
     "https://example.org/Path?q=1"),
    ("http://example.org:80/", "http://example.org"),
    ("http://example.org:8080/a/", "http://example.org:8080/a"),
    ("https://user:secret@example.org/a", "https://example.org/a"),
    ("https://x.org/a?ref_src=twsrc&UTM_Medium=m&a=&b", "https://x.org/a?a=&b"),
    ("http://[::1]:80/a", "http://[::1]/a"),
    ("https://echonet.github.io/dynamic/", "https://echonet.github.io/dynamic"),
    ("ftp://example.org/a", None),
    ("example.org/a", None),
    ("https://x.org:port/", None),
    ("https://x.org/a b", None),
])
def test_normalize_url(value, expected):
    assert normalize_url(value) == expected


@pytest.mark.parametrize(("value", "scheme", "expected"), [
    ("10.48550/arXiv.2004.12084", "doi", "arxiv:2004.12084"),
    ("https://doi.org/10.1038/S41586-020-2145-8", "doi", "doi:10.1038/s41586-020-2145-8"),
    ("https://github.com/a/b", "doi", None),
    ("31234567", "pmid", "pmid:31234567"),
    ("31234567", "url", None),  # bare digits are a PMID only when declared so
    ("arXiv:2301.00001", "arxiv", "arxiv:2301.00001"),
    ("https://huggingface.co/datasets/Org/BUSI", "url", "hf:datasets/org/busi"),
    ("https://zenodo.org/records/1", None, "zenodo:1"),
    ("https://example.org/us", None, None),
])
def test_normalize_identifier(value, scheme, expected):
    assert normalize_identifier(value, scheme) == expected


def test_normalize_link_falls_back_to_the_url():
    assert normalize_link("https://github.com/A/B/") == "github:a/b"
    assert normalize_link("https://Example.org/us/?utm_campaign=x") == "https://example.org/us"
    assert normalize_link("not a link") is None


def test_extract_identifiers_from_markdown():
    readme = """[![DOI](https://zenodo.org/badge/DOI/10.5281/zenodo.7654321.svg)](https://doi.org/10.5281/zenodo.7654321)

Trained on CAMUS (doi:10.1109/TMI.2019.2900516). Paper: https://arxiv.org/abs/2301.01234v2 and
[HF paper page](https://huggingface.co/papers/2302.05555), arXiv:2103.10003. Data on
https://huggingface.co/datasets/us-lab/camus-frames and
https://www.kaggle.com/datasets/Foo/Echo-Set .
Code: github.com/echonet/dynamic. **https://github.com/us-lab/echo-seg/issues**, PMID: 31234567,
Lancet: https://doi.org/10.1016/S0140-6736(20)30183-5 and 10.1002/mp.16812; see
https://onlinelibrary.wiley.com/doi/full/10.1002/MP.17000?utm_source=x and
[drive](https://drive.google.com/file/d/abc/view). Again https://github.com/echonet/dynamic.git
"""
    assert extract_identifiers(readme) == [
        "doi:10.5281/zenodo.7654321", "https://zenodo.org/badge/DOI/10.5281/zenodo.7654321.svg",
        "doi:10.1109/tmi.2019.2900516", "arxiv:2301.01234", "arxiv:2302.05555",
        "arxiv:2103.10003", "hf:datasets/us-lab/camus-frames", "kaggle:foo/echo-set",
        "github:echonet/dynamic", "github:us-lab/echo-seg", "pmid:31234567",
        "doi:10.1016/s0140-6736(20)30183-5", "doi:10.1002/mp.16812", "doi:10.1002/mp.17000",
        "https://onlinelibrary.wiley.com/doi/full/10.1002/MP.17000",
        "https://drive.google.com/file/d/abc/view",
    ]


def test_extract_identifiers_from_html():
    html = ('<p>Code: <a href="https://github.com/Org/Repo.git">repo</a>, see arXiv: 2301.00001, '
            "doi:10.1002/MP.16812 and https://huggingface.co/org/us-model. Project page: "
            "https://example.org/us.</p><a href='https://x.org/?a=1&amp;b=2'>x</a>")
    assert extract_identifiers(html) == [
        "github:org/repo", "arxiv:2301.00001", "doi:10.1002/mp.16812", "hf:models/org/us-model",
        "https://example.org/us", "https://x.org?a=1&b=2"]
    assert extract_identifiers("") == [] and extract_identifiers(None) == []


def test_weight_links():
    text = """Weights: https://github.com/us-lab/echo-seg/releases/download/v1/echoseg.ckpt ,
https://huggingface.co/us-lab/echoseg-base, [drive](https://drive.google.com/file/d/abc/view),
https://example.org/files/unet.pth?dl=1 and https://docs.google.com/uc?id=1&export=download.
Not weights: https://huggingface.co/datasets/a/b, https://www.ua.pt, https://github.com/a/b."""
    assert weight_links(text) == [
        "https://github.com/us-lab/echo-seg/releases/download/v1/echoseg.ckpt",
        "https://huggingface.co/us-lab/echoseg-base", "https://drive.google.com/file/d/abc/view",
        "https://example.org/files/unet.pth?dl=1", "https://docs.google.com/uc?id=1&export=download"]
    assert is_weight_file("model_final.PTH") and is_weight_file("model.safetensors")
    assert not is_weight_file("data.csv")


# --- properties ------------------------------------------------------------------------------

OWNERS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,15}", fullmatch=True).filter(
    lambda o: o.lower() not in GITHUB_NOT_OWNERS)
REPOS = st.from_regex(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,18}[A-Za-z0-9]", fullmatch=True).filter(
    lambda r: not r.lower().endswith(".git"))
NAMES = st.from_regex(r"[a-z0-9][a-z0-9-]{0,15}[a-z0-9]", fullmatch=True)
DOIS = st.builds(lambda reg, suffix: f"10.{reg}/{suffix}",
                 st.from_regex(r"[0-9]{4,9}", fullmatch=True),
                 st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,20}[A-Za-z0-9]", fullmatch=True))
ARXIV_IDS = st.one_of(
    st.builds(lambda yy, mm, n: f"{yy:02d}{mm:02d}.{n:05d}", st.integers(15, 29),
              st.integers(1, 12), st.integers(1, 99999)),
    st.builds(lambda a, yy, mm, n: f"{a}/{yy:02d}{mm:02d}{n:03d}",
              st.sampled_from(["hep-th", "astro-ph", "cond-mat", "math", "cs"]),
              st.integers(91, 99), st.integers(1, 12), st.integers(1, 999)))
TRACKING = st.sampled_from(["utm_source=news", "utm_medium=email&utm_campaign=x", "fbclid=abc",
                            "gclid=1", "ref_src=twsrc%5Etfw"])


def _case(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if f else c.lower() for c, f in zip(text, flips, strict=True))


@st.composite
def github_variants(draw: st.DrawFn) -> tuple[str, str]:
    owner, repo = draw(OWNERS), draw(REPOS)
    host = _case(draw, draw(st.sampled_from(["github.com", "www.github.com"])))
    scheme = draw(st.sampled_from(["https://", "http://", "HTTPS://", ""]))
    path = f"{_case(draw, owner)}/{_case(draw, repo)}"
    path += draw(st.sampled_from(["", ".git", ".GIT", "/", ".git/", "/tree/main/src",
                                  "/blob/main/README.md", "/issues/1", "/releases"]))
    if draw(st.booleans()):
        path += "?" + draw(TRACKING)
    if draw(st.booleans()):
        path += "#readme"
    return f"{scheme}{host}/{path}", f"github:{owner.lower()}/{repo.lower()}"


@st.composite
def doi_variants(draw: st.DrawFn) -> tuple[str, str]:
    doi = draw(DOIS)
    form = draw(st.sampled_from(["{}", "doi:{}", "DOI: {}", "https://doi.org/{}",
                                 "http://dx.doi.org/{}", "https://www.doi.org/{}", "doi.org/{}",
                                 "HTTPS://DOI.ORG/{}"]))
    written = _case(draw, doi) + draw(st.sampled_from(["", ".", ",", ")", ";"]))
    if "doi.org" in form.lower() and draw(st.booleans()):
        written = quote(written, safe="")
    return form.format(written), f"doi:{doi.lower()}"


@st.composite
def embedded(draw: st.DrawFn) -> tuple[str, str]:
    """(an identifier as written in text, its canonical form)."""
    owner, name, repo = draw(OWNERS), draw(NAMES), draw(REPOS)
    hf_owner = draw(OWNERS.filter(lambda o: o.lower() not in {*HF_NOT_OWNERS, "datasets",
                                                                "spaces"}))
    arxiv, doi, recid = draw(ARXIV_IDS), draw(DOIS), draw(st.integers(1, 10**9))
    return draw(st.sampled_from([
        (f"https://github.com/{owner}/{repo}", f"github:{owner.lower()}/{repo.lower()}"),
        (f"github.com/{owner}/{repo}/", f"github:{owner.lower()}/{repo.lower()}"),
        (f"doi:{doi}", f"doi:{doi.lower()}"),
        (doi, f"doi:{doi.lower()}"),
        (f"https://doi.org/{doi}", f"doi:{doi.lower()}"),
        (f"arXiv:{arxiv}", f"arxiv:{arxiv}"),
        (f"https://arxiv.org/abs/{arxiv}v2", f"arxiv:{arxiv}"),
        (f"https://huggingface.co/datasets/{owner}/{name}", f"hf:datasets/{owner.lower()}/{name}"),
        (f"https://huggingface.co/{hf_owner}/{name}", f"hf:models/{hf_owner.lower()}/{name}"),
        (f"https://www.kaggle.com/models/{owner}/{name}/pyTorch",
         f"kaggle:models/{owner.lower()}/{name}"),
        (f"https://kaggle.com/datasets/{owner}/{name}", f"kaggle:{owner.lower()}/{name}"),
        (f"https://zenodo.org/records/{recid}", f"zenodo:{recid}"),
        (f"PMID: {recid}", f"pmid:{recid}"),
    ]))


ANY_TEXT = st.one_of(st.text(), st.from_regex(
    r"(https?://|doi:|arxiv:|github:|hf:|kaggle:|zenodo:|pmid:|grandchallenge:|git@github\.com:)?"
    r"[\w.:/?#@%&=+~()\[\]-]{0,40}", fullmatch=True))
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(value=ANY_TEXT)
def test_normalisers_never_raise_and_are_idempotent(value):
    for normalise in NORMALISERS:
        once = normalise(value)
        assert once is None or isinstance(once, str)
        if once is not None and normalise is not bare_doi:
            assert normalise(once) == once, normalise.__name__
    assert parse_arxiv(value) is None or isinstance(parse_arxiv(value), ArxivId)
    assert hf_id("models", value) is None or hf_id("models", value).startswith("hf:models/")


@FAST
@given(pair=st.one_of(github_variants(), doi_variants(), embedded()))
def test_normalisers_are_idempotent_on_real_forms(pair):
    written, _ = pair
    for normalise in NORMALISERS:
        once = normalise(written)
        if once is not None and normalise is not bare_doi:
            assert normalise(once) == once, normalise.__name__


@FAST
@given(pair=github_variants())
def test_github_url_variants_normalise_to_one_value(pair):
    written, expected = pair
    assert normalize_github(written) == expected
    assert normalize_identifier(written) == expected
    assert extract_identifiers(f"see {written} .") == [expected]


@FAST
@given(pair=doi_variants())
def test_doi_forms_normalise_to_one_value(pair):
    written, expected = pair
    assert normalize_doi(written) == expected
    assert normalize_doi(expected) == expected


@FAST
@given(base=st.sampled_from(["https://example.org/a/b", "http://x.org/", "https://Example.ORG"]),
       tracking=TRACKING, fragment=st.sampled_from(["", "#top"]), slash=st.booleans())
def test_url_variants_normalise_to_one_value(base, tracking, fragment, slash):
    plain = normalize_url(base)
    assert normalize_url(f"{base.rstrip('/')}{'/' if slash else ''}?{tracking}{fragment}") == plain
    assert normalize_url(plain) == plain


@FAST
@given(text=st.text())
def test_extraction_never_raises(text):
    for found in (extract_identifiers(text), weight_links(text)):
        assert isinstance(found, list) and len(found) == len(set(found))
        assert all(isinstance(f, str) and f for f in found)


@FAST
@given(before=st.text(), after=st.text(), pair=embedded())
def test_extraction_finds_an_identifier_in_random_text(before, after, pair):
    written, expected = pair
    found = extract_identifiers(f"{before} {written} {after}")
    assert expected in found
    assert all(normalize_link(f) == f for f in found)  # only canonical values come out
