"""A fake GitHub REST API: repository search, repositories by name or id, and READMEs."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from sonoharvest.demo.fakeapi import FakeService, json_response
from sonoharvest.http import Clock
from sonoharvest.records import parse_time

DATA = Path(__file__).with_name("data") / "github.json"
API = "https://api.github.com"
DOCS = "https://docs.github.com/rest"
# Limits as GitHub documents them: search per minute, core per hour (anonymous, with a token).
SEARCH_LIMIT = {False: 10, True: 30}
CORE_LIMIT = {False: 60, True: 5000}
MAX_PER_PAGE = 100
SEARCH_CAP = 1000
VERSIONS = frozenset({"2022-11-28", "2026-03-10"})
# Keys of the full repository object that search items do not carry.
NOT_IN_SEARCH = ("subscribers_count", "network_count", "organization", "temp_clone_token")
QUALIFIERS = frozenset({"in", "topic", "created", "pushed", "fork", "archived", "language",
                        "user", "org", "is", "stars"})
_TOKENS = re.compile(r'"[^"]*"|\S+')
_EPSILON = 1e-6

LICENSES = {
    "mit": ("MIT License", "MIT", "MDc6TGljZW5zZTEz"),
    "apache-2.0": ("Apache License 2.0", "Apache-2.0", "MDc6TGljZW5zZTI="),
    "gpl-3.0": ("GNU General Public License v3.0", "GPL-3.0", "MDc6TGljZW5zZTk="),
    "agpl-3.0": ("GNU Affero General Public License v3.0", "AGPL-3.0", "MDc6TGljZW5zZTE="),
    "lgpl-3.0": ("GNU Lesser General Public License v3.0", "LGPL-3.0", "MDc6TGljZW5zZTEy"),
    "bsd-3-clause": ('BSD 3-Clause "New" or "Revised" License', "BSD-3-Clause",
                     "MDc6TGljZW5zZTU="),
    "bsd-2-clause": ('BSD 2-Clause "Simplified" License', "BSD-2-Clause", "MDc6TGljZW5zZTQ="),
    "cc-by-4.0": ("Creative Commons Attribution 4.0 International", "CC-BY-4.0",
                  "MDc6TGljZW5zZTI1"),
    "cc-by-nc-sa-4.0": ("Creative Commons Attribution Non Commercial Share Alike 4.0 "
                        "International", "CC-BY-NC-SA-4.0", "MDc6TGljZW5zZTQy"),
    "cc0-1.0": ("Creative Commons Zero v1.0 Universal", "CC0-1.0", "MDc6TGljZW5zZTY="),
    "other": ("Other", "NOASSERTION", "MDc6TGljZW5zZTA="),
}


def load_demo() -> list[dict[str, Any]]:
    """The bundled demo repositories: [{"repo": <repository object>, "readme": text or null}]."""
    return json.loads(DATA.read_text(encoding="utf-8"))["repositories"]


def services(items: list[dict[str, Any]] | None = None, *, clock: Clock | None = None,
             base_url: str = API) -> list[FakeService]:
    return [GitHubFake(load_demo() if items is None else items, clock=clock, base_url=base_url)]


@dataclass
class _Window:
    start: float
    used: int = 0


class GitHubFake:
    """Serves `items`; enforces GitHub's limits per token when it shares the client's clock."""

    def __init__(self, items: list[dict[str, Any]], *, clock: Clock | None = None,
                 base_url: str = API) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "api.github.com"
        self.prefix = parts.path.rstrip("/")
        self.api = base_url.rstrip("/")
        self.paths = [f"{self.prefix}/search/", f"{self.prefix}/repos/",
                      f"{self.prefix}/repositories/"]
        # The static budget FakeInternet enforces: the authenticated search limit.
        self.limits = [(f"{self.prefix}/search", float(SEARCH_LIMIT[True]))]
        self.items = items
        self.clock = clock
        self.tokens: set[str] | None = None     # when set, other tokens get 401
        self.renamed: dict[str, int] = {}       # old "owner/name" (lower) -> repository id
        self.incomplete = 0                     # next N searches answer incomplete_results
        self.rejected = 0
        self.calls: list[tuple[str, str | None]] = []   # (path, Authorization header)
        self._injected: list[tuple[str, httpx.Response]] = []
        self._windows: dict[tuple[str, str], _Window] = {}

    def inject(self, status: int, headers: dict[str, str] | None = None, *, path: str = "",
               times: int = 1) -> None:
        """Answer the next `times` requests whose path contains `path` with this status."""
        body = {"message": "You have exceeded a secondary rate limit.", "documentation_url": DOCS}
        for _ in range(times):
            self._injected.append((path, json_response(body, status, headers)))

    def handle(self, request: httpx.Request) -> httpx.Response:
        auth = request.headers.get("authorization")
        self.calls.append((request.url.path, auth))
        for index, (path, response) in enumerate(self._injected):
            if path in request.url.path:
                del self._injected[index]
                return response
        if request.headers.get("x-github-api-version", "2022-11-28") not in VERSIONS:
            return _message(400, "Unsupported 'X-GitHub-Api-Version' header.")
        token = auth.split(" ", 1)[1] if auth and " " in auth else None
        if token is not None and self.tokens is not None and token not in self.tokens:
            return _message(401, "Bad credentials")
        path = request.url.path[len(self.prefix):]
        if path == "/search/repositories":
            return self._limited(token, "search", lambda: self._search(request))
        return self._limited(token, "core", lambda: self._core(path), request)

    # --- routes --------------------------------------------------------------------------

    def _search(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        try:
            query = _Query.parse(params.get("q", ""))
            per_page = max(1, min(int(params.get("per_page", 30)), MAX_PER_PAGE))
            page = max(1, int(params.get("page", 1)))
        except ValueError as exc:
            return _invalid(str(exc))
        if (page - 1) * per_page >= SEARCH_CAP:
            return _message(422, "Only the first 1000 search results are available")
        hits = [(query.score(e), _search_item(e["repo"])) for e in self.items if query.match(e)]
        hits = _sort(hits, params.get("sort"), params.get("order", "desc"))
        chunk = hits[(page - 1) * per_page:min(page * per_page, SEARCH_CAP)]
        incomplete = self.incomplete > 0 and bool(chunk)
        if incomplete:
            self.incomplete -= 1
            chunk = chunk[:len(chunk) // 2]
        items = [{**item, "score": score} for score, item in chunk]
        last = max(1, math.ceil(min(len(hits), SEARCH_CAP) / per_page))
        body = {"total_count": len(hits), "incomplete_results": incomplete, "items": items}
        return json_response(body, headers=_links(request.url, page, last))

    def _core(self, path: str) -> httpx.Response:
        parts = path.strip("/").split("/")
        if parts[0] == "repositories" and len(parts) == 2:
            entry = next((e for e in self.items if str(e["repo"].get("id")) == parts[1]), None)
            return _repo_response(entry["repo"]) if entry else _not_found("repos/repos#get")
        if parts[0] != "repos" or len(parts) not in (3, 4):
            return _not_found("")
        name = f"{parts[1]}/{parts[2]}".lower()
        entry = next((e for e in self.items if str(e["repo"].get("full_name")).lower() == name),
                     None)
        if entry is None and name in self.renamed and len(parts) == 3:
            location = f"{self.api}/repositories/{self.renamed[name]}"
            return httpx.Response(301, headers={"location": location},
                                  json={"message": "Moved Permanently", "url": location})
        if entry is None or (len(parts) == 4 and parts[3] != "readme"):
            return _not_found("repos/repos#get")
        if len(parts) == 3:
            return _repo_response(entry["repo"])
        if not entry.get("readme"):
            return _not_found("repos/contents#get-a-repository-readme")
        return _cached(readme_object(entry["repo"], entry["readme"], self.api))

    # --- limits --------------------------------------------------------------------------

    def _limited(self, token: str | None, resource: str, answer: Callable[[], httpx.Response],
                 request: httpx.Request | None = None) -> httpx.Response:
        """GitHub's fixed windows: search per minute, core per hour; a 304 spends nothing."""
        response = answer()
        etag = response.headers.get("etag")
        if request is not None and etag and request.headers.get("if-none-match") == etag:
            return httpx.Response(304, headers={"etag": etag, **self._budget(token, resource)})
        if self.clock is not None:
            limit = (SEARCH_LIMIT if resource == "search" else CORE_LIMIT)[token is not None]
            window = self._window(token, resource)
            if window.used >= limit:
                self.rejected += 1
                return httpx.Response(403, headers=self._budget(token, resource), json={
                    "message": "API rate limit exceeded. (Authenticated requests get a higher "
                               "rate limit.)", "documentation_url": DOCS})
            window.used += 1
        response.headers.update(self._budget(token, resource))
        return response

    def spent(self, resource: str, token: str | None = None) -> int:
        """Requests counted against `resource` ("core" or "search") in the current window."""
        window = self._windows.get((token or "", resource))
        if window is None or self.clock is None or self._expired(window, resource):
            return 0
        return window.used

    def _expired(self, window: _Window, resource: str) -> bool:
        assert self.clock is not None
        length = 60.0 if resource == "search" else 3600.0
        return self.clock.time() >= window.start + length - _EPSILON

    def _window(self, token: str | None, resource: str) -> _Window:
        assert self.clock is not None
        window = self._windows.get((token or "", resource))
        if window is None or self._expired(window, resource):
            window = self._windows[(token or "", resource)] = _Window(self.clock.time())
        return window

    def _budget(self, token: str | None, resource: str) -> dict[str, str]:
        limit = (SEARCH_LIMIT if resource == "search" else CORE_LIMIT)[token is not None]
        headers = {"x-ratelimit-limit": str(limit), "x-ratelimit-resource": resource}
        if self.clock is None:  # no shared clock: budgets are not tracked
            return headers
        window = self._window(token, resource)
        length = 60 if resource == "search" else 3600
        return {**headers, "x-ratelimit-remaining": str(max(0, limit - window.used)),
                "x-ratelimit-used": str(window.used),
                "x-ratelimit-reset": str(math.ceil(window.start + length))}


class _Query:
    """A parsed search: OR-groups of AND-ed terms, the fields they match, and qualifiers."""

    def __init__(self) -> None:
        self.groups: list[list[str]] = [[]]
        self.fields = ["name", "description", "topics"]
        self.filters: list[Callable[[dict[str, Any]], bool]] = []
        self.forks = "false"

    @classmethod
    def parse(cls, q: str) -> _Query:
        query, operators, text = cls(), 0, []
        for token in _TOKENS.findall(q):
            if token in ("OR", "AND", "NOT"):
                operators += 1
                if token == "OR":
                    query.groups.append([])
                continue
            key, sep, value = token.partition(":")
            if sep and not token.startswith('"') and key.lower() in QUALIFIERS:
                query._qualifier(key.lower(), value)
                continue
            text.append(token.strip('"'))
            query.groups[-1].append(token.strip('"').lower())
        if operators > 5:
            raise ValueError("The search contains more than 5 AND / OR / NOT operators.")
        if len(" ".join(text)) > 256:
            raise ValueError("The search is longer than 256 characters.")
        query.groups = [g for g in query.groups if g]
        return query

    def _qualifier(self, key: str, value: str) -> None:
        low = value.lower()
        if key == "in":
            self.fields = low.split(",")
        elif key == "fork":
            self.forks = low
        elif key in ("created", "pushed"):
            test = _date_test(value)
            self.filters.append(lambda r, k=f"{key}_at": test(parse_time(r.get(k))))
        elif key == "topic":
            self.filters.append(lambda r: low in [str(t).lower() for t in r.get("topics") or []])
        elif key == "language":
            self.filters.append(lambda r: str(r.get("language") or "").lower() == low)
        elif key == "archived":
            self.filters.append(lambda r: bool(r.get("archived")) == (low == "true"))
        elif key == "stars":
            test = _number_test(value)
            self.filters.append(lambda r: test(r.get("stargazers_count") or 0))
        elif key in ("user", "org"):
            self.filters.append(lambda r: str((r.get("owner") or {}).get("login")).lower() == low)

    def match(self, entry: dict[str, Any]) -> bool:
        repo = entry["repo"]
        if (self.forks == "false" and repo.get("fork")) or (self.forks == "only"
                                                            and not repo.get("fork")):
            return False
        if not all(test(repo) for test in self.filters):
            return False
        text = self._text(entry)
        return not self.groups or any(all(_has(text, t) for t in g) for g in self.groups)

    def score(self, entry: dict[str, Any]) -> float:
        text = self._text(entry)
        return float(1 + sum(_has(text, t) for g in self.groups for t in g))

    def _text(self, entry: dict[str, Any]) -> str:
        repo = entry["repo"]
        parts = {"name": str(repo.get("name") or ""), "description": repo.get("description"),
                 "topics": " ".join(repo.get("topics") or []), "readme": entry.get("readme")}
        text = " \n ".join(str(parts.get(f) or "") for f in self.fields)
        return f"{text} \n {re.sub(r'[-_.]', ' ', text)}"


def _has(text: str, term: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(term)}(?!\w)", text, re.I) is not None


def _date_test(expr: str) -> Callable[[datetime | None], bool]:
    """GitHub's date syntax: a..b, *..b, >=a, >a, <=b, <b, or one day; dates or datetimes."""
    def bounds(text: str) -> tuple[datetime, datetime]:
        start = parse_time(text)
        if start is None:
            raise ValueError(f"invalid date {text!r}")
        end = start + timedelta(days=1, microseconds=-1) if len(text) == 10 else start
        return start, end

    if ".." in expr:
        a, b = expr.split("..", 1)
        lo = None if a in ("", "*") else bounds(a)[0]
        hi = None if b in ("", "*") else bounds(b)[1]
        return lambda t: t is not None and (lo is None or t >= lo) and (hi is None or t <= hi)
    for op, test in ((">=", lambda t, s, e: t >= s), ("<=", lambda t, s, e: t <= e),
                     (">", lambda t, s, e: t > e), ("<", lambda t, s, e: t < s)):
        if expr.startswith(op):
            start, end = bounds(expr[len(op):])
            return lambda t, f=test: t is not None and f(t, start, end)
    start, end = bounds(expr)
    return lambda t: t is not None and start <= t <= end


def _number_test(expr: str) -> Callable[[float], bool]:
    if ".." in expr:
        a, b = expr.split("..", 1)
        lo, hi = (float("-inf") if a == "*" else float(a)), (float("inf") if b == "*" else float(b))
        return lambda n: lo <= n <= hi
    for op, test in ((">=", float.__ge__), ("<=", float.__le__), (">", float.__gt__),
                     ("<", float.__lt__)):
        if expr.startswith(op):
            bound = float(expr[len(op):])
            return lambda n, f=test: f(float(n), bound)
    return lambda n: float(n) == float(expr)


def _sort(hits: list[tuple[float, dict[str, Any]]], sort: str | None, order: str
          ) -> list[tuple[float, dict[str, Any]]]:
    field = {"updated": "updated_at", "stars": "stargazers_count", "forks": "forks_count",
             "help-wanted-issues": "open_issues_count"}.get(sort or "")
    if field is None:  # best match
        return sorted(hits, key=lambda h: (-h[0], h[1].get("id") or 0))
    return sorted(hits, key=lambda h: (h[1].get(field) is not None, h[1].get(field) or 0,
                                       h[1].get("id") or 0), reverse=order != "asc")


def _links(url: httpx.URL, page: int, last: int) -> dict[str, str]:
    rels = []
    if page < last:
        rels += [("next", page + 1), ("last", last)]
    if page > 1:
        rels += [("first", 1), ("prev", page - 1)]
    links = ", ".join(f'<{url.copy_set_param("page", str(n))}>; rel="{rel}"' for rel, n in rels)
    return {"link": links} if links else {}


def _search_item(repo: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in repo.items() if k not in NOT_IN_SEARCH}


def _repo_response(repo: dict[str, Any]) -> httpx.Response:
    response = _cached(repo)
    if repo.get("updated_at"):
        stamp = parse_time(repo["updated_at"])
        if stamp is not None:
            response.headers["last-modified"] = stamp.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return response


def _cached(body: dict[str, Any]) -> httpx.Response:
    raw = json.dumps(body, sort_keys=True).encode()
    etag = f'W/"{hashlib.sha256(raw).hexdigest()}"'
    return json_response(body, headers={"etag": etag, "cache-control": "public, max-age=60"})


def _message(status: int, message: str) -> httpx.Response:
    return json_response({"message": message, "documentation_url": DOCS, "status": str(status)},
                         status)


def _invalid(message: str) -> httpx.Response:
    return json_response({"message": "Validation Failed", "errors": [
        {"resource": "Search", "field": "q", "code": "invalid", "message": message}],
        "documentation_url": f"{DOCS}/search/search", "status": "422"}, 422)


def _not_found(anchor: str) -> httpx.Response:
    return json_response({"message": "Not Found", "documentation_url": f"{DOCS}/{anchor}",
                          "status": "404"}, 404)


# --- builders: the real shapes of repository and README objects ---------------------------

def readme_object(repo: dict[str, Any], text: str, api: str = API) -> dict[str, Any]:
    """GET /repos/{owner}/{repo}/readme: base64 content wrapped at 60 characters, like GitHub."""
    raw = text.encode()
    sha = hashlib.sha1(b"blob %d\0" % len(raw) + raw).hexdigest()  # noqa: S324 - git blob id
    encoded = base64.b64encode(raw).decode()
    name, branch = repo["full_name"], repo.get("default_branch") or "main"
    self_url = f"{api}/repos/{name}/contents/README.md?ref={branch}"
    html = f"https://github.com/{name}/blob/{branch}/README.md"
    git = f"{api}/repos/{name}/git/blobs/{sha}"
    return {
        "name": "README.md", "path": "README.md", "sha": sha, "size": len(raw), "url": self_url,
        "html_url": html, "git_url": git,
        "download_url": f"https://raw.githubusercontent.com/{name}/{branch}/README.md",
        "type": "file",
        "content": "".join(encoded[i:i + 60] + "\n" for i in range(0, len(encoded), 60)),
        "encoding": "base64", "_links": {"self": self_url, "git": git, "html": html},
    }


def _node(kind: str, ident: int) -> str:
    # Legacy global node ids: base64 of "0<len(type)>:<Type><id>", e.g. "010:Repository1".
    return base64.b64encode(f"0{len(kind)}:{kind}{ident}".encode()).decode()


def owner_object(login: str, ident: int, kind: str = "User") -> dict[str, Any]:
    user = f"{API}/users/{login}"
    return {
        "login": login, "id": ident, "node_id": _node(kind, ident),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{ident}?v=4", "gravatar_id": "",
        "url": user, "html_url": f"https://github.com/{login}",
        "followers_url": f"{user}/followers", "following_url": f"{user}/following{{/other_user}}",
        "gists_url": f"{user}/gists{{/gist_id}}",
        "starred_url": f"{user}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{user}/subscriptions", "organizations_url": f"{user}/orgs",
        "repos_url": f"{user}/repos", "events_url": f"{user}/events{{/privacy}}",
        "received_events_url": f"{user}/received_events", "type": kind,
        "user_view_type": "public", "site_admin": False,
    }


_TEMPLATES = {
    "forks_url": "/forks", "keys_url": "/keys{/key_id}",
    "collaborators_url": "/collaborators{/collaborator}", "teams_url": "/teams",
    "hooks_url": "/hooks", "issue_events_url": "/issues/events{/number}",
    "events_url": "/events", "assignees_url": "/assignees{/user}",
    "branches_url": "/branches{/branch}", "tags_url": "/tags", "blobs_url": "/git/blobs{/sha}",
    "git_tags_url": "/git/tags{/sha}", "git_refs_url": "/git/refs{/sha}",
    "trees_url": "/git/trees{/sha}", "statuses_url": "/statuses/{sha}",
    "languages_url": "/languages", "stargazers_url": "/stargazers",
    "contributors_url": "/contributors", "subscribers_url": "/subscribers",
    "subscription_url": "/subscription", "commits_url": "/commits{/sha}",
    "git_commits_url": "/git/commits{/sha}", "comments_url": "/comments{/number}",
    "issue_comment_url": "/issues/comments{/number}", "contents_url": "/contents/{+path}",
    "compare_url": "/compare/{base}...{head}", "merges_url": "/merges",
    "archive_url": "/{archive_format}{/ref}", "downloads_url": "/downloads",
    "issues_url": "/issues{/number}", "pulls_url": "/pulls{/number}",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "labels_url": "/labels{/name}", "releases_url": "/releases{/id}",
    "deployments_url": "/deployments",
}


def repo_object(ident: int, full_name: str, *, description: str | None, created_at: str,
                pushed_at: str, updated_at: str | None = None, topics: list[str] | None = None,
                language: str | None = "Python", license: str | None = None, stars: int = 0,
                forks: int = 0, open_issues: int = 0, homepage: str | None = None,
                owner_id: int = 1, owner_type: str = "User", fork: bool = False,
                archived: bool = False, size: int = 1024, watchers: int = 1) -> dict[str, Any]:
    """A repository object as GET /repos/{owner}/{repo} answers it (API version 2022-11-28)."""
    login, name = full_name.split("/")
    owner = owner_object(login, owner_id, owner_type)
    api = f"{API}/repos/{full_name}"
    lic = None
    if license:
        title, spdx, node = LICENSES[license]
        lic = {"key": license, "name": title, "spdx_id": spdx,
               "url": None if license == "other" else f"{API}/licenses/{license}", "node_id": node}
    repo: dict[str, Any] = {
        "id": ident, "node_id": _node("Repository", ident), "name": name,
        "full_name": full_name, "private": False, "owner": owner,
        "html_url": f"https://github.com/{full_name}", "description": description, "fork": fork,
        "url": api, **{key: api + path for key, path in _TEMPLATES.items()},
        "created_at": created_at, "updated_at": updated_at or pushed_at, "pushed_at": pushed_at,
        "git_url": f"git://github.com/{full_name}.git",
        "ssh_url": f"git@github.com:{full_name}.git",
        "clone_url": f"https://github.com/{full_name}.git",
        "svn_url": f"https://github.com/{full_name}", "homepage": homepage, "size": size,
        "stargazers_count": stars, "watchers_count": stars, "language": language,
        "has_issues": True, "has_projects": True, "has_downloads": True, "has_wiki": True,
        "has_pages": False, "has_discussions": False, "forks_count": forks, "mirror_url": None,
        "archived": archived, "disabled": False, "open_issues_count": open_issues,
        "license": lic, "allow_forking": True, "is_template": False,
        "web_commit_signoff_required": False, "has_pull_requests": True,
        "pull_request_creation_policy": "all", "topics": topics or [], "visibility": "public",
        "forks": forks, "open_issues": open_issues, "watchers": stars, "default_branch": "main",
        "temp_clone_token": None, "custom_properties": {},
    }
    if owner_type == "Organization":
        repo["organization"] = owner
    repo["network_count"], repo["subscribers_count"] = forks, watchers
    return repo
