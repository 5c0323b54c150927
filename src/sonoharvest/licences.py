"""Licence normalisation: a raw Record.license value -> SPDX id, label and licence class.

Pure and offline. Behaviour lives in rubrics/licences.yaml (aliases, patterns, class rules);
SPDX ids and expressions are checked and case-normalised with the SPDX index bundled in the
`license-expression` package, which also supplies the ScanCode category used as the class
fallback for SPDX ids the YAML rules do not name.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from license_expression import (
    OR,
    LicenseExpression,
    LicenseSymbol,
    LicenseWithExceptionSymbol,
    Licensing,
    get_license_index,
    get_spdx_licensing,
)

from sonoharvest.datafiles import read_sections
from sonoharvest.settings import REPO_ROOT

LICENSE_CLASSES = ("open", "open-nc", "restricted", "unknown")
"""Allowed classes, from the most to the least open ("unknown" ranks last)."""

DEFAULT_PATH = REPO_ROOT / "rubrics" / "licences.yaml"

_RANK = {c: i for i, c in enumerate(LICENSE_CLASSES)}
_SECTIONS = {"version", "spdx_classes", "scancode_categories", "named", "aliases", "patterns"}


@dataclass(frozen=True)
class License:
    """A normalised licence.

    spdx: the SPDX id or expression when known, else None.
    label: a short human-readable name: the SPDX id, a name from the YAML, or the cleaned raw text.
    license_class: one of LICENSE_CLASSES.
    """

    spdx: str | None
    label: str
    license_class: str


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    target: str


@dataclass(frozen=True)
class _Rules:
    spdx_classes: tuple[tuple[re.Pattern[str], str], ...]
    categories: dict[str, str]
    named: dict[str, License]  # folded name -> License
    exact: dict[str, str]  # folded alias or name -> target
    patterns: tuple[_Pattern, ...]


def normalize_license(raw: str | None, *, path: Path | None = None) -> License:
    """Normalise a raw licence string from any source; never raises on odd input.

    `path` names the rubric file (default rubrics/licences.yaml); it is read once per path.
    An invalid rubric file raises ValueError naming the file and the entry.
    """
    rubric = DEFAULT_PATH if path is None else Path(path).resolve()
    return _normalize(raw if isinstance(raw, str) else None, rubric)


@functools.lru_cache(maxsize=8192)
def _normalize(raw: str | None, path: Path) -> License:
    """normalize_license, memoised: sources repeat a few dozen licence strings."""
    rules = _load_rules(path)
    text = clean(raw) if raw is not None else ""
    if not text:
        return rules.named[fold("unknown")]
    key = fold(text)
    if key in rules.exact:
        found = _resolve(rules, rules.exact[key])
        if found is not None:
            return found
    found = _spdx(rules, text)
    if found is not None:
        return found
    for pattern in rules.patterns:
        match = pattern.regex.search(key)
        if match:
            found = _resolve(rules, match.expand(pattern.target))
            if found is not None:
                return found
    return License(None, text, "unknown")


def clean(text: str) -> str:
    """Strip and collapse whitespace: the label kept for a licence nobody recognises."""
    return " ".join(text.split())


def fold(text: str) -> str:
    """The comparison form: lower case, '-' and '_' read as spaces, runs of spaces as one."""
    return " ".join(re.sub(r"[-_]+", " ", text.lower()).split())


def spdx_class(spdx_id: str, *, path: Path | None = None) -> str:
    """The licence class of one SPDX id, by the YAML rules then the ScanCode category."""
    return _symbol_class(load_rules(DEFAULT_PATH if path is None else path), spdx_id)


# --- resolution ----------------------------------------------------------------------------


def _resolve(rules: _Rules, target: str) -> License | None:
    """A target from an alias or a pattern: a YAML name, else an SPDX id or expression."""
    target = clean(target).strip(" -")
    named = rules.named.get(fold(target))
    if named is not None:
        return named
    return _spdx(rules, target)


def _spdx(rules: _Rules, text: str) -> License | None:
    """`text` as an SPDX id or expression, as written or with spaces read as '-'."""
    for candidate in dict.fromkeys([text, re.sub(r"\s+", "-", text)]):
        expression = _parse(candidate)
        if expression is not None:
            spdx = expression.render()
            return License(spdx, spdx, _expression_class(rules, expression))
    return None


def _parse(text: str) -> LicenseExpression | None:
    """A validated SPDX expression, or None for anything the SPDX index does not know."""
    licensing = _licensing()
    try:
        expression = licensing.parse(text, validate=True, strict=True)
    except Exception:  # the parser raises assorted errors (even IndexError) on free text
        return None
    if expression is None:
        return None
    keys = licensing.license_keys(expression)
    if not keys or any(k.startswith("LicenseRef-") for k in keys):
        return None
    return expression


def _expression_class(rules: _Rules, expression: LicenseExpression) -> str:
    """AND takes the strictest class of its parts, OR the most open one."""
    if isinstance(expression, LicenseWithExceptionSymbol):
        return _symbol_class(rules, expression.license_symbol.key)
    if isinstance(expression, LicenseSymbol):
        return _symbol_class(rules, expression.key)
    classes = [_expression_class(rules, arg) for arg in expression.args]
    pick = min if isinstance(expression, OR) else max  # AND, and anything else: strictest
    return pick(classes, key=_RANK.__getitem__)


def _symbol_class(rules: _Rules, spdx_id: str) -> str:
    for regex, license_class in rules.spdx_classes:
        if regex.search(spdx_id):
            return license_class
    return rules.categories.get(_categories().get(spdx_id, ""), "unknown")


@functools.cache
def _licensing() -> Licensing:
    return get_spdx_licensing()


@functools.cache
def _categories() -> dict[str, str]:
    """SPDX id -> ScanCode category ("Permissive", "Copyleft", ...), from the bundled index."""
    found: dict[str, str] = {}
    for entry in get_license_index():
        for key in [entry.get("spdx_license_key"), *(entry.get("other_spdx_license_keys") or [])]:
            if key and entry.get("category"):
                found.setdefault(key, entry["category"])
    return found


# --- the rubric file -------------------------------------------------------------------------


def load_rules(path: Path) -> _Rules:
    """Read and check a licences rubric; cached per resolved path."""
    return _load_rules(Path(path).resolve())


@functools.cache
def _load_rules(path: Path) -> _Rules:
    data = read_sections(path, "rubrics/licences.yaml", _SECTIONS)

    def fail(entry: str, problem: str) -> ValueError:
        return ValueError(f"{path}: entry {entry}: {problem}")

    def check_class(entry: str, value: Any) -> str:
        if value not in LICENSE_CLASSES:
            raise fail(entry, f"class {value!r} is not one of {list(LICENSE_CLASSES)}.")
        return str(value)

    def compile_(entry: str, value: Any, flags: int = 0) -> re.Pattern[str]:
        if not isinstance(value, str):
            raise fail(entry, f"expected a regex string, got {value!r}.")
        try:
            return re.compile(value, flags)
        except re.error as exc:
            raise fail(entry, f"invalid regex {value!r}: {exc}.") from None

    spdx_classes = []
    for i, rule in enumerate(_section(data, "spdx_classes", list, fail)):
        entry = f"spdx_classes[{i}]"
        if not isinstance(rule, dict) or "match" not in rule or "class" not in rule:
            raise fail(entry, "expected a mapping with 'match', 'class' and 'why'.")
        spdx_classes.append((compile_(entry, rule["match"]), check_class(entry, rule["class"])))

    categories = {}
    for name, value in _section(data, "scancode_categories", dict, fail).items():
        categories[str(name)] = check_class(f"scancode_categories[{name!r}]", value)

    named: dict[str, License] = {}
    for name, spec in _section(data, "named", dict, fail).items():
        entry = f"named[{name!r}]"
        if not isinstance(spec, dict) or "class" not in spec:
            raise fail(entry, "expected a mapping with 'class' and 'why'.")
        named[fold(str(name))] = License(None, clean(str(name)), check_class(entry, spec["class"]))
    if fold("unknown") not in named:
        raise fail("named", "an 'unknown' entry (class unknown) is required for empty input.")

    partial = _Rules(tuple(spdx_classes), categories, named, {}, ())
    exact = {key: value.label for key, value in named.items()}
    for alias, target in _section(data, "aliases", dict, fail).items():
        entry = f"aliases[{alias!r}]"
        if not isinstance(target, str) or _resolve(partial, target) is None:
            raise fail(entry, f"target {target!r} is neither an SPDX id nor a key of 'named'.")
        key = fold(str(alias))
        if key in named and named[key] != _resolve(partial, target):
            raise fail(entry, f"clashes with the name {named[key].label!r} under 'named'.")
        exact[key] = target

    patterns = []
    for i, rule in enumerate(_section(data, "patterns", list, fail)):
        entry = f"patterns[{i}]"
        if not isinstance(rule, dict) or not isinstance(rule.get("target"), str):
            raise fail(entry, "expected a mapping with 'regex' and 'target'.")
        regex = compile_(entry, rule.get("regex"), re.IGNORECASE)
        target = rule["target"]
        if "\\" not in target and _resolve(partial, target) is None:
            raise fail(entry, f"target {target!r} is neither an SPDX id nor a key of 'named'.")
        try:  # expand the template once against empty groups: bad escapes and groups fail here
            re.compile("()" * regex.groups).sub(target, "", count=1)
        except (re.error, IndexError) as exc:
            raise fail(entry, f"invalid target template {target!r}: {exc}.") from None
        patterns.append(_Pattern(regex, target))

    return _Rules(tuple(spdx_classes), categories, named, exact, tuple(patterns))


def _section(data: dict[str, Any], name: str, kind: type, fail: Any) -> Any:
    value = data.get(name)
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise fail(name, f"expected a {'list' if kind is list else 'mapping'}.")
    return value
