"""Export: run each export query in warehouse/export_sql/ and publish its result.

Each run builds a complete snapshot folder, `<out>/snapshots/<name>/`, under a hidden
temporary name and renames it into place (a reader sees a whole snapshot or none), then copies
its files over the "latest" ones in `<out>/` one by one, each under a temporary name first (a
reader never sees half a file). Per export: `<name>.parquet` (schema version in its key-value
metadata), `<name>.csv` (same columns; lists and JSON as JSON text; timestamps ISO 8601 UTC),
plus `croissant/<entity_id>.json` per dataset entity and `manifest.json`. docs/exports.md
describes every file and column.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import pyarrow.parquet as pq

from sonoharvest.croissant import CONFORMS_TO, dataset_jsonld
from sonoharvest.warehouse import SQL_DIR

EXPORTS_DIR = SQL_DIR / "export_sql"
SNAPSHOTS = "snapshots"
CROISSANT = "croissant"
MANIFEST = "manifest.json"
# The Croissant files this code wrote in a folder: only those are ever removed from it.
CROISSANT_OWNED = ".sonoharvest-written.json"
# Each export query starts with "-- <name>.parquet, schema version N: ..."; N goes into the
# file's metadata. Bump it whenever a column is added, removed or changes meaning.
_VERSION = re.compile(r"schema version (\d+)")
_SNAPSHOT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_STAGING = re.compile(r"\..+\.(?:partial|old)")
_STALE_STAGING_SECONDS = 24 * 3600


def schema_version(name: str) -> int:
    header = (EXPORTS_DIR / f"{name}.sql").read_text().splitlines()[0]
    found = _VERSION.search(header)
    if not found:
        raise ValueError(f"{EXPORTS_DIR / (name + '.sql')}: first line must state the schema "
                         "version ('-- name.parquet, schema version N: ...')")
    return int(found.group(1))


def export_names() -> list[str]:
    return [path.stem for path in sorted(EXPORTS_DIR.glob("*.sql"))]


def write_parquet(con: duckdb.DuckDBPyConnection, name: str, out_dir: Path) -> int:
    """Write export_sql/<name>.sql to <out_dir>/<name>.parquet; a reader never sees half a
    file, and a failed write leaves the previous file and no partial one."""
    out_dir.mkdir(parents=True, exist_ok=True)
    query = (EXPORTS_DIR / f"{name}.sql").read_text().strip().rstrip(";")
    rows = con.execute(f"SELECT count(*) FROM ({query})").fetchone()[0]  # noqa: S608

    def write(partial: Path) -> None:
        con.execute(
            f"COPY ({query}) TO {_literal(partial)} "  # noqa: S608 - our query, path escaped
            f"(FORMAT parquet, KV_METADATA {{schema_version: '{schema_version(name)}'}})"
        )

    _atomic_write(out_dir / f"{name}.parquet", write)
    return rows


def write_csv(con: duckdb.DuckDBPyConnection, parquet: Path, out: Path) -> None:
    """The Parquet file `parquet` as CSV at `out` (atomic): same columns and rows, a header,
    UTF-8; lists, structs and JSON as JSON text; timestamps ISO 8601 in UTC; NULL empty."""
    source = f"read_parquet({_literal(parquet)})"
    columns = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()  # noqa: S608
    select = ", ".join(_csv_column(name, kind) for name, kind, *_ in columns)

    def write(partial: Path) -> None:
        con.execute(f"COPY (SELECT {select} FROM {source}) TO {_literal(partial)} "  # noqa: S608
                    "(FORMAT csv, HEADER true, DELIMITER ',', QUOTE '\"')")

    _atomic_write(out, write)


def write_croissant(rows: Iterable[Mapping[str, Any]], folder: Path, *,
                    track: bool = True) -> int:
    """One Croissant JSON-LD file per dataset row, `folder/<entity_id>.json`, each written
    atomically (and only when its content changed). Files this function wrote earlier for
    entities no longer in `rows` are removed; any other file in the folder is left alone.
    The names it wrote are kept in `folder/.sonoharvest-written.json` (with `track` false,
    for a new folder such as a snapshot's, nothing is tracked or removed)."""
    folder.mkdir(parents=True, exist_ok=True)
    docs = {_file_name(row["entity_id"]): _json_bytes(dataset_jsonld(row)) for row in rows}
    if not track:
        for file_name, body in docs.items():
            _write_bytes(folder / file_name, body)
        return len(docs)
    owned_path = folder / CROISSANT_OWNED
    owned = _read_owned(owned_path)
    # Claim the new names before writing them, so a crash never leaves an unclaimed file.
    if not set(docs) <= owned:
        _write_bytes(owned_path, _json_bytes(sorted(owned | set(docs))))
    for file_name, body in docs.items():
        path = folder / file_name
        if not (path.is_file() and path.read_bytes() == body):
            _write_bytes(path, body)
    for stale in sorted(owned - set(docs)):
        (folder / stale).unlink(missing_ok=True)
    if owned != set(docs):
        _write_bytes(owned_path, _json_bytes(sorted(docs)))
    return len(docs)


def snapshot_name(run_id: str | None = None, at: datetime | None = None) -> str:
    """The snapshot folder name: the run id, else the UTC time as YYYY-MM-DDTHHMMSSZ."""
    if run_id is None:
        return f"{(at or datetime.now(UTC)).astimezone(UTC):%Y-%m-%dT%H%M%SZ}"
    if not _SNAPSHOT_NAME.fullmatch(run_id):
        raise ValueError(f"run id {run_id!r} cannot name a snapshot folder: use letters, "
                         "digits, '.', '_' and '-' (not first), at most 128 characters")
    return run_id


def export_all(con: duckdb.DuckDBPyConnection, out_dir: Path,
               run_id: str | None = None) -> dict[str, int]:
    """Write every export as a new snapshot `out_dir/snapshots/<name>/` (see snapshot_name;
    an existing snapshot of the same name is replaced) and as the latest files in `out_dir`.

    Returns the rows per export, e.g. {"datasets": 75, "models": 61, ...}.
    """
    out_dir = Path(out_dir)
    created = datetime.now(UTC)
    name = snapshot_name(run_id, created)
    snapshots = out_dir / SNAPSHOTS
    snapshots.mkdir(parents=True, exist_ok=True)
    _discard_stale_staging(snapshots)
    staging = snapshots / f".{name}.partial"
    _discard(staging)
    staging.mkdir()
    try:
        counts = _build_snapshot(con, staging)
        manifest = _manifest(name, run_id, created, counts)
        _write_bytes(staging / MANIFEST, _json_bytes(manifest))
        snapshot = _publish_snapshot(staging, snapshots / name)
    except BaseException:
        _discard(staging)
        raise
    _publish_latest(snapshot, out_dir, counts)
    return counts


def prune_snapshots(out_dir: Path, keep: int) -> list[Path]:
    """Delete all but the `keep` newest snapshots (by their manifest's created_at); never the
    one the latest files come from, nor a folder this code did not write. Never called
    automatically. Returns the deleted folders."""
    if keep < 1:
        raise ValueError("keep must be at least 1")
    snapshots = Path(out_dir) / SNAPSHOTS
    latest = _read_manifest(Path(out_dir) / MANIFEST).get("snapshot")
    found = []
    for folder in snapshots.iterdir() if snapshots.is_dir() else ():
        manifest = _read_manifest(folder / MANIFEST) if folder.is_dir() else {}
        if manifest.get("snapshot") == folder.name and not folder.name.startswith("."):
            found.append((str(manifest.get("created_at", "")), folder.name, folder))
    found.sort(reverse=True)
    deleted = [folder for _, name, folder in found[keep:] if name != latest]
    for folder in deleted:
        shutil.rmtree(folder)
    return deleted


# --- building and publishing --------------------------------------------------------------

def _build_snapshot(con: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, int]:
    counts = {}
    for name in export_names():
        counts[name] = write_parquet(con, name, folder)
        write_csv(con, folder / f"{name}.parquet", folder / f"{name}.csv")
        if name == "datasets":
            write_croissant(_rows(folder / "datasets.parquet"), folder / CROISSANT,
                            track=False)
    return counts


def _manifest(name: str, run_id: str | None, created: datetime,
              counts: dict[str, int]) -> dict[str, Any]:
    files = {}
    for export, rows in counts.items():
        version = schema_version(export)
        for suffix in ("parquet", "csv"):
            files[f"{export}.{suffix}"] = {"rows": rows, "schema_version": version}
    return {"snapshot": name, "run_id": run_id,
            "created_at": created.isoformat().replace("+00:00", "Z"), "files": files,
            "croissant": {"conforms_to": CONFORMS_TO, "files": counts.get("datasets", 0)}}


def _publish_snapshot(staging: Path, final: Path) -> Path:
    """Rename the finished staging folder to its final name (replacing a same-named one)."""
    if final.exists():
        aside = final.with_name(f".{final.name}.old")
        _discard(aside)
        os.replace(final, aside)
        os.replace(staging, final)
        _discard(aside)
    else:
        os.replace(staging, final)
    return final


def _publish_latest(snapshot: Path, out_dir: Path, counts: dict[str, int]) -> None:
    """Copy a snapshot's files over the latest ones, each atomically; the manifest last."""
    for name in counts:
        for suffix in ("parquet", "csv"):
            _atomic_copy(snapshot / f"{name}.{suffix}", out_dir / f"{name}.{suffix}")
    if "datasets" in counts:
        write_croissant(_rows(snapshot / "datasets.parquet"), out_dir / CROISSANT)
    _atomic_copy(snapshot / MANIFEST, out_dir / MANIFEST)


def _rows(parquet: Path) -> list[dict[str, Any]]:
    return pq.read_table(parquet).to_pylist()


# --- files --------------------------------------------------------------------------------

def _atomic_write(final: Path, write: Callable[[Path], object]) -> None:
    """Call write(partial) then rename the partial file to `final`; on any failure the
    partial file is removed and `final` keeps its previous content."""
    partial = final.with_name(f".{final.name}.partial")
    try:
        write(partial)
        _fsync(partial)
        os.replace(partial, final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _write_bytes(final: Path, body: bytes) -> None:
    _atomic_write(final, lambda partial: partial.write_bytes(body))


def _atomic_copy(source: Path, final: Path) -> None:
    _atomic_write(final, lambda partial: shutil.copyfile(source, partial))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _discard(folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)


def _discard_stale_staging(snapshots: Path) -> None:
    """Remove staging folders a crashed export left behind more than a day ago."""
    cutoff = time.time() - _STALE_STAGING_SECONDS
    for folder in snapshots.iterdir():
        if folder.is_dir() and _STAGING.fullmatch(folder.name):
            with contextlib.suppress(OSError):
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder)


def _read_owned(path: Path) -> set[str]:
    names = _read_json(path, [])
    return {n for n in names if isinstance(n, str) and _is_croissant_name(n)} \
        if isinstance(names, list) else set()


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def _read_manifest(path: Path) -> dict[str, Any]:
    manifest = _read_json(path, {})
    return manifest if isinstance(manifest, dict) else {}


def _is_croissant_name(name: str) -> bool:
    return name.endswith(".json") and "/" not in name and not name.startswith(".")


def _file_name(entity_id: object) -> str:
    """`<entity_id>.json`, percent-encoded when the id holds characters unsafe in a name."""
    text = quote(str(entity_id), safe="")
    return f"%2E{text[1:]}.json" if text.startswith(".") else f"{text}.json"


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _csv_column(name: str, kind: str) -> str:
    column = '"' + name.replace('"', '""') + '"'
    if kind.endswith("]") or kind.startswith(("STRUCT", "MAP", "UNION")):
        return f"to_json({column}) AS {column}"
    if kind == "TIMESTAMP WITH TIME ZONE":
        return f"strftime(timezone('UTC', {column}), '%Y-%m-%dT%H:%M:%S.%fZ') AS {column}"
    if kind.startswith("TIMESTAMP"):
        return f"strftime({column}, '%Y-%m-%dT%H:%M:%S.%f') AS {column}"
    return column
