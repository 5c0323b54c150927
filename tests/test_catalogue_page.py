"""The static catalogue page: built from small Parquet fixtures, checked as text and in Chromium."""

from __future__ import annotations

import functools
import http.server
import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sonoharvest import catalogue_page
from sonoharvest.catalogue_page import (
    CatalogueError,
    build_catalogue,
    load_catalogue,
    script_json,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

PWN_SCRIPT = "<script>window.__pwned=1</script>"
PWN_IMG = '<img src=x onerror="window.__pwned=2">'
PWN_EVIDENCE = "<img src=x onerror=window.__pwned=3>"
D1, D2, D3, M1, M2 = ("ed000000001", "ed000000002", "ed000000003", "em000000001",
                      "em000000002")
D1_NAME = "BUSI-like breast lesions </script><!-- x"
D1_DESCRIPTION = f"Breast lesion images. {PWN_SCRIPT} {PWN_IMG} & more"

TS = pa.timestamp("us", tz="UTC")
STRINGS = pa.list_(pa.string())
COMMON = [
    ("entity_id", pa.string()), ("name", pa.string()), ("description", pa.string()),
    ("status", pa.string()), ("primary_url", pa.string()), ("urls", STRINGS),
    ("doi", pa.string()), ("sources", STRINGS), ("source_ids", STRINGS),
    ("n_copies", pa.int32()), ("license", pa.string()), ("license_class", pa.string()),
    ("access", pa.string()), ("anatomy", STRINGS), ("tasks", STRINGS),
    ("relevance", pa.float64()), ("review_status", pa.string()), ("score", pa.float64()),
    ("tier", pa.string()), ("auto_tier", pa.string()), ("override_reason", pa.string()),
    ("rubric_id", pa.string()), ("rubric_version", pa.int32()),
    ("size_images", pa.int64()), ("size_videos", pa.int64()), ("size_patients", pa.int64()),
    ("papers", STRINGS),
]
TAIL = [("link_ok", pa.bool_()), ("link_status", pa.int32()), ("created_at", TS),
        ("updated_at", TS), ("first_seen", TS), ("last_seen", TS),
        ("entity_updated_at", TS), ("kind", pa.string())]
DATASET_SCHEMA = pa.schema(COMMON + [("used_by_models", STRINGS)] + TAIL,
                           metadata={"schema_version": "1"})
MODEL_SCHEMA = pa.schema(COMMON + [("uses_datasets", STRINGS), ("weights", STRINGS)] + TAIL,
                         metadata={"schema_version": "1"})
HISTORY_SCHEMA = pa.schema([
    ("entity_id", pa.string()), ("rubric_id", pa.string()), ("rubric_version", pa.int32()),
    ("rubric_hash", pa.string()), ("score", pa.float64()), ("tier", pa.string()),
    ("criteria", pa.string()), ("scored_at", TS), ("run_id", pa.string()),
], metadata={"schema_version": "1"})


def _when(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def _entity(entity_id: str, name: str, kind: str, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "entity_id": entity_id, "name": name, "description": None, "status": "active",
        "primary_url": f"https://example.org/{entity_id}", "urls": [f"https://example.org/{entity_id}"],
        "doi": None, "sources": ["github"], "source_ids": [f"github:{entity_id}"], "n_copies": 1,
        "license": "MIT", "license_class": "open", "access": "open download", "anatomy": [],
        "tasks": [], "relevance": 0.9, "review_status": "unreviewed", "score": 10.0,
        "tier": "Steel", "auto_tier": "Steel", "override_reason": None,
        "rubric_id": "sonodqs" if kind == "dataset" else "sonomqs", "rubric_version": 1,
        "size_images": None, "size_videos": None, "size_patients": None, "papers": [],
        "link_ok": True, "link_status": 200, "created_at": _when("2024-01-01"),
        "updated_at": _when("2024-06-01"), "first_seen": _when("2025-01-10"),
        "last_seen": _when("2025-05-01"), "entity_updated_at": _when("2025-05-01"),
        "kind": kind,
    }
    row.update(extra)
    return row


def _criteria(*items: tuple[str, float, float, str]) -> str:
    return json.dumps([{"id": cid, "title": cid.replace("_", " ").capitalize(), "weight": mx,
                        "credit": pts / mx, "points": pts, "max_points": mx, "evidence": ev}
                       for cid, pts, mx, ev in items])


def write_fixture_exports(exports: Path) -> Path:
    exports.mkdir(parents=True, exist_ok=True)
    datasets = [
        _entity(D1, D1_NAME, "dataset", description=D1_DESCRIPTION, anatomy=["breast"],
                tasks=["segmentation", "classification"], sources=["zenodo", "kaggle"],
                urls=[f"https://example.org/{D1}", "https://www.kaggle.com/d/busi"],
                doi="10.5281/zenodo.1", papers=["arxiv:2001.00001", "javascript:alert(1)"],
                license="CC-BY-4.0", score=66.0, tier="Gold", auto_tier="Gold",
                size_images=780, size_patients=600, used_by_models=[M1]),
        _entity(D2, "Thyroid nodules TN3K", "dataset", description="Thyroid ultrasound.",
                anatomy=["thyroid"], tasks=["segmentation"],
                primary_url="javascript:alert(document.domain)", urls=[],
                license="CC-BY-NC-4.0", license_class="open-nc", access="registration",
                score=40.0, tier="Bronze", auto_tier="Bronze", size_images=3493,
                first_seen=_when("2025-02-01"), used_by_models=[]),
        _entity(D3, "Breast elastography videos", "dataset", anatomy=["breast", "liver"],
                tasks=["classification"], sources=["zenodo"], license=None,
                license_class="restricted", access="on request", score=52.0, tier="Silver",
                auto_tier="Silver", size_videos=120, first_seen=_when("2025-03-05"),
                used_by_models=None),
    ]
    models = [
        _entity(M1, "BreastNet segmentation model", "model", anatomy=["breast"],
                tasks=["segmentation"], sources=["github", "huggingface"], score=45.0,
                tier="Silver", auto_tier="Bronze",
                override_reason="Curator: <b>verified</b> weights",
                uses_datasets=[D1, "ed999999999"], weights=["hf:models/x/breastnet"],
                first_seen=_when("2025-03-05")),
        _entity(M2, "EchoSeg cardiac", "model", anatomy=["cardiac"],
                description="Echo <b>bold</b>\u2028line two",
                tasks=["segmentation", "video analysis"], license=None,
                license_class="unknown", access="unknown", score=12.5, tier="Steel",
                auto_tier="Steel", first_seen=_when("2025-04-20"), uses_datasets=[],
                weights=[]),
    ]
    history = [
        {"entity_id": D1, "rubric_id": "sonodqs", "rubric_version": 1, "rubric_hash": "old",
         "score": 50.0, "tier": "Silver", "scored_at": _when("2025-01-10"), "run_id": "r1",
         "criteria": _criteria(("stale_criterion", 1.0, 10.0, "old evidence"))},
        {"entity_id": D1, "rubric_id": "sonodqs", "rubric_version": 1, "rubric_hash": "new",
         "score": 66.0, "tier": "Gold", "scored_at": _when("2025-02-01"), "run_id": "r2",
         "criteria": _criteria(("open_licence", 15.0, 15.0, "license = 'CC-BY-4.0'"),
                               ("annotations", 6.0, 12.0, PWN_EVIDENCE),
                               ("documentation", 0.0, 10.0, "text: no match"))},
        {"entity_id": D2, "rubric_id": "sonodqs", "rubric_version": 1, "rubric_hash": "new",
         "score": 40.0, "tier": "Bronze", "scored_at": _when("2025-02-01"), "run_id": "r2",
         "criteria": _criteria(("open_licence", 10.0, 15.0, "license_class = 'open-nc'"))},
        {"entity_id": M1, "rubric_id": "sonomqs", "rubric_version": 1, "rubric_hash": "m",
         "score": 45.0, "tier": "Bronze", "scored_at": _when("2025-03-05"), "run_id": "r3",
         "criteria": _criteria(("released_weights", 15.0, 15.0, "weights: 1"))},
        {"entity_id": M2, "rubric_id": "sonomqs", "rubric_version": 1, "rubric_hash": "m",
         "score": 12.5, "tier": "Steel", "scored_at": _when("2025-04-20"), "run_id": "r4",
         "criteria": _criteria(("code_licence", 0.0, 10.0, "license_class = 'unknown'"))},
    ]
    pq.write_table(pa.Table.from_pylist(datasets, schema=DATASET_SCHEMA),
                   exports / "datasets.parquet")
    pq.write_table(pa.Table.from_pylist(models, schema=MODEL_SCHEMA), exports / "models.parquet")
    pq.write_table(pa.Table.from_pylist(history, schema=HISTORY_SCHEMA),
                   exports / "score_history.parquet")
    return exports


def embedded_json(page: str) -> str:
    found = re.search(r'<script type="application/json" id="catalogue-data">(.*?)</script>',
                      page, re.S)
    assert found, "the data script element is missing"
    return found.group(1)


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    return write_fixture_exports(tmp_path / "exports")


# --- the generated files -----------------------------------------------------------------------

def test_build_writes_page_and_assets(exports: Path) -> None:
    index = build_catalogue(exports)
    assert index == exports / "catalogue" / "index.html"
    for name in ("index.html", "catalogue.css", "catalogue.js"):
        assert (index.parent / name).stat().st_size > 0
    assert sorted(p.name for p in exports.iterdir() if p.name.startswith(".")) == []
    page = index.read_text(encoding="utf-8")
    assert 'src="catalogue.js?v=' in page and 'href="catalogue.css?v=' in page
    assert "Content-Security-Policy" in page and "script-src 'self'" in page


def test_embedded_json_cannot_break_out_and_keeps_the_text(exports: Path) -> None:
    page = build_catalogue(exports).read_text(encoding="utf-8")
    payload = embedded_json(page)
    for bad in ("<", ">", "\u2028", "\u2029"):
        assert bad not in payload
    data = json.loads(payload)
    entities = {e["id"]: e for e in data["entities"]}
    assert set(entities) == {D1, D2, D3, M1, M2}
    assert data["counts"] == {"dataset": 3, "model": 2}
    d1 = entities[D1]
    assert d1["name"] == D1_NAME and d1["description"] == D1_DESCRIPTION
    assert entities[M2]["description"] == "Echo <b>bold</b>\u2028line two"
    assert d1["first_seen"] == "2025-01-10T00:00:00Z"
    assert d1["size"] == {"images": 780, "videos": None, "patients": 600}
    assert [r["id"] for r in d1["related"]] == [M1]
    assert [r["name"] for r in entities[M1]["related"]] == [D1_NAME, None]


def test_tier_explanation_is_the_latest_score(exports: Path) -> None:
    entities = {e["id"]: e for e in load_catalogue(exports)["entities"]}
    x = entities[D1]["explanation"]
    assert x["score"] == 66.0 and x["tier"] == "Gold" and x["rubric_hash"] == "new"
    assert [c["id"] for c in x["criteria"]] == ["open_licence", "annotations", "documentation"]
    assert x["criteria"][1] | {"title": None} == {
        "id": "annotations", "title": None, "weight": 12.0, "credit": 0.5, "points": 6.0,
        "max_points": 12.0, "evidence": PWN_EVIDENCE}
    assert entities[D3]["explanation"] is None
    assert entities[M1]["override_reason"] == "Curator: <b>verified</b> weights"


def test_links_are_web_links_only(exports: Path) -> None:
    entities = {e["id"]: e for e in load_catalogue(exports)["entities"]}
    assert entities[D2]["href"] is None
    assert all(link["href"] is None for link in entities[D2]["links"])
    links = {(link["role"], link["text"]): link["href"] for link in entities[D1]["links"]}
    assert links == {
        ("Primary", f"https://example.org/{D1}"): f"https://example.org/{D1}",
        ("Copy", "https://www.kaggle.com/d/busi"): "https://www.kaggle.com/d/busi",
        ("DOI", "10.5281/zenodo.1"): "https://doi.org/10.5281/zenodo.1",
        ("Paper", "arxiv:2001.00001"): "https://arxiv.org/abs/2001.00001",
        ("Paper", "javascript:alert(1)"): None,
    }
    weights = [link for link in entities[M1]["links"] if link["role"] == "Weights"]
    assert weights == [{"role": "Weights", "text": "hf:models/x/breastnet",
                        "href": "https://huggingface.co/x/breastnet"}]


def test_harvested_html_never_appears_as_markup(exports: Path) -> None:
    page = build_catalogue(exports).read_text(encoding="utf-8")
    outside = page.replace(embedded_json(page), "")
    assert "__pwned" not in outside and "\\u003cscript\\u003ewindow.__pwned=1" in page
    assert PWN_SCRIPT not in page and "<img" not in page and "<b>" not in page
    assert "javascript:" not in page.split('id="catalogue-data"')[0]
    assert len(re.findall(r"<script\b", page)) == 2  # catalogue.js and the JSON data
    assert "&lt;/script&gt;&lt;!-- x" in page  # the <noscript> list, escaped


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_rebuild_replaces_the_folder(exports: Path, monkeypatch: pytest.MonkeyPatch,
                                     exchange: bool) -> None:
    if not exchange:
        monkeypatch.setattr(catalogue_page, "_exchange", lambda a, b: False)
    index = build_catalogue(exports)
    (index.parent / "stale.txt").write_text("from an older build")
    assert build_catalogue(exports) == index
    assert not (index.parent / "stale.txt").exists()
    assert (index.parent / "catalogue.js").exists()
    assert [p.name for p in exports.iterdir() if p.name.startswith(".")] == []


def test_a_failed_build_leaves_the_old_page(exports: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    index = build_catalogue(exports)
    before = index.read_text(encoding="utf-8")

    def broken(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(catalogue_page.shutil, "copyfile", broken)
    with pytest.raises(OSError, match="disk full"):
        build_catalogue(exports)
    assert index.read_text(encoding="utf-8") == before
    assert [p.name for p in exports.iterdir() if p.name.startswith(".")] == []


def test_refuses_to_replace_a_foreign_folder(exports: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "keep.html").write_text("mine")
    with pytest.raises(CatalogueError, match="not made by build_catalogue"):
        build_catalogue(exports, site)
    assert (site / "keep.html").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_custom_out_dir_and_no_score_history(exports: Path, tmp_path: Path) -> None:
    (exports / "score_history.parquet").unlink()
    index = build_catalogue(exports, tmp_path / "public" / "catalogue")
    assert index == tmp_path / "public" / "catalogue" / "index.html"
    data = json.loads(embedded_json(index.read_text(encoding="utf-8")))
    assert {e["explanation"] is None for e in data["entities"]} == {True}


def test_models_only_and_nothing(tmp_path: Path) -> None:
    exports = write_fixture_exports(tmp_path / "exports")
    (exports / "datasets.parquet").unlink()
    assert load_catalogue(exports)["counts"] == {"dataset": 0, "model": 2}
    with pytest.raises(FileNotFoundError, match="run the export first"):
        build_catalogue(tmp_path / "empty")


@given(st.text())
def test_script_json_is_inert_in_any_script_element(text: str) -> None:
    out = script_json({"text": text, "tail": "</script><!--<script>"})
    assert not re.search(r"[<>&\u2028\u2029]", out)
    assert json.loads(out) == {"text": text, "tail": "</script><!--<script>"}


# --- in the browser ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    exports = write_fixture_exports(tmp_path_factory.mktemp("catalogue") / "exports")
    return build_catalogue(exports).parent


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install "
                    "chromium); no browser is downloaded")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, site: Path) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(5000)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tab.on("request", lambda req: None if req.url.startswith(("file:", "http://127.0.0.1"))
           else errors.append(f"network request: {req.url}"))
    tab.errors = errors
    yield tab
    context.close()


def _open(tab: Any, url: str) -> None:
    tab.goto(url)
    tab.wait_for_selector("html.ready")


def _shown_ids(tab: Any) -> list[str]:
    return tab.eval_on_selector_all("#rows tr.entity", "rows => rows.map(r => r.dataset.id)")


def _bars(tab: Any, chart: str) -> list[dict[str, float]]:
    return tab.eval_on_selector_all(
        f"#{chart} svg .bar",
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return {w: r.width, h: r.height}; })")


def test_filters_search_sort_and_charts(page: Any, site: Path) -> None:
    _open(page, (site / "index.html").as_uri())
    assert sorted(_shown_ids(page)) == sorted([D1, D2, D3, M1, M2])
    assert page.get_attribute("#count", "data-shown") == "5"
    assert _shown_ids(page) == [D1, D3, M1, D2, M2]  # default: best tier first, then score

    for chart in ("chart-anatomy", "chart-tier", "chart-source", "chart-growth"):
        bars = _bars(page, chart)
        assert bars and all(b["w"] > 0 and b["h"] > 0 for b in bars), chart

    page.select_option("#f-anatomy", "breast")
    assert sorted(_shown_ids(page)) == sorted([D1, D3, M1])
    assert page.get_attribute("#count", "data-shown") == "3"
    labels = page.eval_on_selector_all("#chart-anatomy svg text.label",
                                       "els => els.map(e => e.textContent)")
    assert sorted(labels) == ["breast", "liver"]
    tiers = page.eval_on_selector_all("#chart-tier svg .bar", "els => els.length")
    assert tiers == 3  # Gold dataset, Silver dataset, Silver model

    page.select_option("#f-tier", "Silver")
    assert sorted(_shown_ids(page)) == sorted([D3, M1])
    page.select_option("#f-kind", "model")
    assert _shown_ids(page) == [M1]
    page.click("#reset")
    assert len(_shown_ids(page)) == 5

    for select, value, expected in (("#f-tier", "Gold", [D1]), ("#f-licence", "restricted", [D3]),
                                    ("#f-access", "registration", [D2]),
                                    ("#f-source", "huggingface", [M1]),
                                    ("#f-task", "video analysis", [M2])):
        page.select_option(select, value)
        assert _shown_ids(page) == expected, select
        page.select_option(select, "")

    page.fill("#q", "thyroid")
    assert _shown_ids(page) == [D2]
    page.fill("#q", "BREAST lesion")
    assert _shown_ids(page) == [D1]
    page.fill("#q", "no such thing")
    assert _shown_ids(page) == [] and page.is_visible("#empty")
    page.fill("#q", "")

    page.click("th[data-sort=score] button")
    assert _shown_ids(page) == [D1, D3, M1, D2, M2]
    assert page.get_attribute("th[data-sort=score]", "aria-sort") == "descending"
    page.click("th[data-sort=score] button")
    assert _shown_ids(page) == [M2, D2, M1, D3, D1]
    page.click("th[data-sort=size] button")
    assert _shown_ids(page)[:3] == [D2, D1, D3]
    page.click("th[data-sort=first_seen] button")
    assert _shown_ids(page)[0] == M2 and _shown_ids(page)[-1] == D1
    assert page.errors == []


def test_harvested_text_is_shown_literally(page: Any, site: Path) -> None:
    _open(page, (site / "index.html").as_uri())
    page.click(f"#e-{D1} button.toggle")
    detail = page.locator(f"#d-{D1}")
    assert detail.is_visible()
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.inner_text(f"#e-{D1} button.toggle").strip() == D1_NAME
    assert PWN_SCRIPT in detail.locator(".desc").inner_text()
    assert PWN_IMG in detail.locator(".desc").inner_text()
    assert PWN_EVIDENCE in detail.locator(".criteria").inner_text()
    assert page.evaluate("document.querySelectorAll('main img, main script, main b').length") == 0
    assert page.evaluate("document.querySelectorAll('a[href^=\"javascript:\" i]').length") == 0
    # the explanation: every criterion with points/max and evidence
    rows = detail.locator(".criteria tbody tr")
    assert rows.count() == 3
    assert "6 / 12" in rows.nth(1).inner_text()
    assert "Stale" not in detail.inner_text()
    assert detail.locator("a", has_text="arxiv:2001.00001").get_attribute("href") == \
        "https://arxiv.org/abs/2001.00001"
    assert "780 images, 600 patients" in detail.inner_text()
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.errors == []


def test_related_entries_and_keyboard(page: Any, site: Path) -> None:
    _open(page, (site / "index.html").as_uri())
    page.focus("#f-kind")
    page.keyboard.press("ArrowDown")  # Datasets
    assert sorted(_shown_ids(page)) == sorted([D1, D2, D3])
    page.select_option("#f-kind", "model")
    page.focus(f"#e-{M1} button.toggle")
    page.keyboard.press("Enter")
    detail = page.locator(f"#d-{M1}")
    assert page.get_attribute(f"#e-{M1} button.toggle", "aria-expanded") == "true"
    assert "Curator override" in detail.inner_text()
    assert "Curator: <b>verified</b> weights" in detail.inner_text()
    assert "(not in this catalogue)" in detail.inner_text()
    detail.locator("a.related").click()  # to a dataset the kind filter hides
    assert page.input_value("#f-kind") == ""
    assert page.get_attribute(f"#e-{D1} button.toggle", "aria-expanded") == "true"
    assert page.evaluate("location.hash") == f"#e-{D1}"
    assert page.evaluate("document.activeElement.closest('tr').dataset.id") == D1
    assert page.errors == []


@pytest.fixture
def served(site: Path) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_works_when_served(page: Any, served: str) -> None:
    _open(page, served)
    assert len(_shown_ids(page)) == 5
    page.select_option("#f-anatomy", "cardiac")
    assert _shown_ids(page) == [M2]
    assert _bars(page, "chart-growth")
    page.goto(served + f"#e-{D2}")
    page.wait_for_selector(f"#d-{D2}")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.errors == []
