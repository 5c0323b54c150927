"""The review queue and the decision log: every action, undo, bulk, audit, returning items."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sonoharvest.cli import app
from sonoharvest.curation import CurationError, CurationStore
from sonoharvest.settings import Settings


def item(item_id: str, kind: str = "dataset", relevance: float = 0.9, digest: str = "h1",
         sources=("zenodo",), anatomy=("breast",), copies=None) -> dict:
    return {"item_id": item_id, "item_type": "entity", "kind": kind, "name": f"Item {item_id}",
            "reason": "new", "band": "likely" if relevance > 0.8 else "review",
            "relevance": relevance, "priority": round(1 - abs(2 * relevance - 1), 4),
            "sources": list(sources), "anatomy": list(anatomy), "tasks": [],
            "review_hash": digest,
            "detail": {"copies": copies or [{"key": f"zenodo:{item_id}", "title": "t"}]}}


QUEUE = [item("e1", relevance=0.55), item("e2", kind="model", relevance=0.95,
                                          sources=("github",), anatomy=("cardiac",)),
         item("e3", relevance=0.7, copies=[{"key": "zenodo:1"}, {"key": "kaggle:a/b"}])]
INDEX = [("e1", "Item e1", "dataset"), ("e2", "Item e2", "model"), ("e3", "Item e3", "dataset")]


@pytest.fixture
def store(settings):
    s = CurationStore.open(settings)
    s.publish(QUEUE, INDEX, "run-1")
    yield s
    s.close()


def test_queue_puts_uncertain_relevance_first_and_filters(store):
    assert [i.item_id for i in store.items()] == ["e1", "e3", "e2"]
    assert [i.item_id for i in store.items(kind="model")] == ["e2"]
    assert [i.item_id for i in store.items(source="github")] == ["e2"]
    assert [i.item_id for i in store.items(anatomy="breast", band="review")] == ["e1", "e3"]
    assert all(i.new for i in store.items(new_only=True))
    store.publish(QUEUE, INDEX, "run-2")
    assert store.items(new_only=True) == []                  # new only for one run


def test_every_action_is_logged_with_who_and_states(store):
    store.decide(["e1"], "accept", who="ana", notes="clear case")
    store.decide(["e2"], "reject", who="ben", reason_code="not_ultrasound")
    store.decide(["e3"], "postpone", who="ana")
    assert {i.item_id: i.status for i in store.items(status=None)} == {
        "e1": "accepted", "e2": "rejected", "e3": "postponed"}
    log = store.log()
    assert [(d.item_id, d.action, d.who, d.old_state, d.new_state) for d in log] == [
        ("e3", "postpone", "ana", "pending", "postponed"),
        ("e2", "reject", "ben", "pending", "rejected"),
        ("e1", "accept", "ana", "pending", "accepted")]
    assert log[2].notes == "clear case" and log[1].reason_code == "not_ultrasound"


def test_bad_decisions_are_refused_with_a_reason(store):
    with pytest.raises(CurationError, match="reason code"):
        store.decide(["e1"], "reject", who="ana")
    with pytest.raises(CurationError, match="not in the review queue"):
        store.decide(["nope"], "accept", who="ana")
    with pytest.raises(CurationError, match="no entity 'e9'"):
        store.decide(["e1"], "merge", who="ana", target="e9")
    with pytest.raises(CurationError, match="not a copy"):
        store.decide(["e3"], "split", who="ana", target="github:x")
    with pytest.raises(CurationError, match="who decides"):
        store.decide(["e1"], "accept", who=" ")
    assert store.log() == []                                   # nothing half-written


def test_undo_restores_the_earlier_state_and_is_itself_logged(store):
    first = store.decide(["e1"], "accept", who="ana")[0]
    second = store.decide(["e1"], "reject", who="ana", reason_code="other")[0]
    undo = store.undo(second.decision_id, who="ana")
    assert store.state_of("e1") == "accepted" and undo.new_state == "accepted"
    store.undo(first.decision_id, who="ana")
    assert store.state_of("e1") == "pending"
    with pytest.raises(CurationError, match="already undone"):
        store.undo(first.decision_id, who="ana")
    assert [d.action for d in store.log()] == ["undo", "undo", "reject", "accept"]
    assert store.decision(second.decision_id).undone_by == undo.decision_id


def test_a_rejected_item_returns_flagged_only_when_its_content_changes(store):
    store.decide(["e1"], "reject", who="ana", reason_code="not_resource")
    store.publish(QUEUE, INDEX, "run-2")                       # same content: stays rejected
    assert store.state_of("e1") == "rejected"
    assert "e1" not in [i.item_id for i in store.items()]
    changed = [item("e1", relevance=0.55, digest="h2"), *QUEUE[1:]]
    store.publish(changed, INDEX, "run-3")
    back = store.item("e1")
    assert back.status == "pending" and back.flagged == "changed since it was rejected"


# --- the command line --------------------------------------------------------------------------

@pytest.fixture
def cli(settings, store, monkeypatch):
    monkeypatch.setenv("SONOHARVEST_HOME", str(settings.home))
    monkeypatch.setenv("SONOHARVEST_CURATOR", "cli-user")
    runner = CliRunner()

    def invoke(*args: str) -> object:
        result = runner.invoke(app, ["review", *args])
        return result
    return invoke


def test_cli_list_show_and_json(cli):
    listed = json.loads(cli("list", "--json").output)
    assert [i["item_id"] for i in listed] == ["e1", "e3", "e2"]
    assert "Item e1" in cli("list").output
    shown = json.loads(cli("show", "e3", "--json").output)
    assert shown["detail"]["copies"][1]["key"] == "kaggle:a/b" and shown["decisions"] == []
    assert cli("show", "nope").exit_code == 1


def test_cli_every_action_and_the_log(cli, settings):
    assert cli("accept", "e1", "--notes", "ok").exit_code == 0
    rejected = cli("reject", "e2", "--reason", "not_ultrasound", "--json")
    assert json.loads(rejected.output)[0]["new_state"] == "rejected"
    assert cli("reject", "e3").exit_code == 1                 # no reason code
    assert cli("merge", "e3", "--into", "e1").exit_code == 0
    assert cli("split", "e3", "--record", "kaggle:a/b").exit_code == 0
    assert cli("postpone", "e3").exit_code == 0
    undone = cli("undo", "--last", "--json")
    assert undone.exit_code == 0 and json.loads(undone.output)["undoes"] == 5
    log = json.loads(cli("log", "--json").output)
    assert [e["action"] for e in log] == ["undo", "postpone", "split", "merge", "reject",
                                          "accept"]
    assert {e["who"] for e in log} == {"cli-user"}
    assert "not_ultrasound" in cli("log").output
    assert "not_ultrasound" in cli("reasons").output


def test_cli_bulk_decision_over_a_filter(cli):
    result = cli("accept", "--all", "--kind", "dataset", "--json")
    assert sorted(d["item_id"] for d in json.loads(result.output)) == ["e1", "e3"]
    assert [i["item_id"] for i in json.loads(cli("list", "--json").output)] == ["e2"]
    assert cli("accept", "e2", "--all").exit_code == 2         # ids or --all, not both


def test_the_store_works_beside_an_open_writer(settings, store):
    """Two stores on one file (the web page and the command line) see each other's writes."""
    other = CurationStore(Settings(home=settings.home).home / "curation.sqlite")
    store.decide(["e1"], "accept", who="web")
    assert other.state_of("e1") == "accepted"
    other.decide(["e2"], "postpone", who="cli")
    assert store.state_of("e2") == "postponed"
    other.close()
