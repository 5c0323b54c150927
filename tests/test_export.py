"""Exports: latest + snapshot Parquet and CSV, Croissant JSON-LD, schemas as documented,
atomic writes, idempotence. A small warehouse is built through the public warehouse functions;
one slow test checks the offline demo's exports."""

from __future__ import annotations

import csv
import json
import logging
import re
import shutil
import socket
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sonoharvest import croissant, export, pipeline, warehouse
from sonoharvest.entity_facts import facts_hash
from sonoharvest.records import RawItem, Record
from sonoharvest.settings import REPO_ROOT, Settings

FIXTURES = Path(__file__).parent / "fixtures" / "rubrics"
DOCS = REPO_ROOT / "docs" / "exports.md"
NAMES = ["datasets", "models", "records", "score_history"]
# mlcroissant warns about recommended properties a source may not give; anything else fails.
ALLOWED_WARNINGS = re.compile(r'Property "\S+/(version|citeAs|datePublished|license)" is '
                              r"recommended, but does not exist\.")


# --- a small warehouse -----------------------------------------------------------------------

def facts_of(fixture: str, **changes) -> dict:
    return {**json.loads((FIXTURES / f"{fixture}.json").read_text())["facts"], **changes}


def record(source: str, source_id: str, title: str, kind: str = "dataset", **fields):
    rec = Record(source=source, source_id=source_id, kind_hint=kind, title=title, **fields)
    return RawItem(kind, {"id": source_id, "title": title}), rec


def build_small_warehouse(con) -> None:
    """Two datasets (one with a copy), one withdrawn dataset, one model, a lone record."""
    warehouse.save_batch(con, "zenodo", [
        record("zenodo", "1", "Fetal head circumference challenge data",
               url="https://zenodo.org/records/1", doi="10.5281/zenodo.1", license="cc-by-4.0"),
        record("zenodo", "9", "Ultrasonic flow meter calibration", kind="other",
               url="https://zenodo.org/records/9"),
    ], run_id="r1")
    warehouse.save_batch(con, "kaggle", [
        record("kaggle", "datasets/a/fetal-hc", "Fetal HC, re-upload",
               url="https://www.kaggle.com/datasets/a/fetal-hc",
               description='Comma, "quotes"\nand a new line; ünïcödé'),
    ], run_id="r1")
    warehouse.save_batch(con, "huggingface", [
        record("huggingface", "models/lab/unet", "Fetal head U-Net", kind="model",
               url="https://huggingface.co/lab/unet"),
        record("huggingface", "datasets/lab/gone", "Withdrawn thyroid set",
               url="https://huggingface.co/datasets/lab/gone"),
    ], run_id="r1")
    warehouse.save_batch(con, "huggingface", [], gone=["datasets/lab/gone"], run_id="r2")
    digests = dict(((s, i), h) for s, i, h in con.execute(
        "SELECT source, source_id, content_hash FROM source_records").fetchall())
    warehouse.save_classifications(con, [
        (s, i, h, 1, 0.9 if i != "9" else 0.02, i != "9", "likely" if i != "9" else "unlikely",
         False, "other" if i == "9" else ("model" if "models/" in i else "dataset"),
         ["fetal/obstetric"], ["segmentation"], {}) for (s, i), h in digests.items()])
    entities = {
        "e-open": facts_of(
            "dataset_challenge_zenodo", name="Fetal head circumference challenge data",
            description='Comma, "quotes"\nand a new line; ünïcödé',
            primary_url="https://zenodo.org/records/1",
            urls=["https://zenodo.org/records/1", "https://www.kaggle.com/datasets/a/fetal-hc"],
            source_ids=["zenodo:1", "kaggle:datasets/a/fetal-hc"], sources=["kaggle", "zenodo"],
            used_by=["e-model"]),
        "e-request": facts_of("dataset_on_request", description=""),
        "e-gone": facts_of("dataset_open_descriptor", status="withdrawn",
                           license="research-only", access="unknown", papers=[],
                           created_at=None, updated_at=None),
        "e-model": facts_of("model_hf_card", datasets=["e-open"]),
    }
    rows = [(eid, f["kind"], f.get("status", "active"), None, f"test:{eid}", f["name"],
             json.dumps(f), facts_hash(f)) for eid, f in entities.items()]
    members = [("zenodo", "1", "e-open", "primary", "primary", "test"),
               ("kaggle", "datasets/a/fetal-hc", "e-open", "copy", "identifier", "test"),
               ("huggingface", "models/lab/unet", "e-model", "primary", "primary", "test"),
               ("huggingface", "datasets/lab/gone", "e-gone", "primary", "primary", "test")]
    links = [("e-model", "e-open", "uses_dataset", "test")]
    warehouse.save_resolution(con, rows, members, links, {})
    criteria = json.dumps([{"id": "licence", "weight": 10.0, "credit": 1.0, "points": 10.0,
                            "evidence": "license = 'CC-BY-4.0'"}])
    warehouse.save_scores(con, [
        (eid, "sonomqs" if eid == "e-model" else "sonodqs", 1, "h1", facts_hash(f), score,
         tier, criteria) for (eid, f), (score, tier) in
        zip(entities.items(), [(71.5, "Gold"), (20.0, "Steel"), (40.0, "Bronze"),
                               (55.0, "Silver")], strict=True)], run_id="r2")


@pytest.fixture
def small(con):
    build_small_warehouse(con)
    return con


@pytest.fixture
def out(tmp_path) -> Path:
    return tmp_path / "exports"


# --- helpers ---------------------------------------------------------------------------------

@contextmanager
def no_network():
    """Any attempt to open a connection fails (validation must work offline)."""
    def refuse(*args, **kwargs):
        raise OSError("network disabled in tests")

    saved = socket.socket.connect, socket.create_connection, socket.getaddrinfo
    socket.socket.connect = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
    try:
        yield
    finally:
        socket.socket.connect, socket.create_connection, socket.getaddrinfo = saved


def croissant_issues(doc: dict) -> tuple[set[str], set[str]]:
    """mlcroissant's (errors, warnings) for a document, offline."""
    mlc = pytest.importorskip("mlcroissant", reason="Croissant validation needs the dev extra")
    logging.getLogger("absl").setLevel(logging.ERROR)
    with no_network():
        try:
            dataset = mlc.Dataset(jsonld=doc)
        except mlc.ValidationError as exc:
            return {str(exc)}, set()
    issues = dataset.metadata.ctx.issues
    return set(issues.errors), set(issues.warnings)


def spec_problems(doc: dict) -> list[str]:
    """Croissant 1.0 rules mlcroissant does not check: the required dataset properties."""
    problems = [f"missing {key}" for key in ("@context", "@type", "conformsTo", "name",
                                               "description", "url") if not doc.get(key)]
    if doc.get("@type") != "sc:Dataset":
        problems.append("@type must be sc:Dataset")
    if doc.get("conformsTo") != croissant.CONFORMS_TO:
        problems.append("conformsTo")
    context = doc.get("@context", {})
    if context.get("@vocab") != "https://schema.org/" or \
            context.get("cr") != "http://mlcommons.org/croissant/":
        problems.append("@context is not the Croissant context")
    for key in ("datePublished", "dateModified"):
        if key in doc:
            try:
                datetime.fromisoformat(doc[key])
            except ValueError:
                problems.append(f"{key} is not ISO 8601")
    license_ = doc.get("license")
    if isinstance(license_, str) and not license_.startswith("https://spdx.org/licenses/"):
        problems.append("license")
    return problems


def assert_valid_croissant(folder: Path) -> int:
    files = sorted(p for p in folder.glob("*.json") if not p.name.startswith("."))
    for path in files:
        doc = json.loads(path.read_text(encoding="utf-8"))
        errors, warnings = croissant_issues(doc)
        assert errors == set(), (path.name, errors)
        assert all(ALLOWED_WARNINGS.search(w) for w in warnings), (path.name, warnings)
        assert spec_problems(doc) == [], (path.name, spec_problems(doc))
    return len(files)


def documented_columns(name: str) -> list[tuple[str, str]]:
    """(column, type) rows of the export's table in docs/exports.md, in order."""
    text = DOCS.read_text(encoding="utf-8")
    sections = re.split(r"^### ", text, flags=re.M)
    section = next(s for s in sections if f"`{name}.parquet`" in s.splitlines()[0])
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if name in ("datasets", "models") and cells[2] not in ("both", name):
            continue
        rows.append((cells[0].strip("`"), cells[1]))
    return rows


def assert_documented(schema: pa.Schema, name: str) -> None:
    """Columns in the documented order, each of the documented type (a JSON column reads as
    a plain string with pyarrow < 19, which has no JSON type)."""
    documented = documented_columns(name)
    assert [f.name for f in schema] == [column for column, _ in documented]
    for field, (_, documented_type) in zip(schema, documented, strict=True):
        actual = arrow_type(field.type)
        assert actual == documented_type or (documented_type, actual) == ("json", "string"), \
            (field.name, actual, documented_type)


def arrow_type(t: pa.DataType) -> str:
    if pa.types.is_list(t):
        return f"list<{arrow_type(t.value_type)}>"
    if pa.types.is_timestamp(t):
        return f"timestamp[{t.unit}, {t.tz}]"
    if isinstance(t, pa.BaseExtensionType) and t.extension_name == "arrow.json":
        return "json"
    return str(t)


def csv_value(value, t: pa.DataType):
    """A Parquet value as export.write_csv writes it, parsed back for comparison."""
    if value is None:          # a NULL string and an empty one both read back as ""
        return "" if pa.types.is_string(t) else None
    if pa.types.is_list(t):
        return value
    if pa.types.is_timestamp(t):
        return value.astimezone(UTC)
    if isinstance(t, pa.BaseExtensionType) or pa.types.is_floating(t) or pa.types.is_integer(t):
        return json.loads(value) if isinstance(value, str) else value
    return value


def parse_csv_cell(text: str, t: pa.DataType):
    if text == "" and not pa.types.is_string(t):
        return None
    if pa.types.is_list(t):
        return json.loads(text)
    if pa.types.is_timestamp(t):
        return datetime.fromisoformat(text)
    if pa.types.is_boolean(t):
        return {"true": True, "false": False}[text]
    if pa.types.is_integer(t):
        return int(text)
    if pa.types.is_floating(t):
        return float(text)
    if isinstance(t, pa.BaseExtensionType):
        return json.loads(text)
    return text


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}


# --- files, snapshots and manifest -----------------------------------------------------------

def test_export_writes_latest_snapshot_csv_and_croissant(small, out):
    counts = export.export_all(small, out, run_id="r2")
    assert counts == {"datasets": 3, "models": 1, "records": 5, "score_history": 4}
    snapshot = out / "snapshots" / "r2"
    for folder in (out, snapshot):
        for name in NAMES:
            assert (folder / f"{name}.parquet").is_file() and (folder / f"{name}.csv").is_file()
        assert sorted(p.name for p in (folder / "croissant").glob("*.json")
                      if not p.name.startswith(".")) == ["e-gone.json", "e-open.json",
                                                         "e-request.json"]
    for name in NAMES:              # latest is a copy of the newest snapshot
        for suffix in ("parquet", "csv"):
            assert (out / f"{name}.{suffix}").read_bytes() == \
                (snapshot / f"{name}.{suffix}").read_bytes()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest == json.loads((snapshot / "manifest.json").read_text())
    assert manifest["snapshot"] == "r2" and manifest["run_id"] == "r2"
    assert manifest["files"]["records.csv"] == {"rows": 5, "schema_version": 3}
    assert manifest["croissant"] == {"conforms_to": croissant.CONFORMS_TO, "files": 3}
    leftovers = [p for p in out.rglob("*") if p.name.endswith((".partial", ".old"))]
    assert leftovers == []


def test_snapshot_names_default_to_utc_time_and_reject_unsafe_run_ids(small, out):
    export.export_all(small, out)
    (name,) = [p.name for p in (out / "snapshots").iterdir()]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{6}Z", name)
    at = datetime(2026, 3, 1, 6, 5, 4, tzinfo=UTC)
    assert export.snapshot_name(at=at) == "2026-03-01T060504Z"
    assert export.snapshot_name("20260301T060504-ab12cd") == "20260301T060504-ab12cd"
    for bad in ("../x", ".hidden", "a/b", "", "x" * 200):
        with pytest.raises(ValueError, match="snapshot folder"):
            export.export_all(small, out, run_id=bad)
    assert [p.name for p in (out / "snapshots").iterdir()] == [name]


def test_old_snapshots_are_kept_and_pruned_only_on_request(small, out):
    for run in ("r1", "r2", "r3"):
        export.export_all(small, out, run_id=run)
    (out / "snapshots" / "mine").mkdir()                   # not ours: never pruned
    assert {p.name for p in (out / "snapshots").iterdir()} == {"r1", "r2", "r3", "mine"}
    deleted = export.prune_snapshots(out, keep=1)
    assert sorted(p.name for p in deleted) == ["r1", "r2"]
    assert {p.name for p in (out / "snapshots").iterdir()} == {"r3", "mine"}
    with pytest.raises(ValueError):
        export.prune_snapshots(out, keep=0)


# --- schemas ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_parquet_columns_types_and_version_are_as_documented(small, out, name):
    export.export_all(small, out, run_id="r2")
    path = out / f"{name}.parquet"
    schema = pq.read_schema(path)
    assert_documented(schema, name)
    version = str(export.schema_version(name)).encode()
    assert schema.metadata[b"schema_version"] == version
    assert duckdb.sql(f"SELECT value FROM parquet_kv_metadata('{path}') "
                      "WHERE key = 'schema_version'").fetchall()[0][0] == version
    columns = duckdb.sql(f"SELECT * FROM '{path}'").columns
    assert columns == [f.name for f in schema]


def test_exported_rows_carry_the_warehouse_content(small, out):
    export.export_all(small, out)
    datasets = {r["entity_id"]: r for r in pq.read_table(out / "datasets.parquet").to_pylist()}
    assert set(datasets) == {"e-open", "e-request", "e-gone"}
    assert datasets["e-open"]["tier"] == "Gold" and datasets["e-gone"]["status"] == "withdrawn"
    assert datasets["e-open"]["used_by_models"] == ["e-model"]
    records = {r["record_key"]: r for r in pq.read_table(out / "records.parquet").to_pylist()}
    assert records["kaggle:datasets/a/fetal-hc"]["entity_role"] == "copy"
    assert records["zenodo:9"]["entity_id"] is None
    assert records["huggingface:datasets/lab/gone"]["status"] == "withdrawn"


@pytest.mark.parametrize("name", NAMES)
def test_csv_has_the_same_columns_and_rows(small, out, name):
    export.export_all(small, out, run_id="r2")
    table = pq.read_table(out / f"{name}.parquet")
    header, *rows = read_csv(out / f"{name}.csv")
    assert header == table.column_names
    assert len(rows) == table.num_rows
    types = [f.type for f in table.schema]
    for expected, got in zip(table.to_pylist(), rows, strict=True):
        parsed = [parse_csv_cell(cell, t) for cell, t in zip(got, types, strict=True)]
        wanted = [csv_value(expected[c], t) for c, t in zip(header, types, strict=True)]
        assert parsed == wanted
    raw = (out / f"{name}.csv").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    raw.decode("utf-8")
    counted = duckdb.sql(f"SELECT count(*) FROM read_csv('{out / (name + '.csv')}', "
                         "header = true, all_varchar = true)").fetchall()[0][0]
    assert counted == table.num_rows


def test_csv_text_is_quoted_and_utf8(small, out):
    export.export_all(small, out)
    text = (out / "datasets.csv").read_text(encoding="utf-8")
    assert '"Comma, ""quotes""\nand a new line; ünïcödé"' in text
    assert '"[""fetal/obstetric""]"' in text


# --- atomicity -------------------------------------------------------------------------------

def test_a_failed_copy_leaves_the_previous_latest_file_and_no_partial(small, out, monkeypatch):
    export.export_all(small, out, run_id="r1")
    before = (out / "records.parquet").read_bytes()
    real_copy = shutil.copyfile

    def half_then_fail(source, target):
        if Path(target).name == ".records.parquet.partial":
            Path(target).write_bytes(Path(source).read_bytes()[:100])   # half written...
            raise OSError("disk full")
        return real_copy(source, target)

    monkeypatch.setattr(export.shutil, "copyfile", half_then_fail)
    warehouse.save_batch(small, "zenodo", [record("zenodo", "5", "New breast set")])
    with pytest.raises(OSError, match="disk full"):
        export.export_all(small, out, run_id="r2")
    assert (out / "records.parquet").read_bytes() == before
    assert pq.read_table(out / "records.parquet").num_rows == 5
    assert not list(out.rglob("*.partial"))
    # The snapshot itself was complete before publishing started.
    assert pq.read_table(out / "snapshots" / "r2" / "records.parquet").num_rows == 6


def test_a_failed_query_leaves_no_snapshot_and_no_partial(small, out, monkeypatch, tmp_path):
    export.export_all(small, out, run_id="r1")
    before = tree(out)
    broken = tmp_path / "export_sql"
    shutil.copytree(export.EXPORTS_DIR, broken)
    # Fails mid-way: the error comes after more than a row group of rows was produced.
    (broken / "records.sql").write_text(
        "-- records.parquet, schema version 3: broken on purpose\n"
        "SELECT CASE WHEN i < 300000 THEN i ELSE error('boom') END AS i FROM range(400000) t(i)")
    monkeypatch.setattr(export, "EXPORTS_DIR", broken)
    with pytest.raises(duckdb.Error, match="boom"):
        export.export_all(small, out, run_id="r2")
    assert tree(out) == before
    assert sorted(p.name for p in (out / "snapshots").iterdir()) == ["r1"]
    with pytest.raises(duckdb.Error, match="boom"):
        export.write_parquet(small, "records", out)
    assert (out / "records.parquet").read_bytes() == before["records.parquet"]
    assert not list(out.rglob("*.partial"))


# --- idempotence -----------------------------------------------------------------------------

def test_reexport_is_idempotent(small, out):
    export.export_all(small, out, run_id="r2")
    first = tree(out)
    times = {p: p.stat().st_mtime_ns for p in (out / "croissant").glob("*.json")}
    tables = {n: pq.read_table(out / f"{n}.parquet") for n in NAMES}
    assert export.export_all(small, out, run_id="r2") == {
        n: t.num_rows for n, t in tables.items()}
    assert all(pq.read_table(out / f"{n}.parquet").equals(t) for n, t in tables.items())
    again = tree(out)
    assert again.keys() == first.keys()
    assert {k: v for k, v in again.items() if not k.endswith(".parquet")} == \
        {k: v for k, v in first.items() if not k.endswith(".parquet")}
    assert {p: p.stat().st_mtime_ns for p in (out / "croissant").glob("*.json")} == times
    assert sorted(p.name for p in (out / "snapshots").iterdir()) == ["r2"]


# --- Croissant -------------------------------------------------------------------------------

def test_croissant_documents_validate_with_mlcroissant(small, out):
    export.export_all(small, out, run_id="r2")
    assert assert_valid_croissant(out / "croissant") == 3
    assert assert_valid_croissant(out / "snapshots" / "r2" / "croissant") == 3


def test_croissant_maps_a_dataset_row(small, out):
    export.export_all(small, out)
    rows = {r["entity_id"]: r for r in pq.read_table(out / "datasets.parquet").to_pylist()}
    doc = croissant.dataset_jsonld(rows["e-open"])
    assert json.loads((out / "croissant" / "e-open.json").read_text()) == doc
    assert doc["@context"] == croissant.CONTEXT and doc["@type"] == "sc:Dataset"
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.0"
    assert doc["name"] == "Fetal head circumference challenge data"
    assert doc["url"] == "https://zenodo.org/records/1"
    assert doc["license"] == "https://spdx.org/licenses/CC-BY-4.0.html"
    assert doc["identifier"] == "https://doi.org/10.5281/zenodo.0000002"
    assert doc["keywords"] == ["fetal/obstetric", "segmentation", "ultrasound"]
    assert doc["citeAs"] == "https://doi.org/10.1371/journal.pone.0000002"
    assert doc["sameAs"] == ["https://www.kaggle.com/datasets/a/fetal-hc"]
    assert doc["datePublished"] == "2018-07-31T00:00:00Z"
    assert doc["dateModified"] == "2020-01-15T00:00:00Z"
    assert doc["isAccessibleForFree"] is True and doc["conditionsOfAccess"].startswith("Open")
    assert "distribution" not in doc and "recordSet" not in doc     # a landing page
    request = croissant.dataset_jsonld(rows["e-request"])
    assert request["url"] == "https://doi.org/10.1000/example.0004"      # the paper
    assert "isAccessibleForFree" not in request and "license" not in request
    assert request["conditionsOfAccess"].startswith("On request")
    assert "no description" in request["description"]
    gone = croissant.dataset_jsonld(rows["e-gone"])
    assert gone["creativeWorkStatus"] == "withdrawn"
    assert gone["license"] == {"@type": "sc:CreativeWork", "name": "research-only"}
    assert not {"conditionsOfAccess", "citeAs", "datePublished"} & set(gone)


def test_croissant_licences_papers_and_downloads():
    assert croissant.license_value("MIT") == "https://spdx.org/licenses/MIT.html"
    assert croissant.license_value("MIT OR Apache-2.0") == {
        "@type": "sc:CreativeWork", "name": "MIT OR Apache-2.0",
        "description": "SPDX license expression"}
    assert croissant.license_value("CC-BY") == {"@type": "sc:CreativeWork", "name": "CC-BY"}
    assert croissant.license_value(None) is None and croissant.license_value("unknown") is None
    assert croissant.paper_doi(["arxiv:2206.06657", "doi:10.1234/ABC"]) == "10.1234/abc"
    assert croissant.paper_doi(["arxiv:2206.06657v2"]) == "10.48550/arXiv.2206.06657"
    assert croissant.paper_doi(["pmid:123"]) is None
    assert croissant.download_file("https://zenodo.org/records/1") is None
    assert croissant.download_file("https://github.com/a/b") is None
    assert croissant.download_file("https://zenodo.org/records/1/files/HC%2018.tar.gz") == (
        "HC 18.tar.gz", "application/x-gzip")
    assert croissant.download_file("ftp://x.org/data.zip") is None


def test_a_direct_download_with_a_checksum_becomes_a_valid_file_object():
    row = {"entity_id": "e-zip", "name": "Carotid B-mode set", "description": "Images.",
           "primary_url": "https://example.org/data/carotid.zip",
           "urls": ["https://example.org/data/carotid.zip"], "anatomy": ["vascular"],
           "tasks": [], "license": "CC0-1.0", "access": "open download", "status": "active",
           "created_at": datetime(2024, 5, 1, tzinfo=UTC), "sha256": "ab" * 32,
           "content_size": 1234}
    doc = croissant.dataset_jsonld(row)
    assert doc["distribution"] == [{
        "@type": "cr:FileObject", "@id": "carotid.zip", "name": "carotid.zip",
        "contentUrl": "https://example.org/data/carotid.zip",
        "encodingFormat": "application/zip", "sha256": "ab" * 32, "contentSize": "1234 B"}]
    assert croissant_issues(doc)[0] == set()
    assert spec_problems(doc) == []
    # Without a checksum a validator would reject the FileObject: metadata only.
    del row["sha256"]
    unchecked = croissant.dataset_jsonld(row)
    assert "distribution" not in unchecked and croissant_issues(unchecked)[0] == set()


def test_croissant_folder_removes_only_files_it_wrote(tmp_path):
    folder = tmp_path / "croissant"
    folder.mkdir()
    (folder / "notes.json").write_text("{}")           # a curator's file
    (folder / "README.txt").write_text("mine")
    row = {"entity_id": "e-a", "name": "A", "status": "active"}
    assert export.write_croissant([row, {**row, "entity_id": "e-b"}], folder) == 2
    assert export.write_croissant([row], folder) == 1
    names = sorted(p.name for p in folder.iterdir())
    assert names == [".sonoharvest-written.json", "README.txt", "e-a.json", "notes.json"]
    assert json.loads((folder / ".sonoharvest-written.json").read_text()) == ["e-a.json"]
    (folder / "e-b.json").write_text("{}")              # same name, but not written by us now
    export.write_croissant([row], folder)
    assert (folder / "e-b.json").exists()


# --- the demo --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("demo")
    outcome = pipeline.run(Settings(home=home), demo=True)
    assert outcome.status == "ok", outcome.errors
    return home


@pytest.mark.slow
def test_demo_exports_latest_snapshot_csv_and_valid_croissant(demo_home):
    out = demo_home / "exports"
    (snapshot,) = (out / "snapshots").iterdir()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["snapshot"] == snapshot.name
    # Named after the run when the pipeline passes its id, else after the UTC time.
    assert snapshot.name == manifest["run_id"] or \
        re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{6}Z", snapshot.name)
    for name in NAMES:
        table = pq.read_table(out / f"{name}.parquet")
        assert_documented(table.schema, name)
        assert len(read_csv(out / f"{name}.csv")) == table.num_rows + 1
        assert manifest["files"][f"{name}.parquet"]["rows"] == table.num_rows
    datasets = pq.read_table(out / "datasets.parquet").num_rows
    assert datasets >= 50
    assert assert_valid_croissant(out / "croissant") == datasets
    assert assert_valid_croissant(snapshot / "croissant") == datasets
