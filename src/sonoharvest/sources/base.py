"""The contract every source implements, and the context a harvest runs in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from sonoharvest.http import HttpClient
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
