"""The landing stage over a warehouse: which pages, caching, conflicts, report of hosts."""

from __future__ import annotations

import json

from sonoharvest import warehouse
from sonoharvest.entity_facts import facts_hash
from sonoharvest.pipeline import stage_landing
from sonoharvest.records import now
from sonoharvest.report import hosting_sites

PHYSIONET = "https://physionet.org/content/mimic-iv-echo/0.1/"
TCIA = "https://www.cancerimagingarchive.net/collection/breast-lesions-usg/"
AIMI = "https://stanfordaimi.azurewebsites.net/datasets/a72f2b02-7b53-4c5d-963c-d7253220bfd5"
ZENODO = "https://zenodo.org/records/8231412"


def _entity(eid: str, url: str, **facts) -> tuple:
    body = {"name": eid, "primary_url": url, "doi": None, "dois": [], "license": None,
            "license_class": "unknown", "access": "unknown", "access_reason": "-",
            "size": {}, "size_evidence": {}, "keywords": [], "description": "", **facts}
    return (eid, "dataset", "active", None, f"datacite:{eid}", eid, json.dumps(body),
            facts_hash(body))


def _warehouse():
    con = warehouse.open_warehouse(":memory:")
    rows = [_entity("e1", PHYSIONET), _entity("e2", TCIA, license="CC-BY-4.0",
                                               license_class="open"),
            _entity("e3", AIMI), _entity("e4", ZENODO)]
    warehouse.save_resolution(con, rows, [], [], {})
    return con


def _facts(con, eid):
    return json.loads(con.execute("SELECT facts FROM entities WHERE entity_id = ?",
                                  [eid]).fetchone()[0])


def test_reads_due_pages_obeys_robots_and_records_conflicts(settings):
    con = _warehouse()
    counts = stage_landing(con, settings, demo=True)
    assert counts == {"fetched": 3, "read": 2, "unchanged": 0, "refused_by_robots": 1,
                      "failed": 0, "entities_updated": 3}       # zenodo.org is skipped
    physionet = _facts(con, "e1")
    assert physionet["size"]["patients"] == 4579
    assert physionet["access"] == "controlled"          # credentialed access, DUA
    assert physionet["landing"]["filled"]["size"]["via"] == "landing page (json-ld)"
    tcia = _facts(con, "e2")
    assert tcia["license"] == "CC-BY-4.0"               # the API's value is kept ...
    assert warehouse.landing_conflicts(con) == [        # ... and the page's recorded
        {"entity_id": "e2", "field": "license", "api": "CC-BY-4.0", "page": "CC-BY-NC-4.0",
         "via": "landing page (json-ld)"}]
    aimi = _facts(con, "e3")
    assert aimi["landing"]["robots"] == "disallowed" and aimi["landing"]["filled"] == {}
    assert "landing" not in _facts(con, "e4")


def test_cached_pages_are_not_fetched_again_until_due_then_revalidated(settings):
    con = _warehouse()
    stage_landing(con, settings, demo=True)
    hashes = dict(con.execute("SELECT entity_id, facts_hash FROM entities").fetchall())
    again = stage_landing(con, settings, demo=True)
    assert again["fetched"] == 0 and again["entities_updated"] == 0
    con.execute("UPDATE landing_pages SET fetched_at = fetched_at - INTERVAL 31 DAY")
    later = stage_landing(con, settings, demo=True)
    assert later["fetched"] == 3 and later["unchanged"] == 2          # ETag: 304
    assert dict(con.execute("SELECT entity_id, facts_hash FROM entities").fetchall()) == hashes
    assert _facts(con, "e1")["size"]["patients"] == 4579             # the cached reading
    fetched = con.execute("SELECT min(fetched_at) FROM landing_pages").fetchone()[0]
    assert (now() - fetched).total_seconds() < 600


def test_hosting_sites_fold_subdomain_sites_and_www():
    rows = [("camus.grand-challenge.org", 1, ["grandchallenge"]),
            ("hc18.grand-challenge.org", 2, ["grandchallenge", "zenodo"]),
            ("www.kaggle.com", 3, ["kaggle"]), ("kaggle.com", 1, ["papers"])]
    assert hosting_sites(rows) == [
        {"host": "kaggle.com", "entities": 4, "found_by": ["kaggle", "papers"]},
        {"host": "grand-challenge.org", "entities": 3, "found_by": ["grandchallenge", "zenodo"]}]
