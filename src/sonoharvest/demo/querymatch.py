"""A small Elasticsearch query-string matcher, for fake APIs whose real search takes one.

It covers what harvesters send: terms, quoted phrases, `field:term`, `field:(a OR "b c")`,
AND / OR / NOT (also && || ! + -), parentheses, wildcards (`10.17632*`) and ranges
(`updated:["2025-01-01T00:00:00Z" TO *]`, `{` `}` exclusive). Text is compared the way
Elasticsearch's standard analyser sees it: lower-case runs of letters and digits, so the phrase
"B-mode" matches "b mode" and "B-Mode". Juxtaposed clauses are ORed (the default operator).

    query = parse('titles.title:(ultrasound OR "B-mode") AND updated:[2020-01-01 TO *]')
    query.matches(lambda field: values_of(record, field))   # field None: the default fields
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Lookup = Callable[[str | None], list[Any]]
_WORD = re.compile(r"[^\W_]+")
_RANGE = re.compile(r'([\[{])\s*("[^"]*"|[^\s\]}]+)\s+TO\s+("[^"]*"|[^\s\]}]+)\s*([\]}])')
_OPERATORS = {"AND": "AND", "&&": "AND", "OR": "OR", "||": "OR", "NOT": "NOT", "!": "NOT"}


class QueryError(ValueError):
    """The query string cannot be parsed (the real APIs answer 400)."""


def analyse(text: Any) -> list[str]:
    """Lower-case tokens of letters and digits, as the standard analyser splits text."""
    return list(_analysed(str(text or "")))


@functools.lru_cache(maxsize=8192)
def _analysed(text: str) -> tuple[str, ...]:
    """Cached: a fake matches every stored text against every term of every request."""
    return tuple(_WORD.findall(text.lower()))


@dataclass(frozen=True)
class Term:
    field: str | None
    text: str
    phrase: bool = False

    def matches(self, lookup: Lookup) -> bool:
        values = [v for v in lookup(self.field) if v not in (None, "")]
        if not self.phrase and any(c in self.text for c in "*?"):
            pattern = self.text.lower()
            return any(fnmatch.fnmatchcase(str(v).lower(), pattern)
                       or any(fnmatch.fnmatchcase(t, pattern) for t in analyse(v))
                       for v in values)
        wanted = analyse(self.text)
        if not wanted:
            return False
        return any(_contains(_analysed(str(v)), tuple(wanted)) for v in values)


@dataclass(frozen=True)
class Range:
    field: str | None
    low: str | None
    high: str | None
    low_inclusive: bool
    high_inclusive: bool

    def matches(self, lookup: Lookup) -> bool:
        return any(self._within(v) for v in lookup(self.field) if v not in (None, ""))

    def _within(self, value: Any) -> bool:
        if self.low is not None:
            a, b = _comparable(value, self.low)
            if a is None or a < b or (a == b and not self.low_inclusive):
                return False
        if self.high is not None:
            a, b = _comparable(value, self.high)
            if a is None or a > b or (a == b and not self.high_inclusive):
                return False
        return True


@dataclass(frozen=True)
class Not:
    clause: Any

    def matches(self, lookup: Lookup) -> bool:
        return not self.clause.matches(lookup)


@dataclass(frozen=True)
class Bool:
    op: str  # AND | OR
    clauses: tuple[Any, ...]

    def matches(self, lookup: Lookup) -> bool:
        test = all if self.op == "AND" else any
        return test(c.matches(lookup) for c in self.clauses)


class _All:
    def matches(self, lookup: Lookup) -> bool:
        return True


def parse(query: str | None) -> Any:
    """The query as a tree of clauses with `matches(lookup)`; an empty query matches all."""
    tokens = _tokenise(query or "")
    if not tokens:
        return _All()
    parser = _Parser(tokens)
    tree = parser.either(None)
    if parser.pos != len(tokens):
        raise QueryError(f"unexpected {tokens[parser.pos][1]!r} in the query")
    return tree


def _contains(tokens: tuple[str, ...], wanted: tuple[str, ...]) -> bool:
    n = len(wanted)
    return any(tokens[i:i + n] == wanted for i in range(len(tokens) - n + 1))


def _comparable(value: Any, bound: str) -> tuple[Any, Any]:
    """The value and the bound as two datetimes, two numbers or two strings."""
    when, limit = _when(value), _when(bound)
    if when is not None and limit is not None:
        return when, limit
    try:
        return float(value), float(bound)
    except (TypeError, ValueError):
        return str(value), bound


def _when(value: Any) -> datetime | None:
    text = str(value).strip()
    if not re.match(r"\d{4}(-\d\d){0,2}([T ]|$)", text):
        return None
    if re.fullmatch(r"\d{4}(-\d\d)?", text):
        text = (text + "-01-01")[:10]
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _tokenise(query: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    i = 0
    while i < len(query):
        c = query[i]
        if c.isspace():
            i += 1
        elif c in "[{":
            match = _RANGE.match(query, i)
            if not match:
                raise QueryError(f"unreadable range at {query[i:i + 30]!r}")
            low, high = (None if b == "*" else b.strip('"') for b in match.group(2, 3))
            tokens.append(("range", (low, high, c == "[", match.group(4) == "]")))
            i = match.end()
        elif c in "():":
            tokens.append((c, c))
            i += 1
        elif c == '"':
            end = query.find('"', i + 1)
            if end < 0:
                raise QueryError("unbalanced quote in the query")
            tokens.append(("phrase", query[i + 1:end]))
            i = end + 1
        elif c in "+-" and i + 1 < len(query) and not query[i + 1].isspace():
            tokens.append(("op", "NOT" if c == "-" else "MUST"))
            i += 1
        else:
            word, i = _word(query, i)
            op = _OPERATORS.get(word)
            tokens.append(("op", op) if op else ("word", word))
    return tokens


def _word(query: str, i: int) -> tuple[str, int]:
    out = []
    while i < len(query) and not query[i].isspace() and query[i] not in '()":[]{}':
        if query[i] == "\\" and i + 1 < len(query):
            i += 1
        out.append(query[i])
        i += 1
    return "".join(out), i


class _Parser:
    """Precedence: NOT, then AND, then OR (explicit or juxtaposed)."""

    def __init__(self, tokens: list[tuple[str, Any]]) -> None:
        self.tokens, self.pos = tokens, 0

    def _peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> tuple[str, Any]:
        token = self._peek()
        if token is None:
            raise QueryError("the query ends too early")
        self.pos += 1
        return token

    def either(self, field: str | None) -> Any:
        clauses = [self.both(field)]
        while (token := self._peek()) is not None and token[0] != ")":
            if token == ("op", "OR"):
                self.pos += 1
            clauses.append(self.both(field))
        return clauses[0] if len(clauses) == 1 else Bool("OR", tuple(clauses))

    def both(self, field: str | None) -> Any:
        clauses = [self.unary(field)]
        while self._peek() == ("op", "AND"):
            self.pos += 1
            clauses.append(self.unary(field))
        return clauses[0] if len(clauses) == 1 else Bool("AND", tuple(clauses))

    def unary(self, field: str | None) -> Any:
        token = self._peek()
        if token == ("op", "NOT"):
            self.pos += 1
            return Not(self.unary(field))
        if token == ("op", "MUST"):
            self.pos += 1
        return self.primary(field)

    def primary(self, field: str | None) -> Any:
        kind, value = self._take()
        if kind == "(":
            inner = self.either(field)
            if self._take()[0] != ")":
                raise QueryError("unbalanced parenthesis in the query")
            return inner
        if kind == "word" and self._peek() == (":", ":"):
            self.pos += 1
            return self._fielded(value)
        if kind == "word":
            return Term(field, value)
        if kind == "phrase":
            return Term(field, value, phrase=True)
        if kind == "range":
            return Range(field, *value)
        raise QueryError(f"unexpected {value!r} in the query")

    def _fielded(self, field: str) -> Any:
        kind, value = self._take()
        if kind == "(":
            inner = self.either(field)
            if self._take()[0] != ")":
                raise QueryError("unbalanced parenthesis in the query")
            return inner
        if kind == "range":
            return Range(field, *value)
        if kind in ("word", "phrase"):
            return Term(field, value, phrase=kind == "phrase")
        raise QueryError(f"{field}: expects a term, a phrase, a group or a range")
