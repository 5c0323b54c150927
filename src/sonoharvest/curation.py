"""The curator's side: the review queue and the decision log, in their own SQLite file.

The warehouse (DuckDB) admits one process at a time and a run holds it for minutes, so
curators never touch it. Each run publishes the queue (what needs a decision, with the
evidence a curator needs) into $SONOHARVEST_HOME/curation.sqlite; the command line and the
web page read the queue and append decisions there (SQLite in WAL mode: many readers and one
writer at a time, even while a run reads it); the next run applies the decisions to the
warehouse (`apply_decisions` in curation_sync.py). The decision log is append-only: an undo is
a new row that points at the decision it cancels.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sonoharvest.datafiles import read_yaml
from sonoharvest.settings import Settings

ACTIONS = ("accept", "reject", "merge", "split", "postpone")
STATES = ("pending", "accepted", "rejected", "postponed")
STATE_OF = {"accept": "accepted", "reject": "rejected", "postpone": "postponed",
            "merge": "accepted", "split": "pending"}
FILE_NAME = "curation.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    item_id      TEXT PRIMARY KEY,        -- an entity id, or "source:id" of a lone record
    item_type    TEXT NOT NULL,           -- entity | record
    kind         TEXT NOT NULL,           -- dataset | model | other
    name         TEXT NOT NULL,
    reason       TEXT NOT NULL,           -- new | changed | review sample | returned
    band         TEXT,
    relevance    REAL,
    priority     REAL NOT NULL,           -- higher first: uncertain relevance first
    sources      TEXT NOT NULL,           -- JSON list
    anatomy      TEXT NOT NULL,           -- JSON list
    tasks        TEXT NOT NULL,           -- JSON list
    review_hash  TEXT NOT NULL,           -- what a decision was about; see curation_sync
    first_run    TEXT,                    -- the run that first queued it
    flagged      TEXT,                    -- e.g. "changed since it was rejected"
    detail       TEXT NOT NULL            -- JSON: everything the page shows
);
CREATE TABLE IF NOT EXISTS decisions (
    decision_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id      TEXT NOT NULL,
    action       TEXT NOT NULL,           -- accept | reject | merge | split | postpone | undo
    reason_code  TEXT,
    target       TEXT,                    -- merge: the entity merged into; split: the record
    notes        TEXT NOT NULL DEFAULT '',
    who          TEXT NOT NULL,
    at           TEXT NOT NULL,
    old_state    TEXT NOT NULL,
    new_state    TEXT NOT NULL,
    review_hash  TEXT,                    -- the item's content when decided
    undoes       INTEGER,                 -- for action = undo
    applied_run  TEXT,                    -- the run that applied it to the warehouse
    applied_info TEXT                     -- JSON: what applying created (constraint ids)
);
CREATE INDEX IF NOT EXISTS decisions_item ON decisions (item_id, decision_id);
CREATE TABLE IF NOT EXISTS entity_index (
    entity_id    TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""

DEFAULT_REASONS = {
    "not_ultrasound": "not ultrasound (another modality, ultrasonic sensors, sonar...)",
    "not_resource": "not a dataset or a model (paper, tool, list, course...)",
    "not_public": "not public (private, withdrawn, no access route)",
    "duplicate": "a copy of another entity (prefer merge)",
    "broken": "broken or empty (no data, no weights, dead links)",
    "other": "other (say why in the notes)",
}


class CurationError(ValueError):
    """A decision that cannot be taken; the message says why and what to do."""


@dataclass(frozen=True)
class Decision:
    decision_id: int
    item_id: str
    action: str
    reason_code: str | None
    target: str | None
    notes: str
    who: str
    at: str
    old_state: str
    new_state: str
    undoes: int | None = None
    undone_by: int | None = None
    applied_run: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class QueueItem:
    item_id: str
    item_type: str
    kind: str
    name: str
    status: str
    reason: str
    band: str | None
    relevance: float | None
    priority: float
    sources: list[str]
    anatomy: list[str]
    tasks: list[str]
    new: bool
    flagged: str | None
    review_hash: str
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class CurationStore:
    """The review queue and the decision log in one SQLite file (WAL mode)."""

    def __init__(self, path: Path | str, reasons: dict[str, str] | None = None,
                 guidelines: str = "") -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), timeout=15, isolation_level=None,
                                   check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=15000")
        self._db.executescript(SCHEMA)
        self.reasons = reasons or dict(DEFAULT_REASONS)
        self.guidelines = guidelines

    @classmethod
    def open(cls, settings: Settings) -> CurationStore:
        """The store under SONOHARVEST_HOME, with reason codes and guidelines from rubrics/."""
        reasons, guidelines = load_review_rules(settings.rubrics_dir)
        return cls(settings.home / FILE_NAME, reasons, guidelines)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: the writer lock is taken up front)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- publishing (the pipeline) -----------------------------------------------------------

    def publish(self, items: Iterable[dict[str, Any]], entity_index: Iterable[tuple[str, str, str]],
                run_id: str) -> int:
        """Replace the queue with `items` (dicts with the queue columns) in one transaction.

        An item keeps the run that first queued it, so "new since the last run" stays true
        only for one run.
        """
        rows = list(items)
        with self._write() as db:
            first = dict(db.execute("SELECT item_id, first_run FROM queue").fetchall())
            db.execute("DELETE FROM queue")
            db.executemany(
                "INSERT INTO queue VALUES (:item_id, :item_type, :kind, :name, :reason, :band, "
                ":relevance, :priority, :sources, :anatomy, :tasks, :review_hash, :first_run, "
                ":flagged, :detail)",
                [{**r, "sources": json.dumps(r.get("sources", [])),
                  "anatomy": json.dumps(r.get("anatomy", [])),
                  "tasks": json.dumps(r.get("tasks", [])),
                  "detail": json.dumps(r.get("detail", {}), default=str),
                  "first_run": first.get(r["item_id"]) or run_id,
                  "flagged": r.get("flagged"), "band": r.get("band"),
                  "relevance": r.get("relevance")} for r in rows])
            db.execute("DELETE FROM entity_index")
            db.executemany("INSERT INTO entity_index VALUES (?, ?, ?)", list(entity_index))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('last_run', ?)", [run_id])
        return len(rows)

    def last_run(self) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'last_run'").fetchone()
        return row[0] if row else None

    # --- reading the queue -------------------------------------------------------------------

    def _states(self) -> dict[str, tuple[str, str | None]]:
        """item_id -> (state, review_hash decided on), from the latest decision not undone."""
        rows = self._db.execute(
            "SELECT d.item_id, d.new_state, d.review_hash FROM decisions d "
            "WHERE d.action <> 'undo' AND NOT EXISTS (SELECT 1 FROM decisions u "
            "  WHERE u.action = 'undo' AND u.undoes = d.decision_id) "
            "ORDER BY d.decision_id").fetchall()
        return {item: (state, digest) for item, state, digest in rows}

    def state_of(self, item_id: str) -> str:
        return self._states().get(item_id, ("pending", None))[0]

    def items(self, *, status: str | None = "pending", source: str | None = None,
              kind: str | None = None, anatomy: str | None = None, band: str | None = None,
              new_only: bool = False, search: str | None = None, limit: int | None = None,
              offset: int = 0) -> list[QueueItem]:
        """Queue items matching every given filter, most useful first."""
        if status is not None and status not in STATES:
            raise CurationError(f"unknown status {status!r}; choose from {', '.join(STATES)}")
        states = self._states()
        last = self.last_run()
        out = []
        for row in self._db.execute("SELECT * FROM queue ORDER BY priority DESC, item_id"):
            item = self._item(row, states, last)
            if status is not None and item.status != status:
                continue
            if (source and source not in item.sources) or (kind and item.kind != kind) or \
                    (anatomy and anatomy not in item.anatomy) or (band and item.band != band) \
                    or (new_only and not item.new):
                continue
            if search and search.lower() not in f"{item.name} {item.item_id}".lower():
                continue
            out.append(item)
        return out[offset:offset + limit if limit else None]

    def item(self, item_id: str) -> QueueItem | None:
        row = self._db.execute("SELECT * FROM queue WHERE item_id = ?", [item_id]).fetchone()
        return self._item(row, self._states(), self.last_run()) if row else None

    def neighbours(self, item_id: str, **filters: Any) -> tuple[str | None, str | None]:
        """The previous and next item ids around `item_id` in the filtered queue."""
        ids = [i.item_id for i in self.items(**filters)]
        if item_id not in ids:
            return None, ids[0] if ids else None
        n = ids.index(item_id)
        return (ids[n - 1] if n else None), (ids[n + 1] if n + 1 < len(ids) else None)

    def _item(self, row: sqlite3.Row, states: dict[str, tuple[str, str | None]],
              last_run: str | None) -> QueueItem:
        state, decided_on = states.get(row["item_id"], ("pending", None))
        flagged = row["flagged"]
        if state != "pending" and decided_on not in (None, row["review_hash"]):
            state, flagged = "pending", f"changed since it was {state}"
        return QueueItem(
            item_id=row["item_id"], item_type=row["item_type"], kind=row["kind"],
            name=row["name"], status=state, reason=row["reason"], band=row["band"],
            relevance=row["relevance"], priority=row["priority"],
            sources=json.loads(row["sources"]), anatomy=json.loads(row["anatomy"]),
            tasks=json.loads(row["tasks"]), new=row["first_run"] == last_run,
            flagged=flagged, review_hash=row["review_hash"], detail=json.loads(row["detail"]))

    def entity_names(self, query: str = "", limit: int = 20) -> list[tuple[str, str, str]]:
        """(entity_id, name, kind) whose id or name contains `query`: merge targets."""
        like = f"%{query.lower()}%"
        return [tuple(r) for r in self._db.execute(
            "SELECT entity_id, name, kind FROM entity_index WHERE lower(entity_id) LIKE ? "
            "OR lower(name) LIKE ? ORDER BY name LIMIT ?", [like, like, limit]).fetchall()]

    # --- deciding ----------------------------------------------------------------------------

    def decide(self, item_ids: Iterable[str], action: str, *, who: str,
               reason_code: str | None = None, target: str | None = None,
               notes: str = "") -> list[Decision]:
        """Record one decision per item, all or none; raises CurationError on bad input."""
        ids = list(dict.fromkeys(item_ids))
        self._check(ids, action, who, reason_code, target)
        at = now_text()
        made = []
        with self._write() as db:
            states = self._states()
            for item_id in ids:
                row = db.execute("SELECT review_hash FROM queue WHERE item_id = ?",
                                 [item_id]).fetchone()
                old = states.get(item_id, ("pending", None))[0]
                new = STATE_OF[action]
                cur = db.execute(
                    "INSERT INTO decisions (item_id, action, reason_code, target, notes, who, "
                    "at, old_state, new_state, review_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [item_id, action, reason_code, target, notes, who, at, old, new,
                     row["review_hash"] if row else None])
                made.append(self.decision(int(cur.lastrowid)))
        return made

    def _check(self, ids: list[str], action: str, who: str, reason_code: str | None,
               target: str | None) -> None:
        if action not in ACTIONS:
            raise CurationError(f"unknown action {action!r}; choose from {', '.join(ACTIONS)}")
        if not ids:
            raise CurationError("no item matches: nothing was decided")
        if not who.strip():
            raise CurationError("say who decides (--by, or SONOHARVEST_CURATOR)")
        missing = [i for i in ids if self._db.execute(
            "SELECT 1 FROM queue WHERE item_id = ?", [i]).fetchone() is None]
        if missing:
            raise CurationError(f"not in the review queue: {', '.join(missing[:5])}; "
                                "`sonoharvest review list --status all` shows what is")
        if action == "reject" and reason_code not in self.reasons:
            raise CurationError(f"a rejection needs a reason code: one of "
                                f"{', '.join(self.reasons)}")
        if action == "merge":
            if not target:
                raise CurationError("a merge needs the entity to merge into (--into)")
            if self._db.execute("SELECT 1 FROM entity_index WHERE entity_id = ?",
                                [target]).fetchone() is None:
                raise CurationError(f"no entity {target!r} in the catalogue to merge into")
            if target in ids:
                raise CurationError("an entity cannot be merged into itself")
        if action == "split":
            if len(ids) != 1 or not target:
                raise CurationError("a split takes one entity and the record to take out "
                                    "(--record source:id)")
            copies = [c.get("key") for c in (self.item(ids[0]) or _EMPTY).detail.get(
                "copies", [])]
            if target not in copies:
                raise CurationError(f"{target} is not a copy of {ids[0]}; its copies are "
                                    f"{', '.join(map(str, copies)) or 'none'}")

    def undo(self, decision_id: int, *, who: str, notes: str = "") -> Decision:
        """Cancel a decision with a new log row; the item returns to its earlier state."""
        target = self.decision(decision_id)
        if target is None:
            raise CurationError(f"no decision {decision_id}; `sonoharvest review log` lists them")
        if target.action == "undo":
            raise CurationError(f"decision {decision_id} is an undo; decide again instead")
        if target.undone_by is not None:
            raise CurationError(f"decision {decision_id} was already undone by "
                                f"{target.undone_by}")
        with self._write() as db:
            old = self._states().get(target.item_id, ("pending", None))[0]
            cur = db.execute(
                "INSERT INTO decisions (item_id, action, notes, who, at, old_state, new_state, "
                "undoes) VALUES (?, 'undo', ?, ?, ?, ?, '', ?)",
                [target.item_id, notes, who, now_text(), old, decision_id])
            new_id = int(cur.lastrowid)
            new = self._states().get(target.item_id, ("pending", None))[0]
            db.execute("UPDATE decisions SET new_state = ? WHERE decision_id = ?", [new, new_id])
        return self.decision(new_id)  # type: ignore[return-value]

    def decision(self, decision_id: int) -> Decision | None:
        rows = self._log("WHERE d.decision_id = ?", [decision_id], 1)
        return rows[0] if rows else None

    def log(self, *, item_id: str | None = None, limit: int = 100) -> list[Decision]:
        """The audit log, newest first."""
        if item_id:
            return self._log("WHERE d.item_id = ?", [item_id], limit)
        return self._log("", [], limit)

    def _log(self, where: str, params: list[Any], limit: int) -> list[Decision]:
        rows = self._db.execute(
            "SELECT d.*, (SELECT u.decision_id FROM decisions u WHERE u.undoes = d.decision_id"
            f") AS undone_by FROM decisions d {where} ORDER BY d.decision_id DESC LIMIT ?",
            [*params, limit]).fetchall()
        return [Decision(r["decision_id"], r["item_id"], r["action"], r["reason_code"],
                         r["target"], r["notes"], r["who"], r["at"], r["old_state"],
                         r["new_state"], r["undoes"], r["undone_by"], r["applied_run"])
                for r in rows]

    # --- the pipeline's side -----------------------------------------------------------------

    def unapplied(self) -> list[Decision]:
        """Decisions (and undos) the warehouse has not seen yet, oldest first."""
        return list(reversed(self._log("WHERE d.applied_run IS NULL", [], 1_000_000)))

    def mark_applied(self, applied: dict[int, dict[str, Any]], run_id: str) -> None:
        with self._write() as db:
            db.executemany(
                "UPDATE decisions SET applied_run = ?, applied_info = ? WHERE decision_id = ?",
                [(run_id, json.dumps(info), did) for did, info in applied.items()])

    def applied_info(self, decision_id: int) -> dict[str, Any]:
        row = self._db.execute("SELECT applied_info FROM decisions WHERE decision_id = ?",
                               [decision_id]).fetchone()
        return json.loads(row[0]) if row and row[0] else {}

    def current_states(self) -> dict[str, tuple[str, str | None]]:
        """item_id -> (state, review_hash decided on) for every decided item."""
        return self._states()


@dataclass(frozen=True)
class _Empty:
    detail: dict[str, Any] = field(default_factory=dict)


_EMPTY = _Empty()


def load_review_rules(rubrics_dir: Path) -> tuple[dict[str, str], str]:
    """Reason codes from rubrics/review.yaml and the guidelines text it points to."""
    path = rubrics_dir / "review.yaml"
    data = read_yaml(path, "rubrics/review.yaml") or {}
    reasons = data.get("reject_reasons")
    if not isinstance(reasons, dict) or not reasons or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in reasons.items()):
        raise ValueError(f"{path}: reject_reasons must map each code to its description")
    guide = rubrics_dir / str(data.get("guidelines", "review_guidelines.md"))
    text = guide.read_text(encoding="utf-8") if guide.exists() else ""
    return dict(reasons), text
