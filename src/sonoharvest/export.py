"""Export: run each export query in warehouse/exports/ and write it atomically as Parquet."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from sonoharvest.warehouse import SQL_DIR

EXPORTS_DIR = SQL_DIR / "export_sql"
SCHEMA_VERSION = 2


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
        f"(FORMAT parquet, KV_METADATA {{schema_version: '{SCHEMA_VERSION}'}})"
    )
    os.replace(partial, final)
    return rows


def export_all(con: duckdb.DuckDBPyConnection, out_dir: Path) -> dict[str, int]:
    return {path.stem: write_parquet(con, path.stem, out_dir)
            for path in sorted(EXPORTS_DIR.glob("*.sql"))}
