"""The review web app: a local, server-rendered page over the curation store.

Reading needs nothing; every write (POST) needs a curator logged in with the token from
SONOHARVEST_CURATOR_TOKEN, a CSRF token from the session embedded in the form, and no
cross-site Origin. Without a configured token the app is read-only. Harvested text is never
trusted: Jinja2 autoescapes every template, links are made only from http(s) URLs, and the
Content-Security-Policy forbids inline script.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from math import ceil
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import ChainableUndefined, Environment, FileSystemLoader
from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.datastructures import FormData, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sonoharvest.curation import STATES, CurationError, CurationStore, Decision, QueueItem
from sonoharvest.settings import Settings

HERE = Path(__file__).parent
TOKEN_ENV = "SONOHARVEST_CURATOR_TOKEN"
SESSION_COOKIE = "sonoharvest_session"
SESSION_MAX_AGE = 12 * 3600
PER_PAGE = 50
MAX_NAME = 60
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
PAST = {"accept": "accepted", "reject": "rejected", "postpone": "postponed",
        "merge": "merged", "split": "split"}

router = APIRouter()


class WebConfigError(ValueError):
    """The app cannot be served as asked (the message says why and what to do)."""


class Refused(Exception):
    """A request the app turns down; rendered as a page with this status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --- state shared by the routes -------------------------------------------------------------


class _Serialized:
    """The store behind a lock: it holds one SQLite connection and handlers run in threads."""

    def __init__(self, store: CurationStore) -> None:
        self._store = store
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._store, name)
        if not callable(value):
            return value

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return value(*args, **kwargs)

        return locked


@dataclass
class _Web:
    """What every route needs: the store, the token and the templates."""

    store: Any  # a _Serialized CurationStore
    token: str | None
    templates: Jinja2Templates
    logins: LoginThrottle = field(default_factory=lambda: LoginThrottle())


class LoginThrottle:
    """Failed logins per client address: after MAX_FAILURES within WINDOW seconds, that
    address must wait until the oldest failure leaves the window (guessing the token slowly)."""

    MAX_FAILURES = 5
    WINDOW = 300.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def wait(self, client: str) -> float:
        """Seconds this client must wait before trying again (0: may try now)."""
        with self._lock:
            now = self._clock()
            recent = [t for t in self._failures.get(client, []) if now - t < self.WINDOW]
            self._failures[client] = recent
            if len(recent) < self.MAX_FAILURES:
                return 0.0
            return self.WINDOW - (now - recent[0])

    def failed(self, client: str) -> None:
        with self._lock:
            self._failures.setdefault(client, []).append(self._clock())

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)


def _web(request: Request) -> _Web:
    return request.app.state.web


# --- filters ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The queue filters, as they travel in query strings and hidden form fields."""

    status: str = "pending"
    source: str = ""
    kind: str = ""
    anatomy: str = ""
    band: str = ""
    new: str = ""
    q: str = ""

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Filters:
        """Filters from a query string or a form; unknown values fall back to the default."""
        values = {f.name: _clean(data.get(f.name)) for f in fields(cls)}
        if values["status"] not in (*STATES, "all"):
            values["status"] = "pending"
        values["new"] = "1" if values["new"] in ("1", "on", "true") else ""
        return cls(**values)

    def store_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for CurationStore.items / neighbours."""
        return {"status": None if self.status == "all" else self.status,
                "source": self.source or None, "kind": self.kind or None,
                "anatomy": self.anatomy or None, "band": self.band or None,
                "new_only": bool(self.new), "search": self.q or None}

    def pairs(self) -> list[tuple[str, str]]:
        """The filters that differ from the default, as (name, value) pairs."""
        default = Filters()
        return [(f.name, getattr(self, f.name)) for f in fields(self)
                if getattr(self, f.name) != getattr(default, f.name)]

    def query(self, **extra: Any) -> str:
        """A query string ("?..." or "") with these filters and `extra` parameters."""
        pairs = dict(self.pairs())
        pairs.update({k: str(v) for k, v in extra.items() if v not in (None, "")})
        return f"?{urlencode(pairs)}" if pairs else ""

    def with_status(self, status: str) -> Filters:
        return replace(self, status=status)


def _clean(value: Any) -> str:
    """A form or query value as a short single-line string."""
    text = value if isinstance(value, str) else ""
    return " ".join(text.split())[:200]


# --- small helpers ---------------------------------------------------------------------------


def item_url(item_id: str, query: str = "") -> str:
    """The page of one queue item (ids may hold "/" and ":")."""
    return f"/item/{quote(item_id, safe='/:@')}{query}"


def http_url(value: Any) -> str:
    """`value` if it is an http(s) URL (safe for href), else ""."""
    if not isinstance(value, str):
        return ""
    parts = urlsplit(value.strip())
    return value.strip() if parts.scheme in ("http", "https") and parts.netloc else ""


def safe_next(value: Any, default: str = "/") -> str:
    """A local path to redirect to, or `default`: never another site (no open redirects)."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or any(ord(ch) < 32 or ch.isspace() for ch in value):
        return default
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else default


def number(value: Any, digits: int = 2) -> str:
    """A number with `digits` decimals, or "-"."""
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "-"


_MARKDOWN = MarkdownIt("commonmark", {"html": False}).disable("image")


def markdown(text: str) -> Markup:
    """Markdown as HTML; raw HTML in the text is escaped (markdown-it with html off)."""
    return Markup(_MARKDOWN.render(text or ""))


def _environment() -> Environment:
    """The Jinja2 environment: autoescape on for every template, whatever its name."""
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True,
                      undefined=ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(item_url=item_url, states=STATES, past=PAST)
    env.filters.update(http_url=http_url, number=number)
    return env


def _here(request: Request) -> str:
    """This page's local URL (for "log in and come back"); "/" for a POST."""
    if request.method != "GET":
        return "/"
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _referer(request: Request) -> str:
    """The local page the request came from, or "/"."""
    parts = urlsplit(request.headers.get("referer", ""))
    if parts.netloc != request.url.netloc:
        return "/"
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))


def _csrf(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def _who(request: Request) -> str | None:
    """The logged-in curator's name, if writes are enabled."""
    who = request.session.get("who")
    return who if _web(request).token and isinstance(who, str) and who else None


def flash(request: Request, kind: str, text: str) -> None:
    """A message shown once on the next page (kind: ok | error | info)."""
    messages = list(request.session.get("flash", []))[-4:]
    messages.append([kind, text[:400]])
    request.session["flash"] = messages


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page with the context every template uses (curator, CSRF token, messages...)."""
    web = _web(request)
    base = {"who": _who(request), "read_only": web.token is None, "csrf": _csrf(request),
            "flashes": request.session.pop("flash", []), "last_run": web.store.last_run(),
            "here": _here(request), "path": request.url.path, "token_env": TOKEN_ENV}
    response = web.templates.TemplateResponse(request, name, {**base, **context},
                                              status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(safe_next(url), status_code=303)


# --- write checks ----------------------------------------------------------------------------


async def form_data(request: Request) -> FormData:
    """The posted form (read once per request)."""
    return await request.form()


def _same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site."""
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        return False
    fetch_site = request.headers.get("sec-fetch-site")
    return fetch_site in (None, "same-origin", "none")


def check_post(request: Request, form: Annotated[FormData, Depends(form_data)]) -> None:
    """Origin and CSRF checks every POST passes before anything else (403 otherwise)."""
    if not _same_origin(request):
        raise Refused(403, "Refused: this form was posted from another site.")
    sent = form.get("csrf")
    expected = request.session.get("csrf")
    if not isinstance(sent, str) or not isinstance(expected, str) or not hmac.compare_digest(
            sent.encode(), expected.encode()):
        raise Refused(403, "Refused: the form's security token is missing or stale; "
                           "reload the page and try again.")


def curator(request: Request, _: Annotated[None, Depends(check_post)]) -> str:
    """The logged-in curator making a write; 403 when read-only, 401 when not logged in."""
    if _web(request).token is None:
        raise Refused(403, f"Read-only: set {TOKEN_ENV} and restart the server to decide.")
    who = _who(request)
    if who is None:
        raise Refused(401, "Log in with the curator token to make decisions.")
    return who


Form = Annotated[FormData, Depends(form_data)]
Curator = Annotated[str, Depends(curator)]
Checked = Annotated[None, Depends(check_post)]


# --- reading pages ---------------------------------------------------------------------------


def _options(items: Iterable[QueueItem]) -> dict[str, list[str]]:
    """The values each filter can take, from the whole queue."""
    items = list(items)
    return {"source": sorted({s for i in items for s in i.sources}),
            "kind": sorted({i.kind for i in items}),
            "anatomy": sorted({a for i in items for a in i.anatomy}),
            "band": sorted({i.band for i in items if i.band})}


def _counts(store: Any, filters: Filters) -> dict[str, int]:
    """How many items each status tab holds under the other filters."""
    everything = store.items(**filters.with_status("all").store_kwargs())
    counts = {state: 0 for state in STATES}
    for item in everything:
        counts[item.status] += 1
    counts["all"] = len(everything)
    return counts


def _page_number(value: Any, pages: int) -> int:
    try:
        return min(max(int(value), 1), max(pages, 1))
    except (TypeError, ValueError):
        return 1


@router.get("/", response_class=HTMLResponse)
def queue_page(request: Request) -> Response:
    """The review queue: filters, counts per status, one page of items, bulk actions."""
    store = _web(request).store
    filters = Filters.parse(request.query_params)
    matching = store.items(**filters.store_kwargs())
    pages = ceil(len(matching) / PER_PAGE)
    page = _page_number(request.query_params.get("page"), pages)
    start = (page - 1) * PER_PAGE
    return render(request, "queue.html", filters=filters, items=matching[start:start + PER_PAGE],
                  total=len(matching), page=page, pages=pages, start=start,
                  counts=_counts(store, filters), options=_options(store.items(status=None)),
                  reasons=store.reasons, item_query=filters.query())


def _last_decision(store: Any, who: str | None) -> Decision | None:
    """The curator's latest decision still in effect (what `u` undoes)."""
    if who is None:
        return None
    return next((d for d in store.log(limit=500) if d.who == who and d.action != "undo"
                 and d.undone_by is None), None)


def _in_effect(history: list[Decision]) -> Decision | None:
    return next((d for d in history if d.action != "undo" and d.undone_by is None), None)


def _entity_names(store: Any, entity_ids: Iterable[Any]) -> dict[str, str]:
    """The catalogue name of each linked entity (the queue's link names can be the other end's)."""
    names = {}
    for entity_id in {e for e in entity_ids if isinstance(e, str) and e}:
        names.update({e: n for e, n, _ in store.entity_names(entity_id) if e == entity_id})
    return names


@router.get("/item/{item_id:path}", response_class=HTMLResponse)
def item_page(request: Request, item_id: str) -> Response:
    """One item: its evidence, the decision forms and its decision history."""
    store = _web(request).store
    item = store.item(item_id)
    if item is None:
        raise Refused(404, f"{item_id} is not in the review queue.")
    filters = Filters.parse(request.query_params)
    prev_id, next_id = store.neighbours(item_id, **filters.store_kwargs())
    query = filters.query()
    merge_q = _clean(request.query_params.get("merge_q"))
    history = store.log(item_id=item_id, limit=200)
    undo_last = _last_decision(store, _who(request))
    link_names = _entity_names(store, [li.get("entity_id") for li in item.detail.get("links", [])])
    decided = store.item(undo_last.item_id) if undo_last else None
    return render(
        request, "item.html", item=item, d=item.detail, filters=filters, query=query,
        prev_url=item_url(prev_id, query) if prev_id else None,
        next_url=item_url(next_id, query) if next_id else None,
        after_url=item_url(next_id, query) if next_id else f"/{query}",
        self_url=item_url(item_id, query), history=history, in_effect=_in_effect(history),
        undo_last=undo_last, undo_last_name=decided.name if decided else None,
        reasons=store.reasons, merge_q=merge_q, link_names=link_names,
        merge_options=[e for e in store.entity_names(merge_q) if e[0] != item_id]
        if merge_q else [])


@router.get("/guidelines", response_class=HTMLResponse)
def guidelines_page(request: Request) -> Response:
    """The curation guidelines (markdown, escaped) and the rejection reason codes."""
    store = _web(request).store
    return render(request, "guidelines.html", guidelines=markdown(store.guidelines),
                  reasons=store.reasons)


@router.get("/log", response_class=HTMLResponse)
def log_page(request: Request) -> Response:
    """The audit log, newest first, optionally of one item."""
    item_id = _clean(request.query_params.get("item")) or None
    try:
        limit = min(max(int(request.query_params.get("limit", "200")), 1), 5000)
    except ValueError:
        limit = 200
    store = _web(request).store
    entries = store.log(item_id=item_id, limit=limit)
    names = {i.item_id: i.name for i in store.items(status=None)}
    return render(request, "log.html", entries=entries, item_id=item_id, limit=limit,
                  names=names)


@router.get("/api/entities")
def entities_api(request: Request) -> JSONResponse:
    """Merge targets whose id or name contains `q` (for the search field on the item page)."""
    query = _clean(request.query_params.get("q"))
    exclude = request.query_params.get("exclude")
    found = _web(request).store.entity_names(query)
    return JSONResponse([{"entity_id": e, "name": n, "kind": k}
                         for e, n, k in found if e != exclude])


# --- logging in ------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    return render(request, "login.html", next=safe_next(request.query_params.get("next")))


def _valid_name(value: Any) -> str | None:
    name = _clean(value)
    return name if 0 < len(name) <= MAX_NAME and name.isprintable() else None


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, form: Form, _: Checked) -> Response:
    """Check the token (constant time) and start a curator session under the given name."""
    token = _web(request).token
    target = safe_next(form.get("next"))
    if token is None:
        raise Refused(403, f"Read-only: set {TOKEN_ENV} and restart the server to decide.")
    name, given = _valid_name(form.get("name")), form.get("token")
    if name is None:
        return _login_again(request, target, f"Give your name (1 to {MAX_NAME} characters).")
    throttle, client = _web(request).logins, request.client.host if request.client else "?"
    wait = throttle.wait(client)
    if wait > 0:
        raise Refused(429, f"Too many wrong tokens from this address; try again in "
                           f"{ceil(wait / 60)} minute(s).")
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), token.encode()):
        throttle.failed(client)
        return _login_again(request, target, "Wrong curator token.")
    throttle.succeeded(client)
    request.session.clear()
    request.session.update(who=name, csrf=secrets.token_urlsafe(32))
    flash(request, "ok", f"Logged in as {name}.")
    return redirect(target)


def _login_again(request: Request, target: str, message: str) -> Response:
    flash(request, "error", message)
    return render(request, "login.html", status=401, next=target)


@router.post("/logout")
def logout(request: Request, _: Checked) -> Response:
    request.session.clear()
    flash(request, "info", "Logged out.")
    return redirect("/")


# --- deciding --------------------------------------------------------------------------------


def _targets(store: Any, form: FormData) -> list[str]:
    """The item ids a decision is about: the ticked ones, or every item the filter matches."""
    if form.get("scope") != "all":
        return [i for i in form.getlist("item_id") if isinstance(i, str) and i]
    ids = [i.item_id for i in store.items(**Filters.parse(form).store_kwargs())]
    expected = form.get("expected")
    if isinstance(expected, str) and expected.isdigit() and int(expected) != len(ids):
        raise CurationError(f"the queue changed: {len(ids)} items match the filter now, "
                            f"not {expected}; check the list and try again")
    return ids


def _summary(store: Any, made: list[Decision], action: str) -> str:
    """The flash message after a decision."""
    if len(made) == 1:
        d = made[0]
        found = store.item(d.item_id)
        return (f"#{d.decision_id}: {found.name if found else d.item_id} {PAST[action]} "
                f"({d.old_state} → {d.new_state}).")
    return f"{len(made)} items {PAST[action]} (#{made[0].decision_id}–#{made[-1].decision_id})."


@router.post("/decide")
def decide(request: Request, form: Form, who: Curator) -> Response:
    """Accept, reject, postpone, merge or split one item or many (bulk)."""
    store = _web(request).store
    action = _clean(form.get("action"))
    try:
        reason = _clean(form.get("reason_code")) if action == "reject" else ""
        made = store.decide(_targets(store, form), action, who=who, reason_code=reason or None,
                            target=_clean(form.get("target")) or None,
                            notes=str(form.get("notes") or "").strip()[:2000])
    except CurationError as exc:
        flash(request, "error", str(exc).splitlines()[0] if str(exc) else "refused")
        return redirect(safe_next(form.get("back")))
    flash(request, "ok", _summary(store, made, action))
    return redirect(safe_next(form.get("next")))


@router.post("/undo")
def undo(request: Request, form: Form, who: Curator) -> Response:
    """Undo one decision (a new log row); back to the item or the log."""
    store = _web(request).store
    raw = form.get("decision_id")
    try:
        if not isinstance(raw, str) or not raw.isdigit():
            raise CurationError("say which decision to undo")
        done = store.undo(int(raw), who=who, notes=str(form.get("notes") or "").strip()[:2000])
    except CurationError as exc:
        flash(request, "error", str(exc).splitlines()[0] if str(exc) else "refused")
        return redirect(safe_next(form.get("back") or form.get("next")))
    flash(request, "ok", f"#{done.decision_id}: undid #{done.undoes} on {done.item_id} "
                         f"(now {done.new_state}).")
    return redirect(safe_next(form.get("next")))


# --- the app ---------------------------------------------------------------------------------


class _SecurityHeaders:
    """Adds the security headers to every response (pages, static files, errors)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _HostGuard:
    """Answers 400 to a Host header not in `allowed` (DNS rebinding on a loopback server)."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str]) -> None:
        self.app = app
        self.allowed = {h.lower() for h in allowed}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            name = (urlsplit(f"//{host}").hostname or "") if host else ""
            if name.lower() not in self.allowed:
                response = Response("unknown host", status_code=400, media_type="text/plain")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _refused_page(request: Request, exc: Refused) -> Response:
    """A refusal as a page: the login form for 401, a short message otherwise."""
    if exc.status == 401:
        flash(request, "error", exc.message)
        return render(request, "login.html", status=401, next=_referer(request))
    return render(request, "error.html", status=exc.status, message=exc.message)


def _http_error_page(request: Request, exc: StarletteHTTPException) -> Response:
    """Not found, method not allowed...: the error page instead of JSON."""
    message = "Not found." if exc.status_code == 404 else str(exc.detail)
    return render(request, "error.html", status=exc.status_code, message=message)


def create_app(store: CurationStore, *, token: str | None, secret: str | None = None,
               allowed_hosts: Iterable[str] | None = None) -> FastAPI:
    """The review app over `store`.

    token: the curator token that enables writes (None: read-only). secret: signs the session
    cookie (default: random, so sessions end when the process does). allowed_hosts: Host
    names to answer (None: any).
    """
    app = FastAPI(title="sonoharvest review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.web = _Web(store=_Serialized(store), token=token or None,
                         templates=Jinja2Templates(env=_environment()))
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_exception_handler(Refused, _refused_page)
    app.add_exception_handler(StarletteHTTPException, _http_error_page)
    app.add_middleware(SessionMiddleware, secret_key=secret or secrets.token_urlsafe(32),
                       session_cookie=SESSION_COOKIE, max_age=SESSION_MAX_AGE,
                       same_site="strict", https_only=False)
    if allowed_hosts is not None:
        app.add_middleware(_HostGuard, allowed=list(allowed_hosts))
    app.add_middleware(_SecurityHeaders)
    return app


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8765,
          run: Callable[..., None] | None = None) -> None:
    """Serve the review app with uvicorn until interrupted.

    Writes need SONOHARVEST_CURATOR_TOKEN; a host other than loopback is refused without it.
    `run` replaces uvicorn.run (tests).
    """
    token = os.environ.get(TOKEN_ENV) or None
    loopback = is_loopback(host)
    if not loopback and token is None:
        raise WebConfigError(f"refusing to serve on {host} without a curator token: set "
                             f"{TOKEN_ENV}, or serve on 127.0.0.1")
    if run is None:
        import uvicorn

        run = uvicorn.run
    store = CurationStore.open(settings)
    hosts = ["localhost", "127.0.0.1", "::1", host.strip("[]")] if loopback else None
    mode = "decisions need a login" if token else f"read-only (set {TOKEN_ENV} to decide)"
    print(f"sonoharvest review on http://{_url_host(host)}:{port}/ : {mode}", flush=True)
    try:
        app = create_app(store, token=token, allowed_hosts=hosts)
        run(app, host=host, port=port, proxy_headers=False, server_header=False,
            log_level="warning")
    finally:
        store.close()
