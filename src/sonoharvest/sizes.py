"""Dataset sizes from free text: "780 images from 600 female patients" -> images 780, patients 600.

Pure and offline. The vocabulary (units and their synonyms, qualifiers, total markers and the
word lists that veto a match) lives in rubrics/sizes.yaml; the grammar lives here:

    <qualifiers> NUMBER [+] <modifier words> UNIT [total marker]   "a total of 2,100 B-mode images"
    UNIT (n = NUMBER)                                               "images (n=8,000)"
    [the] [total] number of <modifiers> UNIT is|was|:|= NUMBER      "The number of patients is 600"
    [total] UNIT: NUMBER  or  | UNIT | NUMBER                       "Images: 12,400"

NUMBER is digits with optional thousands separators (comma, period, space, no-break or thin
space), optionally scaled ("12k", "4.1M", "1.2 million"), or number words ("two hundred").
A number is not a count when it is glued to other characters ("HC18", "v2", "ResNet-50"), is
one end of a range or a dimension ("1-100", "512x512", "256 × 256"), follows a label word
("version 3", "Figure 2"), looks like a year in a year context ("In 2019 images..."), or the
unit is followed by a rate ("30 frames per second", "10 images per patient").

For each unit the count introduced by a total marker wins; otherwise the largest count wins.
Splits are not summed. Every returned phrase is an exact substring of the input text.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from sonoharvest.datafiles import read_yaml
from sonoharvest.settings import REPO_ROOT

DEFAULT_PATH = REPO_ROOT / "rubrics" / "sizes.yaml"


@dataclass(frozen=True, slots=True)
class Size:
    """A count and the exact snippet of text it was read from (the evidence for curators)."""

    count: int
    phrase: str


# --- the rubric file -------------------------------------------------------------------------

_Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _RubricFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1)
    max_count: int = Field(ge=1)
    max_modifiers: int = Field(ge=0, le=8)
    min_word_number: int = Field(ge=0)
    year_range: tuple[int, int]
    year_context: list[_Word]
    units: dict[Annotated[str, StringConstraints(pattern=r"^[a-z_]+$")], list[_Word]] = Field(
        min_length=1)
    qualifiers: list[_Word]
    total_markers: list[_Word] = Field(min_length=1)
    not_modifiers: list[_Word]
    not_after: list[_Word]
    not_before: list[_Word]


@dataclass(frozen=True)
class SizeRubric:
    """A checked rubric with its regular expressions compiled once."""

    path: Path
    version: int
    max_count: int
    min_word_number: int
    year_range: tuple[int, int]
    units: tuple[str, ...]
    synonym_units: tuple[str, ...]
    """Unit of each synonym group `_s{i}` in the patterns, longest synonym first."""
    patterns: tuple[re.Pattern[str], ...]
    total: re.Pattern[str]
    year_context: re.Pattern[str]
    not_after: re.Pattern[str]
    not_before: re.Pattern[str]


def load_rubric(path: Path | str | None = None) -> SizeRubric:
    """Read, check and compile a sizes rubric (default rubrics/sizes.yaml); cached per path.

    An invalid file raises ValueError naming the file and the key that is wrong.
    """
    return _load_rubric(Path(path).resolve() if path is not None else DEFAULT_PATH)


@functools.cache
def _load_rubric(path: Path) -> SizeRubric:
    data = read_yaml(path, "rubrics/sizes.yaml")
    try:
        cfg = _RubricFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ValueError(f"{path}: {where}: {first['msg']}") from None

    low, high = cfg.year_range
    if low > high:
        raise ValueError(f"{path}: year_range: {low} is after {high}.")
    seen: dict[str, tuple[str, str]] = {}
    synonyms: list[tuple[str, str]] = []
    for unit, words in cfg.units.items():
        if not words:
            raise ValueError(f"{path}: units.{unit}: needs at least one synonym.")
        for word in words:
            key = re.sub(r"[\s-]+", "", word.lower())  # spaces and hyphens match alike
            if key in seen:
                other_unit, other = seen[key]
                raise ValueError(f"{path}: units.{unit}: synonym {word!r} duplicates "
                                 f"{other!r} in units.{other_unit}.")
            seen[key] = (unit, word)
            synonyms.append((word, unit))
    synonyms.sort(key=lambda s: -len(s[0]))

    grammar = _Grammar(cfg, [word for word, _ in synonyms])
    return SizeRubric(
        path=path,
        version=cfg.version,
        max_count=cfg.max_count,
        min_word_number=cfg.min_word_number,
        year_range=(low, high),
        units=tuple(cfg.units),
        synonym_units=tuple(unit for _, unit in synonyms),
        patterns=grammar.patterns(),
        total=re.compile(rf"(?<!\w)(?:{_alternation(cfg.total_markers)})(?!\w)", re.I),
        year_context=re.compile(rf"(?<!\w)(?:{_alternation(cfg.year_context)})\.?\s+$", re.I),
        not_after=re.compile(rf"(?<![\w-])(?:{_alternation(cfg.not_after)})\.?\s*$", re.I),
        # used with .match(text, pos), where "^" would not match
        not_before=re.compile(rf"\s*(?:{_alternation(cfg.not_before)})|/[^\W\d_]", re.I),
    )


def _phrase_regex(phrase: str) -> str:
    """A YAML phrase as a regex: whitespace between two word characters means one or more
    spaces, next to a symbol any; word characters at either end must be whole words."""
    tokens = phrase.split()
    out = re.escape(tokens[0])
    for prev, token in itertools.pairwise(tokens):
        gap = r"\s+" if prev[-1].isalnum() and token[0].isalnum() else r"\s*"
        out += gap + re.escape(token)
    if phrase[-1].isalnum() or phrase[-1] == "_":
        out += r"(?!\w)"
    return out


def _alternation(phrases: list[str]) -> str:
    """Longest phrase first; an empty list matches nothing (not the empty string)."""
    if not phrases:
        return "(?!)"
    return "|".join(_phrase_regex(p) for p in sorted(phrases, key=len, reverse=True))


def _synonym_regex(synonym: str) -> str:
    """A unit synonym as a regex: a space or hyphen matches any run of spaces and hyphens,
    or nothing ("cine loops" ~ "cine-loops" ~ "cineloops"); "3D" also matches "3-D"."""
    parts = []
    for token in re.split(r"[\s-]+", synonym.strip()):
        pieces = re.findall(r"[0-9]+|[^0-9]+", token)
        parts.append("-?".join(re.escape(p) for p in pieces))
    return r"[\s-]*".join(parts)


# --- the grammar -----------------------------------------------------------------------------

_SMALL = {
    "a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
_SCALES = {"thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_MULTIPLIERS = {"k": 1_000, "m": 1_000_000, **_SCALES}

_UNITS_W = "one|two|three|four|five|six|seven|eight|nine"
_TEENS_W = ("ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen")
_TENS_W = "|".join(_TENS)
_BELOW_100 = rf"(?:(?:{_TENS_W})(?:[\s-](?:{_UNITS_W}))?|{_TEENS_W}|{_UNITS_W})"
_WORDS = (rf"(?:a(?=[\s-]+(?:hundred|thousand|million))|{_BELOW_100})"
          rf"(?:[\s-]+hundred(?:[\s-]+(?:and\s+)?{_BELOW_100})?)?"
          rf"(?:[\s-]+(?:thousand|million|billion))?")
_SPACES = "\u00a0\u2009\u202f "
# Digits: comma, space-like or period thousands groups, else plain digits with an optional
# decimal part (kept only when a multiplier follows: "1.2 million", "4.1M").
# At most two groups (999,999,999 is above any max_count) keeps scanning linear on long runs
# of grouped digits; a number never starts right after "digit + space" (inside "12 400").
_DIGITS = (rf"[0-9]{{1,3}}(?:,[0-9]{{3}}){{1,2}}|[0-9]{{1,3}}(?:[{_SPACES}][0-9]{{3}}){{1,2}}"
           rf"|[0-9]{{1,3}}(?:\.[0-9]{{3}}){{1,2}}|[0-9]+(?:[.,][0-9]+)?")
_MULT = r"(?:\s?(?-i:[kKM])|\s+(?:thousand|million|billion))"
_NUMBER = (rf"(?<![\w.,/\-])(?<![0-9][{_SPACES}])"
           rf"(?:(?P<digits>{_DIGITS})(?P<mult>{_MULT})?|(?P<words>\b{_WORDS}))"
           rf"(?![\w])(?![.,\-][0-9])(?P<plus>\s?\+)?")
# A modifier: a word, a word starting with digits ("2D", "4-chamber"), or "(ACRONYM)".
_MOD = r"(?:(?:[0-9]+-?)?[^\W\d_][\w'’-]*|\([^\W_][\w-]*\))"


class _Grammar:
    """Builds the four patterns from a checked rubric."""

    def __init__(self, cfg: _RubricFile, synonyms: list[str]) -> None:
        groups = "|".join(f"(?P<_s{i}>{_synonym_regex(s)})" for i, s in enumerate(synonyms))
        self.unit = rf"(?P<unit>{groups})(?!\w|-\w)"
        quals = _alternation([*cfg.qualifiers, *cfg.total_markers])
        self.qual = rf"(?P<qual>(?:(?<!\w)(?:{quals})[,:]?\s*){{0,2}})"
        blocked = _alternation(cfg.not_modifiers)
        mod = rf"(?!(?:{blocked})\s){_MOD}"
        self.mods = rf"(?P<mods>(?:{mod}\s+){{0,{cfg.max_modifiers}}}?)"
        self.lazy_mods = rf"(?:{mod}\s+){{0,{cfg.max_modifiers}}}?"
        self.post_total = rf"(?P<post>,?\s+(?:{_alternation(cfg.total_markers)}))?"

    def patterns(self) -> tuple[re.Pattern[str], ...]:
        flags = re.IGNORECASE | re.VERBOSE
        # Spaces inside the building blocks are literal, so VERBOSE is applied only to the
        # layout of these templates; the blocks are interpolated as (?-x:...) groups.
        def raw(block: str) -> str:
            return f"(?-x:{block})"

        number_first = rf"""
            {raw(self.qual)} {raw(_NUMBER)} \s+ {raw(self.mods)} {raw(self.unit)}
            {raw(self.post_total)}"""
        n_equals = rf"""
            (?<![\w-]) {raw(self.unit)} \s* [(\[,]? \s* n \s* [=:] \s* {raw(_NUMBER)}
            (?: \s* [)\]] )?"""
        number_of = rf"""
            (?<!\w) (?: (?P<lead_total> total ) \s+ )? (?: number | no\. | count ) \s+ of \s+
            {raw(self.lazy_mods)} {raw(self.unit)} \s*
            (?: [:=] | (?:is|was|are|were|equals|totals|totalled|totaled)\b ) \s*
            {raw(self.qual)} {raw(_NUMBER)}"""
        label = rf"""
            (?<![\w-]) (?: (?P<lead_total> total ) \s+ )? {raw(self.unit)} \**
            [^\S\n]* [:|] [^\S\n]* \** [^\S\n]* {raw(_NUMBER)}
            (?= \** \s* (?: $ | [\n|,;.)(\]] ) )"""
        return tuple(re.compile(p, flags) for p in (number_first, n_equals, number_of, label))


# --- extraction ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Candidate:
    unit: str
    count: int
    phrase: str
    is_total: bool


def extract_sizes(text: str, path: Path | str | None = None) -> dict[str, Size]:
    """Counts per unit ("images", "videos", "patients", ...) stated in `text`.

    Only units that are found appear, in the rubric's order. For each unit the count
    introduced by a total marker wins, else the largest. `path` names a sizes rubric
    (default rubrics/sizes.yaml).
    """
    if not text:
        return {}
    rubric = load_rubric(path)
    best: dict[str, _Candidate] = {}
    for cand in _candidates(text, rubric):
        held = best.get(cand.unit)  # on a tie the first stated count stays
        if held is None or (cand.is_total, cand.count) > (held.is_total, held.count):
            best[cand.unit] = cand
    return {u: Size(best[u].count, best[u].phrase) for u in rubric.units if u in best}


def _candidates(text: str, rubric: SizeRubric) -> Iterator[_Candidate]:
    for pattern in rubric.patterns:
        for m in pattern.finditer(text):
            count = _count(text, m, rubric)
            if count is None:
                continue
            if rubric.not_before.match(text, m.end("unit")):
                continue
            unit = next(unit for i, unit in enumerate(rubric.synonym_units)
                        if m.group(f"_s{i}") is not None)
            groups = m.groupdict()
            is_total = bool(groups.get("post") or groups.get("lead_total")
                            or (groups.get("qual") and rubric.total.search(groups["qual"])))
            yield _Candidate(unit, count, m.group(0), is_total)


# "1-100", "100 – 200", "100 to 200", "between 100 and 200", "512 x 512", "3:1", "50 ± 5".
# A hyphen with spaces ("v2 - 500 images") and an em dash are punctuation, not ranges.
_RANGE_BEFORE = re.compile(
    r"(?:[0-9]-|[0-9]\s*(?:–|to|x|×|\*|by|±|\+/-)\s*|[0-9]:|\bbetween\s+[0-9][0-9,.]*\s+and\s+)$",
    re.IGNORECASE)
_AFTER = re.compile(r"\s*(?:[x×*]\s*[0-9]|[-–—]\s*[0-9]|%|percent\b|:[0-9])", re.IGNORECASE)


def _count(text: str, m: re.Match[str], rubric: SizeRubric) -> int | None:
    """The count of a match, or None when its number is not a count."""
    words, digits, mult = m.group("words", "digits", "mult")
    kind = "words" if words is not None else "digits"
    before = text[max(0, m.start(kind) - 40):m.start(kind)]
    if _RANGE_BEFORE.search(before) or rubric.not_after.search(before):
        return None
    if _AFTER.match(text, m.end("mult") if mult else m.end(kind)):
        return None

    if words is not None:
        value = _words_value(words)
        if value is None or value < rubric.min_word_number:
            return None
    else:
        value = _digits_value(digits, mult)
        if value is None or (not mult and _looks_like_year(digits, before, m, rubric)):
            return None
    return value if 1 <= value <= rubric.max_count else None


def _looks_like_year(digits: str, before: str, m: re.Match[str], rubric: SizeRubric) -> bool:
    """A bare 4-digit number in year_range after a year context word ("In 2019 images") or
    with words before the unit ("the 2019 MICCAI challenge images")."""
    low, high = rubric.year_range
    if not (len(digits) == 4 and digits.isdigit() and low <= int(digits) <= high):
        return False
    mods = m.groupdict().get("mods") or ""
    return bool(rubric.year_context.search(before) or mods.strip())


def _digits_value(digits: str, mult: str | None) -> int | None:
    """12,400 / 3 812 / 12.400 -> 12400; with a multiplier "." and "," (unless followed by
    groups of three) are decimal points: 1.2 million, 4,1M -> 1200000, 4100000."""
    plain = re.sub(f"[{_SPACES}]", "", digits)
    if mult:
        factor = _MULTIPLIERS.get(mult.strip().lower())
        if factor is None:
            return None
        if "," in plain:
            grouped = re.fullmatch(r"[0-9]{1,3}(?:,[0-9]{3})+", plain)
            plain = plain.replace(",", "") if grouped else plain.replace(",", ".")
    else:
        factor = 1
        if re.search(r"[.,]", plain):
            if not re.fullmatch(r"[0-9]{1,3}(?:([.,])[0-9]{3})(?:\1[0-9]{3})*", plain):
                return None
            plain = re.sub(r"[.,]", "", plain)
    try:
        value = Decimal(plain) * factor
    except InvalidOperation:
        return None
    return int(value) if value == value.to_integral_value() else None


def _words_value(words: str) -> int | None:
    """"two hundred and fifty" -> 250, "twenty-five thousand" -> 25000, "a hundred" -> 100."""
    total = current = 0
    for token in re.split(r"[\s-]+", words.lower()):
        if token == "and":
            continue
        if token in _SMALL:
            current += _SMALL[token]
        elif token in _TENS:
            current += _TENS[token]
        elif token == "hundred":
            current = max(current, 1) * 100
        elif token in _SCALES:
            total += max(current, 1) * _SCALES[token]
            current = 0
        else:  # a case-folding oddity the regex accepted ("ſix"): not a number we know
            return None
    return total + current
