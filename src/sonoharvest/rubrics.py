"""Quality rubrics as data (rubrics/sonodqs.yaml, rubrics/sonomqs.yaml) and a generic scorer.

A rubric is a list of weighted criteria. Each criterion names one generic check (the CHECKS
registry below) whose parameters come from the YAML; no code here knows a criterion id. A check
looks at an entity's facts (the dict that resolution builds) and returns a credit in [0, 1] and
an evidence string quoting what it saw. A criterion earns `weight * credit`, the score is the
share of all weights earned (0..100, rounded to 0.1) and the tier is the highest one whose
threshold the score reaches. Everything is pure: no database, no network, no clock.

    rubric = load_rubric("rubrics/sonodqs.yaml")
    result = score(rubric, facts, now=datetime.now(UTC))
    result.tier, [(c.id, c.points, c.evidence) for c in result.criteria]
    raise_hints(rubric, result)      # what would lift it to the next tier
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = [
    "CHECKS", "FACT_FIELDS", "TIERS", "CriterionResult", "Rubric", "RubricError", "Score",
    "fingerprint", "load_rubric", "load_rubrics", "raise_hints", "score", "tier_for",
]

TIERS = ("Diamond", "Platinum", "Gold", "Silver", "Bronze", "Steel")

# Top-level keys of the facts contract (see rubrics/README.md). A check's field must start with
# one of them, so that a typo in a rubric fails at load time instead of silently scoring 0.
FACT_FIELDS = frozenset({
    "kind", "name", "description", "text", "primary_url", "urls", "doi", "identifiers",
    "sources", "n_copies", "license", "license_class", "access", "size", "anatomy", "tasks",
    "keywords", "papers", "weights", "datasets", "used_by", "created_at", "updated_at",
    "versions", "metrics", "link",
})

Facts = Mapping[str, Any]
Result = tuple[float, str]


class RubricError(ValueError):
    """A rubric file that cannot be used; the message names the file and the place."""


# --- reading facts -------------------------------------------------------------------------

def _get(facts: Facts, path: str) -> Any:
    """The value at a dotted path ("size.images"), or None when any step is missing."""
    value: Any = facts
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


class _Context:
    """One entity being scored: its facts, `now`, and each text field casefolded once."""

    __slots__ = ("facts", "now", "_texts")

    def __init__(self, facts: Facts, now: datetime) -> None:
        self.facts, self.now = facts, now
        self._texts: dict[str, tuple[str, str]] = {}

    def get(self, path: str) -> Any:
        return _get(self.facts, path)

    def text(self, path: str) -> tuple[str, str]:
        """The field as text, and lower-cased for the literal prefilter of text_matches."""
        if path not in self._texts:
            text = _text(self.get(path))
            self._texts[path] = (text, text.lower())
        return self._texts[path]


def _absent(value: Any) -> bool:
    if value is None or value is False:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | tuple | set | dict) and not value


def _quote(value: Any, limit: int = 60) -> str:
    text = " ".join(str(value).split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _magnitude(value: Any) -> float | None:
    """Numbers as they are; strings, lists and dicts by their length; anything else is absent."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return None if math.isnan(value) else float(value)
    if isinstance(value, str | list | tuple | set | dict):
        return float(len(value))
    return None


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return " ; ".join(str(v) for v in value if isinstance(v, str | int | float))
    return ""


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- text search ---------------------------------------------------------------------------
# A pattern matches within one sentence or line: the text is cut at line breaks and at ". ".
# Python's re needs ~100 us to scan 4 kB with a case-insensitive pattern that starts with \b,
# and a rubric has dozens of patterns, so each pattern carries the literals one of which every
# match must contain (read from re's own parse tree), found with str.find in the lower-cased
# text; the pattern then runs only on the sentences around them. Same matches, ~50x faster.

def _required_literals(pattern: str) -> tuple[str, ...] | None:
    """Lower-case strings one of which every match of the pattern contains, or None."""
    try:
        parsed = re._parser.parse(pattern, re.IGNORECASE)  # type: ignore[attr-defined]
        found = _literals_of(list(parsed))
    except Exception:  # noqa: BLE001  (a surprise only disables the shortcut)
        return None
    return tuple(sorted(found)) if found and min(map(len, found)) >= 2 else None


def _literals_of(items: list[Any]) -> frozenset[str] | None:
    c = re._constants  # type: ignore[attr-defined]
    best: frozenset[str] | None = None
    run: list[str] = []

    def consider(option: frozenset[str] | None) -> None:
        # The cheapest set to look for: fewest strings, as long as none is very short.
        nonlocal best
        if option and (best is None or _cost(option) < _cost(best)):
            best = option

    for op, arg in items:
        if op is c.LITERAL:
            run.append(chr(arg))
            continue
        if run:
            consider(frozenset({"".join(run).lower()}))
            run = []
        if op is c.SUBPATTERN:
            consider(_literals_of(list(arg[-1])))
        elif op is c.ATOMIC_GROUP:
            consider(_literals_of(list(arg)))
        elif op is c.BRANCH:
            options = [_literals_of(list(branch)) for branch in arg[1]]
            if all(options):
                consider(frozenset().union(*options))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT) and arg[0] >= 1:
            consider(_literals_of(list(arg[2])))
    if run:
        consider(frozenset({"".join(run).lower()}))
    return best


def _cost(option: frozenset[str]) -> tuple[int, int]:
    shortest = min(map(len, option))
    return (0 if shortest >= 3 else 1, len(option) if shortest >= 3 else -shortest)


def _sentence_end(text: str, start: int) -> int:
    ends = [i for i in (text.find("\n", start), text.find(". ", start)) if i >= 0]
    return min(ends, default=len(text))


def _sentence_start(text: str, pos: int) -> int:
    period = text.rfind(". ", 0, pos)
    return max(text.rfind("\n", 0, pos) + 1, period + 2 if period >= 0 else 0)


def _search(pattern: re.Pattern[str], literals: tuple[str, ...] | None, text: str,
            lowered: str) -> re.Match[str] | None:
    """The first match of the pattern within one sentence or line of the text."""
    if literals is None or len(lowered) != len(text):
        return _search_every_sentence(pattern, text)
    found = [(at, lit) for lit in literals if (at := lowered.find(lit)) >= 0]
    while found:
        at = min(found)[0]
        end = _sentence_end(text, at)
        match = pattern.search(text, _sentence_start(text, at), end)
        if match:
            return match
        found = [(i if i > end else lowered.find(lit, end + 1), lit) for i, lit in found]
        found = [(i, lit) for i, lit in found if i >= 0]
    return None


def _search_every_sentence(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    start = 0
    while start <= len(text):
        end = _sentence_end(text, start)
        match = pattern.search(text, start, end)
        if match or end >= len(text):
            return match
        start = end + (1 if text[end] == "\n" else 2)
    return None


def _stepped(steps: list[tuple[float, float]], value: float, descending: bool = False) -> float:
    """Credit of the last step reached (value >= threshold; value <= threshold if descending)."""
    credit = 0.0
    for threshold, step_credit in steps:
        if (value <= threshold) if descending else (value >= threshold):
            if descending:
                return step_credit
            credit = step_credit
    return credit


# --- rubric validation helpers -------------------------------------------------------------

def _field_path(path: str) -> str:
    head = path.split(".", 1)[0]
    if head not in FACT_FIELDS:
        raise ValueError(f"{path!r} is not a facts field; known: {', '.join(sorted(FACT_FIELDS))}")
    return path


def _regex(pattern: str) -> str:
    try:
        re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"cannot compile {pattern!r}: {exc}") from None
    return pattern


def _steps(steps: list[tuple[float, float]]) -> list[tuple[float, float]]:
    thresholds = [t for t, _ in steps]
    if any(b <= a for a, b in zip(thresholds, thresholds[1:], strict=False)):
        raise ValueError("thresholds must be increasing")
    if any(not 0 <= c <= 1 for _, c in steps):
        raise ValueError("credits must be between 0 and 1")
    return steps


FieldPath = Annotated[str, AfterValidator(_field_path)]
Regex = Annotated[str, AfterValidator(_regex)]
Steps = Annotated[list[tuple[float, float]], Field(min_length=1), AfterValidator(_steps)]
Credit = Annotated[float, Field(ge=0, le=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- checks ----------------------------------------------------------------------------------

class _Check(_Strict):
    """Every check may cap its credit (`scale`) and weigh itself inside all_of (`share`)."""

    scale: float = Field(1.0, gt=0, le=1)
    share: float = Field(1.0, gt=0)

    def evaluate(self, ctx: _Context) -> Result:
        raise NotImplementedError

    def run(self, ctx: _Context) -> Result:
        credit, evidence = self.evaluate(ctx)
        return min(max(credit, 0.0), 1.0) * self.scale, evidence


class Present(_Check):
    """Full credit when the field is non-empty (not None, "", [], {} or False)."""

    type: Literal["present"]
    field: FieldPath

    def evaluate(self, ctx: _Context) -> Result:
        value = ctx.get(self.field)
        if _absent(value):
            return 0.0, f"{self.field}: not stated"
        return 1.0, f"{self.field} = {_quote(value)}"


class AnyPresent(_Check):
    """Full credit when any of the fields is non-empty; the evidence names the first one."""

    type: Literal["any_present"]
    fields: list[FieldPath] = Field(min_length=1)

    def evaluate(self, ctx: _Context) -> Result:
        for name in self.fields:
            value = ctx.get(name)
            if not _absent(value):
                return 1.0, f"{name} = {_quote(value)}"
        return 0.0, f"none of {', '.join(self.fields)} stated"


class MapValue(_Check):
    """The credit listed for the field's value (strings match case-insensitively)."""

    type: Literal["map"]
    field: FieldPath
    values: dict[str, Credit] = Field(min_length=1)
    default: Credit = 0.0
    _lower: dict[str, float] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any) -> None:
        self._lower = {k.strip().lower(): v for k, v in self.values.items()}

    def evaluate(self, ctx: _Context) -> Result:
        value = ctx.get(self.field)
        if _absent(value):
            return 0.0, f"{self.field}: not stated"
        if not isinstance(value, str | int | float):
            return self.default, f"{self.field} = {_quote(value)}"
        return self._lower.get(str(value).strip().lower(), self.default), \
            f"{self.field} = {_quote(value)}"


class AtLeast(_Check):
    """Graded by a number (or the length of a string or list): the last step reached counts."""

    type: Literal["at_least"]
    field: FieldPath
    steps: Steps

    def evaluate(self, ctx: _Context) -> Result:
        value = ctx.get(self.field)
        amount = _magnitude(value)
        if amount is None or _absent(value):
            return 0.0, f"{self.field}: not stated"
        if isinstance(value, str):
            return _stepped(self.steps, amount), f"{self.field}: {amount:g} characters"
        if isinstance(value, list | tuple | set | dict):
            return _stepped(self.steps, amount), f"{self.field}: {amount:g} items"
        return _stepped(self.steps, amount), f"{self.field} = {amount:g}"


class Count(_Check):
    """Graded by the number of items of a list field, optionally only those matching a regex."""

    type: Literal["count"]
    field: FieldPath
    match: Regex | None = None
    steps: Steps
    _pattern: re.Pattern[str] | None = PrivateAttr(None)

    def model_post_init(self, context: Any) -> None:
        self._pattern = re.compile(self.match, re.IGNORECASE) if self.match else None

    def evaluate(self, ctx: _Context) -> Result:
        value = ctx.get(self.field)
        items = [str(v) for v in value] if isinstance(value, list | tuple | set) else []
        if self._pattern is not None:
            items = [v for v in items if self._pattern.search(v)]
        if not items:
            return 0.0, f"{self.field}: none" + (f" matching {self.match!r}" if self.match else "")
        shown = ", ".join(_quote(v, 50) for v in items[:3]) + (", …" if len(items) > 3 else "")
        return _stepped(self.steps, len(items)), f"{self.field}: {len(items)} ({shown})"


class TextMatches(_Check):
    """Credit for the share of `need` patterns found in the text fields; quotes what matched.

    Patterns are case-insensitive regular expressions (use `(?-i:...)` for a case-sensitive
    part, `\\b` for word boundaries); each pattern counts once, at its first match.
    """

    type: Literal["text_matches"]
    fields: list[FieldPath] = Field(default_factory=lambda: ["text"], min_length=1)
    patterns: list[Regex] = Field(min_length=1)
    need: int = Field(1, ge=1)
    _compiled: list[tuple[re.Pattern[str], tuple[str, ...] | None]] = PrivateAttr(
        default_factory=list)

    @model_validator(mode="after")
    def _need_reachable(self) -> TextMatches:
        if self.need > len(self.patterns):
            raise ValueError(f"need ({self.need}) exceeds the number of patterns "
                             f"({len(self.patterns)})")
        return self

    def model_post_init(self, context: Any) -> None:
        self._compiled = [(re.compile(p, re.IGNORECASE), _required_literals(p))
                          for p in self.patterns]

    def evaluate(self, ctx: _Context) -> Result:
        texts = [t for t in (ctx.text(f) for f in self.fields) if t[0]]
        where = "/".join(self.fields)
        found: list[str] = []
        for pattern, literals in self._compiled:
            for text, lowered in texts:
                hit = _search(pattern, literals, text, lowered)
                if hit:
                    found.append(_quote(hit.group(0)))
                    break
            if len(found) >= self.need:
                break
        if not found:
            return 0.0, f"{where}: no match" if texts else f"{where}: not stated"
        suffix = f" ({len(found)} of {self.need} needed)" if len(found) < self.need else ""
        return len(found) / self.need, f"{where}: {', '.join(found)}{suffix}"


class Recent(_Check):
    """Graded by the age of a date: steps are [days, credit], the first one reached counts."""

    type: Literal["recent"]
    field: FieldPath
    steps: Steps

    @field_validator("steps")
    @classmethod
    def _credits_fall(cls, steps: list[tuple[float, float]]) -> list[tuple[float, float]]:
        credits = [c for _, c in steps]
        if any(b > a for a, b in zip(credits, credits[1:], strict=False)):
            raise ValueError("credits must not increase with age")
        return steps

    def evaluate(self, ctx: _Context) -> Result:
        value = ctx.get(self.field)
        if _absent(value):
            return 0.0, f"{self.field}: not stated"
        when = _as_datetime(value)
        if when is None:
            return 0.0, f"{self.field} = {_quote(value)} (not a date)"
        days = max((ctx.now - when).total_seconds() / 86400, 0.0)
        return _stepped(self.steps, days, descending=True), \
            f"{self.field} = {when.date().isoformat()} ({days:.0f} days before {ctx.now.date()})"


class AllOf(_Check):
    """Cumulative: the `share`-weighted mean of the sub-checks (all are needed for full credit)."""

    type: Literal["all_of"]
    of: list[Check] = Field(min_length=1)

    def evaluate(self, ctx: _Context) -> Result:
        results = [(c.share, *c.run(ctx)) for c in self.of]
        total = sum(share for share, _, _ in results)
        credit = sum(share * credit for share, credit, _ in results) / total
        return credit, "; ".join(evidence for _, _, evidence in results)


class AnyOf(_Check):
    """Alternatives: the best sub-check counts, and its evidence is quoted."""

    type: Literal["any_of"]
    of: list[Check] = Field(min_length=1)

    def evaluate(self, ctx: _Context) -> Result:
        results = []
        for check in self.of:
            results.append(check.run(ctx))
            if results[-1][0] >= 1.0:
                break  # nothing later can beat full credit
        best = max(results, key=lambda r: r[0])
        if best[0] > 0:
            return best
        return 0.0, "; ".join(evidence for _, evidence in results)


CHECKS: dict[str, type[_Check]] = {
    "present": Present, "any_present": AnyPresent, "map": MapValue, "at_least": AtLeast,
    "count": Count, "text_matches": TextMatches, "recent": Recent, "all_of": AllOf,
    "any_of": AnyOf,
}
Check = Annotated[
    Present | AnyPresent | MapValue | AtLeast | Count | TextMatches | Recent | AllOf | AnyOf,
    Field(discriminator="type"),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()


# --- rubric ----------------------------------------------------------------------------------

_ID = r"^[a-z][a-z0-9_]*$"


class Criterion(_Strict):
    id: str = Field(pattern=_ID)
    title: str = Field(min_length=1)
    weight: float = Field(gt=0)
    evidence: str = Field(min_length=1)
    why: str = Field(min_length=1)
    advice: str | None = None
    check: Check


class Rubric(_Strict):
    id: str = Field(pattern=_ID)
    version: int = Field(ge=1)
    kind: Literal["dataset", "model"]
    title: str = Field(min_length=1)
    description: str = ""
    criteria: list[Criterion] = Field(min_length=1)
    tiers: dict[str, float]
    _total: float = PrivateAttr(0.0)

    def model_post_init(self, context: Any) -> None:
        self._total = sum(c.weight for c in self.criteria)

    @field_validator("tiers")
    @classmethod
    def _six_tiers(cls, tiers: dict[str, float]) -> dict[str, float]:
        if tuple(tiers) != TIERS:
            raise ValueError(f"must list exactly {', '.join(TIERS)}, in that order "
                             f"(got {', '.join(tiers) or 'none'})")
        values = list(tiers.values())
        if any(b >= a for a, b in zip(values, values[1:], strict=False)):
            raise ValueError("thresholds must be strictly decreasing from Diamond to Steel")
        if values[-1] != 0:
            raise ValueError("Steel must be 0, so that every score has a tier")
        if values[0] > 100:
            raise ValueError("thresholds are scores out of 100")
        return tiers

    @property
    def total_weight(self) -> float:
        return self._total

    def criterion(self, criterion_id: str) -> Criterion | None:
        return next((c for c in self.criteria if c.id == criterion_id), None)


# --- results ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CriterionResult:
    id: str
    title: str
    weight: float
    credit: float          # 0..1, rounded to 0.001
    points: float          # share of the 100-point score earned, rounded to 0.01
    max_points: float      # share of the 100-point score this criterion is worth
    evidence: str


@dataclass(frozen=True, slots=True)
class Score:
    rubric_id: str
    rubric_version: int
    score: float           # 0..100, rounded to 0.1
    tier: str
    criteria: list[CriterionResult]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def score(rubric: Rubric, facts: Facts, now: datetime) -> Score:
    """Score an entity's facts; missing or malformed facts earn no credit, never an error."""
    if not isinstance(facts, Mapping):
        facts = {}
    ctx = _Context(facts, now if now.tzinfo else now.replace(tzinfo=UTC))
    per_point = 100.0 / rubric.total_weight
    results, total = [], 0.0
    for criterion in rubric.criteria:
        credit, evidence = criterion.check.run(ctx)
        points = criterion.weight * credit * per_point
        total += points
        results.append(CriterionResult(
            id=criterion.id, title=criterion.title, weight=criterion.weight,
            credit=round(credit, 3), points=round(points, 2),
            max_points=round(criterion.weight * per_point, 2), evidence=evidence,
        ))
    value = round(total, 1)
    return Score(rubric.id, rubric.version, value, tier_for(rubric, value), results)


def tier_for(rubric: Rubric, value: float | Score) -> str:
    """The highest tier whose threshold the score reaches."""
    number = value.score if isinstance(value, Score) else value
    return next((name for name, floor in rubric.tiers.items() if number >= floor), TIERS[-1])


def raise_hints(rubric: Rubric, result: Score) -> list[str]:
    """What would raise the tier: the gap to the next tier, then the criteria not fully met,
    the ones with the most points still available first."""
    rank = TIERS.index(result.tier) if result.tier in TIERS else len(TIERS) - 1
    short = 0.0
    if rank == 0:
        lines = [f"{result.tier} is the top tier (score {result.score:.1f})"]
    else:
        target = TIERS[rank - 1]
        short = rubric.tiers[target] - result.score
        lines = [f"{target} needs {rubric.tiers[target]:g}; the score is {result.score:.1f}, "
                 f"{short:.1f} points short"]
    open_items = [(c.max_points - c.points, i, c) for i, c in enumerate(result.criteria)
                  if c.max_points - c.points >= 0.05]
    for gap, _, item in sorted(open_items, key=lambda t: (-t[0], t[1])):
        criterion = rubric.criterion(item.id)
        advice = (criterion.advice if criterion and criterion.advice
                  else f"meet '{item.title}'")
        detail = f"+{gap:.1f} points" + (f", now {item.points:.1f} of {item.max_points:.1f}"
                                         if item.points > 0 else "")
        if rank > 0 and gap >= short:
            detail += f", enough for {TIERS[rank - 1]} on its own"
        lines.append(f"{advice} ({detail})")
    return lines


def fingerprint(rubric: Rubric) -> str:
    """A stable hash of the rubric's content (not its comments or layout): rescore on change."""
    canonical = json.dumps(rubric.model_dump(mode="json"), sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# --- loading ---------------------------------------------------------------------------------

def load_rubric(path: str | Path) -> Rubric:
    """Read and validate one rubric file; any problem raises RubricError naming file and place."""
    return _validate(path, _read(path))


def load_rubrics(directory: str | Path) -> dict[str, Rubric]:
    """The quality rubrics of a folder (top-level *.yaml with `criteria`), keyed by kind."""
    found: dict[str, tuple[Path, Rubric]] = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        data = _read(path)
        if not (isinstance(data, dict) and "criteria" in data):
            continue  # another kind of behaviour-as-data file, e.g. relevance.yaml
        rubric = _validate(path, data)
        if rubric.kind in found:
            raise RubricError(f"{path}: kind {rubric.kind!r} is already scored by "
                              f"{found[rubric.kind][0]}; keep one rubric per kind")
        found[rubric.kind] = (path, rubric)
    for kind in ("dataset", "model"):
        if kind not in found:
            raise RubricError(f"{directory}: no rubric with kind {kind!r} (a *.yaml with "
                              f"criteria); restore rubrics/ from the repository")
    return {kind: rubric for kind, (_, rubric) in found.items()}


def _read(path: str | Path) -> Any:
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RubricError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise RubricError(f"{path}: not valid YAML: {exc}") from None


def _validate(path: str | Path, data: Any) -> Rubric:
    if not isinstance(data, dict):
        raise RubricError(f"{path}: expected a mapping with id, version, kind, criteria, tiers")
    try:
        rubric = Rubric.model_validate(data)
    except ValidationError as exc:
        raise RubricError("\n".join(f"{path}: {_place(e['loc'])}: {_message(e)}"
                                    for e in exc.errors())) from None
    problems = _cross_checks(rubric)
    if problems:
        raise RubricError("\n".join(f"{path}: {place}: {msg}" for place, msg in problems))
    return rubric


def _cross_checks(rubric: Rubric) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    first: dict[str, int] = {}
    for i, criterion in enumerate(rubric.criteria):
        if criterion.id in first:
            problems.append((f"criteria[{i}].id", f"duplicate id {criterion.id!r} "
                                                  f"(first used by criteria[{first[criterion.id]}])"))
        first.setdefault(criterion.id, i)
        problems += _share_outside_all_of(criterion.check, f"criteria[{i}].check", False)
    return problems


def _share_outside_all_of(check: _Check, place: str, in_all_of: bool) -> list[tuple[str, str]]:
    problems = []
    if "share" in check.model_fields_set and not in_all_of:
        problems.append((f"{place}.share", "share only means something inside all_of"))
    for i, sub in enumerate(getattr(check, "of", [])):
        problems += _share_outside_all_of(sub, f"{place}.of[{i}]", isinstance(check, AllOf))
    return problems


def _place(loc: tuple[Any, ...]) -> str:
    """('criteria', 3, 'check', 'at_least', 'steps') -> 'criteria[3].check.steps'."""
    out, previous = "", None
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in CHECKS and (previous == "check" or isinstance(previous, int)):
            pass  # the union tag pydantic adds; the YAML has no such level
        else:
            out += f".{part}" if out else str(part)
        previous = part
    return out or "(top level)"


def _message(error: Any) -> str:
    known = ", ".join(CHECKS)
    if error["type"] == "union_tag_invalid":
        return f"unknown check type {error['ctx']['tag']!r}; known types: {known}"
    if error["type"] == "union_tag_not_found":
        return f"a check needs a type; known types: {known}"
    return str(error["msg"]).removeprefix("Value error, ")

