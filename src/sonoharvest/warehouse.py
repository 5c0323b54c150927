"""The DuckDB warehouse: connection, migrations, views and every write the pipeline makes."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from sonoharvest.records import RawItem, Record, now

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parents[2] / "warehouse"
MIGRATIONS_DIR = SQL_DIR / "migrations"
VIEWS_DIR = SQL_DIR / "views"


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse file."""


@dataclass(frozen=True, slots=True)
class Quarantined:
    item_key: str
    reason: str
    payload: Any


def connect(path: Path | str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file (or ":memory:"); a held lock becomes a one-line WarehouseBusy."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        pid = re.search(r"PID (\d+)", str(exc))
        holder = f" (PID {pid.group(1)})" if pid else ""
        raise WarehouseBusy(
            f"The warehouse {path} is in use by another sonoharvest process{holder}. "
            "Wait for it to finish, or set SONOHARVEST_HOME to another folder."
        ) from None


def migrate(con: duckdb.DuckDBPyConnection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply each pending numbered migration once, in its own transaction with its record."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
    )
    done = {row[0] for row in con.execute("SELECT name FROM schema_migrations").fetchall()}
    applied = []
    for path in sorted(directory.glob("[0-9][0-9][0-9][0-9]_*.sql")):
        if path.name in done:
            continue
        with transaction(con):
            con.execute(path.read_text())
            con.execute("INSERT INTO schema_migrations VALUES (?, ?)", [path.name, now()])
        log.info("applied migration %s", path.name)
        applied.append(path.name)
    return applied


def ensure_views(con: duckdb.DuckDBPyConnection, directory: Path = VIEWS_DIR) -> None:
    """Recreate every derived view; views are never migrated."""
    for path in sorted(directory.glob("*.sql")):
        con.execute(path.read_text())


def open_warehouse(path: Path | str) -> duckdb.DuckDBPyConnection:
    con = connect(path)
    migrate(con)
    ensure_views(con)
    return con


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


# --- records -----------------------------------------------------------------------------

_UPSERT = """
INSERT INTO source_records AS t (source, source_id, item_type, kind_hint, title, description,
    url, doi, license, record, raw, content_hash, status, withdrawn_at,
    first_seen, last_seen, last_changed)
SELECT source, source_id, item_type, kind_hint, title, description, url, doi, license,
    record::JSON, raw::JSON, content_hash, 'active', NULL, seen, seen, seen
FROM incoming
ON CONFLICT (source, source_id) DO UPDATE SET
    item_type = excluded.item_type, kind_hint = excluded.kind_hint, title = excluded.title,
    description = excluded.description, url = excluded.url, doi = excluded.doi,
    license = excluded.license, record = excluded.record, raw = excluded.raw,
    last_changed = CASE WHEN t.content_hash = excluded.content_hash
                        THEN t.last_changed ELSE excluded.last_changed END,
    content_hash = excluded.content_hash, status = 'active', withdrawn_at = NULL,
    last_seen = excluded.last_seen
"""

# Re-mapping stored payloads changes what a record says, never when or whether it was seen.
_REMAP = """
UPDATE source_records AS t SET
    item_type = i.item_type, kind_hint = i.kind_hint, title = i.title,
    description = i.description, url = i.url, doi = i.doi, license = i.license,
    record = i.record::JSON,
    last_changed = CASE WHEN t.content_hash = i.content_hash THEN t.last_changed ELSE i.seen END,
    content_hash = i.content_hash
FROM incoming AS i
WHERE t.source = i.source AND t.source_id = i.source_id
"""

_ADD_VERSIONS = """
INSERT INTO record_versions
SELECT source, source_id, content_hash, seen, run_id FROM incoming
ON CONFLICT DO NOTHING
"""


def save_batch(
    con: duckdb.DuckDBPyConnection,
    source: str,
    mapped: list[tuple[RawItem, Record]],
    *,
    quarantined: Iterable[Quarantined] = (),
    cursor: tuple[str, str] | None = None,
    unchanged: Iterable[str] = (),
    gone: Iterable[str] = (),
    validators: Iterable[tuple[str, str | None, str | None]] = (),
    run_id: str | None = None,
) -> dict[str, int]:
    """Store one batch atomically: records, their history, quarantine, cursor, validators."""
    at = now()
    by_id = {rec.source_id: (item, rec) for item, rec in mapped}  # last copy wins
    known = _known_hashes(con, source, list(by_id)) if by_id else {}
    counts = {"new": 0, "changed": 0, "unchanged": 0, "withdrawn": 0, "quarantined": 0}
    rows = []
    for source_id, (item, rec) in by_id.items():
        digest = rec.content_hash()
        previous = known.get(source_id)
        counts["new" if previous is None else
               "unchanged" if previous == digest else "changed"] += 1
        rows.append((source, source_id, item.item_type, rec.kind_hint, rec.title,
                     rec.description, rec.url, rec.doi, rec.license, rec.model_dump_json(),
                     json.dumps(item.payload), digest, at, run_id))
    with transaction(con):
        if rows:
            _insert_incoming(con, rows)
        ids = list(dict.fromkeys(unchanged))
        if ids:
            con.execute(
                "UPDATE source_records SET last_seen = ? "
                "WHERE source = ? AND source_id IN (SELECT unnest(?::VARCHAR[]))",
                [at, source, ids],
            )
            counts["unchanged"] += len(ids)
        counts["withdrawn"] += _withdraw(con, source, list(dict.fromkeys(gone)), at)
        for q in quarantined:
            con.execute(
                "INSERT OR REPLACE INTO quarantine VALUES (?, ?, ?, ?, ?, ?)",
                [source, q.item_key, run_id, q.reason, json.dumps(q.payload, default=str), at],
            )
            counts["quarantined"] += 1
        for url, etag, last_modified in validators:
            con.execute("INSERT OR REPLACE INTO http_validators VALUES (?, ?, ?, ?)",
                        [url, etag, last_modified, at])
        if cursor is not None:
            set_cursor(con, source, *cursor)
    return counts


_INCOMING_SCHEMA = pa.schema([
    ("source", pa.string()), ("source_id", pa.string()), ("item_type", pa.string()),
    ("kind_hint", pa.string()), ("title", pa.string()), ("description", pa.string()),
    ("url", pa.string()), ("doi", pa.string()), ("license", pa.string()),
    ("record", pa.string()), ("raw", pa.string()), ("content_hash", pa.string()),
    ("seen", pa.timestamp("us", tz="UTC")), ("run_id", pa.string()),
])


def save_remapped(con: duckdb.DuckDBPyConnection, source: str,
                  mapped: list[tuple[RawItem, Record]],
                  run_id: str | None = None) -> dict[str, int]:
    """Store records re-mapped from their stored payloads: content and history only."""
    at = now()
    known = _known_hashes(con, source, [rec.source_id for _, rec in mapped])
    rows = [(source, rec.source_id, item.item_type, rec.kind_hint, rec.title, rec.description,
             rec.url, rec.doi, rec.license, rec.model_dump_json(), json.dumps(item.payload),
             rec.content_hash(), at, run_id) for item, rec in mapped if rec.source_id in known]
    changed = sum(1 for row in rows if known[row[1]] != row[11])
    if rows:
        with transaction(con):
            _insert_incoming(con, rows, _REMAP)
    return {"remapped": len(rows), "changed": changed}


def stored_items(con: duckdb.DuckDBPyConnection, source: str) -> list[RawItem]:
    """Every stored raw payload of a source, withdrawn ones included."""
    rows = con.execute(
        "SELECT item_type, raw FROM source_records WHERE source = ? ORDER BY source_id", [source]
    ).fetchall()
    return [RawItem(item_type, json.loads(raw)) for item_type, raw in rows]


def _insert_incoming(con: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]],
                     statement: str = _UPSERT) -> None:
    """Write many records in two set-based statements (row-by-row inserts are ~100x slower)."""
    columns = list(zip(*rows, strict=True))
    incoming = pa.Table.from_arrays(
        [pa.array(col, type=field.type) for col, field in zip(columns, _INCOMING_SCHEMA,
                                                               strict=True)],
        schema=_INCOMING_SCHEMA,
    )
    con.register("incoming", incoming)
    try:
        con.execute(statement)
        con.execute(_ADD_VERSIONS)
    finally:
        con.unregister("incoming")


def _known_hashes(con: duckdb.DuckDBPyConnection, source: str, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = con.execute(
        "SELECT source_id, content_hash FROM source_records "
        "WHERE source = ? AND source_id IN (SELECT unnest(?::VARCHAR[]))",
        [source, ids],
    ).fetchall()
    return dict(rows)


def _withdraw(con: duckdb.DuckDBPyConnection, source: str, ids: list[str], at: datetime) -> int:
    if not ids:
        return 0
    rows = con.execute(
        "UPDATE source_records SET status = 'withdrawn', withdrawn_at = ? "
        "WHERE source = ? AND status = 'active' AND source_id IN (SELECT unnest(?::VARCHAR[])) "
        "RETURNING source_id",
        [at, source, ids],
    ).fetchall()
    return len(rows)


def withdraw_unseen(con: duckdb.DuckDBPyConnection, source: str, since: datetime) -> int:
    """After a complete full sweep: active records not seen since `since` are withdrawn."""
    with transaction(con):
        rows = con.execute(
            "UPDATE source_records SET status = 'withdrawn', withdrawn_at = ? "
            "WHERE source = ? AND status = 'active' AND last_seen < ? RETURNING source_id",
            [now(), source, since],
        ).fetchall()
    return len(rows)


def known_ids(con: duckdb.DuckDBPyConnection, source: str, *, item_type: str | None = None,
              seen_before: datetime | None = None) -> list[str]:
    """Source ids of active records, optionally of one item type or not seen since a time."""
    sql = "SELECT source_id FROM source_records WHERE source = ? AND status = 'active'"
    params: list[Any] = [source]
    if item_type is not None:
        sql += " AND item_type = ?"
        params.append(item_type)
    if seen_before is not None:
        sql += " AND last_seen < ?"
        params.append(seen_before)
    rows = con.execute(sql + " ORDER BY last_seen, source_id", params).fetchall()
    return [row[0] for row in rows]


def raw_payload(con: duckdb.DuckDBPyConnection, source: str, source_id: str) -> Any:
    row = con.execute(
        "SELECT raw FROM source_records WHERE source = ? AND source_id = ?", [source, source_id]
    ).fetchone()
    return json.loads(row[0]) if row else None


# --- cursors -----------------------------------------------------------------------------

def get_cursor(con: duckdb.DuckDBPyConnection, source: str, key: str) -> str | None:
    row = con.execute(
        "SELECT value FROM harvest_cursors WHERE source = ? AND key = ?", [source, key]
    ).fetchone()
    return row[0] if row else None


def set_cursor(con: duckdb.DuckDBPyConnection, source: str, key: str, value: str) -> None:
    con.execute(
        "INSERT OR REPLACE INTO harvest_cursors VALUES (?, ?, ?, ?)", [source, key, value, now()]
    )


# --- HTTP validators ---------------------------------------------------------------------

class ValidatorStore:
    """ETag / Last-Modified per URL, kept in the warehouse for conditional re-fetches.

    A new validator is held back until `take` hands it to `save_batch`, which stores it in the
    same transaction as the record it vouches for: after a crash the warehouse never holds a
    validator whose record was lost (a 304 would then hide that record for good).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._pending: dict[str, dict[str, tuple[str | None, str | None]]] = {}

    def get(self, url: str) -> tuple[str | None, str | None]:
        for pending in self._pending.values():
            if url in pending:
                return pending[url]
        row = self._con.execute(
            "SELECT etag, last_modified FROM http_validators WHERE url = ?", [url]
        ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def put(self, url: str, etag: str | None, last_modified: str | None, tag: str = "") -> None:
        self._pending.setdefault(tag, {})[url] = (etag, last_modified)

    def take(self, tag: str = "") -> list[tuple[str, str | None, str | None]]:
        """The validators fetched under `tag` so far, for `save_batch` to store."""
        return [(url, *v) for url, v in self._pending.pop(tag, {}).items()]


# --- runs --------------------------------------------------------------------------------

def start_run(con: duckdb.DuckDBPyConnection, command: str) -> str:
    run_id = f"{now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    con.execute(
        "INSERT INTO runs (run_id, command, started_at, status) VALUES (?, ?, ?, 'running')",
        [run_id, command, now()],
    )
    return run_id


def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, status: str,
               counts: dict[str, Any], errors: list[dict[str, str]]) -> None:
    con.execute(
        "UPDATE runs SET finished_at = ?, status = ?, counts = ?, errors = ? WHERE run_id = ?",
        [now(), status, json.dumps(counts), json.dumps(errors), run_id],
    )


def recent_runs(con: duckdb.DuckDBPyConnection, limit: int = 10) -> list[dict[str, Any]]:
    rows = con.execute(
        "SELECT run_id, command, started_at, finished_at, status, counts, errors "
        "FROM runs ORDER BY started_at DESC LIMIT ?", [limit],
    ).fetchall()
    keys = ("run_id", "command", "started_at", "finished_at", "status", "counts", "errors")
    runs = [dict(zip(keys, row, strict=True)) for row in rows]
    for run in runs:
        run["counts"] = json.loads(run["counts"])
        run["errors"] = json.loads(run["errors"])
    return runs


def quarantined(con: duckdb.DuckDBPyConnection, source: str | None = None,
                limit: int = 100) -> list[dict[str, Any]]:
    """Quarantined items, newest first: what could not be stored, and why."""
    rows = con.execute(
        "SELECT source, item_key, reason, quarantined_at, run_id FROM quarantine "
        "WHERE ? IS NULL OR source = ? ORDER BY quarantined_at DESC, source, item_key LIMIT ?",
        [source, source, limit],
    ).fetchall()
    keys = ("source", "item_key", "reason", "quarantined_at", "run_id")
    return [dict(zip(keys, row, strict=True)) for row in rows]


# --- embeddings --------------------------------------------------------------------------

def get_embeddings(con: duckdb.DuckDBPyConnection, model_id: str,
                   hashes: list[str]) -> dict[str, Any]:
    """Cached vectors (numpy float32) for these text hashes and this model."""
    if not hashes:
        return {}
    rows = con.execute(
        "SELECT text_hash, vector FROM embeddings "
        "WHERE model_id = ? AND text_hash IN (SELECT unnest(?::VARCHAR[]))",
        [model_id, list(set(hashes))],
    ).fetchall()
    return {digest: np.asarray(vector, dtype=np.float32) for digest, vector in rows}


def save_embeddings(con: duckdb.DuckDBPyConnection, model_id: str,
                    vectors: dict[str, Any]) -> None:
    if not vectors:
        return
    table = pa.table({
        "text_hash": list(vectors),
        "model_id": [model_id] * len(vectors),
        "vector": pa.array([v.tolist() for v in vectors.values()], type=pa.list_(pa.float32())),
        "created_at": pa.array([now()] * len(vectors), type=pa.timestamp("us", tz="UTC")),
    })
    con.register("new_embeddings", table)
    try:
        con.execute("INSERT INTO embeddings SELECT * FROM new_embeddings ON CONFLICT DO NOTHING")
    finally:
        con.unregister("new_embeddings")


# --- relevance models and classifications --------------------------------------------------

def active_relevance_model(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    row = con.execute(
        "SELECT version, path, embedder, metrics, thresholds FROM relevance_models "
        "WHERE active ORDER BY version DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    return {"version": row[0], "path": row[1], "embedder": row[2],
            "metrics": json.loads(row[3]), "thresholds": json.loads(row[4])}


def next_relevance_version(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT coalesce(max(version), 0) + 1 FROM relevance_models").fetchone()[0]


def add_relevance_model(con: duckdb.DuckDBPyConnection, version: int, *, embedder: str,
                        path: str, examples: int, metrics: dict[str, Any],
                        thresholds: dict[str, float], active: bool, note: str) -> None:
    with transaction(con):
        if active:
            con.execute("UPDATE relevance_models SET active = false WHERE active")
        con.execute(
            "INSERT INTO relevance_models VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [version, now(), embedder, path, examples, json.dumps(metrics),
             json.dumps(thresholds), active, note],
        )


def relevance_models(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    rows = con.execute(
        "SELECT version, created_at, embedder, examples, metrics, active, note "
        "FROM relevance_models ORDER BY version"
    ).fetchall()
    keys = ("version", "created_at", "embedder", "examples", "metrics", "active", "note")
    models = [dict(zip(keys, row, strict=True)) for row in rows]
    for m in models:
        m["metrics"] = json.loads(m["metrics"])
    return models


def records_to_classify(con: duckdb.DuckDBPyConnection, model_version: int) -> list[tuple]:
    """Active records whose current content has no classification by this model version."""
    return con.execute(
        """
        SELECT r.source, r.source_id, r.content_hash, r.title, r.description,
               r.record->>'$.keywords' AS keywords, r.kind_hint
        FROM source_records r
        LEFT JOIN classifications c USING (source, source_id)
        WHERE r.status = 'active'
          AND (c.source IS NULL OR c.content_hash <> r.content_hash
               OR c.model_version <> ?)
        ORDER BY r.source, r.source_id
        """,
        [model_version],
    ).fetchall()


def save_classifications(con: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]]) -> None:
    """Upsert (source, source_id, content_hash, model_version, relevance, relevant, band,
    review_sample, kind, anatomy, tasks, evidence) rows in one statement."""
    if not rows:
        return
    names = ("source", "source_id", "content_hash", "model_version", "relevance", "relevant",
             "band", "review_sample", "kind", "anatomy", "tasks", "evidence")
    columns = dict(zip(names, zip(*rows, strict=True), strict=True))
    table = pa.table({
        **{k: pa.array(columns[k], type=pa.string()) for k in
           ("source", "source_id", "content_hash", "band", "kind")},
        "model_version": pa.array(columns["model_version"], type=pa.int32()),
        "relevance": pa.array(columns["relevance"], type=pa.float64()),
        "relevant": pa.array(columns["relevant"], type=pa.bool_()),
        "review_sample": pa.array(columns["review_sample"], type=pa.bool_()),
        "anatomy": pa.array(columns["anatomy"], type=pa.list_(pa.string())),
        "tasks": pa.array(columns["tasks"], type=pa.list_(pa.string())),
        "evidence": pa.array([json.dumps(e) for e in columns["evidence"]], type=pa.string()),
    })
    con.register("new_classifications", table)
    try:
        with transaction(con):
            con.execute(
                "INSERT OR REPLACE INTO classifications SELECT source, source_id, content_hash, "
                "model_version, relevance, relevant, band, review_sample, kind, anatomy, tasks, "
                "evidence::JSON, ? FROM new_classifications", [now()],
            )
    finally:
        con.unregister("new_classifications")


# --- entities ------------------------------------------------------------------------------

def _dicts(result: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every row of an executed query as a dict keyed by the query's column names."""
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def resolution_inputs(con: duckdb.DuckDBPyConnection, bands: list[str]) -> list[dict[str, Any]]:
    """Records taking part in resolution: relevant ones (by band), lone records a curator
    accepted, and every paper (a bridge)."""
    return _dicts(con.execute(
        "SELECT r.source, r.source_id, r.kind_hint, r.record, r.status, r.first_seen, "
        "       r.last_seen, c.kind, c.relevance, c.anatomy, c.tasks, c.band "
        "FROM source_records r JOIN classifications c USING (source, source_id) "
        "WHERE c.band IN (SELECT unnest(?::VARCHAR[])) OR r.kind_hint = 'paper' "
        "   OR EXISTS (SELECT 1 FROM review_states s WHERE s.state = 'accepted' "
        "              AND s.item_id = r.source || ':' || r.source_id) "
        "ORDER BY r.source, r.source_id", [bands],
    ))


def entity_memberships(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = con.execute(
        "SELECT source || ':' || source_id, entity_id FROM entity_members").fetchall()
    return dict(rows)


def entity_ids(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Every entity id ever given, with its status."""
    return dict(con.execute("SELECT entity_id, status FROM entities").fetchall())


def dormant_entities(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Primary record key -> id of entities merged away or retired (the newest per key)."""
    rows = con.execute(
        "SELECT primary_key, entity_id FROM entities WHERE status IN ('merged', 'retired') "
        "AND primary_key IS NOT NULL ORDER BY updated_at").fetchall()
    return dict(rows)


def resolution_constraints(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return _dicts(con.execute(
        "SELECT constraint_id, kind, a_key, b_key, keep_id, who, reason, created_at "
        "FROM resolution_constraints WHERE active ORDER BY constraint_id"))


def add_constraints(con: duckdb.DuckDBPyConnection, kind: str, pairs: list[tuple[str, str]], *,
                    who: str, reason: str, keep_id: str | None = None) -> list[int]:
    ids = []
    with transaction(con):
        for a, b in pairs:
            row = con.execute(
                "INSERT INTO resolution_constraints (kind, a_key, b_key, keep_id, who, reason, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING constraint_id",
                [kind, a, b, keep_id, who, reason, now()]).fetchone()
            ids.append(int(row[0]))
    return ids


def deactivate_constraints(con: duckdb.DuckDBPyConnection, ids: list[int]) -> None:
    con.execute("UPDATE resolution_constraints SET active = false "
                "WHERE constraint_id IN (SELECT unnest(?::BIGINT[]))", [ids])


_ENTITY_SCHEMA = pa.schema([
    ("entity_id", pa.string()), ("kind", pa.string()), ("status", pa.string()),
    ("merged_into", pa.string()), ("primary_key", pa.string()), ("name", pa.string()),
    ("facts", pa.string()), ("facts_hash", pa.string()),
])
_MEMBER_SCHEMA = pa.schema([
    ("source", pa.string()), ("source_id", pa.string()), ("entity_id", pa.string()),
    ("role", pa.string()), ("method", pa.string()), ("evidence", pa.string()),
])
_LINK_SCHEMA = pa.schema([
    ("entity_id", pa.string()), ("target_id", pa.string()), ("relation", pa.string()),
    ("evidence", pa.string()),
])


def _arrow(rows: list[tuple[Any, ...]], schema: pa.Schema) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
    return pa.Table.from_arrays([pa.array(col, type=f.type) for col, f in
                                 zip(columns, schema, strict=True)], schema=schema)


def save_resolution(con: duckdb.DuckDBPyConnection, entities: list[tuple[Any, ...]],
                    members: list[tuple[Any, ...]], links: list[tuple[Any, ...]],
                    retired: dict[str, str | None]) -> dict[str, int]:
    """Store a whole resolution in one transaction.

    `entities` rows follow _ENTITY_SCHEMA, `members` _MEMBER_SCHEMA, `links` _LINK_SCHEMA;
    `retired` maps ids that lost every record to the entity that absorbed them (or None).
    updated_at moves only when an entity's facts or status change; assigned_at only when a
    record changes entity.
    """
    at = now()
    con.register("new_entities", _arrow(entities, _ENTITY_SCHEMA))
    con.register("new_members", _arrow(members, _MEMBER_SCHEMA))
    con.register("new_links", _arrow(links, _LINK_SCHEMA))
    try:
        with transaction(con):
            counts = dict(zip(("new", "changed"), con.execute(
                "SELECT count(*) FILTER (WHERE e.entity_id IS NULL), "
                "       count(*) FILTER (WHERE e.facts_hash <> n.facts_hash "
                "                          OR e.status <> n.status) "
                "FROM new_entities n LEFT JOIN entities e USING (entity_id)").fetchone(),
                strict=True))
            con.execute(
                "INSERT INTO entities SELECT entity_id, kind, status, merged_into, primary_key, "
                "name, facts::JSON, facts_hash, ?, ? FROM new_entities "
                "ON CONFLICT (entity_id) DO UPDATE SET kind = excluded.kind, "
                "status = excluded.status, merged_into = excluded.merged_into, "
                "primary_key = excluded.primary_key, name = excluded.name, "
                "facts = excluded.facts, "
                "updated_at = CASE WHEN entities.facts_hash <> excluded.facts_hash "
                "  OR entities.status <> excluded.status THEN excluded.updated_at "
                "  ELSE entities.updated_at END, "
                "facts_hash = excluded.facts_hash", [at, at])
            for old, into in retired.items():
                con.execute(
                    "UPDATE entities SET status = ?, merged_into = ?, updated_at = ? "
                    "WHERE entity_id = ? AND (status <> ? OR merged_into IS DISTINCT FROM ?)",
                    ["merged" if into else "retired", into, at, old,
                     "merged" if into else "retired", into])
            con.execute(
                "INSERT INTO entity_members SELECT source, source_id, entity_id, role, method, "
                "evidence, ? FROM new_members ON CONFLICT (source, source_id) DO UPDATE SET "
                "assigned_at = CASE WHEN entity_members.entity_id <> excluded.entity_id "
                "  THEN excluded.assigned_at ELSE entity_members.assigned_at END, "
                "entity_id = excluded.entity_id, role = excluded.role, "
                "method = excluded.method, evidence = excluded.evidence", [at])
            con.execute("DELETE FROM entity_members m WHERE NOT EXISTS (SELECT 1 FROM "
                        "new_members n WHERE n.source = m.source AND n.source_id = m.source_id)")
            con.execute("DELETE FROM entity_links")
            con.execute("INSERT INTO entity_links SELECT DISTINCT ON (entity_id, target_id, "
                        "relation) * FROM new_links")
    finally:
        for name in ("new_entities", "new_members", "new_links"):
            con.unregister(name)
    return {"entities": len(entities), **counts, "retired": len(retired)}


def entity(con: duckdb.DuckDBPyConnection, entity_id: str) -> dict[str, Any] | None:
    row = con.execute(
        "SELECT entity_id, kind, status, merged_into, primary_key, name, facts, created_at, "
        "updated_at FROM entities WHERE entity_id = ?", [entity_id]).fetchone()
    if row is None:
        return None
    names = ("entity_id", "kind", "status", "merged_into", "primary_key", "name", "facts",
             "created_at", "updated_at")
    out = dict(zip(names, row, strict=True))
    out["facts"] = json.loads(out["facts"])
    return out


def entity_of_record(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    source, _, source_id = key.partition(":")
    row = con.execute("SELECT entity_id FROM entity_members WHERE source = ? AND source_id = ?",
                      [source, source_id]).fetchone()
    return row[0] if row else None


def entity_members(con: duckdb.DuckDBPyConnection, entity_id: str) -> list[dict[str, Any]]:
    return _dicts(con.execute(
        "SELECT m.source, m.source_id, m.role, m.method, m.evidence, m.assigned_at, r.title, "
        "r.url, r.status FROM entity_members m JOIN source_records r USING (source, source_id) "
        "WHERE m.entity_id = ? ORDER BY m.role = 'copy', m.source, m.source_id",
        [entity_id]))


def entity_links_of(con: duckdb.DuckDBPyConnection, entity_id: str) -> list[dict[str, Any]]:
    """Links from and to an entity, with the other side's name and kind."""
    return _dicts(con.execute(
        "SELECT 'out' AS direction, l.relation, l.target_id AS entity_id, e.name, e.kind, "
        "l.evidence FROM entity_links l "
        "JOIN entities e ON e.entity_id = l.target_id WHERE l.entity_id = ? "
        "UNION ALL "
        "SELECT 'in', l.relation, l.entity_id, e.name, e.kind, l.evidence FROM entity_links l "
        "JOIN entities e ON e.entity_id = l.entity_id WHERE l.target_id = ? ORDER BY ALL",
        [entity_id, entity_id]))


def link_checks_for(con: duckdb.DuckDBPyConnection, urls: list[str]) -> dict[str, dict[str, Any]]:
    return {row["url"]: row for row in _dicts(con.execute(
        "SELECT url, status, final_url, redirects, ok, error, checked_at FROM link_checks "
        "WHERE url IN (SELECT unnest(?::VARCHAR[]))", [urls]))}


def urls_to_check(con: duckdb.DuckDBPyConnection, older_than: datetime) -> list[str]:
    """Primary URLs of active entities never checked or last checked before `older_than`."""
    rows = con.execute(
        "SELECT DISTINCT e.facts->>'primary_url' AS url FROM entities e "
        "LEFT JOIN link_checks c ON c.url = e.facts->>'primary_url' "
        "WHERE e.status IN ('active', 'withdrawn') AND e.facts->>'primary_url' IS NOT NULL "
        "AND (c.url IS NULL OR c.checked_at < ?) ORDER BY url", [older_than]).fetchall()
    return [r[0] for r in rows]


def save_link_checks(con: duckdb.DuckDBPyConnection, results: list[tuple[Any, ...]]) -> None:
    """(url, status, final_url, redirects, ok, error, checked_at) rows."""
    if not results:
        return
    with transaction(con):
        con.executemany("INSERT OR REPLACE INTO link_checks VALUES (?, ?, ?, ?, ?, ?, ?)",
                        results)


def landing_pages_for(con: duckdb.DuckDBPyConnection, urls: list[str]
                      ) -> dict[str, dict[str, Any]]:
    """The cached landing page of each URL that has one (extracted parsed from JSON)."""
    rows = _dicts(con.execute(
        "SELECT url, final_url, status, ok, robots, error, etag, last_modified, extracted, "
        "fetched_at FROM landing_pages WHERE url IN (SELECT unnest(?::VARCHAR[]))", [urls]))
    for row in rows:
        row["extracted"] = json.loads(row["extracted"]) if row["extracted"] else None
    return {row["url"]: row for row in rows}


def landing_urls_due(con: duckdb.DuckDBPyConnection, older_than: datetime,
                     skip_hosts: list[str], limit: int) -> list[str]:
    """Primary URLs of live entities on hosts not skipped, never fetched or fetched before
    `older_than`; the longest unvisited first."""
    rows = con.execute(
        "WITH urls AS (SELECT DISTINCT e.facts->>'primary_url' AS url FROM entities e "
        "  WHERE e.status IN ('active', 'withdrawn') AND e.facts->>'primary_url' IS NOT NULL) "
        "SELECT u.url FROM urls u LEFT JOIN landing_pages p ON p.url = u.url "
        "WHERE regexp_matches(u.url, '^https?://') "
        "AND lower(regexp_extract(u.url, '^https?://([^/:?#]+)', 1)) "
        "    NOT IN (SELECT unnest(?::VARCHAR[])) "
        "AND (p.url IS NULL OR p.fetched_at < ?) "
        "ORDER BY p.fetched_at NULLS FIRST, u.url LIMIT ?",
        [skip_hosts, older_than, limit]).fetchall()
    return [r[0] for r in rows]


def landing_conflicts(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Facts where an entity's landing page states another value than the source APIs."""
    rows = con.execute(
        "SELECT entity_id, facts->'landing'->'conflicts' FROM entities "
        "WHERE status IN ('active', 'withdrawn') "
        "AND (facts->'landing'->'conflicts') IS NOT NULL ORDER BY entity_id").fetchall()
    return [{"entity_id": eid, "field": name, **conflict}
            for eid, blob in rows for name, conflict in json.loads(blob).items()]


def save_landing_page(con: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> None:
    """One fetched page; a 304 (extracted None, ok) keeps the stored extraction."""
    with transaction(con):
        con.execute(
            "INSERT INTO landing_pages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (url) DO UPDATE SET final_url = excluded.final_url, "
            "status = excluded.status, ok = excluded.ok, robots = excluded.robots, "
            "error = excluded.error, etag = coalesce(excluded.etag, landing_pages.etag), "
            "last_modified = coalesce(excluded.last_modified, landing_pages.last_modified), "
            "extracted = CASE WHEN excluded.status = 304 THEN landing_pages.extracted "
            "                 ELSE excluded.extracted END, "
            "fetched_at = excluded.fetched_at",
            [row["url"], row.get("final_url"), row.get("status"), row["ok"], row["robots"],
             row.get("error"), row.get("etag"), row.get("last_modified"),
             json.dumps(row["extracted"]) if row.get("extracted") is not None else None,
             row["fetched_at"]])


def dead_links(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, Any, datetime]]:
    """(entity_id, url, status or error, checked_at) of active entities whose link is dead."""
    return con.execute(
        "SELECT e.entity_id, c.url, coalesce(CAST(c.status AS VARCHAR), c.error), c.checked_at "
        "FROM entities e JOIN link_checks c ON c.url = e.facts->>'primary_url' "
        "WHERE NOT c.ok AND e.status IN ('active', 'withdrawn') ORDER BY e.entity_id"
    ).fetchall()


def entity_facts_rows(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    return con.execute("SELECT entity_id, facts, facts_hash FROM entities "
                       "WHERE status IN ('active', 'withdrawn')").fetchall()


def update_entity_facts(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, str, str]]) -> None:
    """(entity_id, facts JSON, facts_hash); updated_at moves only when the hash changes."""
    if not rows:
        return
    at = now()
    with transaction(con):
        con.executemany(
            "UPDATE entities SET facts = ?::JSON, updated_at = CASE WHEN facts_hash <> ? "
            "THEN ? ELSE updated_at END, facts_hash = ? WHERE entity_id = ?",
            [(facts, digest, at, digest, eid) for eid, facts, digest in rows])


# --- scores ----------------------------------------------------------------------------------

def entities_to_score(con: duckdb.DuckDBPyConnection, rubric_hashes: dict[str, str], *,
                      everything: bool = False) -> list[tuple[str, str, str, str, str | None]]:
    """(entity_id, kind, facts, facts_hash, previous tier) of entities whose facts or rubric
    changed since their last score (all of them with `everything`)."""
    kinds = list(rubric_hashes)
    return con.execute(
        "WITH latest AS (SELECT entity_id, facts_hash, rubric_hash, tier FROM scores "
        "  QUALIFY row_number() OVER (PARTITION BY entity_id ORDER BY scored_at DESC) = 1), "
        "rubric AS (SELECT unnest(?::VARCHAR[]) AS kind, unnest(?::VARCHAR[]) AS hash) "
        "SELECT e.entity_id, e.kind, e.facts, e.facts_hash, l.tier FROM entities e "
        "JOIN rubric r ON r.kind = e.kind LEFT JOIN latest l USING (entity_id) "
        "WHERE e.status IN ('active', 'withdrawn') AND (? OR l.entity_id IS NULL "
        "  OR l.facts_hash <> e.facts_hash OR l.rubric_hash <> r.hash) ORDER BY e.entity_id",
        [kinds, [rubric_hashes[k] for k in kinds], everything]).fetchall()


_SCORE_SCHEMA = pa.schema([
    ("entity_id", pa.string()), ("rubric_id", pa.string()), ("rubric_version", pa.int32()),
    ("rubric_hash", pa.string()), ("facts_hash", pa.string()), ("score", pa.float64()),
    ("tier", pa.string()), ("criteria", pa.string()),
])


def save_scores(con: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]],
                run_id: str | None = None) -> None:
    """Append score rows (_SCORE_SCHEMA order) in one statement."""
    if not rows:
        return
    con.register("new_scores", _arrow(rows, _SCORE_SCHEMA))
    try:
        with transaction(con):
            con.execute("INSERT INTO scores SELECT entity_id, rubric_id, rubric_version, "
                        "rubric_hash, facts_hash, score, tier, criteria::JSON, ?, ? "
                        "FROM new_scores", [now(), run_id])
    finally:
        con.unregister("new_scores")


def current_score(con: duckdb.DuckDBPyConnection, entity_id: str) -> dict[str, Any] | None:
    row = con.execute(
        "SELECT rubric_id, rubric_version, score, auto_tier, tier, override_reason, "
        "override_by, criteria, scored_at FROM v_current_scores WHERE entity_id = ?",
        [entity_id]).fetchone()
    if row is None:
        return None
    names = ("rubric_id", "rubric_version", "score", "auto_tier", "tier", "override_reason",
             "override_by", "criteria", "scored_at")
    out = dict(zip(names, row, strict=True))
    out["criteria"] = json.loads(out["criteria"])
    return out


def score_history(con: duckdb.DuckDBPyConnection, entity_id: str) -> list[tuple[Any, ...]]:
    """(scored_at, rubric_id, rubric_version, score, tier) oldest first."""
    return con.execute(
        "SELECT scored_at, rubric_id, rubric_version, score, tier FROM scores "
        "WHERE entity_id = ? ORDER BY scored_at", [entity_id]).fetchall()


def set_override(con: duckdb.DuckDBPyConnection, entity_id: str, tier: str | None, *,
                 reason: str, who: str) -> None:
    """Replace the entity's active override with `tier` (None: clear it)."""
    at = now()
    with transaction(con):
        con.execute("UPDATE score_overrides SET cleared_at = ? "
                    "WHERE entity_id = ? AND cleared_at IS NULL", [at, entity_id])
        if tier is not None:
            con.execute("INSERT INTO score_overrides VALUES (?, ?, ?, ?, ?, NULL)",
                        [entity_id, tier, reason, who, at])


def save_seed(con: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]]) -> None:
    """Replace the imported catalogue: (row, name, anatomy, size, access, tier, rank,
    entity_id, evidence) rows."""
    at = now()
    with transaction(con):
        con.execute("DELETE FROM seed_catalogue")
        con.executemany("INSERT INTO seed_catalogue VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [(*row, at) for row in rows])


def seed_comparison(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    """(row, name, published tier, entity_id, automatic tier or NULL, score) per seed row."""
    return con.execute(
        "SELECT s.row_number, s.name, s.tier, s.entity_id, c.auto_tier, c.score "
        "FROM seed_catalogue s LEFT JOIN v_current_scores c USING (entity_id) "
        "ORDER BY s.row_number").fetchall()


def dataset_titles(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(entity_id, all its copies' titles) of the active dataset entities."""
    return con.execute(
        "SELECT e.entity_id, string_agg(r.title, ' | ' ORDER BY r.title) FROM entities e "
        "JOIN entity_members m USING (entity_id) JOIN source_records r USING (source, source_id) "
        "WHERE e.kind = 'dataset' AND e.status IN ('active', 'withdrawn') "
        "GROUP BY e.entity_id ORDER BY e.entity_id").fetchall()


# --- review ----------------------------------------------------------------------------------

def review_queue_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every active or withdrawn entity with what the review queue shows about it."""
    return _dicts(con.execute(
        "SELECT e.entity_id, e.kind, e.name, e.facts, s.score, s.tier, s.criteria "
        "FROM entities e LEFT JOIN v_current_scores s USING (entity_id) "
        "WHERE e.status IN ('active', 'withdrawn') ORDER BY e.entity_id"))


def members_with_evidence(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every entity member with its record and classification (one query for the queue)."""
    return _dicts(con.execute(
        "SELECT m.entity_id, m.source, m.source_id, m.role, m.method, m.evidence, r.title, "
        "r.url, r.status, c.band, c.relevance, c.evidence AS relevance_evidence "
        "FROM entity_members m JOIN source_records r USING (source, source_id) "
        "LEFT JOIN classifications c USING (source, source_id) "
        "ORDER BY m.entity_id, m.role = 'copy', m.source, m.source_id"))


def all_entity_links(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, str, str]]:
    """(entity_id, target_id, relation, entity name, target name) of every link."""
    return con.execute(
        "SELECT l.entity_id, l.target_id, l.relation, s.name, t.name FROM entity_links l "
        "JOIN entities s ON s.entity_id = l.entity_id "
        "JOIN entities t ON t.entity_id = l.target_id ORDER BY ALL").fetchall()


def review_samples(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Records of the "unlikely" band sampled for review that belong to no entity."""
    return _dicts(con.execute(
        "SELECT r.source, r.source_id, r.title, r.description, r.url, c.relevance, c.kind, "
        "c.anatomy, c.tasks, c.evidence, r.content_hash FROM source_records r "
        "JOIN classifications c USING (source, source_id) "
        "WHERE c.review_sample AND r.status = 'active' AND NOT EXISTS (SELECT 1 FROM "
        "entity_members m WHERE m.source = r.source AND m.source_id = r.source_id) "
        "ORDER BY r.source, r.source_id"))


def save_review_states(con: duckdb.DuckDBPyConnection,
                       states: dict[str, tuple[str, str | None]],
                       labels: list[tuple[str, str, bool, str]]) -> None:
    """Replace the review states; upsert curator labels (source, source_id, relevant, kind)."""
    at = now()
    with transaction(con):
        con.execute("DELETE FROM review_states")
        if states:
            con.executemany("INSERT INTO review_states VALUES (?, ?, ?, ?)",
                            [(item, state, digest, at) for item, (state, digest)
                             in states.items() if state != "pending"])
        con.execute("DELETE FROM curator_labels")
        if labels:
            con.executemany("INSERT OR REPLACE INTO curator_labels VALUES (?, ?, ?, ?, ?)",
                            [(*label, at) for label in labels])


def curator_examples(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Curator-labelled records as relevance training examples."""
    rows = con.execute(
        "SELECT r.title, r.description, r.record->'keywords', l.relevant, l.kind "
        "FROM curator_labels l JOIN source_records r USING (source, source_id) "
        "ORDER BY l.source, l.source_id").fetchall()
    return [{"title": t, "description": d or "", "keywords": json.loads(k or "[]"),
             "label": int(rel), "kind": kind} for t, d, k, rel, kind in rows]


def record_keys_of(con: duckdb.DuckDBPyConnection, entity_id: str) -> list[str]:
    return [f"{s}:{i}" for s, i in con.execute(
        "SELECT source, source_id FROM entity_members WHERE entity_id = ? ORDER BY ALL",
        [entity_id]).fetchall()]


# --- run reports -----------------------------------------------------------------------------

def run_row(con: duckdb.DuckDBPyConnection, run_id: str | None = None) -> dict[str, Any] | None:
    """One run (the latest finished one when run_id is None)."""
    runs = [r for r in recent_runs(con, 50) if (run_id is None and r["finished_at"])
            or r["run_id"] == run_id]
    return runs[0] if runs else None


def run_changes(con: duckdb.DuckDBPyConnection, started: datetime,
                finished: datetime, run_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """What one run changed: new and changed entities, withdrawn records, re-tiered."""
    window = [started, finished]
    return {
        "new": con.execute(
            "SELECT e.entity_id, e.kind, e.name, s.tier FROM entities e "
            "LEFT JOIN v_current_scores s USING (entity_id) "
            "WHERE e.created_at BETWEEN ? AND ? AND e.status = 'active' ORDER BY e.name",
            window).fetchall(),
        "changed": con.execute(
            "SELECT e.entity_id, e.kind, e.name, e.status FROM entities e "
            "WHERE e.updated_at BETWEEN ? AND ? AND e.created_at < ? ORDER BY e.name",
            [*window, started]).fetchall(),
        "withdrawn": con.execute(
            "SELECT source, source_id, title FROM source_records "
            "WHERE withdrawn_at BETWEEN ? AND ? ORDER BY source, source_id", window).fetchall(),
        "retiered": con.execute(
            "WITH ranked AS (SELECT entity_id, tier, run_id, lag(tier) OVER (PARTITION BY "
            "  entity_id ORDER BY scored_at) AS before FROM scores) "
            "SELECT r.entity_id, e.name, r.before, r.tier FROM ranked r "
            "JOIN entities e USING (entity_id) WHERE r.run_id = ? AND r.before IS NOT NULL "
            "AND r.before <> r.tier ORDER BY e.name", [run_id]).fetchall(),
    }


# --- staged harvests (several workers) ------------------------------------------------------

def checkpoint(con: duckdb.DuckDBPyConnection) -> None:
    """Write everything to the database file, so that a copy of the file is complete."""
    con.execute("CHECKPOINT")


def merge_staged(con: duckdb.DuckDBPyConnection, staged: Path, sources: list[str],
                 since: datetime) -> dict[str, int]:
    """Bring what a staged harvest wrote after `since` for `sources` into this warehouse,
    in one transaction (records, their history, quarantine, cursors, validators).

    Idempotent: merging the same staging file again changes nothing.
    """
    literal = str(staged).replace("'", "''")
    con.execute(f"ATTACH '{literal}' AS staged (READ_ONLY)")  # noqa: S608 - our own path
    try:
        params = [sources, since]
        with transaction(con):
            records = con.execute(
                "INSERT OR REPLACE INTO source_records SELECT * FROM staged.source_records "
                "WHERE source IN (SELECT unnest(?::VARCHAR[])) AND (last_seen >= ? "
                "OR last_changed >= ? OR withdrawn_at >= ?)", [sources, since, since, since]
            ).fetchall()
            con.execute(
                "INSERT INTO record_versions SELECT * FROM staged.record_versions "
                "WHERE source IN (SELECT unnest(?::VARCHAR[])) AND first_seen >= ? "
                "ON CONFLICT DO NOTHING", params)
            con.execute(
                "INSERT OR REPLACE INTO quarantine SELECT * FROM staged.quarantine "
                "WHERE source IN (SELECT unnest(?::VARCHAR[])) AND quarantined_at >= ?", params)
            con.execute(
                "INSERT OR REPLACE INTO harvest_cursors SELECT * FROM staged.harvest_cursors "
                "WHERE source IN (SELECT unnest(?::VARCHAR[])) AND updated_at >= ?", params)
            con.execute(
                "INSERT OR REPLACE INTO http_validators SELECT * FROM staged.http_validators "
                "WHERE updated_at >= ?", [since])
    finally:
        con.execute("DETACH staged")
    return {"records": int(records[0][0]) if records else 0}


def host_contributions(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int, list[str]]]:
    """(host of the primary URL, active entities hosted there, sources that found them):
    where the catalogued resources live, whichever source led to them."""
    return con.execute(
        "WITH hosted AS (SELECT e.entity_id, lower(regexp_extract(e.facts->>'primary_url', "
        "  '^https?://([^/:?#]+)', 1)) AS host FROM entities e WHERE e.status = 'active') "
        "SELECT coalesce(nullif(h.host, ''), '(no web address)'), "
        "count(DISTINCT h.entity_id), list(DISTINCT m.source ORDER BY m.source) "
        "FROM hosted h JOIN entity_members m USING (entity_id) "
        "GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()


def active_entity_count(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT count(*) FROM entities WHERE status = 'active'").fetchone()[0]


def source_contributions(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int, int]]:
    """(source, entities it has a copy of, entities only it found) over active entities."""
    return con.execute(
        "WITH per AS (SELECT m.entity_id, m.source FROM entity_members m "
        "  JOIN entities e USING (entity_id) WHERE e.status = 'active' GROUP BY ALL), "
        "solo AS (SELECT entity_id FROM per GROUP BY entity_id HAVING count(*) = 1) "
        "SELECT source, count(*), count(*) FILTER (WHERE entity_id IN (SELECT entity_id "
        "FROM solo)) FROM per GROUP BY source ORDER BY count(*) DESC, source").fetchall()
