"""Quality rubrics as data (rubrics/sonodqs.yaml, rubrics/sonomqs.yaml) and a generic scorer.

A rubric is a list of weighted criteria. Each criterion names one generic check from CHECKS,
with parameters from the YAML; no code here knows a criterion id. A check reads an entity's
facts (the dict resolution builds; rubrics/README.md lists its keys) and returns a credit in
[0, 1] with an evidence string quoting what it saw. A criterion earns weight x credit; the score
is the share of all weights earned (0..100, rounded to 0.1) and the tier is the highest one
whose threshold the score reaches. Pure functions: no database, no network, no clock.

    rubric = load_rubric("rubrics/sonodqs.yaml")
    result = score(rubric, facts, now=datetime.now(UTC))
    result.tier, [(c.id, c.points, c.evidence) for c in result.criteria]
    raise_hints(rubric, result)      # what would lift it to the next tier

Loading compiles every check into a closure once per rubric (regular expressions included), so
scoring is a walk over plain functions.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
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
    "CHECKS", "FACT_FIELDS", "TIERS", "Criterion", "CriterionResult", "Rubric", "RubricError",
    "Score", "fingerprint", "load_rubric", "load_rubrics", "raise_hints", "score", "tier_for",
]

TIERS = ("Diamond", "Platinum", "Gold", "Silver", "Bronze", "Steel")

# Top-level keys of the facts contract. A check's field must start with one of them, so that a
# typo in a rubric fails when it is loaded instead of silently scoring 0.
FACT_FIELDS = frozenset({
    "kind", "name", "description", "text", "primary_url", "urls", "doi", "identifiers",
    "sources", "n_copies", "license", "license_class", "access", "size", "anatomy", "tasks",
    "keywords", "papers", "weights", "datasets", "used_by", "created_at", "updated_at",
    "versions", "metrics", "link", "landing",
})

Facts = Mapping[str, Any]
Result = tuple[float, str]


class RubricError(ValueError):
    """A rubric file that cannot be used; the message names the file and the place."""


# --- reading facts -------------------------------------------------------------------------

class _Context:
    """One entity being scored: its facts, `now`, and each text field lower-cased once."""

    __slots__ = ("facts", "now", "_texts")

    def __init__(self, facts: Facts, now: datetime) -> None:
        self.facts, self.now = facts, now
        self._texts: dict[str, tuple[str, str]] = {}

    def text(self, path: str, get: Callable[[Facts], Any]) -> tuple[str, str]:
        if path not in self._texts:
            text = _text(get(self.facts))
            # re's IGNORECASE also matches these to ASCII i and s; lower() leaves them alone.
            self._texts[path] = (text, text.lower().replace("\u0131", "i").replace("\u017f", "s"))
        return self._texts[path]


def _getter(path: str) -> Callable[[Facts], Any]:
    """A function reading a dotted path ("size.images"); None when any step is missing."""
    parts = path.split(".")
    if len(parts) == 1:
        return lambda facts: facts.get(path)

    def get(facts: Facts) -> Any:
        value: Any = facts
        for part in parts:
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        return value
    return get


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
    """Numbers as they are; strings, lists and dicts by their length; anything else is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an int beyond float range
            return math.inf
        return None if math.isnan(number) else number
    if isinstance(value, str | list | tuple | set | dict):
        return float(len(value))
    return None


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return "\n".join(str(v) for v in value if isinstance(v, str | int | float))
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


def _stepped(steps: list[tuple[float, float]], value: float) -> float:
    """The credit of the highest threshold the value reaches (0 below the first)."""
    credit = 0.0
    for threshold, step_credit in steps:
        if value < threshold:
            break
        credit = step_credit
    return credit


def _aged(steps: list[tuple[float, float]], days: float) -> float:
    """The credit of the first age limit (in days) the age is within (0 beyond the last)."""
    return next((credit for limit, credit in steps if days <= limit), 0.0)


# --- text search ---------------------------------------------------------------------------
# A pattern matches within one line or sentence: the text is cut at line breaks and at ". ".
# Python's re scans 4 kB in ~100 us with a case-insensitive pattern that starts with \b, and a
# rubric has ~80 patterns. So each pattern carries strings one of which every match contains
# (read from the parse tree re itself builds), str.find looks for them in the lower-cased text,
# and the pattern runs only on the sentences around them: the same matches, far fewer scans.

def _required_literals(pattern: str) -> tuple[str, ...] | None:
    """Lower-case strings one of which every match of the pattern contains, or None."""
    try:
        found = _literals_of(list(re._parser.parse(pattern, re.IGNORECASE)))
    except Exception:  # noqa: BLE001  (a surprise only disables the shortcut)
        return None
    return tuple(sorted(found)) if found and min(map(len, found)) >= 2 else None


def _literals_of(items: list[Any]) -> frozenset[str] | None:
    c = re._constants
    best: frozenset[str] | None = None
    run: list[str] = []

    def consider(option: frozenset[str] | None) -> None:
        nonlocal best
        if option and (best is None or _cost(option) < _cost(best)):
            best = option

    for op, arg in items:
        if op is c.LITERAL and arg < 128:  # ASCII only: its lower case is what re matches
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
    """Fewest strings to look for, unless one is shorter than 3 characters (too common)."""
    shortest = min(map(len, option))
    return (0, len(option)) if shortest >= 3 else (1, -shortest)


def _sentence_end(text: str, start: int) -> int:
    ends = [i for i in (text.find("\n", start), text.find(". ", start)) if i >= 0]
    return min(ends, default=len(text))


def _sentence_start(text: str, pos: int) -> int:
    period = text.rfind(". ", 0, pos + 1)  # pos may be the space of a ". "
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
    while True:
        end = _sentence_end(text, start)
        match = pattern.search(text, start, end)
        if match or end >= len(text):
            return match
        start = end + (1 if text[end] == "\n" else 2)


# --- rubric validation helpers -------------------------------------------------------------

def _field_path(path: str) -> str:
    if path.split(".", 1)[0] not in FACT_FIELDS:
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
        raise ValueError("must be increasing")
    if any(not 0 <= c <= 1 for _, c in steps):
        raise ValueError("credits must be between 0 and 1")
    return steps


FieldPath = Annotated[str, AfterValidator(_field_path)]
Regex = Annotated[str, AfterValidator(_regex)]
Steps = Annotated[list[tuple[float, float]], Field(min_length=1), AfterValidator(_steps)]
Credit = Annotated[float, Field(ge=0, le=1)]
Evaluator = Callable[[_Context], Result]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- checks ----------------------------------------------------------------------------------

class _Check(_Strict):
    """Every check may cap its credit (`scale`) and weigh itself inside all_of (`share`)."""

    scale: float = Field(1.0, gt=0, le=1)
    share: float = Field(1.0, gt=0)

    def evaluator(self) -> Evaluator:
        """The check as a closure over its compiled parameters."""
        inner, scale = self._evaluator(), self.scale
        if scale == 1.0:
            return inner

        def scaled(ctx: _Context) -> Result:
            credit, evidence = inner(ctx)
            return credit * scale, evidence
        return scaled

    def _evaluator(self) -> Evaluator:
        raise NotImplementedError


class Present(_Check):
    """Full credit when the field is non-empty (not None, "", [], {} or False)."""

    type: Literal["present"]
    field: FieldPath

    def _evaluator(self) -> Evaluator:
        name, get = self.field, _getter(self.field)

        def present(ctx: _Context) -> Result:
            value = get(ctx.facts)
            if _absent(value):
                return 0.0, f"{name}: not stated"
            return 1.0, f"{name} = {_quote(value)}"
        return present


class AnyPresent(_Check):
    """Full credit when any of the fields is non-empty; the evidence names the first one."""

    type: Literal["any_present"]
    fields: list[FieldPath] = Field(min_length=1)

    def _evaluator(self) -> Evaluator:
        getters = [(name, _getter(name)) for name in self.fields]
        missing = f"none of {', '.join(self.fields)} stated"

        def any_present(ctx: _Context) -> Result:
            for name, get in getters:
                value = get(ctx.facts)
                if not _absent(value):
                    return 1.0, f"{name} = {_quote(value)}"
            return 0.0, missing
        return any_present


class MapValue(_Check):
    """The credit listed for the field's value (compared case-insensitively), else `default`."""

    type: Literal["map"]
    field: FieldPath
    values: dict[str, Credit] = Field(min_length=1)
    default: Credit = 0.0

    def _evaluator(self) -> Evaluator:
        name, get, default = self.field, _getter(self.field), self.default
        table = {key.strip().lower(): credit for key, credit in self.values.items()}

        def mapped(ctx: _Context) -> Result:
            value = get(ctx.facts)
            if _absent(value):
                return 0.0, f"{name}: not stated"
            key = str(value).strip().lower() if isinstance(value, str | int | float) else None
            return table.get(key, default), f"{name} = {_quote(value)}"
        return mapped


class AtLeast(_Check):
    """Graded by a number (or the length of a string or list): the highest step reached."""

    type: Literal["at_least"]
    field: FieldPath
    steps: Steps

    def _evaluator(self) -> Evaluator:
        name, get, steps = self.field, _getter(self.field), self.steps

        def at_least(ctx: _Context) -> Result:
            value = get(ctx.facts)
            amount = _magnitude(value)
            if amount is None or _absent(value):
                return 0.0, f"{name}: not stated"
            if isinstance(value, str):
                return _stepped(steps, amount), f"{name}: {amount:g} characters"
            if isinstance(value, list | tuple | set | dict):
                return _stepped(steps, amount), f"{name}: {amount:g} items"
            return _stepped(steps, amount), f"{name} = {amount:g}"
        return at_least


class Count(_Check):
    """Graded by the number of items of a list field, optionally only those matching `match`."""

    type: Literal["count"]
    field: FieldPath
    match: Regex | None = None
    steps: Steps

    def _evaluator(self) -> Evaluator:
        name, get, steps = self.field, _getter(self.field), self.steps
        wanted = re.compile(self.match, re.IGNORECASE) if self.match else None
        none = f"{name}: none" + (f" matching {self.match!r}" if self.match else "")

        def count(ctx: _Context) -> Result:
            value = get(ctx.facts)
            items = [str(v) for v in value] if isinstance(value, list | tuple | set) else []
            if wanted is not None:
                items = [v for v in items if wanted.search(v)]
            if not items:
                return 0.0, none
            shown = ", ".join(_quote(v, 50) for v in items[:3]) + (", …" if len(items) > 3 else "")
            return _stepped(steps, len(items)), f"{name}: {len(items)} ({shown})"
        return count


class TextMatches(_Check):
    """The share of `need` patterns found in the text fields, quoting what matched.

    Patterns are case-insensitive regular expressions (`(?-i:...)` makes a part case-sensitive)
    matched within one line or sentence; each pattern counts once.
    """

    type: Literal["text_matches"]
    fields: list[FieldPath] = Field(default_factory=lambda: ["text"], min_length=1)
    patterns: list[Regex] = Field(min_length=1)
    need: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _need_reachable(self) -> TextMatches:
        if self.need > len(self.patterns):
            raise ValueError(f"need ({self.need}) is more than the {len(self.patterns)} patterns")
        return self

    def _evaluator(self) -> Evaluator:
        fields = [(name, _getter(name)) for name in self.fields]
        compiled = [(re.compile(p, re.IGNORECASE), _required_literals(p)) for p in self.patterns]
        where, need = "/".join(self.fields), self.need

        def text_matches(ctx: _Context) -> Result:
            texts = [t for t in (ctx.text(name, get) for name, get in fields) if t[0]]
            if not texts:
                return 0.0, f"{where}: not stated"
            found: list[str] = []
            for pattern, literals in compiled:
                for text, lowered in texts:
                    hit = _search(pattern, literals, text, lowered)
                    if hit:
                        found.append(_quote(hit.group(0)))
                        break
                if len(found) >= need:
                    break
            if not found:
                return 0.0, f"{where}: no match"
            short = f" ({len(found)} of {need} needed)" if len(found) < need else ""
            return len(found) / need, f"{where}: {', '.join(found)}{short}"
        return text_matches


class Recent(_Check):
    """Graded by the age of a date before `now`: steps are [days, credit], the first within."""

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

    def _evaluator(self) -> Evaluator:
        name, get, steps = self.field, _getter(self.field), self.steps

        def recent(ctx: _Context) -> Result:
            value = get(ctx.facts)
            if _absent(value):
                return 0.0, f"{name}: not stated"
            when = _as_datetime(value)
            if when is None:
                return 0.0, f"{name} = {_quote(value)} (not a date)"
            try:
                days = max((ctx.now - when).total_seconds() / 86400, 0.0)
            except OverflowError:  # a date at the edge of the calendar with an offset
                return 0.0, f"{name} = {_quote(value)} (not a date)"
            return _aged(steps, days), \
                f"{name} = {when.date().isoformat()} ({days:.0f} days before {ctx.now.date()})"
        return recent


class AllOf(_Check):
    """Cumulative: the `share`-weighted mean of the sub-checks (all are needed for full credit)."""

    type: Literal["all_of"]
    of: list[Check] = Field(min_length=1)

    def _evaluator(self) -> Evaluator:
        parts = [(check.share, check.evaluator()) for check in self.of]
        total = sum(share for share, _ in parts)

        def all_of(ctx: _Context) -> Result:
            credit, evidence = 0.0, []
            for share, evaluate in parts:
                part, said = evaluate(ctx)
                credit += share * part
                evidence.append(said)
            return credit / total, "; ".join(evidence)
        return all_of


class AnyOf(_Check):
    """Alternatives: the best sub-check counts, and its evidence is quoted."""

    type: Literal["any_of"]
    of: list[Check] = Field(min_length=1)

    def _evaluator(self) -> Evaluator:
        options = [check.evaluator() for check in self.of]

        def any_of(ctx: _Context) -> Result:
            results = []
            for evaluate in options:
                results.append(evaluate(ctx))
                if results[-1][0] >= 1.0:
                    break  # nothing later can beat full credit
            best = max(results, key=lambda r: r[0])
            return best if best[0] > 0 else (0.0, "; ".join(said for _, said in results))
        return any_of


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
    evidence: str = Field(min_length=1)   # where the evidence comes from in harvested metadata
    why: str = Field(min_length=1)
    advice: str | None = None             # imperative, used by raise_hints
    check: Check


class Rubric(_Strict):
    id: str = Field(pattern=_ID)
    version: int = Field(ge=1)
    kind: Literal["dataset", "model"]
    title: str = Field(min_length=1)
    description: str = ""
    criteria: list[Criterion] = Field(min_length=1)
    tiers: dict[str, float]
    _plan: tuple[tuple[Criterion, Evaluator, float, float], ...] = PrivateAttr(())

    def model_post_init(self, context: Any) -> None:
        per_point = 100.0 / self.total_weight
        self._plan = tuple((c, c.check.evaluator(), c.weight * per_point,
                            round(c.weight * per_point, 2)) for c in self.criteria)

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
        return sum(c.weight for c in self.criteria)

    def criterion(self, criterion_id: str) -> Criterion | None:
        return next((c for c in self.criteria if c.id == criterion_id), None)


# --- scoring ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CriterionResult:
    id: str
    title: str
    weight: float
    credit: float          # 0..1, rounded to 0.001
    points: float          # points earned out of the 100-point score, rounded to 0.01
    max_points: float      # points this criterion is worth out of 100
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
    ctx = _Context(facts if isinstance(facts, Mapping) else {},
                   now if now.tzinfo else now.replace(tzinfo=UTC))
    results, total = [], 0.0
    for criterion, evaluate, worth, shown_worth in rubric._plan:
        credit, evidence = evaluate(ctx)
        credit = min(max(credit, 0.0), 1.0)
        total += worth * credit
        results.append(CriterionResult(criterion.id, criterion.title, criterion.weight,
                                       round(credit, 3), round(worth * credit, 2),
                                       shown_worth, evidence))
    value = round(total, 1)
    return Score(rubric.id, rubric.version, value, tier_for(rubric, value), results)


def tier_for(rubric: Rubric, value: float | Score) -> str:
    """The highest tier whose threshold the score reaches."""
    number = value.score if isinstance(value, Score) else value
    return next((name for name, floor in rubric.tiers.items() if number >= floor), TIERS[-1])


def raise_hints(rubric: Rubric, result: Score) -> list[str]:
    """What would raise the tier: first the gap to the next tier, then every criterion not
    fully met, the most points still available first, with the rubric's advice."""
    rank = TIERS.index(result.tier) if result.tier in TIERS else len(TIERS) - 1
    if rank == 0:
        short, lines = 0.0, [f"{result.tier} is the top tier (score {result.score:.1f})"]
    else:
        target, floor = TIERS[rank - 1], rubric.tiers[TIERS[rank - 1]]
        short = round(floor - result.score, 1)
        lines = [f"{target} needs {floor:g} points; the score is {result.score:.1f}, "
                 f"{short:.1f} short"]
    gaps = [(round(c.max_points - c.points, 1), i, c) for i, c in enumerate(result.criteria)]
    for gap, _, item in sorted((g for g in gaps if g[0] > 0), key=lambda g: (-g[0], g[1])):
        criterion = rubric.criterion(item.id)
        advice = criterion.advice if criterion and criterion.advice else f"meet '{item.title}'"
        detail = f"+{gap:.1f} points"
        if item.points > 0:
            detail += f", now {item.points:.1f} of {item.max_points:.1f}"
        if rank > 0 and gap >= short:
            detail += f", enough for {TIERS[rank - 1]} on its own"
        lines.append(f"{advice} ({detail})")
    return lines


def fingerprint(rubric: Rubric) -> str:
    """A stable hash of the rubric's content (not of its comments or layout): rescore on change."""
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
            continue  # another behaviour-as-data file, such as relevance.yaml
        rubric = _validate(path, data)
        if rubric.kind in found:
            raise RubricError(f"{path}: kind {rubric.kind!r} is already scored by "
                              f"{found[rubric.kind][0]}; keep one rubric per kind")
        found[rubric.kind] = (path, rubric)
    for kind in ("dataset", "model"):
        if kind not in found:
            raise RubricError(f"{directory}: no rubric of kind {kind!r} (a *.yaml with "
                              f"criteria); restore it from the repository")
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
            problems.append((f"criteria[{i}].id", f"duplicate id {criterion.id!r} (first "
                                                  f"used by criteria[{first[criterion.id]}])"))
        first.setdefault(criterion.id, i)
        problems += _misplaced_shares(criterion.check, f"criteria[{i}].check", False)
    return problems


def _misplaced_shares(check: _Check, place: str, in_all_of: bool) -> list[tuple[str, str]]:
    problems = []
    if "share" in check.model_fields_set and not in_all_of:
        problems.append((f"{place}.share", "share only counts inside all_of"))
    for i, sub in enumerate(getattr(check, "of", [])):
        problems += _misplaced_shares(sub, f"{place}.of[{i}]", isinstance(check, AllOf))
    return problems


def _place(loc: tuple[Any, ...]) -> str:
    """('criteria', 3, 'check', 'at_least', 'steps') -> 'criteria[3].check.steps'."""
    out, previous = "", None
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not (part in CHECKS and (previous == "check" or isinstance(previous, int))):
            out += f".{part}" if out else str(part)
        # else: the union tag pydantic adds, a level the YAML does not have
        previous = part
    return out or "(top level)"


def _message(error: Any) -> str:
    known = ", ".join(CHECKS)
    if error["type"] == "union_tag_invalid":
        return f"unknown check type {error['ctx']['tag']!r}; known types: {known}"
    if error["type"] == "union_tag_not_found":
        return f"a check needs a type; known types: {known}"
    return str(error["msg"]).removeprefix("Value error, ")
