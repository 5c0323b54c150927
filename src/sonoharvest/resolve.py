"""Which records are copies of one resource: deterministic links first, then fuzzy matching.

Pure functions over `Candidate`s. The order of evidence, strongest first:
1. curator merges (must-link) and splits (cannot-link, never overridden);
2. a shared own identifier (DOI incl. Zenodo concept DOI, GitHub repo, HF id, Kaggle ref...);
3. a reference from one record to another's identifier (README DOI, Zenodo related
   identifier, HF card `datasets:`), or two records citing the same paper, when the two are
   of the same kind, from different hosts, and alike enough (`merge.linked`);
4. similarity alone (`merge.fuzzy`) among each record's nearest neighbours of the same kind,
   unless both state a count of the same unit and the counts disagree (`merge.size_conflict`).
A reference between a model and a dataset is a "uses" link, never a merge.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sonoharvest.datafiles import read_yaml
from sonoharvest.similarity import Similarity, SimilarityConfig

RESOURCE_KINDS = ("dataset", "model")
PAPER_PREFIXES = ("doi:", "arxiv:", "pwc-paper:", "pmid:")
LATEST = datetime.max.replace(tzinfo=UTC)
MAX_PAPER_GROUP = 40        # a paper cited by more records than this is a method, not a source


class MergeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fuzzy: float = Field(0.62, gt=0, le=1)
    linked: float = Field(0.35, gt=0, le=1)
    copy_linked: float = Field(0.2, gt=0, le=1)
    size_conflict: float = Field(1.5, gt=1)


class ResolutionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1)
    bands: list[str] = Field(default_factory=lambda: ["likely", "review"])
    host_priority: list[str] = Field(default_factory=list)
    index_hosts: list[str] = Field(default_factory=list)
    copy_cues: list[str] = Field(default_factory=list)
    similarity: SimilarityConfig = Field(default_factory=SimilarityConfig)
    merge: MergeConfig = Field(default_factory=MergeConfig)

    @cached_property
    def copy_pattern(self) -> re.Pattern[str] | None:
        return re.compile("|".join(f"(?:{c})" for c in self.copy_cues), re.I) \
            if self.copy_cues else None


def load_config(rubrics_dir: Path) -> ResolutionConfig:
    path = rubrics_dir / "resolution.yaml"
    data = read_yaml(path, "rubrics/resolution.yaml")
    try:
        return ResolutionConfig.model_validate(data or {})
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"{path} is invalid: {where}") from None


@dataclass(frozen=True)
class Candidate:
    key: str                      # "source:source_id"
    source: str
    kind: str                     # dataset | model | other | paper
    title: str
    description: str = ""
    identifiers: frozenset[str] = frozenset()
    related: frozenset[str] = frozenset()
    created_at: datetime | None = None
    relevance: float = 0.0
    sizes: tuple[tuple[str, int], ...] = ()     # stated counts (unit, n), see sizes.py


@dataclass(frozen=True)
class Edge:
    a: str
    b: str
    method: str                   # curator | identifier | reference | paper | similar
    evidence: str
    score: float | None = None


@dataclass(frozen=True)
class Link:
    source: str                   # record keys; entity ids are attached after assignment
    target: str
    relation: str                 # uses_dataset | references
    evidence: str


@dataclass
class Cluster:
    members: list[str]
    kind: str
    primary: str
    joined_by: dict[str, Edge] = field(default_factory=dict)   # member -> the edge it came by


@dataclass
class Resolution:
    clusters: list[Cluster]
    links: list[Link]
    unresolved: list[str]         # records in no entity (papers, "other" on their own)


class _Groups:
    """Union-find whose unions respect cannot-link pairs."""

    def __init__(self, keys: Iterable[str], cannot: Iterable[tuple[str, str]]) -> None:
        self.parent = {k: k for k in keys}
        self.members = {k: {k} for k in self.parent}
        self.blocked: dict[str, set[str]] = defaultdict(set)
        for a, b in cannot:
            if a in self.parent and b in self.parent:
                self.blocked[a].add(b)
                self.blocked[b].add(a)

    def find(self, k: str) -> str:
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def union(self, a: str, b: str) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        small, large = sorted((ra, rb), key=lambda r: len(self.members[r]))
        if any(self.blocked.get(m, set()) & self.members[large] for m in self.members[small]):
            return False
        self.parent[small] = large
        self.members[large] |= self.members.pop(small)
        return True


def resolve(candidates: Sequence[Candidate], cfg: ResolutionConfig, sim: Similarity, *,
            must: Iterable[tuple[str, str]] = (),
            cannot: Iterable[tuple[str, str]] = ()) -> Resolution:
    """Cluster the candidates into resources; `sim` is built over them in the same order."""
    pos = {c.key: i for i, c in enumerate(candidates)}
    by_key = {c.key: c for c in candidates}
    groups = _Groups(pos, cannot)
    edges: list[Edge] = [Edge(a, b, "curator", "merged by a curator")
                         for a, b in must if a in pos and b in pos]
    owners: dict[str, list[str]] = defaultdict(list)
    for c in candidates:
        for ident in c.identifiers:
            owners[ident].append(c.key)
    for ident, keys in owners.items():
        edges += [Edge(keys[0], k, "identifier", f"both are {ident}") for k in keys[1:]]
    joined = _apply(groups, edges)

    # References and shared papers are read after identifier merges, so a pwc-paper slug and
    # the arXiv id of the same paper count as one paper.
    links: list[Link] = []
    linked_edges: list[Edge] = []
    cited: dict[str, list[str]] = defaultdict(list)
    for c in candidates:
        if c.kind == "paper":
            continue
        for ref in sorted(c.related):
            targets = [t for t in owners.get(ref, []) if groups.find(t) != groups.find(c.key)]
            resources = [t for t in targets if by_key[t].kind != "paper"]
            if resources:
                linked_edges += _reference(c, [by_key[t] for t in resources], ref, cfg, sim,
                                           pos, links)
            elif targets:
                cited[f"paper:{groups.find(targets[0])}"].append(c.key)
            elif ref.startswith(PAPER_PREFIXES):
                cited[ref].append(c.key)
    for paper, keys in cited.items():
        keys = list(dict.fromkeys(keys))
        if len(keys) <= MAX_PAPER_GROUP:
            linked_edges += _shared_paper(paper, [by_key[k] for k in keys], cfg, sim, pos, links)
    linked_edges.sort(key=lambda e: -(e.score or 0))
    joined.update(_apply(groups, linked_edges))

    fuzzy: list[Edge] = []
    for kind in RESOURCE_KINDS:
        group = [pos[c.key] for c in candidates if c.kind == kind]
        for i, j, s in sim.neighbours(group, cfg.merge.fuzzy):
            if not size_conflict(candidates[i], candidates[j], cfg.merge.size_conflict):
                fuzzy.append(Edge(candidates[i].key, candidates[j].key, "similar",
                                  f"similarity {s:.2f}", s))
    fuzzy.sort(key=lambda e: (-(e.score or 0), e.a, e.b))
    joined.update(_apply(groups, fuzzy))
    return _clusters(candidates, cfg, groups, joined, links)


def size_conflict(a: Candidate, b: Candidate, ratio: float) -> str | None:
    """A unit both records count, with counts further apart than `ratio` (different data)."""
    theirs = dict(b.sizes)
    for unit, n in a.sizes:
        m = theirs.get(unit)
        if m and max(n, m) > ratio * min(n, m):
            return f"{n} vs {m} {unit}"
    return None


def says_copy(c: Candidate, cfg: ResolutionConfig) -> bool:
    pattern = cfg.copy_pattern
    return bool(pattern and pattern.search(f"{c.title} {c.description[:600]}"))


def _apply(groups: _Groups, edges: Iterable[Edge]) -> dict[str, Edge]:
    joined: dict[str, Edge] = {}
    for e in edges:
        if groups.union(e.a, e.b):
            joined.setdefault(e.b, e)
            joined.setdefault(e.a, e)
    return joined


def _reference(c: Candidate, targets: list[Candidate], ref: str, cfg: ResolutionConfig,
               sim: Similarity, pos: dict[str, int], links: list[Link]) -> list[Edge]:
    out = []
    for t in targets:
        if {c.kind, t.kind} == set(RESOURCE_KINDS):
            model, dataset = (c, t) if c.kind == "model" else (t, c)
            links.append(Link(model.key, dataset.key, "uses_dataset",
                              f"{c.key} references {ref}"))
            continue
        score = sim.pair(pos[c.key], pos[t.key])
        # A record that calls itself a copy and names its original needs less similarity.
        # On one host, a reference is a copy only when the record says it is one (an HF
        # card's base_model is a different model).
        copy = says_copy(c, cfg)
        if (c.kind == t.kind and c.kind in RESOURCE_KINDS
                and score >= (cfg.merge.copy_linked if copy else cfg.merge.linked)
                and (c.source != t.source or copy)):
            out.append(Edge(c.key, t.key, "reference",
                            f"{c.key} references {ref}; similarity {score:.2f}", score))
        else:
            links.append(Link(c.key, t.key, "references", f"{c.key} references {ref}"))
    return out


def _shared_paper(paper: str, cites: list[Candidate], cfg: ResolutionConfig, sim: Similarity,
                  pos: dict[str, int], links: list[Link]) -> list[Edge]:
    shown = paper.removeprefix("paper:")
    out = []
    for i, a in enumerate(cites):
        for b in cites[i + 1:]:
            if {a.kind, b.kind} == set(RESOURCE_KINDS):
                model, dataset = (a, b) if a.kind == "model" else (b, a)
                links.append(Link(model.key, dataset.key, "uses_dataset",
                                  f"both cite {shown}"))
            elif a.kind == b.kind and a.kind in RESOURCE_KINDS and a.source != b.source:
                score = sim.pair(pos[a.key], pos[b.key])
                if score >= cfg.merge.linked:
                    out.append(Edge(a.key, b.key, "paper",
                                    f"both cite {shown}; similarity {score:.2f}", score))
    return out


def _clusters(candidates: Sequence[Candidate], cfg: ResolutionConfig, groups: _Groups,
              joined: dict[str, Edge], links: list[Link]) -> Resolution:
    by_key = {c.key: c for c in candidates}
    clusters, unresolved = [], []
    for root in sorted(groups.members):
        members = sorted(groups.members[root])
        weight: Counter[str] = Counter()
        for k in members:
            if by_key[k].kind in RESOURCE_KINDS:
                weight[by_key[k].kind] += 0.5 + by_key[k].relevance
        if not weight:
            unresolved += members
            continue
        kind = max(RESOURCE_KINDS, key=lambda x: (weight[x], x == "dataset"))
        primary = choose_primary([by_key[k] for k in members if by_key[k].kind == kind], cfg)
        clusters.append(Cluster(members, kind, primary.key,
                                {k: joined[k] for k in members if k in joined}))
    return Resolution(clusters, links, unresolved)


def choose_primary(members: Sequence[Candidate], cfg: ResolutionConfig) -> Candidate:
    """The original: a host rather than an index, not self-described as a copy, referenced by
    the other copies (an index's references do not count), best host, earliest."""
    own = {i: c for c in members for i in c.identifiers}
    inbound: Counter[str] = Counter(own[r].key for c in members if c.source not in
                                    cfg.index_hosts for r in c.related
                                    if r in own and own[r].key != c.key)
    hosts = {h: n for n, h in enumerate(cfg.host_priority)}

    def rank(c: Candidate) -> tuple[object, ...]:
        return (c.source in cfg.index_hosts, says_copy(c, cfg), -inbound[c.key],
                hosts.get(c.source, len(hosts)),
                c.created_at is None, c.created_at or LATEST, c.key)

    return min(members, key=rank)


# --- stable entity ids ------------------------------------------------------------------------

def new_entity_id(primary_key: str, taken: set[str]) -> str:
    digest = hashlib.sha1(primary_key.encode()).hexdigest()
    for width in range(10, 41):
        candidate = f"e{digest[:width]}"
        if candidate not in taken:
            return candidate
    raise RuntimeError(f"no free entity id for {primary_key}")     # 2^160 ids: unreachable


@dataclass(frozen=True)
class Assignment:
    ids: list[str]                # entity id of each cluster, in order
    absorbed: dict[str, str]      # old id -> id of the entity that took most of its members
    vacated: list[str]            # old ids whose members all left the catalogue


def assign_ids(clusters: Sequence[Cluster], previous: dict[str, str], taken: Iterable[str], *,
               keep: Iterable[str] = (), split: Iterable[str] = (),
               dormant: dict[str, str] | None = None) -> Assignment:
    """Give each cluster the id its members had, so an entity keeps its id across runs.

    `previous` maps record keys to their last entity id. An old id goes to the cluster holding
    most of its records; ties go to a cluster without a record a curator split off, then to the
    bigger cluster. Ids a curator merged into (`keep`) win over the others. A cluster holding
    the primary record of an entity merged away or retired (`dormant`: record key -> id)
    yields shared ids to the others and takes that old id back, so an undone merge restores
    both ids.
    """
    keep, split, taken = set(keep), set(split), set(taken)
    overlap: Counter[tuple[int, str]] = Counter()
    for n, cl in enumerate(clusters):
        for k in cl.members:
            if k in previous:
                overlap[n, previous[k]] += 1
    dormant = dormant or {}
    holds = [{dormant[k] for k in c.members if k in dormant} for c in clusters]
    ranked = sorted(overlap.items(), key=lambda item: (
        item[0][1] not in keep, bool(holds[item[0][0]] - {item[0][1]}), -item[1],
        any(k in split for k in clusters[item[0][0]].members),
        -len(clusters[item[0][0]].members), item[0][1], item[0][0]))
    ids: dict[int, str] = {}
    used: set[str] = set()
    for (n, old), _count in ranked:
        if n not in ids and old not in used:
            ids[n] = old
            used.add(old)
    for n, cl in enumerate(clusters):
        if n not in ids:
            revived = sorted(holds[n] - used)
            ids[n] = revived[0] if revived else new_entity_id(cl.primary, taken | used)
            used.add(ids[n])
    absorbed: dict[str, str] = {}
    for old in set(previous.values()) - used:
        best = [(count, ids[n]) for (n, o), count in overlap.items() if o == old]
        if best:
            absorbed[old] = max(best)[1]
    vacated = sorted(set(previous.values()) - used - set(absorbed))
    return Assignment([ids[n] for n in range(len(clusters))], absorbed, vacated)
