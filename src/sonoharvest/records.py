"""The typed boundary: what every source maps its raw payload to."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import unescape
from typing import Any, Literal

from bs4 import BeautifulSoup
from pydantic import BaseModel, ConfigDict, Field, field_validator

KindHint = Literal["dataset", "model", "code", "paper", "other"]

# Fields that change without the resource changing (counters); excluded from the content hash.
VOLATILE_FIELDS = frozenset({"metrics", "fetched_at"})


@dataclass(frozen=True, slots=True)
class RawItem:
    """One raw API payload as a source yielded it. `item_type` tells `to_record` how to map it."""

    item_type: str
    payload: dict[str, Any]


@dataclass(slots=True)
class Batch:
    """What a source hands the warehouse in one transaction.

    `cursor` (key, value) is committed together with `items`; `unchanged` lists source ids
    confirmed unchanged (for example by a 304); `gone` lists source ids the source says vanished.
    """

    items: list[RawItem] = field(default_factory=list)
    cursor: tuple[str, str] | None = None
    unchanged: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    requests: int = 0


class Record(BaseModel):
    """The common shape of a harvested record. The raw payload is stored beside it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    source_id: str = Field(min_length=1)
    kind_hint: KindHint = "other"
    title: str = Field(min_length=1)
    description: str = ""
    url: str | None = None
    doi: str | None = None
    identifiers: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    license: str | None = None
    access: str | None = None
    creators: list[str] = Field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    related: list[str] = Field(default_factory=list)
    metrics: dict[str, float] = Field(default_factory=dict)

    @field_validator("title")
    @classmethod
    def _title_text(cls, value: str) -> str:
        value = clean_text(value)
        if not value:
            raise ValueError("title is empty after cleaning")
        return value[:1000]

    @field_validator("description")
    @classmethod
    def _description_text(cls, value: str) -> str:
        return clean_text(value)[:20000]

    @field_validator("created_at", "updated_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    def content_hash(self) -> str:
        """A stable hash of what the record says, ignoring counters."""
        body = self.model_dump(mode="json", exclude=set(VOLATILE_FIELDS))
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: str | None) -> str:
    """Strip HTML (scripts and styles dropped), unescape entities, collapse whitespace.

    Repeated until nothing changes, so escaped markup ("&lt;b&gt;") is stripped too and
    cleaning a cleaned text gives it back unchanged.
    """
    text = value or ""
    for _ in range(4):
        cleaned = _clean_once(text)
        if cleaned == text:
            break
        text = cleaned
    return text


def _clean_once(value: str) -> str:
    if not value:
        return ""
    if "<" in value and ">" in value:
        soup = BeautifulSoup(value, "html.parser")
        for tag in soup(["script", "style"]):
            tag.decompose()
        value = soup.get_text(" ")
    value = _CONTROL.sub(" ", unescape(value))
    return _SPACE.sub(" ", value).strip()


def parse_time(value: Any) -> datetime | None:
    """Parse an ISO date or datetime (or epoch seconds) into an aware UTC datetime.

    Anything unreadable, out of range included, raises ValueError (or TypeError).
    """
    if value in (None, ""):
        return None
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, tz=UTC)
        text = str(value).strip().replace("Z", "+00:00")
        parsed = datetime.fromisoformat(text)
    except (OverflowError, OSError) as exc:
        raise ValueError(f"time out of range: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def now() -> datetime:
    return datetime.now(tz=UTC)
