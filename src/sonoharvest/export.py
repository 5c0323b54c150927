"""Export: run each export query in warehouse/exports/ and write it atomically as Parquet."""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb

from sonoharvest.warehouse import SQL_DIR

EXPORTS_DIR = SQL_DIR / "export_sql"
# Each export query starts with "-- <name>.parquet, schema version N: ..."; N goes into the
# file's metadata. Bump it whenever a column is added, removed or changes meaning.
_VERSION = re.compile(r"schema version (\d+)")


def schema_version(name: str) -> int:
    header = (EXPORTS_DIR / f"{name}.sql").read_text().splitlines()[0]
    found = _VERSION.search(header)
    if not found:
        raise ValueError(f"{EXPORTS_DIR / (name + '.sql')}: first line must state the schema "
                         "version ('-- name.parquet, schema version N: ...')")
    return int(found.group(1))


def write_parquet(con: duckdb.DuckDBPyConnection, name: str, out_dir: Path) -> int:
    """Write exports/<name>.sql to <out_dir>/<name>.parquet; a reader never sees half a file."""
    query = (EXPORTS_DIR / f"{name}.sql").read_text().strip().rstrip(";")
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"{name}.parquet"
    partial = out_dir / f".{name}.parquet.partial"
    rows = con.execute(f"SELECT count(*) FROM ({query})").fetchone()[0]  # noqa: S608
    path_literal = str(partial).replace("'", "''")
    con.execute(
        f"COPY ({query}) TO '{path_literal}' "  # noqa: S608 - query text is ours, path escaped
        f"(FORMAT parquet, KV_METADATA {{schema_version: '{schema_version(name)}'}})"
    )
    os.replace(partial, final)
    return rows


def export_all(con: duckdb.DuckDBPyConnection, out_dir: Path) -> dict[str, int]:
    return {path.stem: write_parquet(con, path.stem, out_dir)
            for path in sorted(EXPORTS_DIR.glob("*.sql"))}
