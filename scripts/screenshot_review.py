"""Save a screenshot of the review web app's item page to docs/review-page.png (1280x900).

The data: a copy of /tmp/webdemo/curation.sqlite when it exists (make it with
`SONOHARVEST_HOME=/tmp/webdemo sonoharvest -q run --demo`), else a small built-in fixture.
The copy gets one decision (a postpone, so the page shows the undo card); the original is never
touched. The app runs under uvicorn on a free loopback port; the browser is Debian's Chromium
(/usr/bin/chromium) through Playwright, and every request not for the app is aborted.

    .venv/bin/python scripts/screenshot_review.py [--store PATH] [--page item|queue] [--out PNG]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from playwright.sync_api import sync_playwright

from sonoharvest.curation import CurationStore, load_review_rules
from sonoharvest.settings import REPO_ROOT
from sonoharvest.web import create_app

DEMO_STORE = Path("/tmp/webdemo/curation.sqlite")
OUT = REPO_ROOT / "docs" / "review-page.png"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TOKEN = "screenshot-token"
CURATOR = "demo curator"


def fixture_items() -> tuple[list[dict[str, Any]], list[tuple[str, str, str]]]:
    """A few realistic queue items, shaped like curation_sync.publish_queue makes them."""
    copies = [
        ("kaggle:datasets/aryashah2k/breast-ultrasound-images-dataset", "primary", "primary",
         "chosen as the original"),
        ("zenodo:10432198", "copy", "paper", "both cite doi:10.1016/j.dib.2019.104863"),
        ("huggingface:datasets/gymprathap/busi", "copy", "reference",
         "references pwc-dataset:busi; similarity 0.66"),
    ]
    busi = {
        "item_id": "e-busi", "item_type": "entity", "kind": "dataset",
        "name": "Breast Ultrasound Images Dataset (BUSI)", "reason": "new", "band": "likely",
        "relevance": 0.62, "priority": 0.76, "sources": ["kaggle", "zenodo", "huggingface"],
        "anatomy": ["breast"], "tasks": ["classification", "segmentation"],
        "review_hash": "f845b47e7f625c7c",
        "detail": {
            "description": "780 PNG breast ultrasound images from 600 female patients, in "
                           "three classes (normal, benign, malignant), with ground-truth masks.",
            "primary_url": "https://www.kaggle.com/datasets/aryashah2k/"
                           "breast-ultrasound-images-dataset",
            "doi": "10.5281/zenodo.10432198", "license": "CC0-1.0", "license_class": "open",
            "access": "registration", "access_reason": "kaggle access=open",
            "size": {"images": 780, "patients": 600},
            "size_evidence": {"images": "780 PNG images", "patients": "600 female patients"},
            "papers": ["doi:10.1016/j.dib.2019.104863"],
            "link": {"status": 200, "ok": True, "error": None,
                     "checked_at": "2026-01-02T10:00:00+00:00"},
            "copies": [{"key": key, "source": key.split(":")[0], "title": "BUSI",
                        "url": "https://zenodo.org/records/10432198", "role": role,
                        "method": method, "evidence": evidence, "status": "active",
                        "relevance": 0.98} for key, role, method, evidence in copies],
            "relevance_evidence": ["phrases: {'breast': 'Breast', 'segmentation': "
                                   "'segmentation'}"],
            "score": {"score": 70.8, "tier": "Gold", "criteria": [
                {"title": "Open access", "points": 7.0, "max_points": 10.0,
                 "evidence": "access = 'registration'"},
                {"title": "Explicit licence that allows commercial use", "points": 10.0,
                 "max_points": 10.0, "evidence": "CC0-1.0"}]},
            "links": [],
        },
    }
    echo = {**busi, "item_id": "e-echo", "name": "Apical four-chamber echocardiograms",
            "kind": "dataset", "relevance": 0.8, "priority": 0.4, "anatomy": ["heart"],
            "sources": ["zenodo"], "review_hash": "aa"}
    index = [("e-busi", busi["name"], "dataset"), ("e-echo", echo["name"], "dataset")]
    return [busi, echo], index


def build_store(source: Path, workdir: Path) -> CurationStore:
    """A store to photograph: a copy of `source`, or the built-in fixture."""
    path = workdir / "curation.sqlite"
    reasons, guidelines = load_review_rules(REPO_ROOT / "rubrics")
    if source.exists():
        shutil.copy(source, path)
        return CurationStore(path, reasons, guidelines)
    store = CurationStore(path, reasons, guidelines)
    items, index = fixture_items()
    store.publish(items, index, "demo-run")
    return store


def showcase(store: CurationStore) -> str:
    """The item to show (the one with most copies) after one postpone of another item."""
    items = store.items(status=None)
    shown = max(items, key=lambda i: (len(i.detail.get("copies", [])), -i.priority))
    other = next(i for i in items if i.item_id != shown.item_id)
    store.decide([other.item_id], "postpone", who=CURATOR, notes="check the imaging modality")
    return shown.item_id


def start_server(store: CurationStore) -> tuple[uvicorn.Server, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(store, token=TOKEN), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the review app did not start")
        time.sleep(0.02)
    return server, f"http://127.0.0.1:{port}"


def photograph(base_url: str, path: str, out: Path) -> None:
    """Log in, open `path` and save a 1280x900 screenshot."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(base_url=base_url,
                                      viewport={"width": 1280, "height": 900})
        context.route("**/*", lambda route: route.continue_()
                      if route.request.url.startswith(base_url) else route.abort())
        page = context.new_page()
        page.goto("/login?next=/")
        page.fill("#login-name", CURATOR)
        page.fill("#login-token", TOKEN)
        page.click("button[type=submit].primary")
        page.wait_for_selector(".flash-ok")
        page.goto(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=DEMO_STORE)
    parser.add_argument("--page", choices=("item", "queue"), default="item")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = build_store(args.store, Path(tmp))
        item_id = showcase(store)
        server, base_url = start_server(store)
        try:
            photograph(base_url, f"/item/{item_id}" if args.page == "item" else "/", args.out)
        finally:
            server.should_exit = True
            store.close()
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
