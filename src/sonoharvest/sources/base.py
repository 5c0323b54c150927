"""The contract every source implements, and the context a harvest runs in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from sonoharvest.http import HttpClient, HttpError
from sonoharvest.records import Batch, RawItem, Record
from sonoharvest.settings import Settings


@dataclass(frozen=True, slots=True)
class Source:
    """A harvestable place. `harvest` does the network I/O; `to_record` is a pure mapping."""

    name: str
    summary: str
    base_url: Callable[[Settings], str]
    harvest: Callable[[SourceContext], AsyncIterator[Batch]]
    to_record: Callable[[RawItem], Record]
    # (base_url, authenticated) -> [(url prefix, requests per minute)]
    rate_limits: Callable[[str, bool], list[tuple[str, float]]]
    auth_headers: Callable[[Settings], dict[str, str]] = lambda settings: {}
    # Returns a one-line reason when the source cannot run with these settings, else None.
    unavailable: Callable[[Settings], str | None] = lambda settings: None


@dataclass(slots=True)
class SourceContext:
    """What a source's harvest may use: the HTTP client, its settings, cursors, known ids."""

    source: str
    http: HttpClient
    settings: Settings
    base_url: str
    config: dict[str, Any]
    full: bool
    started_at: datetime
    authenticated: bool
    cursors: dict[str, str] = field(default_factory=dict)
    known: Callable[..., list[str]] = lambda **kw: []
    # The raw payload stored for a source id (None if unknown): lets a 304 reuse what we have.
    stored: Callable[[str], Any] = lambda source_id: None

    def cursor(self, key: str) -> str | None:
        """The stored cursor for `key`, or None on a full sweep or a first run."""
        return None if self.full else self.cursors.get(key)


def bearer(secret: SecretStr | None) -> dict[str, str]:
    """An Authorization header for a token, or no header when it is unset."""
    token = secret.get_secret_value().strip() if secret else ""
    return {"Authorization": f"Bearer {token}"} if token else {}


def term_groups(terms: list[str], per_query: int) -> list[list[str]]:
    """The vocabulary's distinct terms, stripped, in groups of `per_query` (one query each)."""
    unique = list(dict.fromkeys(t.strip() for t in terms if t and t.strip()))
    step = max(1, per_query)
    return [unique[i:i + step] for i in range(0, len(unique), step)]


def field_queries(terms: list[str], fields: list[str], per_query: int) -> list[str]:
    """Elasticsearch query strings (Zenodo, DataCite) ORing `per_query` terms over `fields`;
    anything but a plain word is quoted as a phrase (so "B-mode" is not read as B NOT mode)."""
    return [" OR ".join(f"{f}:({' OR '.join(map(_phrase, group))})" for f in fields)
            for group in term_groups(terms, per_query)]


def _phrase(term: str) -> str:
    return term if re.fullmatch(r"[A-Za-z0-9]+", term) else '"' + re.sub(r'["\\]', "", term) + '"'


async def recheck_stale(ctx: SourceContext, item_type: str, url_of: Callable[[str], str], *,
                        gone: tuple[int, ...] = (404, 410),
                        headers: dict[str, str] | None = None,
                        payload_of: Callable[[str, Any], Any] = lambda source_id, data: data,
                        ) -> AsyncIterator[Batch]:
    """Re-fetch (ETag-revalidated) up to `recheck_max` records not seen by a search for
    `recheck_after_days`: a `gone` status means withdrawn, a 304 unchanged. `payload_of` turns
    a reply into the stored payload (None: nothing to store)."""
    days, limit = ctx.config.get("recheck_after_days"), int(ctx.config.get("recheck_max", 0))
    if ctx.full or days is None or limit <= 0:
        return
    stale = ctx.known(item_type=item_type,
                      seen_before=ctx.started_at - timedelta(days=float(days)))
    batch = Batch()
    for source_id in stale[:limit]:
        batch.requests += 1
        try:
            reply = await ctx.http.get(url_of(source_id), headers=headers, revalidate=True)
        except HttpError as exc:
            if exc.status not in gone:
                raise
            batch.gone.append(source_id)
            continue
        if reply.not_modified:
            batch.unchanged.append(source_id)
        elif (payload := payload_of(source_id, reply.data)) is not None:
            batch.items.append(RawItem(item_type, payload))
        if batch.requests >= 20:
            yield batch
            batch = Batch()
    if batch.requests:
        yield batch


def load_config(rubrics_dir: Path, source: str) -> dict[str, Any]:
    """The source's query file merged with the shared vocabulary (`terms`)."""
    folder = rubrics_dir / "harvest"
    vocabulary = _read_yaml(folder / "vocabulary.yaml")
    own = _read_yaml(folder / f"{source}.yaml") if (folder / f"{source}.yaml").exists() else {}
    return {"terms": list(vocabulary.get("terms", [])), **own}


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} is missing; restore it from the repository.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ValueError(f"{path}{where} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a mapping at the top level.")
    return data
