"""Access conditions: a record's access field plus phrase cues in its text -> an access level.

Pure and offline. Per-source field mappings, defaults and the phrase patterns live in
rubrics/access.yaml; see the comments there for the decision order.
"""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sonoharvest.datafiles import read_sections
from sonoharvest.settings import REPO_ROOT

ACCESS_LEVELS = ("open download", "registration", "on request", "controlled", "unknown")
"""Allowed levels, from the least to the most strict, then "unknown"."""

DEFAULT_PATH = REPO_ROOT / "rubrics" / "access.yaml"

_STRICTNESS = {level: i for i, level in enumerate(ACCESS_LEVELS[:-1])}
_SECTIONS = {"version", "values", "sources", "negations", "cues"}
_SOURCE_KEYS = {"field", "default", "values"}
_TAG = re.compile(r"<[^>]{0,500}>")
_MAX_PHRASE = 80


@dataclass(frozen=True)
class Access:
    """An access level (one of ACCESS_LEVELS) and the rule that decided it."""

    level: str
    reason: str


@dataclass(frozen=True)
class _Source:
    field: str
    default: str | None
    values: dict[str, str]


@dataclass(frozen=True)
class _Rules:
    values: dict[str, str]
    sources: dict[str, _Source]
    negations: tuple[re.Pattern[str], ...]
    cues: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]  # strictest level first


def classify_access(source: str, access: str | None, text: str = "", *,
                    path: Path | None = None) -> Access:
    """Classify a record's access from its source, its access field and its description.

    A text cue stricter than the field wins (a Zenodo "open" record whose text says "data
    available upon reasonable request" is "on request"); so does any cue when the field gives
    nothing. `path` names the rubric file (default rubrics/access.yaml), read once per path.
    """
    rules = load_rules(path or DEFAULT_PATH)
    field = _field_level(rules, source, access)
    cue = _text_cue(rules, text)
    if cue is not None and (field.level == "unknown"
                            or _STRICTNESS[cue.level] > _STRICTNESS[field.level]):
        if field.level == "unknown":
            return cue
        return Access(cue.level, f"{cue.reason}, stricter than {field.reason}")
    return field


def plain_text(text: str) -> str:
    """Description text as searched: HTML tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(_TAG.sub(" ", text)).split())


def _fold(value: str) -> str:
    return " ".join(re.sub(r"[-_]+", " ", value.lower()).split())


def _field_level(rules: _Rules, source: str, access: str | None) -> Access:
    name = _fold(source) if isinstance(source, str) else ""
    spec = rules.sources.get(name)
    field = spec.field if spec else "access"
    label = name or "unknown source"
    value = _fold(access) if isinstance(access, str) else ""
    if not value:
        if spec and spec.default:
            return Access(spec.default, f"{label} default ({field} not given)")
        return Access("unknown", f"{label} {field} not given")
    level = (spec.values.get(value) if spec else None) or rules.values.get(value)
    if level is None:
        return Access("unknown", f"{label} {field}={value!r} is not mapped in access.yaml")
    return Access(level, f"{label} {field}={value}")


def _text_cue(rules: _Rules, text: str) -> Access | None:
    """The strictest level whose cue matches the text, with the phrase that matched."""
    if not isinstance(text, str) or not text.strip():
        return None
    plain = plain_text(text)
    negated: str | None = None
    for regex in rules.negations:
        match = regex.search(plain)
        if match and negated is None:
            negated = match.group(0)
        plain = regex.sub(" ", plain)
    for level, regexes in rules.cues:
        if level == "open download" and negated is not None:
            return Access(level, f"text: {_phrase(negated)}")
        for regex in regexes:
            match = regex.search(plain)
            if match:
                return Access(level, f"text: {_phrase(match.group(0))}")
    return None


def _phrase(matched: str) -> str:
    phrase = " ".join(matched.split())
    if len(phrase) > _MAX_PHRASE:
        phrase = phrase[: _MAX_PHRASE - 1] + "…"
    return repr(phrase)


# --- the rubric file -------------------------------------------------------------------------


def load_rules(path: Path) -> _Rules:
    """Read and check an access rubric; cached per resolved path."""
    return _load_rules(Path(path).resolve())


@functools.cache
def _load_rules(path: Path) -> _Rules:
    data = read_sections(path, "rubrics/access.yaml", _SECTIONS)

    def fail(entry: str, problem: str) -> ValueError:
        return ValueError(f"{path}: entry {entry}: {problem}")

    def level(entry: str, value: Any) -> str:
        if value not in ACCESS_LEVELS:
            raise fail(entry, f"level {value!r} is not one of {list(ACCESS_LEVELS)}.")
        return str(value)

    def mapping(entry: str, value: Any) -> dict[str, str]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise fail(entry, "expected a mapping of field value -> level.")
        return {_fold(str(k)): level(f"{entry}[{k!r}]", v) for k, v in value.items()}

    def regexes(entry: str, value: Any) -> tuple[re.Pattern[str], ...]:
        if not isinstance(value, list):
            raise fail(entry, "expected a list of regexes.")
        compiled = []
        for i, pattern in enumerate(value):
            if not isinstance(pattern, str) or not pattern:
                raise fail(f"{entry}[{i}]", f"expected a non-empty regex string, got {pattern!r}.")
            try:
                compiled.append(re.compile(pattern, re.IGNORECASE))
            except re.error as exc:
                raise fail(f"{entry}[{i}]", f"invalid regex {pattern!r}: {exc}.") from None
        return tuple(compiled)

    sources: dict[str, _Source] = {}
    raw_sources = data.get("sources") or {}
    if not isinstance(raw_sources, dict):
        raise fail("sources", "expected a mapping of source name -> settings.")
    for name, spec in raw_sources.items():
        entry = f"sources[{name!r}]"
        if not isinstance(spec, dict) or set(spec) - _SOURCE_KEYS:
            raise fail(entry, f"expected a mapping with keys among {sorted(_SOURCE_KEYS)}.")
        default = spec.get("default")
        sources[_fold(str(name))] = _Source(
            field=str(spec.get("field") or "access"),
            default=None if default is None else level(f"{entry}.default", default),
            values=mapping(f"{entry}.values", spec.get("values")))

    raw_cues = data.get("cues") or {}
    if not isinstance(raw_cues, dict):
        raise fail("cues", "expected a mapping of level -> list of regexes.")
    cues = []
    for name, patterns in raw_cues.items():
        entry = f"cues[{name!r}]"
        if name not in _STRICTNESS:
            raise fail(entry, f"level must be one of {list(_STRICTNESS)}.")
        cues.append((str(name), regexes(entry, patterns)))
    cues.sort(key=lambda item: -_STRICTNESS[item[0]])
    if "open download" not in dict(cues):
        cues.append(("open download", ()))  # negations still count as an open-download cue

    return _Rules(values=mapping("values", data.get("values")), sources=sources,
                  negations=regexes("negations", data.get("negations") or []),
                  cues=tuple(cues))
