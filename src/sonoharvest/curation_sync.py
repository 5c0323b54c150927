"""Between the warehouse and the curators' store: publish the queue, apply the decisions.

`apply_decisions` runs before resolution: merges and splits become resolution constraints
(undos deactivate them), accept / reject / postpone become review states, and the records of
accepted and rejected entities become relevance training examples. `publish_queue` runs at the
end of a run and replaces the queue with every entity and sampled record, with its evidence.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from typing import Any

import duckdb

from sonoharvest import warehouse
from sonoharvest.curation import CurationStore, Decision
from sonoharvest.settings import Settings

# What a decision is about: when any of these change, a decided item returns to the queue
# flagged. Counters, link checks and scores are not part of it.
REVIEWED_FACTS = ("kind", "name", "description", "primary_url", "source_ids", "license",
                  "access")
# Rejections that say the record is not a relevant resource (others, such as "duplicate" or
# "broken", say nothing about relevance and teach the classifier nothing).
IRRELEVANT_REASONS = frozenset({"not_ultrasound", "not_resource"})


def review_hash(facts: dict[str, Any]) -> str:
    body = json.dumps({k: facts.get(k) for k in REVIEWED_FACTS}, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def priority(relevance: float | None) -> float:
    """Most uncertain first: 1 at relevance 0.5, 0 at 0 or 1."""
    return round(1 - abs(2 * (relevance if relevance is not None else 0.5) - 1), 4)


def publish_queue(con: duckdb.DuckDBPyConnection, store: CurationStore, run_id: str) -> int:
    """Replace the queue with the current entities and sampled lone records."""
    members: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for m in warehouse.members_with_evidence(con):
        members[m["entity_id"]].append(m)
    links: dict[str, list[dict[str, str]]] = defaultdict(list)
    for source, target, relation, source_name, target_name in warehouse.all_entity_links(con):
        links[source].append({"relation": relation, "entity_id": target, "name": target_name})
        links[target].append({"relation": f"{relation} (by)", "entity_id": source,
                              "name": source_name})
    items, index = [], []
    for row in warehouse.review_queue_rows(con):
        facts = json.loads(row["facts"])
        copies = members.get(row["entity_id"], [])
        bands = [c["band"] for c in copies if c["band"]]
        band = min(bands, key=["likely", "review", "unlikely"].index) if bands else None
        index.append((row["entity_id"], row["name"], row["kind"]))
        items.append({
            "item_id": row["entity_id"], "item_type": "entity", "kind": row["kind"],
            "name": row["name"], "reason": "new", "band": band,
            "relevance": facts.get("relevance"), "priority": priority(facts.get("relevance")),
            "sources": facts.get("sources", []), "anatomy": facts.get("anatomy", []),
            "tasks": facts.get("tasks", []), "review_hash": review_hash(facts),
            "detail": {
                **{k: facts.get(k) for k in ("description", "primary_url", "doi", "license",
                                              "license_class", "access", "access_reason",
                                              "size", "size_evidence", "papers", "link",
                                              "status")},
                "copies": [{"key": f"{c['source']}:{c['source_id']}", "source": c["source"],
                            "title": c["title"], "url": c["url"], "role": c["role"],
                            "method": c["method"], "evidence": c["evidence"],
                            "status": c["status"], "relevance": c["relevance"]}
                           for c in copies],
                "relevance_evidence": _phrases(copies[0]["relevance_evidence"])
                if copies else [],
                "score": {"score": row["score"], "tier": row["tier"],
                          "criteria": json.loads(row["criteria"]) if row["criteria"] else []},
                "links": links.get(row["entity_id"], []),
            },
        })
    for r in warehouse.review_samples(con):
        key = f"{r['source']}:{r['source_id']}"
        items.append({
            "item_id": key, "item_type": "record", "kind": r["kind"], "name": r["title"],
            "reason": "review sample", "band": "unlikely", "relevance": r["relevance"],
            "priority": priority(r["relevance"]), "sources": [r["source"]],
            "anatomy": list(r["anatomy"] or []), "tasks": list(r["tasks"] or []),
            "review_hash": r["content_hash"][:16],
            "detail": {"description": r["description"], "primary_url": r["url"],
                       "copies": [{"key": key, "source": r["source"], "title": r["title"],
                                   "url": r["url"], "role": "primary", "method": "",
                                   "evidence": "", "status": "active",
                                   "relevance": r["relevance"]}],
                       "relevance_evidence": _phrases(r["evidence"]), "links": []},
        })
    return store.publish(items, index, run_id)


def _phrases(evidence: Any) -> list[str]:
    """The classifier's evidence as short lines (matched phrases, nearest examples)."""
    data = json.loads(evidence) if isinstance(evidence, str) else (evidence or {})
    out = []
    for key, value in (data.items() if isinstance(data, dict) else []):
        if isinstance(value, list):
            out += [f"{key}: {v if isinstance(v, str) else json.dumps(v)}" for v in value[:5]]
        elif value not in (None, ""):
            out.append(f"{key}: {value}")
    return out[:15]


def apply_decisions(con: duckdb.DuckDBPyConnection, settings: Settings, store: CurationStore,
                    run_id: str) -> dict[str, int]:
    """Bring the curators' decisions into the warehouse (idempotent: each decision once)."""
    counts = {"decisions": 0, "merges": 0, "splits": 0, "undone": 0}
    applied: dict[int, dict[str, Any]] = {}
    for d in store.unapplied():
        applied[d.decision_id] = _apply_one(con, store, d, counts)
        counts["decisions"] += 1
    states = store.current_states()
    warehouse.save_review_states(con, states, _labels(con, store, states))
    if applied:
        store.mark_applied(applied, run_id)
    return counts


def _apply_one(con: duckdb.DuckDBPyConnection, store: CurationStore, d: Decision,
               counts: dict[str, int]) -> dict[str, Any]:
    if d.action == "merge" and d.target:
        into, other = warehouse.entity(con, d.target), warehouse.entity(con, d.item_id)
        if into and other and into["primary_key"] and other["primary_key"]:
            ids = warehouse.add_constraints(
                con, "must_link", [(into["primary_key"], other["primary_key"])],
                who=d.who, reason=f"review decision {d.decision_id}: {d.notes}",
                keep_id=d.target)
            counts["merges"] += 1
            return {"constraints": ids}
    if d.action == "split" and d.target:
        others = [k for k in warehouse.record_keys_of(con, d.item_id) if k != d.target]
        ids = warehouse.add_constraints(
            con, "cannot_link", [(d.target, k) for k in others], who=d.who,
            reason=f"review decision {d.decision_id}: {d.notes}")
        counts["splits"] += 1
        return {"constraints": ids}
    if d.action == "undo" and d.undoes is not None:
        ids = store.applied_info(d.undoes).get("constraints", [])
        if ids:
            warehouse.deactivate_constraints(con, ids)
        counts["undone"] += 1
        return {"deactivated": ids}
    return {}


def _labels(con: duckdb.DuckDBPyConnection, store: CurationStore,
            states: dict[str, tuple[str, str | None]]) -> list[tuple[str, str, bool, str]]:
    """Training labels from accepted and (for relevance reasons) rejected items."""
    reasons = {d.item_id: d.reason_code for d in reversed(store.log(limit=1_000_000))
               if d.action == "reject"}
    labels: dict[str, tuple[bool, str]] = {}
    for item_id, (state, _) in states.items():
        if state == "rejected" and reasons.get(item_id) not in IRRELEVANT_REASONS:
            continue
        if state not in ("accepted", "rejected"):
            continue
        entity = warehouse.entity(con, item_id) if ":" not in item_id else None
        keys = warehouse.record_keys_of(con, item_id) if entity else [item_id]
        item = store.item(item_id)
        kind = "other" if state == "rejected" else (
            entity["kind"] if entity else (item.kind if item else "other"))
        for key in keys:
            labels[key] = (state == "accepted", kind)
    return [(key.partition(":")[0], key.partition(":")[2], relevant, kind)
            for key, (relevant, kind) in sorted(labels.items())]
