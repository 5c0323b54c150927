"""The survey's published catalogue: import it, link its rows to entities, compare tiers.

`sonoharvest seed` reads paper_catalogue.csv (72 datasets with their published SonoDQS tiers),
links each row to the harvested dataset entity it names, and `agreement` measures how well
the automatic tiers agree with the published ones.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr
from sklearn.feature_extraction.text import TfidfVectorizer

from sonoharvest.rubrics import TIERS

REQUIRED = ("row", "name", "sonodqs_tier")
# A seed name is linked to the entity whose copies' titles are most alike (TF-IDF cosine over
# words and the acronyms in brackets), when the best score reaches this and clearly beats
# the runner-up.
MATCH_THRESHOLD = 0.45
MARGIN = 0.05
_BRACKETS = re.compile(r"\(([^)]+)\)")


@dataclass(frozen=True)
class SeedRow:
    row: int
    name: str
    anatomy: str
    size: str
    access_type: str
    tier: str
    tier_rank: int


def read_catalogue(path: Path) -> list[SeedRow]:
    """Rows of the published catalogue; a malformed file fails naming the line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ValueError(f"{path} not found; pass --csv with the survey's catalogue") from None
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    rows = []
    for line, raw in enumerate(reader, start=2):
        tier = (raw.get("sonodqs_tier") or "").strip().title()
        if tier not in TIERS:
            raise ValueError(f"{path}:{line}: tier {raw.get('sonodqs_tier')!r} is not one of "
                             f"{', '.join(TIERS)}")
        try:
            number = int(raw["row"])
        except (TypeError, ValueError):
            raise ValueError(f"{path}:{line}: row {raw.get('row')!r} is not a number") from None
        rows.append(SeedRow(number, raw["name"].strip(), (raw.get("anatomy_as_reported") or ""),
                            raw.get("size_as_reported") or "", raw.get("access_type") or "",
                            tier, TIERS.index(tier) + 1))
    return rows


def link_rows(rows: Sequence[SeedRow], entities: Sequence[tuple[str, str]],
              threshold: float = MATCH_THRESHOLD) -> dict[int, tuple[str, str]]:
    """Row number -> (entity_id, evidence) for the rows that name a catalogued entity.

    `entities` are (entity_id, text) with text = the titles of the entity's copies.
    """
    if not rows or not entities:
        return {}
    vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), lowercase=True,
                                 token_pattern=r"(?u)\b[a-z0-9][a-z0-9_\-]*\b")
    matrix = vectorizer.fit_transform([_norm(text) for _, text in entities])
    queries = vectorizer.transform([_norm(_query(r.name)) for r in rows])
    scores = (queries @ matrix.T).toarray()
    linked: dict[int, tuple[str, str]] = {}
    spaced = [f" {_words(text)} " for _, text in entities]
    for r, row_scores in zip(rows, scores, strict=True):
        named = _named_in(r.name, spaced)
        if named is not None:
            linked[r.row] = (entities[named[0]][0], f"name {named[1]!r} in its titles")
            continue
        order = np.argsort(-row_scores)
        best = float(row_scores[order[0]])
        second = float(row_scores[order[1]]) if len(order) > 1 else 0.0
        if best >= threshold and best - second >= MARGIN:
            linked[r.row] = (entities[order[0]][0], f"name similarity {best:.2f}")
    return linked


def _named_in(name: str, spaced: list[str]) -> tuple[int, str] | None:
    """The one entity whose titles contain the seed's name or bracketed acronym as words
    (a name of at least 4 characters, found in exactly one entity)."""
    for phrase in [*_BRACKETS.findall(name), _BRACKETS.sub("", name)]:
        words = _words(phrase)
        if len(words.replace(" ", "")) < 4:
            continue
        hits = [i for i, text in enumerate(spaced) if f" {words} " in text]
        if len(hits) == 1:
            return hits[0], phrase.strip()
    return None


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _query(name: str) -> str:
    """A seed name with its bracketed acronym repeated: "(TMED)" is the strongest clue."""
    return " ".join([name, *(_BRACKETS.findall(name) * 2)])


def _norm(text: str) -> str:
    return text.replace("_", " ").lower()


def agreement(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """(published, automatic) tiers -> exact and within-one-tier shares, Spearman's rho."""
    ranks = [(TIERS.index(p), TIERS.index(a)) for p, a in pairs if p in TIERS and a in TIERS]
    n = len(ranks)
    if not n:
        return {"compared": 0}
    exact = sum(p == a for p, a in ranks) / n
    within = sum(abs(p - a) <= 1 for p, a in ranks) / n
    rho = spearmanr([p for p, _ in ranks], [a for _, a in ranks]).statistic if n > 2 else None
    confusion = [[sum(1 for p, a in ranks if p == i and a == j) for j in range(len(TIERS))]
                 for i in range(len(TIERS))]
    return {"compared": n, "exact": round(exact, 3), "within_one": round(within, 3),
            "spearman": None if rho is None or np.isnan(rho) else round(float(rho), 3),
            "confusion": confusion}
