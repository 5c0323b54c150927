"""The review app in a real browser (Debian's Chromium through Playwright).

One uvicorn server and one browser for the whole module; each test gets a fresh logged-in
page. Every request that is not for the app itself is aborted, so nothing leaves the machine.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run the browser tests",
                allow_module_level=True)

import uvicorn  # noqa: E402
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright  # noqa: E402

from sonoharvest.curation import CurationStore  # noqa: E402
from sonoharvest.web import create_app  # noqa: E402

TOKEN = "browser-test-token"
CURATOR = "playwright"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAYLOAD = ("<script>window.__pwned = 1; document.title = 'pwned'</script>"
           "<img src=x onerror=\"window.__pwned = 2\">")


def entity(item_id: str, name: str, relevance: float, copies: int = 1,
           description: str = "") -> dict[str, Any]:
    """A queue item shaped like curation_sync.publish_queue makes them."""
    return {
        "item_id": item_id, "item_type": "entity", "kind": "dataset", "name": name,
        "reason": "new", "band": "likely", "relevance": relevance,
        "priority": round(1 - abs(2 * relevance - 1), 4), "sources": ["zenodo"],
        "anatomy": ["heart"], "tasks": [], "review_hash": f"h-{item_id}",
        "detail": {
            "description": description or f"About {name}.",
            "primary_url": f"https://zenodo.org/records/{item_id}", "license": "CC-BY-4.0",
            "license_class": "open", "access": "open",
            "copies": [{"key": f"zenodo:{item_id}-{n}", "source": "zenodo",
                        "title": f"{name} ({n})", "url": f"https://zenodo.org/{item_id}/{n}",
                        "role": "primary" if n == 0 else "copy", "method": "reference",
                        "evidence": "same DOI", "status": "active", "relevance": relevance}
                       for n in range(copies)],
            "relevance_evidence": ["phrases: echocardiography"],
            "score": {"score": 50.0, "tier": "Bronze", "criteria": []}, "links": [],
        },
    }


ITEMS = [entity("e-accept", "Apical four-chamber echoes", 0.55),
         entity("e-reject", "Sonar fish finder", 0.6),
         entity("e-merge", "BUSI mirror", 0.65, copies=2),
         entity("e-undo", "Thyroid nodules", 0.7),
         entity("e-evil", "Hostile description", 0.95, description=f"Look: {PAYLOAD} done")]
INDEX = [(i["item_id"], i["name"], "dataset") for i in ITEMS] + [
    ("e-busi", "BUSI original release", "dataset")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CurationStore]:
    s = CurationStore(tmp_path_factory.mktemp("web") / "curation.sqlite")
    s.publish(ITEMS, INDEX, "run-1")
    yield s
    s.close()


@pytest.fixture(scope="module")
def base_url(store: CurationStore) -> Iterator[str]:
    """The app under uvicorn in a background thread on a free loopback port."""
    port = free_port()
    config = uvicorn.Config(create_app(store, token=TOKEN), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the review app did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def context(browser: Browser, base_url: str) -> Iterator[BrowserContext]:
    """One context for the module, offline except for the app, logged in as CURATOR."""
    ctx = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    ctx.route("**/*", lambda route: route.continue_()
              if route.request.url.startswith(base_url) else route.abort())
    ctx.set_default_timeout(5000)
    tab = ctx.new_page()
    tab.goto("/login?next=/")
    tab.fill("#login-name", CURATOR)
    tab.fill("#login-token", TOKEN)
    tab.click("button[type=submit].primary")
    expect(tab.locator(".flash-ok")).to_contain_text(f"Logged in as {CURATOR}")
    tab.close()
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    tab = context.new_page()
    yield tab
    tab.close()


def arrived(page: Page, flash: str) -> None:
    """Wait for the page after a decision: its message shown and its script ready for keys."""
    expect(page.locator(".flash-ok")).to_contain_text(flash)
    page.wait_for_load_state("domcontentloaded")


def latest(store: CurationStore, item_id: str) -> Any:
    return store.log(item_id=item_id, limit=1)[0]


def test_accept_with_the_keyboard(page: Page, store: CurationStore) -> None:
    page.goto("/item/e-accept")
    page.keyboard.press("a")
    expect(page.locator(".flash-ok")).to_contain_text("Apical four-chamber echoes accepted")
    assert store.state_of("e-accept") == "accepted"
    decision = latest(store, "e-accept")
    assert (decision.action, decision.who) == ("accept", CURATOR)
    assert "/item/e-accept" not in page.url  # moved on to the next item


def test_reject_with_a_reason(page: Page, store: CurationStore) -> None:
    page.goto("/item/e-reject")
    page.keyboard.press("r")
    expect(page.locator("#reject-reason")).to_be_focused()
    page.select_option("#reject-reason", "not_ultrasound")
    page.focus("#reject-reason")
    page.keyboard.press("Enter")
    expect(page.locator(".flash-ok")).to_contain_text("Sonar fish finder rejected")
    decision = latest(store, "e-reject")
    assert (decision.action, decision.reason_code, decision.who) == (
        "reject", "not_ultrasound", CURATOR)


def test_merge_into_another_entity(page: Page, store: CurationStore) -> None:
    page.goto("/item/e-merge")
    page.fill("#merge-q", "original")  # live search through /api/entities
    option = page.locator("#merge-options input[value='e-busi']")
    expect(option).to_be_visible()
    option.check()
    page.fill("#merge-notes", "a mirror")
    page.click("#merge-button")
    expect(page.locator(".flash-ok")).to_contain_text("BUSI mirror merged")
    decision = latest(store, "e-merge")
    assert (decision.action, decision.target, decision.notes) == ("merge", "e-busi", "a mirror")


def test_undo_with_the_keyboard_and_from_the_log(page: Page, store: CurationStore) -> None:
    page.goto("/item/e-undo")
    page.keyboard.press("p")
    arrived(page, "Thyroid nodules postponed")
    assert store.state_of("e-undo") == "postponed"
    page.keyboard.press("u")  # on the next item: undoes the curator's last decision
    arrived(page, "undid")
    assert page.url.endswith("/item/e-undo")
    assert store.state_of("e-undo") == "pending"
    assert latest(store, "e-undo").action == "undo"
    page.keyboard.press("a")
    arrived(page, "Thyroid nodules accepted")
    page.goto("/log?item=e-undo")
    page.click(f"button[aria-label='Undo decision {latest(store, 'e-undo').decision_id}']")
    expect(page.locator(".flash-ok")).to_contain_text("undid")
    assert store.state_of("e-undo") == "pending"
    assert [d.who for d in store.log(item_id="e-undo")] == [CURATOR] * 4


def test_next_and_previous_keys(page: Page) -> None:
    page.goto("/item/e-merge?status=all")
    next_href = page.get_attribute("#next-link", "href")
    prev_href = page.get_attribute("#prev-link", "href")
    page.keyboard.press("j")
    page.wait_for_url(f"**{next_href}")
    page.keyboard.press("k")
    page.wait_for_url("**/item/e-merge?status=all")
    page.keyboard.press("b")
    page.wait_for_url(f"**{prev_href}")


def test_script_in_a_description_does_not_run(page: Page) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/item/e-evil")
    page.goto("/?status=all")
    page.goto("/item/e-evil")
    expect(page.locator("#description")).to_contain_text(PAYLOAD)  # shown literally
    assert page.evaluate("window.__pwned") is None
    assert page.title() == "Hostile description · sonoharvest"
    assert page.locator("#description script, #description img").count() == 0
    assert errors == []
