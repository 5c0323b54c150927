"""The review web app through FastAPI's TestClient, over a store filled with `publish`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sonoharvest.curation import CurationStore
from sonoharvest.web import WebConfigError, create_app, serve
from sonoharvest.web import app as web_app
from sonoharvest.web.app import LoginThrottle, safe_next

TOKEN = "correct-horse-battery-staple"
SCRIPT = "<script>alert(1)</script>"
ATTR = '"><img src=x onerror=alert(1)>'
GUIDELINES = f"# Guidelines\n\n**Accept** public ultrasound data; see `review.yaml`.\n\n{SCRIPT}\n"


def entity(item_id: str, name: str, *, kind: str = "dataset", band: str = "likely",
           relevance: float = 0.9, sources: list[str] | None = None,
           anatomy: list[str] | None = None, copies: int = 1, **detail: Any) -> dict[str, Any]:
    """A queue item shaped like curation_sync.publish_queue makes them."""
    sources = sources or ["zenodo"]
    return {
        "item_id": item_id, "item_type": "entity", "kind": kind, "name": name,
        "reason": "new", "band": band, "relevance": relevance,
        "priority": round(1 - abs(2 * relevance - 1), 4), "sources": sources,
        "anatomy": anatomy or [], "tasks": ["segmentation"], "review_hash": f"h-{item_id}",
        "detail": {
            "description": f"About {name}.", "primary_url": f"https://zenodo.org/{item_id}",
            "license": "CC-BY-4.0", "license_class": "open", "access": "open",
            "access_reason": "zenodo access_right=open", "size": {"images": 780},
            "size_evidence": {"images": "780 PNG images"},
            "link": {"status": 200, "ok": True, "error": None,
                     "checked_at": "2026-01-02T00:00:00+00:00"},
            "copies": [{"key": f"{sources[n % len(sources)]}:{item_id}-{n}",
                        "source": sources[n % len(sources)], "title": f"{name} copy {n}",
                        "url": f"https://example.org/{item_id}/{n}",
                        "role": "primary" if n == 0 else "copy",
                        "method": "primary" if n == 0 else "reference",
                        "evidence": "chosen as the original" if n == 0 else "same DOI",
                        "status": "active", "relevance": relevance} for n in range(copies)],
            "relevance_evidence": ["phrases: {'ultrasound': 'ultrasound'}"],
            "score": {"score": 61.5, "tier": "Silver", "criteria": [
                {"id": "licence", "title": "Explicit licence", "points": 10.0,
                 "max_points": 10.0, "evidence": "CC-BY-4.0"}]},
            "links": [], **detail,
        },
    }


def hostile() -> dict[str, Any]:
    """An entity whose every harvested field tries to inject markup."""
    item = entity("e-evil", f"Evil {SCRIPT} set", relevance=0.5, sources=["zenodo", "kaggle"],
                  anatomy=["breast"], copies=2,
                  description=f"Cardiac echo {SCRIPT} and {ATTR} end",
                  primary_url="javascript:alert(1)", license=ATTR, access=SCRIPT,
                  relevance_evidence=[f"phrases: {ATTR}"],
                  links=[{"relation": "uses", "entity_id": "e-thyroid", "name": ATTR}])
    item["detail"]["copies"][1].update(title=f"Copy {ATTR}", evidence=SCRIPT,
                                       url="javascript:alert(2)")
    item["detail"]["score"]["criteria"][0]["evidence"] = ATTR
    return item


def queue_items() -> list[dict[str, Any]]:
    record = entity("zenodo:123", "Sonar fish finder", kind="other", band="unlikely",
                    relevance=0.1)
    record.update(item_type="record", reason="review sample")
    return [
        hostile(),
        entity("e-echo", "Cardiac echo model", kind="model", band="review", relevance=0.7,
               sources=["github"], anatomy=["heart"], copies=3),
        entity("e-thyroid", "Thyroid ultrasound dataset", relevance=0.95,
               sources=["huggingface"], anatomy=["thyroid"]),
        record,
    ]


INDEX = [("e-evil", f"Evil {SCRIPT} set", "dataset"), ("e-echo", "Cardiac echo model", "model"),
         ("e-thyroid", "Thyroid ultrasound dataset", "dataset"),
         ("e-busi", "BUSI original", "dataset"), ("e-odd", f"Odd {ATTR}", "dataset")]


@pytest.fixture
def store(tmp_path: Path) -> CurationStore:
    s = CurationStore(tmp_path / "curation.sqlite", guidelines=GUIDELINES)
    s.publish(queue_items(), INDEX, "run-1")
    yield s
    s.close()


@pytest.fixture
def client(store: CurationStore) -> TestClient:
    return TestClient(create_app(store, token=TOKEN, secret="test-secret"))


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def login(client: TestClient, name: str = "ann") -> str:
    """Log in; returns the session's (new) CSRF token."""
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"csrf": token, "name": name, "token": TOKEN, "next": "/"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return csrf_of(client.get("/").text)


def post(client: TestClient, url: str, csrf: str, **data: Any) -> Any:
    return client.post(url, data={"csrf": csrf, **data}, follow_redirects=False)


def flashes(html: str) -> list[str]:
    return re.findall(r'class="flash flash-\w+">([^<]*)<', html)


# --- reading ---------------------------------------------------------------------------------


def test_pages_render(client: TestClient) -> None:
    for url in ("/", "/?status=all", "/item/e-echo", "/item/zenodo:123", "/guidelines", "/log",
                "/login"):
        r = client.get(url)
        assert r.status_code == 200, url
        assert r.headers["content-type"].startswith("text/html")
    page = client.get("/item/e-echo").text
    for shown in ("Cardiac echo model", "780 images", "780 PNG images", "CC-BY-4.0",
                  "Explicit licence", "10.0 / 10.0", "same DOI", "github:e-echo-2",
                  "reachable", "phrases: {&#39;ultrasound&#39;: &#39;ultrasound&#39;}",
                  "Keyboard shortcuts"):
        assert shown in page, shown
    assert client.get("/item/missing").status_code == 404
    assert client.get("/no-such-page").status_code == 404


def names_on(client: TestClient, url: str) -> list[str]:
    html = client.get(url).text
    return re.findall(r'<a href="/item/[^"]*">([^<]*)</a><br>', html)


def test_filters_and_counts(client: TestClient) -> None:
    assert len(names_on(client, "/")) == 4
    assert names_on(client, "/?source=github") == ["Cardiac echo model"]
    assert names_on(client, "/?kind=model") == ["Cardiac echo model"]
    assert names_on(client, "/?anatomy=thyroid") == ["Thyroid ultrasound dataset"]
    assert names_on(client, "/?band=unlikely") == ["Sonar fish finder"]
    assert names_on(client, "/?q=THYROID") == ["Thyroid ultrasound dataset"]
    assert names_on(client, "/?q=e-echo") == ["Cardiac echo model"]
    assert len(names_on(client, "/?new=1")) == 4
    assert names_on(client, "/?status=accepted") == []
    assert names_on(client, "/?status=bogus") == names_on(client, "/")
    html = client.get("/?source=zenodo").text
    assert re.search(r'pending <span class="count">2</span>', html)
    assert re.search(r'all <span class="count">2</span>', html)


def test_order_and_pagination(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_app, "PER_PAGE", 3)
    first = names_on(client, "/")
    assert len(first) == 3 and first[0].startswith("Evil")  # most uncertain first
    second = names_on(client, "/?page=2")
    assert second == ["Thyroid ultrasound dataset"]
    assert "page 2 of 2" in client.get("/?page=2").text
    assert names_on(client, "/?page=junk") == first


def test_new_since_last_run(store: CurationStore, client: TestClient) -> None:
    store.publish([*queue_items(), entity("e-new", "Fresh liver set", anatomy=["liver"])],
                  INDEX, "run-2")
    assert names_on(client, "/?new=1") == ["Fresh liver set"]


def test_item_navigation_keeps_filters(client: TestClient) -> None:
    html = client.get("/item/e-evil?source=zenodo").text
    assert 'id="next-link" href="/item/zenodo:123?source=zenodo"' in html
    assert 'id="prev-link"' not in html


def test_guidelines_markdown_is_escaped(client: TestClient) -> None:
    html = client.get("/guidelines").text
    assert "<strong>Accept</strong>" in html and "<code>review.yaml</code>" in html
    assert SCRIPT not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "not_ultrasound" in html


def test_entities_api(client: TestClient) -> None:
    found = client.get("/api/entities", params={"q": "busi"}).json()
    assert found == [{"entity_id": "e-busi", "name": "BUSI original", "kind": "dataset"}]
    assert client.get("/api/entities", params={"q": "echo", "exclude": "e-echo"}).json() == []


# --- security --------------------------------------------------------------------------------


def test_security_headers_and_cookie(client: TestClient) -> None:
    for url in ("/", "/item/e-echo", "/static/style.css", "/static/app.js", "/missing"):
        r = client.get(url)
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
        assert r.headers["x-frame-options"] == "DENY"
    cookie = TestClient(client.app).get("/login").headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_no_inline_script_or_style(client: TestClient) -> None:
    for url in ("/", "/item/e-echo", "/guidelines", "/log", "/login"):
        html = client.get(url).text
        assert re.findall(r"<script(?![^>]*\bsrc=)", html) == [], url
        assert " style=" not in html and "<style" not in html and " onclick=" not in html


def test_post_requires_login(client: TestClient, store: CurationStore) -> None:
    token = csrf_of(client.get("/").text)
    r = post(client, "/decide", token, item_id="e-echo", action="accept")
    assert r.status_code == 401
    assert 'action="/login"' in r.text and "Log in" in r.text
    assert store.log() == []
    bare = TestClient(client.app)  # no session at all: no CSRF token either
    assert bare.post("/decide", data={"item_id": "e-echo", "action": "accept"}).status_code == 403
    assert store.log() == []


def test_wrong_token_refused(client: TestClient, store: CurationStore) -> None:
    token = csrf_of(client.get("/login").text)
    r = post(client, "/login", token, name="mallory", token="guess", next="/")
    assert r.status_code == 401 and "Wrong curator token" in r.text
    r = post(client, "/decide", csrf_of(r.text), item_id="e-echo", action="accept")
    assert r.status_code == 401 and store.log() == []
    r = post(client, "/login", csrf_of(client.get("/login").text), name="", token=TOKEN)
    assert r.status_code == 401 and "Give your name" in r.text


def test_repeated_wrong_tokens_are_throttled(client: TestClient) -> None:
    for _ in range(LoginThrottle.MAX_FAILURES):
        r = post(client, "/login", csrf_of(client.get("/login").text), name="m", token="guess")
        assert r.status_code == 401
    r = post(client, "/login", csrf_of(client.get("/login").text), name="m", token=TOKEN)
    assert r.status_code == 429 and "Too many wrong tokens" in r.text


def test_the_throttle_forgets_old_failures() -> None:
    now = [0.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    for _ in range(LoginThrottle.MAX_FAILURES):
        throttle.failed("1.2.3.4")
    assert throttle.wait("1.2.3.4") == LoginThrottle.WINDOW and throttle.wait("5.6.7.8") == 0
    now[0] = LoginThrottle.WINDOW + 1
    assert throttle.wait("1.2.3.4") == 0


def test_login_rotates_csrf_and_logout(client: TestClient) -> None:
    before = csrf_of(client.get("/login").text)
    after = login(client)
    assert after != before
    assert "Curator: <strong>ann</strong>" in client.get("/").text
    assert post(client, "/decide", before, item_id="e-echo", action="accept").status_code == 403
    r = post(client, "/logout", after)
    assert r.status_code == 303
    assert "Curator:" not in client.get("/").text


def test_csrf_missing_or_wrong(client: TestClient, store: CurationStore) -> None:
    login(client)
    r = client.post("/decide", data={"item_id": "e-echo", "action": "accept"})
    assert r.status_code == 403 and "security token" in r.text
    r = post(client, "/decide", "not-the-token", item_id="e-echo", action="accept")
    assert r.status_code == 403
    r = post(client, "/decide", "tök€n", item_id="e-echo", action="accept")
    assert r.status_code == 403
    assert post(client, "/undo", "nope", decision_id="1").status_code == 403
    assert post(client, "/login", "nope", name="ann", token=TOKEN).status_code == 403
    assert store.log() == []


def test_cross_origin_post_refused(client: TestClient, store: CurationStore) -> None:
    csrf = login(client)
    data = {"csrf": csrf, "item_id": "e-echo", "action": "accept", "next": "/"}
    for origin in ("https://evil.example", "null", "http://testserver.evil.example"):
        r = client.post("/decide", data=data, headers={"Origin": origin})
        assert r.status_code == 403, origin
    r = client.post("/decide", data=data, headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    assert store.log() == []
    r = client.post("/decide", data=data, headers={"Origin": "http://testserver"},
                    follow_redirects=False)
    assert r.status_code == 303 and store.state_of("e-echo") == "accepted"


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example", "/\\evil.example",
                                    "evil.example", "javascript:alert(1)", "/\t/evil.example"])
def test_no_open_redirect(client: TestClient, target: str) -> None:
    assert safe_next(target) == "/"
    token = csrf_of(client.get("/login").text)
    r = post(client, "/login", token, name="ann", token=TOKEN, next=target)
    assert r.status_code == 303 and r.headers["location"] == "/"
    csrf = csrf_of(client.get("/").text)
    r = post(client, "/decide", csrf, item_id="e-echo", action="postpone", next=target)
    assert r.headers["location"] == "/"
    r = post(client, "/decide", csrf, item_id="e-echo", action="reject", back=target)
    assert r.headers["location"] == "/"


def test_local_redirects_kept(client: TestClient) -> None:
    assert safe_next("/item/e-echo?status=all") == "/item/e-echo?status=all"
    token = csrf_of(client.get("/login").text)
    r = post(client, "/login", token, name="ann", token=TOKEN, next="/log?item=e-echo")
    assert r.headers["location"] == "/log?item=e-echo"


def test_harvested_text_is_escaped_everywhere(client: TestClient) -> None:
    csrf = login(client)
    post(client, "/decide", csrf, item_id="e-evil", action="postpone", notes=f"{SCRIPT} {ATTR}",
         next="/")
    pages = ["/", "/?q=Evil", "/item/e-evil", "/item/e-evil?merge_q=odd", "/log",
             "/log?item=e-evil", "/guidelines", f"/login?next={ATTR}", "/item/e-thyroid"]
    for url in pages:
        html = client.get(url).text
        assert SCRIPT not in html, url
        assert "<img src=x" not in html and "onerror=alert" not in html.replace(
            "onerror=alert(1)&gt;", ""), url
    html = client.get("/item/e-evil").text
    assert "Evil &lt;script&gt;alert(1)&lt;/script&gt; set" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'href="javascript:' not in html  # non-http URLs are shown, not linked
    assert "javascript:alert(1)" in html


def test_flash_text_is_escaped(client: TestClient, store: CurationStore) -> None:
    csrf = login(client)
    r = post(client, "/decide", csrf, item_id="e-evil", action="accept", next="/")
    html = client.get(r.headers["location"]).text
    assert SCRIPT not in html and "Evil &lt;script&gt;" in html


def test_read_only_without_token(store: CurationStore) -> None:
    client = TestClient(create_app(store, token=None))
    html = client.get("/").text
    assert "Read-only" in html and "SONOHARVEST_CURATOR_TOKEN" in html
    assert 'action="/decide"' not in client.get("/item/e-echo").text
    assert 'name="item_id"' not in html
    csrf = csrf_of(client.get("/").text)
    r = post(client, "/login", csrf, name="ann", token="")
    assert r.status_code == 403
    r = post(client, "/decide", csrf, item_id="e-echo", action="accept")
    assert r.status_code == 403 and "Read-only" in r.text
    assert store.log() == []


# --- deciding --------------------------------------------------------------------------------


def test_accept_reject_postpone(client: TestClient, store: CurationStore) -> None:
    csrf = login(client, "Dr Ann")
    r = post(client, "/decide", csrf, item_id="e-echo", action="accept", notes="fine",
             next="/item/e-thyroid", back="/item/e-echo")
    assert r.status_code == 303 and r.headers["location"] == "/item/e-thyroid"
    assert "Cardiac echo model accepted" in flashes(client.get("/").text)[0]
    r = post(client, "/decide", csrf, item_id="zenodo:123", action="reject",
             reason_code="not_ultrasound", next="/")
    assert r.status_code == 303
    post(client, "/decide", csrf, item_id="e-thyroid", action="postpone", next="/")
    assert store.state_of("e-echo") == "accepted"
    assert store.state_of("zenodo:123") == "rejected"
    assert store.state_of("e-thyroid") == "postponed"
    log = store.log()
    assert [d.who for d in log] == ["Dr Ann"] * 3
    assert log[1].reason_code == "not_ultrasound" and log[2].notes == "fine"
    html = client.get("/log").text
    assert "Dr Ann" in html and "not_ultrasound" in html


def test_reject_needs_a_reason(client: TestClient, store: CurationStore) -> None:
    csrf = login(client)
    r = post(client, "/decide", csrf, item_id="e-echo", action="reject", next="/",
             back="/item/e-echo")
    assert r.status_code == 303 and r.headers["location"] == "/item/e-echo"
    html = client.get("/item/e-echo").text
    assert "a rejection needs a reason code" in html and "Traceback" not in html
    assert store.log() == []


def test_accept_drops_a_stray_reason(client: TestClient, store: CurationStore) -> None:
    csrf = login(client)
    post(client, "/decide", csrf, item_id="e-echo", action="accept", reason_code="broken")
    assert store.log()[0].reason_code is None


def test_merge_and_split(client: TestClient, store: CurationStore) -> None:
    csrf = login(client, "bob")
    html = client.get("/item/e-echo?merge_q=busi").text
    assert 'value="e-busi"' in html and "BUSI original" in html
    r = post(client, "/decide", csrf, item_id="e-echo", action="merge", target="e-busi",
             notes="same data", next="/")
    assert r.status_code == 303
    merged = store.log()[0]
    assert (merged.action, merged.target, merged.who, merged.new_state) == (
        "merge", "e-busi", "bob", "accepted")
    r = post(client, "/decide", csrf, item_id="e-evil", action="split", target="kaggle:e-evil-1",
             next="/item/e-evil")
    assert r.status_code == 303
    split = store.log()[0]
    assert (split.action, split.target, split.item_id) == ("split", "kaggle:e-evil-1", "e-evil")
    post(client, "/decide", csrf, item_id="e-thyroid", action="merge", target="e-nowhere",
         back="/item/e-thyroid")
    assert "no entity &#39;e-nowhere&#39;" in client.get("/item/e-thyroid").text
    post(client, "/decide", csrf, item_id="e-evil", action="split", target="zenodo:other",
         back="/item/e-evil")
    assert "is not a copy of e-evil" in client.get("/item/e-evil").text
    assert len(store.log()) == 2


def test_split_offers_the_copies(client: TestClient) -> None:
    login(client)
    html = client.get("/item/e-echo").text
    assert 'id="form-split"' in html
    for key in ("github:e-echo-0", "github:e-echo-1", "github:e-echo-2"):
        assert f'<option value="{key}">' in html
    assert 'id="form-split"' not in client.get("/item/e-thyroid").text  # one copy only


def test_undo_from_item_page_and_log(client: TestClient, store: CurationStore) -> None:
    csrf = login(client, "cat")
    post(client, "/decide", csrf, item_id="e-echo", action="accept", next="/")
    post(client, "/decide", csrf, item_id="e-thyroid", action="postpone", next="/")
    first, second = store.log()[1], store.log()[0]
    html = client.get("/item/e-echo").text
    assert 'id="form-undo-last"' in html
    assert f'name="decision_id" value="{second.decision_id}"' in html  # the latest one
    r = post(client, "/undo", csrf, decision_id=str(first.decision_id), next="/item/e-echo")
    assert r.status_code == 303 and r.headers["location"] == "/item/e-echo"
    assert store.state_of("e-echo") == "pending"
    r = post(client, "/undo", csrf, decision_id=str(second.decision_id), next="/log")
    assert r.headers["location"] == "/log"
    assert store.state_of("e-thyroid") == "pending"
    undos = [d for d in store.log() if d.action == "undo"]
    assert [d.who for d in undos] == ["cat", "cat"]
    r = post(client, "/undo", csrf, decision_id=str(first.decision_id), back="/log")
    assert "already undone" in client.get(r.headers["location"]).text
    post(client, "/undo", csrf, decision_id="abc", back="/log")
    assert "say which decision" in client.get("/log").text


def test_bulk_selected(client: TestClient, store: CurationStore) -> None:
    csrf = login(client)
    html = client.get("/").text
    assert 'id="bulk"' in html and 'id="select-all"' in html
    r = client.post("/decide", data={"csrf": csrf, "action": "accept", "scope": "selected",
                                     "item_id": ["e-echo", "e-thyroid"], "next": "/"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert {d.item_id for d in store.log()} == {"e-echo", "e-thyroid"}
    assert "2 items accepted" in flashes(client.get("/").text)[0]
    r = client.post("/decide", data={"csrf": csrf, "action": "reject", "scope": "selected",
                                     "item_id": ["e-evil"], "back": "/?status=pending"},
                    follow_redirects=False)
    assert r.headers["location"] == "/?status=pending" and len(store.log()) == 2
    post(client, "/decide", csrf, action="postpone", scope="selected", back="/")
    assert "nothing was decided" in client.get("/").text


def test_bulk_every_item_matching_the_filter(client: TestClient, store: CurationStore) -> None:
    csrf = login(client)
    html = client.get("/?source=zenodo").text
    assert 'name="expected" value="2"' in html and 'name="source" value="zenodo"' in html
    r = post(client, "/decide", csrf, action="reject", reason_code="broken", scope="all",
             source="zenodo", expected="2", next="/?source=zenodo")
    assert r.status_code == 303
    assert sorted(d.item_id for d in store.log()) == ["e-evil", "zenodo:123"]
    assert all(d.reason_code == "broken" for d in store.log())
    post(client, "/decide", csrf, action="accept", scope="all", status="all", expected="3",
         back="/")
    assert "the queue changed: 4 items match" in client.get("/").text
    assert len(store.log()) == 2


# --- serving ---------------------------------------------------------------------------------


def test_serve_refuses_a_public_host_without_token(settings, monkeypatch) -> None:
    calls: list[Any] = []
    with pytest.raises(WebConfigError, match="without a curator token"):
        serve(settings, host="0.0.0.0", run=lambda *a, **k: calls.append(k))
    assert calls == []
    monkeypatch.setenv("SONOHARVEST_CURATOR_TOKEN", TOKEN)
    serve(settings, host="0.0.0.0", port=9999, run=lambda app, **k: calls.append(k))
    assert calls[0]["host"] == "0.0.0.0" and calls[0]["port"] == 9999


def test_serve_on_loopback_checks_the_host_header(settings) -> None:
    seen: list[int] = []

    def run(app: Any, **options: Any) -> None:
        client = TestClient(app, base_url="http://127.0.0.1:8765")
        r = client.get("/")
        assert r.status_code == 200 and "Read-only" in r.text
        seen.append(client.get("/", headers={"Host": "evil.example:8765"}).status_code)
        seen.append(client.get("/", headers={"Host": "localhost:8765"}).status_code)

    serve(settings, run=run)
    assert seen == [400, 200]


def test_login_page_after_a_refused_post_returns_to_the_referring_page(
        client: TestClient) -> None:
    token = csrf_of(client.get("/login").text)
    r = client.post("/decide", data={"csrf": token, "item_id": "e-echo", "action": "accept"},
                    headers={"Referer": "http://testserver/item/e-echo?status=all"})
    assert r.status_code == 401
    assert 'name="next" value="/item/e-echo?status=all"' in r.text
    r = client.post("/decide", data={"csrf": token, "item_id": "e-echo", "action": "accept"},
                    headers={"Referer": "https://evil.example/phish"})
    assert 'name="next" value="/"' in r.text


def test_item_page_shows_the_decision_in_effect(client: TestClient) -> None:
    csrf = login(client, "dee")
    post(client, "/decide", csrf, item_id="e-echo", action="postpone", next="/")
    html = client.get("/item/e-echo").text
    assert 'class="current">Decided: <span class="status status-postponed">' in html
    assert "by dee (#1," in html
