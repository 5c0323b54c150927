"""Resolution as pure functions: deterministic links, fuzzy matches, constraints, stable ids."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from sonoharvest.resolve import (
    Candidate,
    Cluster,
    ResolutionConfig,
    assign_ids,
    choose_primary,
    load_config,
    resolve,
)
from sonoharvest.settings import REPO_ROOT
from sonoharvest.similarity import Similarity

CFG = load_config(REPO_ROOT / "rubrics")
BUSI_PAPER = "doi:10.1016/j.dib.2019.104863"


def cand(key: str, title: str, kind: str = "dataset", description: str = "", ids=(),
         related=(), created: int | None = None) -> Candidate:
    return Candidate(key=key, source=key.split(":")[0], kind=kind, title=title,
                     description=description, identifiers=frozenset(ids or [key]),
                     related=frozenset(related), relevance=0.9,
                     created_at=datetime(created, 1, 1, tzinfo=UTC) if created else None)


def run(cands, **kw):
    sim = Similarity([c.title for c in cands], [f"{c.title}. {c.description}" for c in cands],
                     None, CFG.similarity)
    return resolve(cands, CFG, sim, **kw)


def groups(resolution) -> set[frozenset[str]]:
    return {frozenset(c.members) for c in resolution.clusters}


BUSI = "780 breast ultrasound images from 600 women aged 25-75, Baheya Hospital, Cairo."
CATALOGUE = [
    cand("kaggle:aryashah2k/busi", "Breast Ultrasound Images Dataset", description=BUSI,
         related=[BUSI_PAPER], created=2020),
    cand("kaggle:someone/busi-reupload", "Breast Ultrasound Images Dataset",
         description="Re-upload. " + BUSI, related=["kaggle:aryashah2k/busi"], created=2023),
    cand("zenodo:4767046", "Breast ultrasound images (BUSI) mirror", description=BUSI,
         ids=["zenodo:4767046", "doi:10.5281/zenodo.4767046"], related=[BUSI_PAPER],
         created=2021),
    cand("huggingface:datasets/wgomezf/BUS-BRA", "BUS-BRA: Breast Ultrasound Dataset",
         description="1,875 breast ultrasound images of 1,064 patients, Brazil, BI-RADS.",
         related=["doi:10.1002/mp.16812"]),
    cand("zenodo:8231412", "BUS-BRA: A Breast Ultrasound Dataset for Assessing CAD",
         description="1,875 images from 1,064 patients acquired in Brazil with BI-RADS labels.",
         ids=["zenodo:8231412", "doi:10.5281/zenodo.8231412"], related=["doi:10.1002/mp.16812"]),
    cand("github:1", "bus-lab/busi-classification", kind="model",
         description="ResNet-50 benign/malignant classifier trained on BUSI.",
         ids=["github:bus-lab/busi-classification"], related=[BUSI_PAPER]),
    cand("papers:pwc-code:bus-lab/busi-classification:x", "Breast lesion classification",
         kind="model", ids=["github:bus-lab/busi-classification"]),
    cand("github:2", "thyroid-lab/tn3k", description="TN3K thyroid nodule images",
         ids=["github:thyroid-lab/tn3k"]),
]


def test_copies_across_hosts_merge_and_distinct_datasets_stay_apart():
    res = run(CATALOGUE)
    assert groups(res) >= {
        frozenset({"kaggle:aryashah2k/busi", "kaggle:someone/busi-reupload", "zenodo:4767046"}),
        frozenset({"huggingface:datasets/wgomezf/BUS-BRA", "zenodo:8231412"}),
        frozenset({"github:1", "papers:pwc-code:bus-lab/busi-classification:x"}),
        frozenset({"github:2"}),
    }


def test_the_original_is_primary_and_every_copy_says_how_it_joined():
    res = run(CATALOGUE)
    busi = next(c for c in res.clusters if "kaggle:aryashah2k/busi" in c.members)
    assert busi.primary == "kaggle:aryashah2k/busi"     # the mirror and re-upload say so
    assert busi.joined_by["kaggle:someone/busi-reupload"].method in {"reference", "similar"}
    code = next(c for c in res.clusters if "github:1" in c.members)
    assert code.kind == "model" and code.primary == "github:1"   # a host beats an index
    assert code.joined_by["papers:pwc-code:bus-lab/busi-classification:x"].method == "identifier"


def test_a_model_citing_a_dataset_is_linked_not_merged():
    res = run(CATALOGUE)
    uses = {(li.source, li.target) for li in res.links if li.relation == "uses_dataset"}
    assert ("github:1", "kaggle:aryashah2k/busi") in uses


def test_a_paper_record_bridges_references_but_is_never_an_entity():
    paper = cand("papers:pwc-paper:busi-paper", "Dataset of breast ultrasound images",
                 kind="paper", ids=["pwc-paper:busi-paper", BUSI_PAPER])
    hf = cand("huggingface:datasets/x/busi", "Breast Ultrasound Images Dataset (BUSI)",
              description=BUSI, related=["pwc-paper:busi-paper"])
    res = run([*CATALOGUE, paper, hf])
    assert "papers:pwc-paper:busi-paper" in res.unresolved
    busi = next(c for c in res.clusters if "kaggle:aryashah2k/busi" in c.members)
    assert "huggingface:datasets/x/busi" in busi.members


def test_curator_split_and_merge_are_respected():
    apart = run(CATALOGUE, cannot=[("zenodo:4767046", "kaggle:aryashah2k/busi"),
                                   ("zenodo:4767046", "kaggle:someone/busi-reupload")])
    assert frozenset({"zenodo:4767046"}) in groups(apart)
    together = run(CATALOGUE, must=[("github:2", "zenodo:8231412")])
    assert any({"github:2", "zenodo:8231412"} <= set(c.members) for c in together.clusters)


def test_result_does_not_depend_on_input_order():
    baseline = groups(run(CATALOGUE))
    for seed in range(5):
        shuffled = CATALOGUE[:]
        random.Random(seed).shuffle(shuffled)
        assert groups(run(shuffled)) == baseline


def test_choose_primary_prefers_uncopied_originals_then_hosts_then_age():
    a = cand("kaggle:a/x", "X dataset", created=2019)
    b = cand("zenodo:1", "X dataset", created=2021)
    c = cand("zenodo:2", "X dataset mirror", created=2018)
    assert choose_primary([a, b, c], CFG).key == "zenodo:1"
    cfg = ResolutionConfig(version=1)
    assert choose_primary([b, a], cfg).key == "kaggle:a/x"        # no host order: oldest


# --- stable ids ------------------------------------------------------------------------------

def cl(*members: str) -> Cluster:
    return Cluster(list(members), "dataset", members[0])


def test_ids_are_kept_across_runs_and_new_clusters_get_new_ids():
    first = assign_ids([cl("a", "b"), cl("c")], {}, set())
    prev = {"a": first.ids[0], "b": first.ids[0], "c": first.ids[1]}
    again = assign_ids([cl("c"), cl("b", "a"), cl("d")], prev, set(first.ids))
    assert again.ids[:2] == [first.ids[1], first.ids[0]]
    assert again.ids[2] not in first.ids and not again.absorbed and not again.vacated


def test_a_merge_keeps_the_bigger_entity_id_and_redirects_the_other():
    prev = {"a": "e1", "b": "e1", "c": "e2"}
    result = assign_ids([cl("a", "b", "c")], prev, {"e1", "e2"})
    assert result.ids == ["e1"] and result.absorbed == {"e2": "e1"}
    kept = assign_ids([cl("a", "b", "c")], prev, {"e1", "e2"}, keep=["e2"])
    assert kept.ids == ["e2"] and kept.absorbed == {"e1": "e2"}


def test_a_split_leaves_the_id_with_the_rest_and_vacated_ids_are_reported():
    prev = {"a": "e1", "b": "e1"}
    result = assign_ids([cl("a"), cl("b")], prev, {"e1"}, split=["a"])
    assert result.ids[1] == "e1" and result.ids[0] != "e1"
    gone = assign_ids([cl("z")], prev, {"e1"})
    assert gone.vacated == ["e1"]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.sampled_from("abcdefghij"), min_size=1, max_size=4, unique=True),
                min_size=1, max_size=5))
def test_assigned_ids_are_unique_and_stable_when_nothing_changes(parts):
    seen: set[str] = set()
    clusters = []
    for part in parts:
        members = [m for m in part if m not in seen]
        seen.update(members)
        if members:
            clusters.append(cl(*members))
    first = assign_ids(clusters, {}, set())
    assert len(set(first.ids)) == len(first.ids)
    prev = {m: eid for c, eid in zip(clusters, first.ids, strict=True) for m in c.members}
    assert assign_ids(clusters, prev, set(first.ids)).ids == first.ids


def test_an_undone_merge_gives_the_old_id_back():
    prev = {"a": "e1", "b": "e1", "c": "e1", "d": "e1"}   # e2 (c, d) was merged into e1
    result = assign_ids([cl("c", "d"), cl("a", "b")], prev, {"e1", "e2"}, dormant={"c": "e2"})
    assert result.ids == ["e2", "e1"]
    still = assign_ids([cl("a", "b", "c", "d")], prev, {"e1", "e2"}, dormant={"c": "e2"})
    assert still.ids == ["e1"]
