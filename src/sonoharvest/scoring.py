"""Score entities with the quality rubrics: only what changed, append-only, explainable."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from sonoharvest import warehouse
from sonoharvest.records import now as utcnow
from sonoharvest.rubrics import (
    TIERS,
    CriterionResult,
    Rubric,
    Score,
    fingerprint,
    load_rubrics,
    raise_hints,
    score,
)
from sonoharvest.seed import agreement, link_rows, read_catalogue
from sonoharvest.settings import Settings

CHUNK = 2000


def score_entities(con: duckdb.DuckDBPyConnection, settings: Settings, *,
                   everything: bool = False, run_id: str | None = None,
                   now: datetime | None = None,
                   progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Score every entity whose facts or rubric changed since its last score.

    Time-dependent criteria (recent updates) are judged when an entity is scored; `everything`
    rescores all entities against today's date.
    """
    rubrics = load_rubrics(settings.rubrics_dir)
    hashes = {kind: fingerprint(r) for kind, r in rubrics.items()}
    pending = warehouse.entities_to_score(con, hashes, everything=everything)
    when = now or utcnow()
    counts = {"scored": 0, "retiered": 0}
    for start in range(0, len(pending), CHUNK):
        rows = []
        for entity_id, kind, facts_json, facts_hash, previous in pending[start:start + CHUNK]:
            rubric = rubrics[kind]
            result = score(rubric, json.loads(facts_json), when)
            rows.append((entity_id, result.rubric_id, result.rubric_version, hashes[kind],
                         facts_hash, result.score, result.tier,
                         json.dumps([_plain(c) for c in result.criteria])))
            counts["retiered"] += previous is not None and previous != result.tier
        warehouse.save_scores(con, rows, run_id)
        counts["scored"] += len(rows)
        if progress:
            progress(len(rows))
    counts["unchanged"] = _active_entities(con) - counts["scored"]
    return counts


def _plain(result: CriterionResult) -> dict[str, Any]:
    return dataclasses.asdict(result)


def _active_entities(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT count(*) FROM entities "
                       "WHERE status IN ('active', 'withdrawn')").fetchone()[0]


def explain(con: duckdb.DuckDBPyConnection, settings: Settings, entity: dict[str, Any],
            now: datetime | None = None) -> dict[str, Any]:
    """The entity's tier and score, each criterion with its evidence, what would raise the tier,
    the curator override if any, and the tier history."""
    rubric: Rubric = load_rubrics(settings.rubrics_dir)[entity["kind"]]
    live: Score = score(rubric, entity["facts"], now or utcnow())
    stored = warehouse.current_score(con, entity["entity_id"])
    return {
        "entity_id": entity["entity_id"], "name": entity["name"], "kind": entity["kind"],
        "rubric": f"{rubric.id} v{rubric.version}", "score": live.score, "tier": live.tier,
        "final_tier": stored["tier"] if stored and stored["override_reason"] else live.tier,
        "override": ({"tier": stored["tier"], "reason": stored["override_reason"],
                      "by": stored["override_by"]} if stored and stored["override_reason"]
                     else None),
        "stored_score": stored["score"] if stored else None,
        "criteria": [_plain(c) for c in live.criteria],
        "raise": raise_hints(rubric, live),
        "history": [{"scored_at": str(at), "rubric": f"{rid} v{ver}", "score": s, "tier": t}
                    for at, rid, ver, s, t in warehouse.score_history(con, entity["entity_id"])],
    }


def override(con: duckdb.DuckDBPyConnection, entity_id: str, tier: str | None, *,
             reason: str, who: str) -> None:
    if tier is not None and tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}; choose from {', '.join(TIERS)}")
    if tier is not None and not reason.strip():
        raise ValueError("an override needs a reason (--reason)")
    warehouse.set_override(con, entity_id, tier, reason=reason, who=who)


def import_seed(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, int]:
    """Import the published catalogue and link its rows to dataset entities."""
    rows = read_catalogue(path)
    linked = link_rows(rows, warehouse.dataset_titles(con))
    warehouse.save_seed(con, [
        (r.row, r.name, r.anatomy, r.size, r.access_type, r.tier, r.tier_rank,
         *linked.get(r.row, (None, None))) for r in rows])
    return {"rows": len(rows), "linked": len(linked)}


def seed_agreement(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    rows = warehouse.seed_comparison(con)
    result = agreement([(published, auto) for _, _, published, _, auto, _ in rows if auto])
    result["rows"] = len(rows)
    result["linked"] = sum(1 for r in rows if r[3])
    result["table"] = [{"row": n, "name": name, "published": pub, "entity_id": eid,
                        "automatic": auto, "score": s} for n, name, pub, eid, auto, s in rows]
    return result
