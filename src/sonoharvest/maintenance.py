"""Backup, restore and integrity checks of the warehouse and the curation store.

A backup is a folder (or, when DEST ends in .tar.gz or .tgz, that folder packed in one
gzipped tarball) holding:

    manifest.json             what the backup holds, with the sha256 of every other file
    warehouse/<table>.parquet every warehouse table, written in one read transaction while
                              the warehouse is held open (no writer can run meanwhile)
    curation.sqlite           the curator store, copied with SQLite's online backup API
    models/*.pkl              the trained relevance classifiers the warehouse points to

Tables go to Parquet (portable across DuckDB versions) rather than a copy of the DuckDB file.
Restoring executes no SQL from the backup: it rebuilds the schema with this version's own
migrations (those the backup lists, then any newer ones, so an old backup is upgraded) and
loads each table from its Parquet file. Exports are not backed up: `sonoharvest export`
writes them again from the warehouse.

The integrity checks are SQL files in warehouse/checks/, one query each returning the
offending rows; each file's header comment says what it checks (first line), how serious
a hit is (`-- severity: error|warning|info`) and how to fix it (`-- fix: ...`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from sonoharvest import __version__, warehouse
from sonoharvest.curation import FILE_NAME as CURATION_FILE
from sonoharvest.records import now
from sonoharvest.settings import Settings

CHECKS_DIR = warehouse.SQL_DIR / "checks"
MANIFEST = "manifest.json"
FORMAT = "sonoharvest-backup"
FORMAT_VERSION = 1
SEVERITIES = ("error", "warning", "info")
_TARBALL_SUFFIXES = (".tar.gz", ".tgz")
_CHUNK = 1 << 20


class MaintenanceError(RuntimeError):
    """A backup or restore that cannot go ahead; the message (one line) says what to do."""


# --- backup ----------------------------------------------------------------------------------

def backup(settings: Settings, dest: Path) -> Path:
    """Write a consistent backup of SONOHARVEST_HOME's warehouse and curation store to `dest`.

    `dest` must not exist. It becomes a folder, or a .tar.gz file when its name ends in
    .tar.gz or .tgz. The backup is assembled beside `dest` and renamed into place at the end,
    so an interrupted backup never looks like a complete one. Raises WarehouseBusy when
    another process holds the warehouse, MaintenanceError when there is nothing to back up
    or `dest` exists. Returns `dest`.
    """
    dest = Path(dest)
    if dest.exists():
        raise MaintenanceError(f"{dest} already exists; choose a new backup name.")
    if not settings.db_path.exists():
        raise MaintenanceError(f"no warehouse at {settings.db_path}; run `sonoharvest run` "
                               "first, or set SONOHARVEST_HOME to the folder to back up.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tarball = dest.name.endswith(_TARBALL_SUFFIXES)
    with tempfile.TemporaryDirectory(prefix=f".{dest.name}.partial-", dir=dest.parent) as work:
        folder = Path(work) / "sonoharvest-backup"
        folder.mkdir()
        _write_backup(settings, folder)
        if tarball:
            packed = Path(work) / "backup.tar.gz"
            with tarfile.open(packed, "w:gz") as tar:
                tar.add(folder, arcname=folder.name)
            os.replace(packed, dest)
        else:
            os.replace(folder, dest)
    return dest


def _write_backup(settings: Settings, folder: Path) -> None:
    con = warehouse.connect(settings.db_path, read_only=True)   # WarehouseBusy if held
    try:
        (folder / "warehouse").mkdir()
        con.execute("BEGIN TRANSACTION")   # one snapshot for every table
        try:
            tables = _tables(con)
            counts = {t: _count(con, t) for t in tables}
            for table in tables:
                target = folder / "warehouse" / f"{table}.parquet"
                con.execute(f"COPY (SELECT * FROM {_ident(table)}) TO {_literal(target)} "
                            "(FORMAT parquet)")
            migrations = [r[0] for r in con.execute(
                "SELECT name FROM schema_migrations ORDER BY name").fetchall()] \
                if "schema_migrations" in tables else []
            sequences = dict(con.execute(
                "SELECT sequence_name, coalesce(last_value, 0) FROM duckdb_sequences() "
                "WHERE database_name = current_database() AND NOT temporary").fetchall())
            model_paths = [r[0] for r in con.execute(
                "SELECT path FROM relevance_models ORDER BY version").fetchall()] \
                if "relevance_models" in tables else []
        finally:
            con.execute("ROLLBACK")        # read only: nothing to commit
        curation = _backup_curation(settings.home / CURATION_FILE, folder / CURATION_FILE)
        models = _backup_models(settings.home, model_paths, folder / "models")
    finally:
        con.close()
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": now().isoformat(),
        "sonoharvest_version": __version__,
        "duckdb_version": duckdb.__version__,
        "sqlite_version": sqlite3.sqlite_version,
        "home": str(settings.home.resolve()),
        "migrations": migrations,
        "sequences": sequences,
        "row_counts": {"warehouse": counts, "curation": curation},
        "models": models,
        "files": {p.relative_to(folder).as_posix(): _sha256(p) for p in files},
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _backup_curation(source: Path, target: Path) -> dict[str, int] | None:
    """Copy the curator store with SQLite's online backup API; None when there is none."""
    if not source.exists():
        return None
    src = sqlite3.connect(str(source), timeout=15)
    dst = sqlite3.connect(str(target))
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")   # one self-contained file, no -wal beside
        counts = _sqlite_counts(dst)
    finally:
        dst.close()
        src.close()
    return counts


def _backup_models(home: Path, paths: list[str], target: Path) -> list[str]:
    """Copy the relevance classifiers the warehouse refers to, as found under home/models."""
    names = sorted({Path(p).name for p in paths if (home / "models" / Path(p).name).is_file()})
    if names:
        target.mkdir()
    for name in names:
        shutil.copy2(home / "models" / name, target / name)
    return names


# --- restore ---------------------------------------------------------------------------------

def restore(settings: Settings, source: Path, *, force: bool = False) -> dict[str, Any]:
    """Restore a backup (folder or .tar.gz from `backup`) into SONOHARVEST_HOME.

    Refuses when the home already holds a warehouse or a curation store, unless `force`
    (the current files are then kept beside, renamed *.pre-restore-<time>). Every checksum
    in the manifest is verified before anything is written; the new warehouse is built
    beside the old one, its row counts checked against the manifest, then renamed into
    place. Returns what was restored: created_at, row counts, models, kept files, and the
    migrations applied on top of the backup's (an older backup is upgraded).
    """
    source = Path(source)
    if not source.exists():
        raise MaintenanceError(f"no backup at {source}; give the folder or .tar.gz that "
                               "`sonoharvest backup` wrote.")
    home = settings.home
    db_path, cur_path = settings.db_path, home / CURATION_FILE
    existing = [p for p in (db_path, cur_path) if p.exists()]
    if existing and not force:
        raise MaintenanceError(
            f"{existing[0]} already exists and restoring would replace it: rerun with --force "
            "(the current files are kept beside as *.pre-restore-<time>) or set "
            "SONOHARVEST_HOME to an empty folder.")
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=home) as work_dir:
        work = Path(work_dir)
        folder = _unpack(source, work / "backup")
        manifest = _verify(folder)
        new_db = work / db_path.name
        upgraded = _build_warehouse(folder, manifest, new_db, home)
        new_cur = None
        if manifest["row_counts"].get("curation") is not None:
            new_cur = work / CURATION_FILE
            _build_curation(folder / CURATION_FILE, new_cur, manifest)
        new_models = folder / "models" if manifest.get("models") else None
        kept = _swap_in(settings, new_db, new_cur, new_models)
    counts = _check_counts(db_path, manifest) if not upgraded else None
    return {
        "source": str(source),
        "created_at": manifest["created_at"],
        "sonoharvest_version": manifest["sonoharvest_version"],
        "row_counts": {"warehouse": counts or manifest["row_counts"]["warehouse"],
                       "curation": manifest["row_counts"].get("curation")},
        "models": list(manifest.get("models") or []),
        "upgraded": upgraded,
        "kept": {k: str(v) for k, v in kept.items()},
    }


def _unpack(source: Path, target: Path) -> Path:
    """The backup folder: `source` itself, or `source` extracted into `target`."""
    if source.is_dir():
        return source
    if not tarfile.is_tarfile(source):
        raise MaintenanceError(f"{source} is neither a backup folder nor a .tar.gz backup.")
    target.mkdir()
    with tarfile.open(source, "r:*") as tar:
        try:
            tar.extractall(target, filter="data")   # no absolute paths, .., links or devices
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise MaintenanceError(f"{source} holds an unsafe or damaged entry ({reason}); "
                                   "nothing was restored. Use another backup.") from None
    found = [p.parent for p in target.rglob(MANIFEST)]
    if len(found) != 1:
        raise MaintenanceError(f"{source} holds no single {MANIFEST}; it is not a sonoharvest "
                               "backup.")
    return found[0]


def _verify(folder: Path) -> dict[str, Any]:
    """The manifest, after checking the format and the sha256 of every file it lists."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        raise MaintenanceError(f"{folder} has no {MANIFEST}; it is not a sonoharvest "
                               "backup.") from None
    except ValueError:
        raise MaintenanceError(f"{folder / MANIFEST} is not valid JSON; the backup is "
                               "damaged.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise MaintenanceError(f"{folder / MANIFEST} is not a sonoharvest backup manifest.")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise MaintenanceError(f"backup format {manifest.get('format_version')!r} is not "
                               f"{FORMAT_VERSION}; restore it with the sonoharvest version "
                               f"that wrote it ({manifest.get('sonoharvest_version')}).")
    shape = {"created_at": str, "sonoharvest_version": str, "migrations": list,
             "row_counts": dict, "files": dict}
    missing = [k for k, kind in shape.items() if not isinstance(manifest.get(k), kind)]
    if missing or not isinstance(manifest["row_counts"].get("warehouse"), dict):
        raise MaintenanceError(f"{folder / MANIFEST} lacks {(missing or ['row_counts'])[0]}; "
                               "the backup is damaged.")
    files = manifest["files"]
    if not files:
        raise MaintenanceError(f"{folder / MANIFEST} lists no files; the backup is damaged.")
    bad = []
    for name, digest in sorted(files.items()):
        path = folder / name
        if Path(name).is_absolute() or ".." in Path(name).parts or not path.is_file():
            bad.append(f"{name} (missing)")
        elif _sha256(path) != digest:
            bad.append(f"{name} (checksum differs)")
    needed = [f"warehouse/{t}.parquet" for t in manifest["row_counts"]["warehouse"]]
    if manifest["row_counts"].get("curation") is not None:
        needed.append(CURATION_FILE)
    needed += [f"models/{m}" for m in manifest.get("models") or []]
    bad += [f"{name} (not in the manifest)" for name in needed if name not in files]
    if bad:
        raise MaintenanceError(
            f"the backup {folder} fails verification: {', '.join(bad[:3])}"
            f"{f' and {len(bad) - 3} more' if len(bad) > 3 else ''}; nothing was restored. "
            "Use another backup.")
    return manifest


def _build_warehouse(folder: Path, manifest: dict[str, Any], target: Path,
                     home: Path) -> list[str]:
    """Create the warehouse at `target` from the backup; returns migrations applied on top."""
    known = {p.name: p for p in warehouse.MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql")}
    unknown = [m for m in manifest["migrations"] if m not in known]
    if unknown:
        raise MaintenanceError(
            f"the backup needs migration {unknown[0]}, which this sonoharvest "
            f"({__version__}) does not have; restore it with sonoharvest "
            f"{manifest['sonoharvest_version']} or newer.")
    counts: dict[str, int] = manifest["row_counts"]["warehouse"]
    con = warehouse.connect(target)
    try:
        con.execute("CREATE TABLE schema_migrations "
                    "(name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)")
        for name in sorted(manifest["migrations"]):
            with warehouse.transaction(con):
                con.execute(known[name].read_text())
        tables = set(_tables(con))
        strange = sorted(set(counts) - tables)
        if strange:
            raise MaintenanceError(
                f"the backup holds table {strange[0]}, which its migrations do not create; "
                "it was not written by `sonoharvest backup`.")
        with warehouse.transaction(con):
            for table in counts:
                parquet = folder / "warehouse" / f"{table}.parquet"
                try:
                    con.execute(f"INSERT INTO {_ident(table)} BY NAME "
                                f"SELECT * FROM read_parquet({_literal(parquet)})")
                except duckdb.Error as exc:
                    raise MaintenanceError(
                        f"loading {table} from the backup failed "
                        f"({str(exc).splitlines()[0]}); nothing was restored.") from None
            for name, last in (manifest.get("sequences") or {}).items():
                _advance_sequence(con, name, int(last))
            if manifest.get("models"):
                _move_model_paths(con, set(manifest["models"]), home.resolve() / "models")
        found = {t: _count(con, t) for t in counts}
        wrong = {t: (n, counts[t]) for t, n in found.items() if n != counts[t]}
        if wrong:
            table, (got, want) = next(iter(wrong.items()))
            raise MaintenanceError(f"restored {table} has {got} rows, the manifest says {want}; "
                                   "nothing was restored.")
        upgraded = warehouse.migrate(con)
        warehouse.ensure_views(con)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return upgraded


def _move_model_paths(con: duckdb.DuckDBPyConnection, names: set[str], folder: Path) -> None:
    """The classifiers come with the backup: point their rows at the restored copies (only
    changes anything when restoring into another SONOHARVEST_HOME)."""
    for version, path in con.execute("SELECT version, path FROM relevance_models").fetchall():
        name = Path(path).name
        if name in names and Path(path) != folder / name:
            con.execute("UPDATE relevance_models SET path = ? WHERE version = ?",
                        [str(folder / name), version])


def _advance_sequence(con: duckdb.DuckDBPyConnection, name: str, last: int) -> None:
    """Make the fresh sequence `name` continue after `last`, as it did in the backup."""
    row = con.execute("SELECT coalesce(last_value, 0) FROM duckdb_sequences() "
                      "WHERE sequence_name = ? AND NOT temporary", [name]).fetchone()
    if row is None:
        raise MaintenanceError(f"the backup has sequence {name}, which its migrations do not "
                               "create; it was not written by `sonoharvest backup`.")
    missing = last - int(row[0])
    if missing <= 0:
        return
    try:
        con.execute(f"SELECT setval({_literal(name)}, ?)", [last])
    except duckdb.Error:         # DuckDB versions without setval: draw the missing values
        con.execute(f"SELECT max(nextval({_literal(name)})) FROM range(?)", [missing])


def _build_curation(source: Path, target: Path, manifest: dict[str, Any]) -> None:
    shutil.copyfile(source, target)
    db = sqlite3.connect(str(target))
    try:
        if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise MaintenanceError(f"{source} fails SQLite's integrity check; use another "
                                   "backup.")
        counts = _sqlite_counts(db)
    finally:
        db.close()
    if counts != manifest["row_counts"]["curation"]:
        raise MaintenanceError(f"the curation store in the backup has rows {counts}, the "
                               f"manifest says {manifest['row_counts']['curation']}; nothing "
                               "was restored.")


def _swap_in(settings: Settings, new_db: Path, new_cur: Path | None,
             new_models: Path | None) -> dict[str, Path]:
    """Put the verified files in place; the current ones are kept beside. Returns those."""
    home, db_path, cur_path = settings.home, settings.db_path, settings.home / CURATION_FILE
    stamp = now().strftime("%Y%m%dT%H%M%S")
    kept: dict[str, Path] = {}
    if db_path.exists():
        _quiesce(db_path)        # WarehouseBusy if another process holds it: nothing touched
        keep = db_path.with_name(f"{db_path.name}.pre-restore-{stamp}")
        _link_or_copy(db_path, keep)
        kept["warehouse"] = keep
    if cur_path.exists():
        keep = cur_path.with_name(f"{cur_path.name}.pre-restore-{stamp}")
        _sqlite_copy(cur_path, keep)
        kept["curation"] = keep
        if new_cur is None:
            _sqlite_clear(cur_path)
    if new_cur is not None:
        if cur_path.exists():
            # Into the live file, in one SQLite transaction: a web page that has the store open
            # sees the old decisions or the restored ones, never a mix.
            _sqlite_copy(new_cur, cur_path)
        else:
            os.replace(new_cur, cur_path)
    wal = db_path.with_name(db_path.name + ".wal")
    os.replace(new_db, db_path)  # atomic: readers see the old or the new warehouse, never half
    if wal.exists():             # a log of the old file must never be replayed into the new one
        os.replace(wal, db_path.with_name(f"{db_path.name}.pre-restore-{stamp}.wal"))
    models = home / "models"
    if new_models is not None:
        staged = home / f".models.restoring-{stamp}"
        shutil.copytree(new_models, staged)
        if models.exists():
            keep = home / f"models.pre-restore-{stamp}"
            os.replace(models, keep)
            kept["models"] = keep
        os.replace(staged, models)
    return kept


def _quiesce(db_path: Path) -> None:
    """Open and close the current warehouse: proves no one holds it, checkpoints its log."""
    try:
        con = warehouse.connect(db_path)
    except warehouse.WarehouseBusy:
        raise
    except duckdb.Error:
        return                   # a damaged warehouse: being replaced is the point
    con.close()


def _check_counts(db_path: Path, manifest: dict[str, Any]) -> dict[str, int]:
    con = warehouse.connect(db_path, read_only=True)
    try:
        counts = {t: _count(con, t) for t in manifest["row_counts"]["warehouse"]}
    finally:
        con.close()
    if counts != manifest["row_counts"]["warehouse"]:
        raise MaintenanceError(f"the restored warehouse {db_path} has rows {counts}, not the "
                               f"manifest's; the previous one is kept beside it.")
    return counts


# --- checks ----------------------------------------------------------------------------------

@dataclass
class Problem:
    """One finding of `check`: `count` offending rows (for info: the total counted)."""

    check: str
    severity: str                 # error | warning | info
    count: int
    detail: str
    fix: str = ""
    examples: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Check:
    name: str
    severity: str
    what: str
    fix: str
    sql: str


def load_checks(directory: Path = CHECKS_DIR) -> list[Check]:
    """Every check query in `directory`, with its header (what, severity, fix)."""
    checks = []
    for path in sorted(directory.glob("*.sql")):
        text = path.read_text()
        header: dict[str, list[str]] = {"what": [], "severity": [], "fix": []}
        key = "what"
        for line in text.splitlines():
            if not line.startswith("--"):
                break
            body = line[2:].strip()
            name, sep, rest = body.partition(":")
            if sep and name in ("severity", "fix"):
                key, body = name, rest.strip()
            header[key].append(body)
        severity = " ".join(header["severity"]).strip()
        if severity not in SEVERITIES:
            raise ValueError(f"{path}: the header needs '-- severity: error|warning|info', "
                             f"not {severity!r}")
        checks.append(Check(path.stem, severity, " ".join(header["what"]).strip(),
                            " ".join(header["fix"]).strip(), text))
    return checks


def check(con: duckdb.DuckDBPyConnection, *, summary: bool = True,
          directory: Path = CHECKS_DIR) -> list[Problem]:
    """Run every integrity check; a Problem per check that found rows.

    Errors and warnings are findings; with `summary`, info entries (records per source and
    status, entities per kind and status) are added. A check that cannot run (for example on
    a warehouse not migrated yet) is reported as an error. Works on a read-only connection
    and inside the caller's open transaction.
    """
    from sonoharvest.sources import SOURCE_NAMES

    problems = []
    for item in load_checks(directory):
        if item.severity == "info" and not summary:
            continue
        params = {"known_sources": list(SOURCE_NAMES)} if "$known_sources" in item.sql else None
        try:
            cursor = con.execute(item.sql, params)
            columns = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0]
            problems.append(Problem(item.name, "error", 1, f"the check could not run: {first}",
                                    "run any sonoharvest command (it migrates the warehouse) "
                                    "and check again"))
            continue
        if rows:
            problems.append(_problem(item, columns, rows))
    return sorted(problems, key=lambda p: (SEVERITIES.index(p.severity), p.check))


def has_errors(problems: list[Problem]) -> bool:
    return any(p.severity == "error" for p in problems)


def _problem(item: Check, columns: list[str], rows: list[tuple[Any, ...]]) -> Problem:
    examples = [{c: _text(v) for c, v in zip(columns, row, strict=True)} for row in rows[:5]]
    if item.severity == "info" and columns[-1] == "n":
        parts = [f"{' '.join(_text(v) for v in row[:-1])}: {row[-1]}" for row in rows]
        return Problem(item.name, "info", int(sum(row[-1] for row in rows)),
                       f"{item.what} {'; '.join(parts)}", item.fix, examples)
    shown = "; ".join(", ".join(f"{k}={v}" for k, v in ex.items()) for ex in examples[:3])
    more = f" and {len(rows) - 3} more" if len(rows) > 3 else ""
    title = item.what.split(". ")[0].rstrip(".")
    return Problem(item.name, item.severity, len(rows),
                   f"{title}: {len(rows)} found, e.g. {shown}{more}.", item.fix, examples)


# --- helpers ---------------------------------------------------------------------------------

def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND NOT temporary ORDER BY table_name").fetchall()]


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM {_ident(table)}").fetchone()[0])


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _sqlite_counts(db: sqlite3.Connection) -> dict[str, int]:
    names = [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name").fetchall()]
    return {n: int(db.execute(f"SELECT count(*) FROM {_ident(n)}").fetchone()[0])
            for n in names}


def _sqlite_copy(source: Path, target: Path) -> None:
    """Copy one SQLite database onto another (new or live) with the online backup API."""
    with _sqlite(source) as src, _sqlite(target) as dst:
        src.backup(dst)


def _sqlite_clear(path: Path) -> None:
    """Empty a live SQLite database (the backup had no curation store)."""
    with _sqlite(path) as db:
        db.execute("BEGIN IMMEDIATE")
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                  "AND name NOT LIKE 'sqlite_%'").fetchall():
            db.execute(f"DELETE FROM {_ident(name)}")
        db.execute("COMMIT")


@contextlib.contextmanager
def _sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(str(path), timeout=15, isolation_level=None)
    try:
        yield db
    finally:
        db.close()


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
