"""Scoring cost: incremental rescoring and linear scaling of a full rescore.

Prints, measured in this one run on synthetic entities built from the golden fixtures
(tests/fixtures/rubrics, each copy given its own name, size and dates):
  (a) rescoring N unchanged entities / a full score of the same N (target <= 0.05);
  (b) a full score of 10*n entities / a full score of n (target <= 12: linear).
Usage: python benchmarks/score_scaling.py [N]   (default N = 100,000; n = N / 10)
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path

from sonoharvest import warehouse
from sonoharvest.entity_facts import facts_hash
from sonoharvest.scoring import score_entities
from sonoharvest.settings import Settings

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "rubrics"
BATCH = 20_000


def synthetic(n: int, seed: int = 0) -> list[tuple]:
    rng = random.Random(seed)
    templates = [json.loads(p.read_text())["facts"] for p in sorted(FIXTURES.glob("*.json"))]
    rows = []
    for i in range(n):
        facts = dict(rng.choice(templates))
        facts["name"] = f"{facts['name']} #{i}"
        facts["size"] = {"images": rng.randint(50, 50_000), "patients": rng.randint(10, 5_000)}
        facts["updated_at"] = f"20{rng.randint(15, 26)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
        rows.append((f"e{i:08d}", facts["kind"], "active", None, f"bench:{i}", facts["name"],
                     json.dumps(facts), facts_hash(facts)))
    return rows


def warehouse_with(n: int) -> tuple[object, Settings]:
    home = Path(tempfile.mkdtemp())
    settings = Settings(home=home)
    con = warehouse.open_warehouse(settings.db_path)
    rows = synthetic(n)
    for start in range(0, n, BATCH):
        warehouse.save_resolution(con, rows[start:start + BATCH], [], [], {})
    return con, settings


def timed(con, settings) -> tuple[float, dict[str, int]]:
    start = time.perf_counter()
    counts = score_entities(con, settings)
    return time.perf_counter() - start, counts


def main() -> None:
    big = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    small = big // 10
    con_small, settings_small = warehouse_with(small)
    t_small, c_small = timed(con_small, settings_small)
    con, settings = warehouse_with(big)
    t_full, c_full = timed(con, settings)
    t_again, c_again = timed(con, settings)
    assert c_full["scored"] == big and c_again["scored"] == 0 and c_small["scored"] == small
    print(f"full score of {small:,} entities: {t_small:.2f} s; of {big:,}: {t_full:.2f} s")
    print(f"(a) rescoring {big:,} unchanged / full score: {t_again:.3f} s / {t_full:.2f} s = "
          f"{t_again / t_full:.3f}  (target <= 0.05)")
    print(f"(b) full score of {big:,} / of {small:,}: {t_full / t_small:.1f}x  "
          f"(target <= 12x for 10x the entities)")


if __name__ == "__main__":
    main()
