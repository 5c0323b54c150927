"""Resolution over the warehouse: records -> entities with stable ids, links and facts.

Reads classified records, runs `resolve` (pure), keeps ids stable with `assign_ids`, builds
each entity's facts and stores everything in one transaction. Curator merges and splits are
stored as constraints and respected by every later run.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from sonoharvest import warehouse
from sonoharvest.embeddings import text_hash
from sonoharvest.entity_facts import Member, build_facts, facts_hash, link_facts
from sonoharvest.landing_facts import apply_landing
from sonoharvest.records import Record
from sonoharvest.relevance import load_config as load_relevance_config
from sonoharvest.relevance import record_text
from sonoharvest.resolve import Candidate, Resolution, assign_ids, load_config, resolve
from sonoharvest.settings import Settings
from sonoharvest.similarity import Similarity
from sonoharvest.sizes import extract_sizes

BUNDLED_MODEL_ID = "all-MiniLM-L6-v2"


class EntityNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Inputs:
    candidates: list[Candidate]
    members: dict[str, Member]
    embeddings: np.ndarray | None


def load_inputs(con: duckdb.DuckDBPyConnection, settings: Settings,
                bands: list[str]) -> Inputs:
    rows = warehouse.resolution_inputs(con, bands)
    candidates, members, texts = [], {}, []
    for row in rows:
        rec = Record.model_validate_json(row["record"])
        key = f"{row['source']}:{row['source_id']}"
        kind = "paper" if row["kind_hint"] == "paper" else row["kind"]
        candidates.append(Candidate(
            key=key, source=row["source"], kind=kind, title=rec.title,
            description=rec.description[:3000], identifiers=frozenset(rec.identifiers),
            related=frozenset(rec.related), created_at=rec.created_at,
            relevance=float(row["relevance"]),
            sizes=tuple((unit, size.count) for unit, size in
                        extract_sizes(f"{rec.title}. {rec.description}").items())))
        members[key] = Member(key, rec, kind, float(row["relevance"]),
                              tuple(row["anatomy"] or ()), tuple(row["tasks"] or ()),
                              row["status"], row["first_seen"], row["last_seen"])
        texts.append(rec)
    return Inputs(candidates, members, _cached_embeddings(con, settings, texts))


def _cached_embeddings(con: duckdb.DuckDBPyConnection, settings: Settings,
                       records: list[Record]) -> np.ndarray | None:
    """The relevance step's cached vectors; records without one get a zero row (ignored)."""
    try:
        cfg = load_relevance_config(settings.rubrics_dir)
    except ValueError:
        return None
    model_id = BUNDLED_MODEL_ID if cfg.embedder.model == "bundled" else cfg.embedder.model
    hashes = [text_hash(record_text(r.title, r.description, r.keywords, cfg.embedder.max_chars))
              for r in records]
    found = warehouse.get_embeddings(con, model_id, hashes)
    if not found:
        return None
    dim = len(next(iter(found.values())))
    zero = np.zeros(dim, dtype=np.float32)
    return np.stack([found.get(h, zero) for h in hashes]) if records else None


def run_resolution(con: duckdb.DuckDBPyConnection, settings: Settings,
                   inputs: Inputs | None = None) -> tuple[Resolution, Inputs]:
    cfg = load_config(settings.rubrics_dir)
    inputs = inputs or load_inputs(con, settings, cfg.bands)
    cands = inputs.candidates
    sim = Similarity([c.title for c in cands], [f"{c.title}. {c.description}" for c in cands],
                     inputs.embeddings, cfg.similarity)
    constraints = warehouse.resolution_constraints(con)
    must = [(c["a_key"], c["b_key"]) for c in constraints if c["kind"] == "must_link"]
    cannot = [(c["a_key"], c["b_key"]) for c in constraints if c["kind"] == "cannot_link"]
    return resolve(cands, cfg, sim, must=must, cannot=cannot), inputs


def resolve_entities(con: duckdb.DuckDBPyConnection, settings: Settings,
                     progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Resolve every candidate record into entities and store the result."""
    resolution, inputs = run_resolution(con, settings)
    constraints = warehouse.resolution_constraints(con)
    keep = [c["keep_id"] for c in constraints if c["kind"] == "must_link" and c["keep_id"]]
    split = [c["a_key"] for c in constraints if c["kind"] == "cannot_link"]
    previous = warehouse.entity_memberships(con)
    known = warehouse.entity_ids(con)
    clusters = resolution.clusters
    assignment = assign_ids(clusters, previous, known, keep=keep, split=split,
                            dormant=warehouse.dormant_entities(con))
    entity_of = {k: eid for cl, eid in zip(clusters, assignment.ids, strict=True)
                 for k in cl.members}

    uses: dict[str, set[str]] = defaultdict(set)
    used_by: dict[str, set[str]] = defaultdict(set)
    links: dict[tuple[str, str, str], str] = {}
    kinds = {eid: cl.kind for cl, eid in zip(clusters, assignment.ids, strict=True)}
    for link in resolution.links:
        a, b = entity_of.get(link.source), entity_of.get(link.target)
        if not a or not b or a == b:
            continue
        relation = link.relation
        if relation == "uses_dataset" and not (kinds[a] == "model" and kinds[b] == "dataset"):
            relation = "references"
        links.setdefault((a, b, relation), link.evidence)
        if relation == "uses_dataset":
            uses[a].add(b)
            used_by[b].add(a)

    primaries = [inputs.members[cl.primary].record.url for cl in clusters]
    checks = warehouse.link_checks_for(con, [u for u in primaries if u])
    pages = warehouse.landing_pages_for(con, [u for u in primaries if u])
    entity_rows, member_rows = [], []
    for cl, eid in zip(clusters, assignment.ids, strict=True):
        ordered = [cl.primary, *[k for k in cl.members if k != cl.primary]]
        members = [inputs.members[k] for k in ordered]
        facts = build_facts(cl.kind, members, datasets=sorted(uses[eid]),
                            used_by=sorted(used_by[eid]),
                            link=link_facts(checks.get(members[0].record.url or "")))
        facts = apply_landing(facts, pages.get(members[0].record.url or ""))
        entity_rows.append((eid, cl.kind, facts["status"], None, cl.primary, facts["name"],
                            json.dumps(facts, default=str), facts_hash(facts)))
        for k in ordered:
            source, _, source_id = k.partition(":")
            edge = cl.joined_by.get(k)
            if k == cl.primary:
                role, method, evidence = "primary", "primary", "chosen as the original"
            else:
                role = "copy"
                method, evidence = (edge.method, edge.evidence) if edge else ("identifier", "")
            member_rows.append((source, source_id, eid, role, method, evidence))
        if progress:
            progress(1)
    retired: dict[str, str | None] = dict(assignment.absorbed)
    retired.update(dict.fromkeys(assignment.vacated))
    retired = {old: into for old, into in retired.items()
               if known.get(old) not in ("merged", "retired") or into}
    counts = warehouse.save_resolution(con, entity_rows, member_rows,
                                       [(a, b, r, ev) for (a, b, r), ev in links.items()],
                                       retired)
    counts["records"] = len(member_rows)
    counts["links"] = len(links)
    return counts


def refresh_link_facts(con: duckdb.DuckDBPyConnection) -> int:
    """Put the latest link check of each entity's primary URL into its facts."""
    return _refresh_facts(con, warehouse.link_checks_for,
                          lambda facts, check: {**facts, "link": link_facts(check)})


def refresh_landing_facts(con: duckdb.DuckDBPyConnection) -> int:
    """Fold the latest reading of each entity's landing page into its facts."""
    return _refresh_facts(con, warehouse.landing_pages_for, apply_landing)


def _refresh_facts(con: duckdb.DuckDBPyConnection,
                   lookup: Callable[[duckdb.DuckDBPyConnection, list[str]], dict[str, Any]],
                   apply: Callable[[dict[str, Any], Any], dict[str, Any]]) -> int:
    """Recompute each live entity's facts from what `lookup` holds for its primary URL;
    store those that changed and return how many did."""
    rows = [(eid, json.loads(facts_json)) for eid, facts_json, _ in
            warehouse.entity_facts_rows(con)]
    found = lookup(con, [f["primary_url"] for _, f in rows if f.get("primary_url")])
    changed = []
    for eid, facts in rows:
        updated = apply(facts, found.get(facts.get("primary_url") or ""))
        if updated != facts:
            changed.append((eid, json.dumps(updated, default=str), facts_hash(updated)))
    warehouse.update_entity_facts(con, changed)
    return len(changed)


def find_entity(con: duckdb.DuckDBPyConnection, ref: str) -> dict[str, Any]:
    """An entity by id (following merges) or by the key of one of its records."""
    entity = warehouse.entity(con, ref)
    seen = set()
    while entity and entity["status"] == "merged" and entity["merged_into"] not in seen:
        seen.add(entity["entity_id"])
        entity = warehouse.entity(con, entity["merged_into"])
    if entity is None and ":" in ref:
        eid = warehouse.entity_of_record(con, ref)
        entity = warehouse.entity(con, eid) if eid else None
    if entity is None:
        raise EntityNotFound(f"no entity {ref!r}: give an entity id (e.g. from the exports) "
                             "or a record key such as zenodo:1234567")
    return entity


def merge(con: duckdb.DuckDBPyConnection, settings: Settings, into: str, other: str, *,
          who: str, reason: str) -> dict[str, int]:
    """A curator merge: `other` joins `into` for good (until undone), then re-resolve."""
    a, b = find_entity(con, into), find_entity(con, other)
    if a["entity_id"] == b["entity_id"]:
        raise ValueError(f"{into} and {other} are already one entity ({a['entity_id']})")
    warehouse.add_constraints(con, "must_link", [(a["primary_key"], b["primary_key"])],
                              who=who, reason=reason, keep_id=a["entity_id"])
    return resolve_entities(con, settings)


def split(con: duckdb.DuckDBPyConnection, settings: Settings, record_key: str, *,
          who: str, reason: str) -> dict[str, int]:
    """A curator split: the record leaves its entity and never rejoins those copies."""
    entity = find_entity(con, record_key)
    others = [f"{m['source']}:{m['source_id']}"
              for m in warehouse.entity_members(con, entity["entity_id"])]
    others = [k for k in others if k != record_key]
    if not others:
        raise ValueError(f"{record_key} is the only record of {entity['entity_id']}")
    warehouse.add_constraints(con, "cannot_link", [(record_key, k) for k in others],
                              who=who, reason=reason)
    return resolve_entities(con, settings)


def evaluate_pairs(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, Any]:
    """Precision and recall of merging on labelled record pairs (JSON lines a, b, same).

    A pair counts as merged when both records belong to one entity. Pairs marked ambiguous,
    pairs of papers (papers are never entities) and pairs whose records are not in the
    warehouse are left out and counted.
    """
    entity_of = warehouse.entity_memberships(con)
    hints = {f"{s}:{i}": hint for s, i, hint in con.execute(
        "SELECT source, source_id, kind_hint FROM source_records").fetchall()}
    tp = fp = fn = tn = ambiguous = missing = papers = 0
    mistakes: list[str] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            pair = json.loads(line)
            a, b, same = pair["a"], pair["b"], bool(pair["same"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: expected JSON with a, b, same ({exc})") from None
        if pair.get("ambiguous"):
            ambiguous += 1
            continue
        if a not in hints or b not in hints:
            missing += 1
            continue
        if "paper" in (hints[a], hints[b]):
            papers += 1
            continue
        merged = a in entity_of and entity_of.get(a) == entity_of.get(b)
        tp += merged and same
        fp += merged and not same
        fn += same and not merged
        tn += not (same or merged)
        if merged != same:
            mistakes.append(f"{'merged' if merged else 'kept apart'}: {a} / {b}")
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"pairs": tp + fp + fn + tn, "same": tp + fn, "precision": round(precision, 3),
            "recall": round(recall, 3), "f1": round(f1, 3), "false_merges": fp,
            "missed_merges": fn, "ambiguous": ambiguous, "papers": papers,
            "not_in_warehouse": missing,
            "mistakes": mistakes}
