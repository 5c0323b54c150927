"""Landing pages: extraction (pure), folding into facts (pure), polite fetching (offline)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from sonoharvest.http import VirtualClock
from sonoharvest.landing import LandingConfig, Page, fetch_pages
from sonoharvest.landing_extract import extract
from sonoharvest.landing_facts import apply_landing, without_landing
from sonoharvest.settings import REPO_ROOT

URL = "https://data.example.org/datasets/thyroid-us/1"
PUBLIC = "93.184.215.14"

DATASET_PAGE = """<html><head>
<title>Thyroid US | Example Data</title>
<meta name="citation_title" content="Thyroid ultrasound cine-clips">
<meta name="citation_doi" content="10.1234/thyroid.v1">
<meta name="citation_author" content="Doe, Jane"><meta name="citation_author" content="Roe, R.">
<meta name="DC.rights" content="CC BY-NC 4.0">
<link rel="cite-as" href="https://doi.org/10.1234/thyroid.v1">
<link rel="describedby" href="/datasets/thyroid-us/1/meta.json" type="application/json">
<script type="application/ld+json">
{"@context": "https://schema.org", "@graph": [
  {"@type": "Organization", "name": "Example University"},
  {"@type": "Dataset", "name": "Thyroid ultrasound cine-clips",
   "description": "192 cine-clips from 167 patients with nodule masks.",
   "license": {"@type": "CreativeWork", "url": "https://creativecommons.org/licenses/by/4.0/"},
   "identifier": {"@type": "PropertyValue", "propertyID": "DOI", "value": "10.1234/thyroid.v1"},
   "keywords": "ultrasound, thyroid, segmentation",
   "creator": [{"@type": "Person", "name": "Jane Doe"}],
   "datePublished": "2021-04-01",
   "conditionsOfAccess": "Available upon request after signing a data use agreement.",
   "distribution": [{"@type": "DataDownload", "contentSize": "12 GB"}]}
]}
</script>
<script type="application/ld+json">{"broken": </script>
</head><body>
<p>Cite as <a href="https://doi.org/10.1234/thyroid.v1">doi</a>; see also 10.5555/other.paper.</p>
<a rel="license" href="https://creativecommons.org/licenses/by-nc/4.0/">licence</a>
</body></html>"""


# --- extraction ----------------------------------------------------------------------------

def test_extract_reads_each_source_and_says_where_from():
    got = extract(DATASET_PAGE, URL, '<https://doi.org/10.1234/thyroid.v1>; rel="cite-as", '
                                     '<https://spdx.org/licenses/CC-BY-4.0>; rel="license"')
    fields = got["fields"]
    assert fields["name"] == {"value": "Thyroid ultrasound cine-clips", "via": "json-ld"}
    assert fields["license"] == {"value": "https://creativecommons.org/licenses/by/4.0/",
                                 "via": "json-ld"}
    assert fields["doi"] == {"value": "10.1234/thyroid.v1", "via": "json-ld"}
    assert fields["keywords"]["value"] == ["ultrasound", "thyroid", "segmentation"]
    assert fields["size"]["value"] == "12 GB"
    assert fields["access"]["value"].startswith("Available upon request")
    assert fields["creators"] == {"value": ["Jane Doe"], "via": "json-ld"}
    assert got["signposting"]["cite-as"] == ["https://doi.org/10.1234/thyroid.v1"]
    assert got["signposting"]["license"] == ["https://spdx.org/licenses/CC-BY-4.0"]
    assert got["signposting"]["describedby"] == [
        "https://data.example.org/datasets/thyroid-us/1/meta.json"]
    assert got["licence_links"][0] == "https://creativecommons.org/licenses/by-nc/4.0/"
    assert got["dois"] == ["10.1234/thyroid.v1", "10.5555/other.paper"]
    assert len(got["problems"]) == 1 and "unreadable JSON-LD" in got["problems"][0]


def test_extract_falls_back_to_meta_tags_and_links_without_json_ld():
    page = DATASET_PAGE.split("<script")[0] + "</head><body>" + \
        '<a rel="license" href="https://creativecommons.org/licenses/by-nc/4.0/">l</a></body>'
    fields = extract(page, URL)["fields"]
    assert fields["name"] == {"value": "Thyroid ultrasound cine-clips", "via": "citation meta"}
    assert fields["doi"]["via"] == "signposting"
    assert fields["creators"]["value"] == ["Doe, Jane", "Roe, R."]
    assert fields["license"] == {"value": "CC BY-NC 4.0", "via": "dublin core meta"}


def test_extract_takes_a_lone_doi_mention_but_not_one_of_several():
    one = extract("<html><body>Data: https://doi.org/10.7910/DVN/ABC123.</body></html>", URL)
    assert one["fields"]["doi"] == {"value": "10.7910/dvn/abc123", "via": "doi mention"}
    two = extract("<p>10.1/a and 10.2/b</p>".replace("10.1", "10.1000").replace("10.2",
                                                                               "10.2000"), URL)
    assert "doi" not in two["fields"] and len(two["dois"]) == 2


@pytest.mark.parametrize("html", ["", "<html", "\x00\x01", "<script type='application/ld+json'>"
                                  "[1, \"x\", {\"@type\": 5}]</script>", "<<<>>>"])
def test_extract_never_raises_on_junk(html):
    got = extract(html, URL, "garbage; rel=, <>")
    assert isinstance(got["fields"], dict)


# --- folding into facts --------------------------------------------------------------------

def _facts(**over):
    base = {"name": "Thyroid US", "description": "Cine-clips.", "primary_url": URL,
            "doi": None, "dois": [], "license": None, "license_class": "unknown",
            "access": "unknown", "access_reason": "no access field", "size": {},
            "size_evidence": {}, "keywords": ["ultrasound"]}
    return {**base, **over}


def _page(html=DATASET_PAGE, **over):
    return {"url": URL, "final_url": URL, "status": 200, "ok": True, "robots": "allowed",
            "error": None, "fetched_at": datetime(2026, 11, 1, tzinfo=UTC),
            "extracted": extract(html, URL), **over}


def test_page_fills_only_what_the_apis_left_empty():
    facts = apply_landing(_facts(), _page())
    assert (facts["license"], facts["license_class"]) == ("CC-BY-4.0", "open")
    assert facts["doi"] == "10.1234/thyroid.v1"
    assert facts["access"] == "controlled"          # "data use agreement" is the strictest cue
    assert facts["access_reason"].startswith("landing page (json-ld)")
    assert facts["size"]["patients"] == 167 and "landing page" in facts["size_evidence"]["patients"]
    assert facts["keywords"] == ["ultrasound"]              # the API stated keywords
    assert set(facts["landing"]["filled"]) == {"license", "doi", "access", "size"}
    assert facts["landing"]["filled"]["license"]["via"] == "landing page (json-ld)"
    assert facts["landing"]["conflicts"] == {}


def test_page_never_overrides_an_api_value_and_records_both():
    facts = apply_landing(_facts(license="CC-BY-NC-4.0", license_class="open-nc",
                                 doi="10.9999/api.doi", access="open download",
                                 access_reason="zenodo access_right=open"), _page())
    assert facts["license"] == "CC-BY-NC-4.0" and facts["doi"] == "10.9999/api.doi"
    assert facts["access"] == "open download"
    conflicts = facts["landing"]["conflicts"]
    assert conflicts["license"] == {"api": "CC-BY-NC-4.0", "page": "CC-BY-4.0",
                                    "via": "landing page (json-ld)"}
    assert conflicts["doi"]["page"] == "10.1234/thyroid.v1"
    assert conflicts["access"] == {"api": "open download", "page": "controlled",
                                   "via": "landing page (json-ld)"}


def test_applying_is_idempotent_and_a_newer_reading_replaces_the_older():
    once = apply_landing(_facts(), _page())
    assert apply_landing(once, _page()) == once
    assert json.loads(json.dumps(once)) == once                 # JSON-ready
    plain = "<html><head><title>t</title></head><body>nothing</body></html>"
    newer = apply_landing(once, _page(plain))
    assert newer["license"] is None and newer["doi"] is None and newer["access"] == "unknown"
    assert without_landing(once) == _facts()
    assert apply_landing(once, None) == _facts()


def test_a_page_not_read_is_recorded_without_changing_facts():
    page = _page(extracted=None, ok=False, robots="disallowed", error="robots.txt forbids")
    facts = apply_landing(_facts(), page)
    assert facts["landing"]["ok"] is False and facts["landing"]["filled"] == {}
    assert without_landing(facts) == _facts()


# --- fetching ------------------------------------------------------------------------------

CONFIG = LandingConfig(skip_hosts=(), refresh_days=30, max_pages_per_run=10,
                       max_bytes=50_000, max_redirects=3)


class Web:
    """A scripted web: path -> answer, per host; logs (method, url, headers)."""

    def __init__(self, pages: dict[str, httpx.Response | Callable[[httpx.Request],
                                                                  httpx.Response]]):
        self.pages = pages
        self.log: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.log.append(request)
        answer = self.pages.get(str(request.url))
        if answer is None:
            return httpx.Response(404, text="no")
        return answer(request) if callable(answer) else answer

    def urls(self) -> list[str]:
        return [str(r.url) for r in self.log]


def html(body: str = DATASET_PAGE, **headers: str) -> httpx.Response:
    return httpx.Response(200, text=body, headers={"content-type": "text/html; charset=utf-8",
                                                   **headers})


def fetch(web: Web, urls: list[str], clock: VirtualClock | None = None,
          dns: dict[str, str] | None = None, **kw) -> list[Page]:
    return asyncio.run(fetch_pages(
        urls, user_agent="sonoharvest/test", config=kw.pop("config", CONFIG),
        transport=httpx.MockTransport(web.handle), clock=clock or VirtualClock(),
        resolve=lambda host: [(dns or {}).get(host, PUBLIC)], **kw))


def test_reads_a_page_and_its_signposting_header():
    web = Web({URL: html(link='<https://doi.org/10.1234/x>; rel="cite-as"', etag='"v1"')})
    [page] = fetch(web, [URL])
    assert page.ok and page.status == 200 and page.robots == "allowed"
    assert page.etag == '"v1"' and page.extracted["signposting"]["cite-as"]
    assert web.urls() == ["https://data.example.org/robots.txt", URL]
    assert web.log[1].headers["user-agent"] == "sonoharvest/test"


def test_robots_txt_is_obeyed_and_read_once_per_host():
    robots = "User-agent: *\nDisallow: /private/\n\nUser-agent: sonoharvest\nDisallow: /ds/\n"
    web = Web({"https://data.example.org/robots.txt": httpx.Response(200, text=robots),
               URL: html(), "https://data.example.org/ds/2": html()})
    pages = fetch(web, [URL, "https://data.example.org/ds/2"])
    assert [p.robots for p in pages] == ["allowed", "disallowed"]
    assert not pages[1].ok and "robots.txt" in pages[1].error and pages[1].extracted is None
    assert "https://data.example.org/ds/2" not in web.urls()
    assert web.urls().count("https://data.example.org/robots.txt") == 1


def test_unreachable_robots_txt_forbids_and_a_missing_one_allows():
    down = Web({"https://data.example.org/robots.txt": httpx.Response(503), URL: html()})
    [page] = fetch(down, [URL])
    assert page.robots == "unreachable" and not page.ok and URL not in down.urls()
    missing = Web({URL: html()})
    assert fetch(missing, [URL])[0].ok


def test_crawl_delay_and_pacing_space_requests_to_one_host():
    robots = "User-agent: *\nCrawl-delay: 10\n"
    urls = [f"https://data.example.org/d/{i}" for i in range(3)]
    web = Web({"https://data.example.org/robots.txt": httpx.Response(200, text=robots),
               **{u: html() for u in urls}})
    clock = VirtualClock()
    start = clock.monotonic()
    fetch(web, urls, clock, per_host_per_minute=30.0)
    assert clock.monotonic() - start >= 2 * 10 - 1e-6        # the Crawl-delay, not 2 s


def test_a_redirect_to_a_private_address_is_refused():
    web = Web({URL: httpx.Response(302, headers={"location": "http://intranet.example/x"})})
    [page] = fetch(web, [URL], dns={"intranet.example": "10.0.0.8"})
    assert not page.ok and "refused" in page.error and "intranet" not in " ".join(web.urls())


def test_conditional_request_and_304_keep_the_cached_reading():
    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304, headers={"etag": '"v1"'})
        return html(etag='"v1"')
    web = Web({URL: answer})
    [page] = fetch(web, [URL], validators={URL: ('"v1"', None)})
    assert page.status == 304 and page.ok and page.extracted is None


@pytest.mark.parametrize("response,error", [
    (httpx.Response(200, content=b"%PDF-1.4", headers={"content-type": "application/pdf"}),
     "not a web page"),
    (httpx.Response(200, text="x" * 60_000, headers={"content-type": "text/html"}), "larger"),
    (httpx.Response(404, text="gone"), "HTTP 404"),
])
def test_pages_that_cannot_be_read_say_why(response, error):
    [page] = fetch(Web({URL: response}), [URL])
    assert not page.ok and error in page.error and "\n" not in page.error


def test_a_transport_failure_does_not_stop_the_others():
    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)
    other = "https://other.example.org/ds"
    pages = fetch(Web({URL: boom, other: html()}), [URL, other])
    assert not pages[0].ok and "request failed" in pages[0].error and pages[1].ok


def test_the_shipped_config_loads():
    config = LandingConfig.load(REPO_ROOT / "rubrics")
    assert "zenodo.org" in config.skip_hosts and config.refresh_days > 0


def test_a_citation_doi_may_be_the_papers_so_only_resource_dois_fill_the_fact():
    paper = '<meta name="citation_doi" content="10.1016/j.media.2023.102829">'
    facts = apply_landing(_facts(), _page(f"<html><head>{paper}</head></html>"))
    assert facts["doi"] is None
    assert facts["landing"]["fields"]["doi"]["value"] == "10.1016/j.media.2023.102829"
    data = "<p>Download from https://doi.org/10.5281/zenodo.11005384</p>"
    facts = apply_landing(_facts(), _page(f"<html><body>{data}</body></html>"))
    assert facts["doi"] == "10.5281/zenodo.11005384"
    assert facts["landing"]["filled"]["doi"]["via"] == "landing page (doi mention)"
