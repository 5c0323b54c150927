"""The `sonoharvest` command line."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import duckdb
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from sonoharvest import __version__, pipeline, warehouse
from sonoharvest.settings import REPO_ROOT, Settings
from sonoharvest.sources import SOURCE_NAMES

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")

log = logging.getLogger("sonoharvest")
app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Harvest, classify, score and export a catalogue of ultrasound datasets "
                       "and models.")
# Tables stay readable when the output goes to a file or a pipe.
out = Console(width=None if sys.stdout.isatty() else 180)


class _State:
    verbose = False
    quiet = False


def _version(value: bool) -> None:
    if value:
        out.print(f"sonoharvest {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Warnings and errors only.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version.")] = False,
) -> None:
    _State.verbose, _State.quiet = verbose, quiet


def _fail(message: str, code: int = 1) -> None:
    Console(stderr=True).print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def _setup() -> Iterator[tuple[Settings, Console]]:
    """Load settings and logging; turn expected failures into one-line messages."""
    from sonoharvest.logs import setup_logging

    try:
        settings = Settings()
    except (ValidationError, FileNotFoundError, ValueError) as exc:
        _fail(f"invalid configuration: {_first_line(exc)}")
    console = setup_logging(_State.verbose, _State.quiet, settings.secrets())
    try:
        yield settings, console
    except warehouse.WarehouseBusy as exc:
        _fail(str(exc))
    except (FileNotFoundError, ValueError) as exc:
        _fail(_first_line(exc))


@contextmanager
def _opened() -> Iterator[tuple[Settings, Console, duckdb.DuckDBPyConnection]]:
    """Settings, logging and the warehouse, closed again whatever happens."""
    with _setup() as (settings, console):
        con = warehouse.open_warehouse(settings.db_path)
        try:
            yield settings, console, con
        finally:
            con.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return " ".join(text.splitlines()[:2]) if text else type(exc).__name__


def _check_sources(names: list[str] | None) -> list[str]:
    unknown = [n for n in names or [] if n not in SOURCE_NAMES]
    if unknown:
        _fail(f"unknown source {', '.join(unknown)}; choose from {', '.join(SOURCE_NAMES)}", 2)
    return list(names or SOURCE_NAMES)


@contextmanager
def _progress(console: Console, names: list[str]) -> Iterator[Callable[[str, int], None]]:
    columns = (SpinnerColumn(), TextColumn("{task.description:<12}"),
               TextColumn("{task.completed:>6} items"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True,
                  disable=_State.quiet or not console.is_terminal) as progress:
        tasks = {name: progress.add_task(name, total=None) for name in names}
        yield lambda name, n: progress.advance(tasks[name], n)


SourceOpt = Annotated[list[str] | None, typer.Option(
    "--source", "-s", help=f"Only these sources ({', '.join(SOURCE_NAMES)}); repeatable.")]
FullOpt = Annotated[bool, typer.Option(
    "--full", help="Ignore cursors and sweep everything; marks vanished records withdrawn.")]
DemoOpt = Annotated[bool, typer.Option(
    "--demo", help="Use the bundled offline demo APIs instead of the network.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _run(command: str, source: list[str] | None, full: bool, demo: bool, export: bool) -> None:
    names = _check_sources(source)
    with _setup() as (settings, console):
        stages = [*names, "classify"] if export else names
        with _progress(console, stages) as advance:
            outcome = pipeline.run(settings, names=names, full=full, demo=demo, command=command,
                                   export_results=export, classify=export, on_batch=advance,
                                   on_classified=lambda n: advance("classify", n))
        _print_outcome(outcome, settings)
        raise typer.Exit(outcome.exit_code)


@app.command()
def run(source: SourceOpt = None, full: FullOpt = False, demo: DemoOpt = False) -> None:
    """The weekly job: harvest every source, classify relevance, then export."""
    _run("run", source, full, demo, export=True)


@app.command()
def harvest(source: SourceOpt = None, full: FullOpt = False, demo: DemoOpt = False) -> None:
    """Harvest sources into the warehouse (no export)."""
    _run("harvest", source, full, demo, export=False)


@app.command()
def remap(source: SourceOpt = None) -> None:
    """Map the stored raw payloads again (after a mapping change); no network needed."""
    from sonoharvest.harvest import remap as remap_source
    from sonoharvest.sources import get_source

    names = _check_sources(source)
    with _opened() as (_, _, con):
        for name in names:
            counts = remap_source(con, get_source(name))
            out.print(f"{name}: {counts['remapped']} records re-mapped, "
                      f"{counts['changed']} changed, {counts['quarantined']} quarantined")


@app.command()
def classify(
    input_path: Annotated[Path | None, typer.Option(
        "--input", "-i",
        help="JSON lines to score ('-' for stdin) instead of the warehouse.")] = None,
    output_path: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Where to write the scores (default: stdout).")] = None,
) -> None:
    """Classify relevance, kind, anatomy and tasks: the warehouse's new records, or a file.

    A file holds one JSON object a line: {"id", "title", "description"?, "keywords"?,
    "source"?, "url"?}; each output line is {"id", "relevance", "relevant", "kind",
    "anatomy", "tasks"}. A bad line is reported on stderr and skipped.
    """
    from sonoharvest import classify as classifying

    with _opened() as (settings, console, con):
        if input_path is None:
            with _progress(console, ["classify"]) as advance:
                counts = classifying.classify_pending(
                    con, settings, progress=lambda n: advance("classify", n))
            out.print(", ".join(f"{k}: {v}" for k, v in counts.items()))
            return
        source = sys.stdin.buffer if str(input_path) == "-" else input_path.open("rb")
        sink = sys.stdout if output_path is None else output_path.open("w", encoding="utf-8")
        with source, sink:
            done, rejected = classifying.classify_stream(con, settings, source, sink, sys.stderr)
    Console(stderr=True).print(f"classified {done} records; {rejected} lines rejected")
    if rejected and not done:
        raise typer.Exit(1)


relevance_app = typer.Typer(help="Train, evaluate and list relevance models.",
                            no_args_is_help=True)
app.add_typer(relevance_app, name="relevance")


@relevance_app.command("train")
def relevance_train(as_json: JsonOpt = False) -> None:
    """Retrain on the labelled examples; keeps the previous model if the new one is worse."""
    from sonoharvest import classify as classifying
    from sonoharvest.relevance import load_config

    with _opened() as (settings, _, con):
        cfg = load_config(settings.rubrics_dir)
        result = classifying.train(con, settings, cfg, classifying.make_embedder(cfg))
    if as_json:
        out.print_json(json.dumps({"version": result.version, "active": result.active,
                                   "note": result.note, "metrics": result.metrics}))
        return
    _print_metrics(f"Relevance model v{result.version}", result.metrics)
    out.print(("[green]active[/green]: " if result.active else "[yellow]not used[/yellow]: ")
              + result.note)


@relevance_app.command("eval")
def relevance_eval(as_json: JsonOpt = False) -> None:
    """Cross-validated metrics of the current configuration on the labelled set (no changes)."""
    from sonoharvest import classify as classifying
    from sonoharvest.relevance import load_config

    with _opened() as (settings, _, con):
        cfg = load_config(settings.rubrics_dir)
        metrics = classifying.evaluate(con, settings, cfg, classifying.make_embedder(cfg))
    if as_json:
        out.print_json(json.dumps(metrics))
        return
    _print_metrics("Cross-validated relevance metrics", metrics)
    table = Table("tags (on relevant examples)", "precision", "recall", "F1")
    for name, m in metrics["tags"].items():
        table.add_row(name, *(f"{m[k]:.3f}" for k in ("precision", "recall", "f1")))
    out.print(table)


@relevance_app.command("models")
def relevance_models() -> None:
    """Every trained model with its metrics; the active one is marked."""
    with _opened() as (_, _, con):
        models = warehouse.relevance_models(con)
    table = Table("version", "trained (UTC)", "examples", "precision", "recall", "F1",
                  "WSS@95", "active", "note", title="Relevance models")
    for m in models:
        metrics = m["metrics"]
        table.add_row(str(m["version"]), f"{m['created_at']:%Y-%m-%d %H:%M}", str(m["examples"]),
                      *(f"{metrics[k]:.3f}" for k in ("precision", "recall", "f1",
                                                      "wss_at_recall")),
                      "yes" if m["active"] else "", m["note"] or "")
    out.print(table)


def _print_metrics(title: str, metrics: dict[str, Any]) -> None:
    table = Table("metric", "value", title=title)
    table.add_row("labelled examples (relevant)", f"{metrics['examples']} ({metrics['positives']})")
    table.add_row("precision at the review cut-off", f"{metrics['precision']:.3f}")
    table.add_row("recall at the review cut-off", f"{metrics['recall']:.3f}")
    table.add_row("F1", f"{metrics['f1']:.3f}")
    table.add_row("work saved at that recall (WSS)", f"{metrics['wss_at_recall']:.3f}")
    table.add_row("kind accuracy (text only)", f"{metrics['kind_accuracy']:.3f}")
    table.add_row("band cut-offs (review / likely)",
                  f"{metrics['thresholds']['review']:.3f} / {metrics['thresholds']['likely']:.3f}")
    out.print(table)


@app.command()
def resolve(
    evaluate: Annotated[Path | None, typer.Option(
        "--eval", help="Also measure merging on labelled pairs (JSON lines a, b, same).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Merge the copies of each resource into entities (stable ids, links, facts)."""
    from sonoharvest import entities

    with _opened() as (settings, console, con):
        pipeline.stage_apply_decisions(con, settings, "resolve")
        with _progress(console, ["resolve"]) as advance:
            counts = pipeline.stage_resolve(con, settings, lambda n: advance("resolve", n))
        metrics = entities.evaluate_pairs(con, evaluate) if evaluate else None
    if as_json:
        out.print_json(json.dumps({"counts": counts, "pairs": metrics}))
        return
    out.print(", ".join(f"{k}: {v}" for k, v in counts.items()))
    if metrics:
        table = Table("metric", "value", title=f"Merging, on the labelled pairs of {evaluate}")
        for key in ("pairs", "same", "precision", "recall", "f1", "false_merges",
                    "missed_merges", "ambiguous", "papers", "not_in_warehouse"):
            table.add_row(key.replace("_", " "), str(metrics[key]))
        out.print(table)
        for line in metrics["mistakes"]:
            out.print(f"  {escape(line)}", highlight=False)


@app.command()
def show(ref: Annotated[str, typer.Argument(
             help="An entity id, or a record key such as zenodo:1234567.")],
         as_json: JsonOpt = False) -> None:
    """One entity with all its copies, links, tags, licence, access and size."""
    from sonoharvest import entities
    from sonoharvest.entity_view import entity_document, render_entity

    with _opened() as (_, _, con):
        try:
            entity = entities.find_entity(con, ref)
        except entities.EntityNotFound as exc:
            _fail(str(exc))
        doc = entity_document(entity, warehouse.entity_members(con, entity["entity_id"]),
                              warehouse.entity_links_of(con, entity["entity_id"]))
    if as_json:
        out.print_json(json.dumps(doc, default=str))
    else:
        out.print(render_entity(doc))


CuratorOpt = Annotated[str, typer.Option("--by", help="Who decides (kept in the log).")]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (kept in the log).")]


@app.command()
def merge(into: Annotated[str, typer.Argument(help="The entity that stays.")],
          other: Annotated[str, typer.Argument(help="The entity merged into it.")],
          by: CuratorOpt = "curator", reason: ReasonOpt = "") -> None:
    """Merge two entities for good; later runs keep them together (until undone)."""
    from sonoharvest import entities

    with _opened() as (settings, _, con):
        try:
            counts = entities.merge(con, settings, into, other, who=by, reason=reason)
        except entities.EntityNotFound as exc:
            _fail(str(exc))
        out.print(f"merged {other} into {entities.find_entity(con, into)['entity_id']}; "
                  f"{counts['entities']} entities")


@app.command()
def split(record: Annotated[str, typer.Argument(help="The record key to take out.")],
          by: CuratorOpt = "curator", reason: ReasonOpt = "") -> None:
    """Take a record out of its entity for good; it becomes (or joins) another entity."""
    from sonoharvest import entities

    with _opened() as (settings, _, con):
        try:
            entities.split(con, settings, record, who=by, reason=reason)
        except entities.EntityNotFound as exc:
            _fail(str(exc))
        out.print(f"{record} now belongs to {entities.find_entity(con, record)['entity_id']}")


@app.command()
def links(
    days: Annotated[float, typer.Option(help="Re-check links last checked before this.")] = 7,
    demo: DemoOpt = False,
) -> None:
    """Check each entity's primary URL (politely); dead links are reported, never deleted."""
    with _opened() as (settings, console, con):
        with _progress(console, ["links"]) as advance:
            counts = pipeline.stage_links(con, settings, days=days, demo=demo,
                                          progress=lambda n: advance("links", n))
        out.print(", ".join(f"{k}: {v}" for k, v in counts.items()))
        dead = warehouse.dead_links(con)
    if dead:
        table = Table("entity", "url", "status", "checked", title="Dead links")
        for eid, url, status, checked in dead:
            table.add_row(eid, url, str(status), str(checked)[:10])
        out.print(table)


@app.command()
def landing(
    demo: DemoOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Read the landing pages of entities whose primary URL is a web page (robots.txt obeyed,
    paced, cached for refresh_days of rubrics/landing.yaml) and fold what they state into the
    facts; page values never replace what an API stated, differences are listed."""
    with _opened() as (settings, console, con):
        with _progress(console, ["landing"]) as advance:
            counts = pipeline.stage_landing(con, settings, demo=demo,
                                            progress=lambda n: advance("landing", n))
        conflicts = warehouse.landing_conflicts(con)
    if as_json:
        out.print_json(json.dumps({"counts": counts, "conflicts": conflicts}, default=str))
        return
    out.print(", ".join(f"{k}: {v}" for k, v in counts.items()))
    if conflicts:
        table = Table("entity", "field", "API says", "page says", "read from",
                      title="Where a landing page disagrees with the source APIs")
        for c in conflicts:
            table.add_row(c["entity_id"], c["field"], str(c["api"]), str(c["page"]), c["via"])
        out.print(table)


@app.command()
def score(everything: Annotated[bool, typer.Option(
              "--all", help="Rescore every entity (time-based criteria use today's date).")]
          = False) -> None:
    """Score entities whose facts or rubric changed (SonoDQS datasets, SonoMQS models)."""
    with _opened() as (settings, console, con), _progress(console, ["score"]) as advance:
        counts = pipeline.stage_score(con, settings, everything=everything,
                                      progress=lambda n: advance("score", n))
    out.print(", ".join(f"{k}: {v}" for k, v in counts.items()))


@app.command()
def explain(ref: Annotated[str, typer.Argument(
                help="An entity id, or a record key such as zenodo:1234567.")],
            as_json: JsonOpt = False) -> None:
    """Why an entity has its tier: every criterion with its evidence, and what would raise it."""
    from sonoharvest import entities, scoring
    from sonoharvest.entity_view import render_explanation

    with _opened() as (settings, _, con):
        try:
            doc = scoring.explain(con, settings, entities.find_entity(con, ref))
        except entities.EntityNotFound as exc:
            _fail(str(exc))
    if as_json:
        out.print_json(json.dumps(doc, default=str))
    else:
        out.print(render_explanation(doc))


@app.command()
def override(ref: Annotated[str, typer.Argument(help="An entity id or record key.")],
             tier: Annotated[str | None, typer.Option(
                 help="The tier to set (Diamond .. Steel).")] = None,
             clear: Annotated[bool, typer.Option("--clear", help="Remove the override.")] = False,
             by: CuratorOpt = "curator", reason: ReasonOpt = "") -> None:
    """Set a curator's tier for an entity (kept through rescoring, shown in the exports)."""
    from sonoharvest import entities, scoring

    if (tier is None) == (not clear):
        _fail("give either --tier TIER (with --reason) or --clear", 2)
    with _opened() as (_, _, con):
        try:
            entity = entities.find_entity(con, ref)
        except entities.EntityNotFound as exc:
            _fail(str(exc))
        scoring.override(con, entity["entity_id"], None if clear else tier.title(),
                         reason=reason, who=by)
    out.print(f"{entity['entity_id']}: " + ("override cleared" if clear else
                                            f"tier set to {tier.title()} by {by}"))


# A copy of ../shared/seed/paper_catalogue.csv (Alsharid et al. 2025, third-party transcription).
DEFAULT_SEED = REPO_ROOT / "rubrics" / "seed" / "paper_catalogue.csv"


@app.command()
def seed(csv_path: Annotated[Path, typer.Option(
             "--csv", help="The survey's catalogue (paper_catalogue.csv).")] = DEFAULT_SEED,
         as_json: JsonOpt = False) -> None:
    """Import the survey's 72 datasets, link them to entities, compare the tiers."""
    from sonoharvest import scoring

    with _opened() as (_, _, con):
        counts = scoring.import_seed(con, csv_path)
        result = scoring.seed_agreement(con)
    if as_json:
        out.print_json(json.dumps(result, default=str))
        return
    out.print(f"imported {counts['rows']} rows; {counts['linked']} linked to entities")
    _print_agreement(result)


def _print_agreement(result: dict[str, Any]) -> None:
    if not result.get("compared"):
        out.print("no linked seed row has an automatic tier yet (run `sonoharvest score`)")
        return
    out.print(f"automatic vs published SonoDQS tiers over {result['compared']} linked datasets: "
              f"exact {result['exact']:.0%}, within one tier {result['within_one']:.0%}, "
              f"Spearman rank correlation {result['spearman']}")
    from sonoharvest.rubrics import TIERS

    table = Table("published \\ automatic", *TIERS, title="Tier agreement")
    for name, row in zip(TIERS, result["confusion"], strict=True):
        table.add_row(name, *(str(n) if n else "." for n in row))
    out.print(table)


review_app = typer.Typer(help="The curator's review queue: list, decide, undo, log.",
                         no_args_is_help=True)
app.add_typer(review_app, name="review")

StatusOpt = Annotated[str, typer.Option(
    help="pending, accepted, rejected, postponed, or all.")]
FilterSource = Annotated[str | None, typer.Option("--source", help="Only items with a copy "
                                                  "from this source.")]
FilterKind = Annotated[str | None, typer.Option("--kind", help="dataset, model or other.")]
FilterAnatomy = Annotated[str | None, typer.Option("--anatomy", help="e.g. breast, cardiac.")]
FilterBand = Annotated[str | None, typer.Option("--band", help="likely, review or unlikely.")]
FilterNew = Annotated[bool, typer.Option("--new", help="Only items new since the last run.")]
ItemsArg = Annotated[list[str] | None, typer.Argument(help="Queue item ids (entity ids or "
                                                       "source:id of lone records).")]
AllOpt = Annotated[bool, typer.Option("--all", help="Every item matching the filters "
                                      "(bulk decision).")]
NotesOpt = Annotated[str, typer.Option("--notes", help="Free text kept in the log.")]
WhoOpt = Annotated[str | None, typer.Option("--by", help="Who decides (default "
                                            "$SONOHARVEST_CURATOR, then $USER).")]


@contextmanager
def _store() -> Iterator[Any]:
    from sonoharvest.curation import CurationError, CurationStore

    with _setup() as (settings, _):
        store = CurationStore.open(settings)
        try:
            yield store
        except CurationError as exc:
            _fail(str(exc))
        finally:
            store.close()


def _who(by: str | None) -> str:
    return by or os.environ.get("SONOHARVEST_CURATOR") or os.environ.get("USER") or ""


def _filters(status: str, source: str | None, kind: str | None, anatomy: str | None,
             band: str | None, new: bool) -> dict[str, Any]:
    return {"status": None if status == "all" else status, "source": source, "kind": kind,
            "anatomy": anatomy, "band": band, "new_only": new}


@review_app.command("list")
def review_list(status: StatusOpt = "pending", source: FilterSource = None,
                kind: FilterKind = None, anatomy: FilterAnatomy = None, band: FilterBand = None,
                new: FilterNew = False,
                limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
                as_json: JsonOpt = False) -> None:
    """The queue, most uncertain relevance first."""
    with _store() as store:
        items = store.items(**_filters(status, source, kind, anatomy, band, new))
        last = store.last_run()
    if as_json:
        out.print_json(json.dumps([{k: v for k, v in i.as_dict().items() if k != "detail"}
                                   for i in items[:limit]]))
        return
    table = Table("item", "kind", "name", "relevance", "band", "sources", "status",
                  title=f"Review queue: {len(items)} {status} (last run {last or 'none'})")
    for i in items[:limit]:
        flag = f" [yellow]({escape(i.flagged)})[/yellow]" if i.flagged else ""
        mark = " [green]new[/green]" if i.new else ""
        table.add_row(i.item_id, i.kind, escape(i.name[:60]) + flag + mark,
                      f"{i.relevance:.2f}" if i.relevance is not None else "-", i.band or "-",
                      ", ".join(i.sources), i.status)
    out.print(table)


@review_app.command("show")
def review_show(item: Annotated[str, typer.Argument(help="A queue item id.")],
                as_json: JsonOpt = False) -> None:
    """One item with its evidence and its decisions."""
    from sonoharvest.entity_view import render_review_item

    with _store() as store:
        found = store.item(item)
        if found is None:
            _fail(f"{item} is not in the review queue; `sonoharvest review list --status all`")
        log = [d.as_dict() for d in store.log(item_id=item)]
    if as_json:
        out.print_json(json.dumps({**found.as_dict(), "decisions": log}, default=str))
    else:
        out.print(render_review_item(found.as_dict(), log))


def _decide(action: str, items: list[str] | None, every: bool, filters: dict[str, Any],
            by: str | None, as_json: bool, **kw: Any) -> None:
    with _store() as store:
        if every:
            if items:
                _fail("give item ids or --all with filters, not both", 2)
            items = [i.item_id for i in store.items(**filters)]
        made = store.decide(items or [], action, who=_who(by), **kw)
    if as_json:
        out.print_json(json.dumps([d.as_dict() for d in made]))
        return
    for d in made:
        out.print(f"#{d.decision_id} {d.item_id}: {d.old_state} -> {d.new_state} ({action})")


@review_app.command("accept")
def review_accept(items: ItemsArg = None, every: AllOpt = False, status: StatusOpt = "pending",
                  source: FilterSource = None, kind: FilterKind = None,
                  anatomy: FilterAnatomy = None, band: FilterBand = None, new: FilterNew = False,
                  notes: NotesOpt = "", by: WhoOpt = None, as_json: JsonOpt = False) -> None:
    """Accept items: public ultrasound datasets or models for the catalogue."""
    _decide("accept", items, every, _filters(status, source, kind, anatomy, band, new), by,
            as_json, notes=notes)


@review_app.command("reject")
def review_reject(items: ItemsArg = None,
                  reason: Annotated[str, typer.Option(help="Reason code (see `review "
                                                      "reasons`).")] = "",
                  every: AllOpt = False, status: StatusOpt = "pending",
                  source: FilterSource = None, kind: FilterKind = None,
                  anatomy: FilterAnatomy = None, band: FilterBand = None, new: FilterNew = False,
                  notes: NotesOpt = "", by: WhoOpt = None, as_json: JsonOpt = False) -> None:
    """Reject items with a reason code; they return only if their content changes."""
    _decide("reject", items, every, _filters(status, source, kind, anatomy, band, new), by,
            as_json, reason_code=reason or None, notes=notes)


@review_app.command("postpone")
def review_postpone(items: ItemsArg = None, every: AllOpt = False,
                    status: StatusOpt = "pending", source: FilterSource = None,
                    kind: FilterKind = None, anatomy: FilterAnatomy = None,
                    band: FilterBand = None, new: FilterNew = False, notes: NotesOpt = "",
                    by: WhoOpt = None, as_json: JsonOpt = False) -> None:
    """Set items aside until you look at postponed items again."""
    _decide("postpone", items, every, _filters(status, source, kind, anatomy, band, new), by,
            as_json, notes=notes)


@review_app.command("merge")
def review_merge(item: Annotated[str, typer.Argument(help="The entity that is a copy.")],
                 into: Annotated[str, typer.Option("--into", help="The entity it copies.")],
                 notes: NotesOpt = "", by: WhoOpt = None, as_json: JsonOpt = False) -> None:
    """Merge an entity into another (applied by the next run or `sonoharvest resolve`)."""
    _decide("merge", [item], False, {}, by, as_json, target=into, notes=notes)


@review_app.command("split")
def review_split(item: Annotated[str, typer.Argument(help="The entity.")],
                 record: Annotated[str, typer.Option("--record", help="The copy to take out "
                                                     "(source:id).")],
                 notes: NotesOpt = "", by: WhoOpt = None, as_json: JsonOpt = False) -> None:
    """Take a record out of an entity (applied by the next run or `sonoharvest resolve`)."""
    _decide("split", [item], False, {}, by, as_json, target=record, notes=notes)


@review_app.command("undo")
def review_undo(decision: Annotated[int | None, typer.Argument(
                    help="The decision number (see `review log`).")] = None,
                last: Annotated[bool, typer.Option("--last", help="Undo your last decision.")]
                = False, notes: NotesOpt = "", by: WhoOpt = None,
                as_json: JsonOpt = False) -> None:
    """Undo a decision: a new log entry; the item returns to its earlier state."""
    with _store() as store:
        who = _who(by)
        if last:
            mine = [d for d in store.log(limit=1000) if d.who == who and d.action != "undo"
                    and d.undone_by is None]
            if not mine:
                _fail(f"no decision by {who or 'you'} left to undo")
            decision = mine[0].decision_id
        if decision is None:
            _fail("give a decision number or --last", 2)
        d = store.undo(decision, who=who, notes=notes)
    if as_json:
        out.print_json(json.dumps(d.as_dict()))
    else:
        out.print(f"#{d.decision_id} undid #{d.undoes}: {d.item_id} is {d.new_state} again")


@review_app.command("log")
def review_log(item: Annotated[str | None, typer.Option(help="Only this item.")] = None,
               limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
               as_json: JsonOpt = False) -> None:
    """The audit log, newest first: who, when, old and new state, why."""
    with _store() as store:
        log = store.log(item_id=item, limit=limit)
    if as_json:
        out.print_json(json.dumps([d.as_dict() for d in log]))
        return
    table = Table("#", "when", "who", "item", "action", "change", "reason / target", "notes",
                  "applied")
    for d in log:
        undone = f" (undone by #{d.undone_by})" if d.undone_by else ""
        detail = d.reason_code or d.target or (f"undoes #{d.undoes}" if d.undoes else "")
        table.add_row(str(d.decision_id), d.at[:19], escape(d.who), d.item_id,
                      d.action + undone, f"{d.old_state} -> {d.new_state}", escape(detail),
                      escape(d.notes[:40]), d.applied_run or "-")
    out.print(table)


@review_app.command("reasons")
def review_reasons() -> None:
    """The reason codes a rejection can carry, and the curation guidelines."""
    with _store() as store:
        for code, text in store.reasons.items():
            out.print(f"[bold]{code}[/bold]: {escape(text)}")
        if store.guidelines:
            out.print()
            out.print(escape(store.guidelines))


@app.command()
def serve(host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port.")] = 8765) -> None:
    """The review web page. Writes need SONOHARVEST_CURATOR_TOKEN (read-only without it)."""
    from sonoharvest.web import serve as serve_web

    with _setup() as (settings, _):
        serve_web(settings, host=host, port=port)


@app.command()
def backup(dest: Annotated[Path, typer.Argument(
        help="A new folder, or a file ending in .tar.gz.")]) -> None:
    """A consistent backup of the warehouse, the review store and the models, with checksums."""
    from sonoharvest.maintenance import MaintenanceError
    from sonoharvest.maintenance import backup as make_backup

    with _setup() as (settings, _):
        try:
            where = make_backup(settings, dest)
        except MaintenanceError as exc:
            _fail(str(exc))
    out.print(f"backup written to {where}")


@app.command()
def restore(source: Annotated[Path, typer.Argument(help="A backup folder or .tar.gz.")],
            force: Annotated[bool, typer.Option(
                "--force", help="Replace an existing warehouse (kept as *.pre-restore-*).")]
            = False) -> None:
    """Restore a backup into SONOHARVEST_HOME after checking every checksum."""
    from sonoharvest.maintenance import MaintenanceError
    from sonoharvest.maintenance import restore as do_restore

    with _setup() as (settings, _):
        try:
            result = do_restore(settings, source, force=force)
        except MaintenanceError as exc:
            _fail(str(exc))
    counts = result["row_counts"]["warehouse"]
    out.print(f"restored {source} (made {result['created_at']}): "
              f"{sum(counts.values())} warehouse rows in {len(counts)} tables")


@app.command()
def check(as_json: JsonOpt = False) -> None:
    """Check the warehouse's integrity (orphans, duplicates, consistency); exit 1 on errors."""
    from sonoharvest.maintenance import check as run_checks
    from sonoharvest.maintenance import has_errors

    with _setup() as (settings, _):
        if not settings.db_path.exists():
            _fail(f"no warehouse at {settings.db_path} yet; run `sonoharvest run` first.")
        con = warehouse.connect(settings.db_path, read_only=True)
        try:
            problems = run_checks(con)
        finally:
            con.close()
    if as_json:
        out.print_json(json.dumps([p.as_dict() for p in problems], default=str))
    else:
        order = {"error": 0, "warning": 1, "info": 2}
        for p in sorted(problems, key=lambda p: order.get(p.severity, 3)):
            colour = {"error": "red", "warning": "yellow"}.get(p.severity, "dim")
            out.print(f"[{colour}]{p.severity}[/{colour}] {p.check}: {escape(p.detail)}"
                      + (f" ({p.count})" if p.count else "")
                      + (f"\n  fix: {escape(p.fix)}" if p.fix and p.severity != "info" else ""))
        if not has_errors(problems):
            out.print("[green]no integrity errors[/green]")
    if has_errors(problems):
        raise typer.Exit(1)


@app.command()
def export() -> None:
    """Write the exports (Parquet, CSV, Croissant JSON-LD, a dated snapshot) and the static
    catalogue page to $SONOHARVEST_HOME/exports/."""
    with _opened() as (settings, _, con):
        counts = pipeline.stage_export(con, settings)
        for name, rows in counts.items():
            out.print(f"{settings.exports_dir / (name + '.parquet')}: {rows} rows")
        out.print(f"catalogue page: {settings.exports_dir / 'catalogue' / 'index.html'}")


@app.command()
def report(runs: Annotated[int, typer.Option(help="How many recent runs.")] = 10,
           run_id: Annotated[str | None, typer.Option(
               "--run", help="The run whose changes to show (default: the latest).")] = None,
           markdown: Annotated[bool, typer.Option(
               "--markdown", help="Only the change report, as Markdown.")] = False,
           as_json: JsonOpt = False) -> None:
    """What the latest run changed (new, changed, withdrawn, re-tiered, waiting for review,
    failed sources), recent runs, warehouse totals and agreement with the survey's tiers."""
    from sonoharvest.report import run_report, to_markdown

    with _setup() as (settings, _):
        if not settings.db_path.exists():
            _fail(f"no warehouse at {settings.db_path} yet; run `sonoharvest run` first.")
        con = warehouse.connect(settings.db_path, read_only=True)
        try:
            recent = warehouse.recent_runs(con, runs)
            totals = con.execute(
                "SELECT source, active, withdrawn FROM v_source_summary ORDER BY source"
            ).fetchall()
            quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
            from sonoharvest.scoring import seed_agreement

            seeded = seed_agreement(con)
            changes = run_report(con, run_id)
        finally:
            con.close()
    if run_id and changes is None:
        _fail(f"no run {run_id}; `sonoharvest report` lists the recent ones")
    if as_json:
        out.print_json(json.dumps({"latest": changes, "runs": recent, "sources": [
            {"source": s, "active": a, "withdrawn": w} for s, a, w in totals],
            "quarantined": quarantined, "seed_agreement": seeded}, default=str))
        return
    if markdown:
        print(to_markdown(changes) if changes else "no finished run yet")
        return
    if changes:
        from rich.markdown import Markdown

        out.print(Markdown(to_markdown(changes)))
    out.print(_runs_table(recent))
    table = Table("source", "active", "withdrawn", title="Records in the warehouse")
    for row in totals:
        table.add_row(*(str(v) for v in row))
    out.print(table)
    out.print(f"quarantined items: {quarantined}")
    if seeded["rows"]:
        out.print(f"survey catalogue: {seeded['linked']} of {seeded['rows']} rows linked")
        _print_agreement(seeded)


@app.command()
def quarantine(
    source: Annotated[str | None, typer.Option("--source", "-s", help="Only this source.")] = None,
    limit: Annotated[int, typer.Option(help="How many items at most.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Items that could not be stored, with the reason (the raw payload is kept too)."""
    if source is not None:
        _check_sources([source])
    with _setup() as (settings, _):
        if not settings.db_path.exists():
            _fail(f"no warehouse at {settings.db_path} yet; run `sonoharvest run` first.")
        con = warehouse.connect(settings.db_path, read_only=True)
        try:
            items = warehouse.quarantined(con, source, limit)
        finally:
            con.close()
    if as_json:
        out.print_json(json.dumps(items, default=str))
        return
    table = Table("source", "item", "reason", "when (UTC)", title="Quarantined items")
    for item in items:
        table.add_row(item["source"], item["item_key"], item["reason"],
                      f"{item['quarantined_at']:%Y-%m-%d %H:%M}")
    out.print(table)


@app.command()
def config() -> None:
    """Print the effective settings, tokens masked."""
    with _setup() as (settings, _):
        table = Table("setting", "value", title="Effective settings")
        for key, value in settings.masked().items():
            table.add_row(key, "" if value is None else str(value))
        out.print(table)
        if not settings.contact:
            out.print("[yellow]hint:[/yellow] set SONOHARVEST_CONTACT (an e-mail or URL) so "
                      "APIs can reach you; it goes into the User-Agent.")


def _runs_table(runs: list[dict[str, Any]]) -> Table:
    table = Table("run", "command", "started (UTC)", "took", "status", "new", "changed",
                  "withdrawn", "quarantined", "requests", "classified", "to review", "problems",
                  title="Recent runs")
    for column in table.columns[:3]:
        column.no_wrap = True
    for r in runs:
        harvest_counts = r["counts"].get("harvest", {})
        totals = {key: sum(int(c.get(key, 0)) for c in harvest_counts.values())
                  for key in ("new", "changed", "withdrawn", "quarantined", "requests")}
        took = (r["finished_at"] - r["started_at"]).total_seconds() if r["finished_at"] else None
        problems = [f"{name} {c['status']}" for name, c in harvest_counts.items()
                    if c.get("status") != "ok"]
        problems += [f"{e['stage']}: {e['message'][:60]}" for e in r["errors"]
                     if not e.get("source")]
        classified = r["counts"].get("classify", {})
        table.add_row(r["run_id"], r["command"], f"{r['started_at']:%Y-%m-%d %H:%M}",
                      f"{took:.1f}s" if took is not None else "running", r["status"],
                      *(str(v) for v in totals.values()),
                      str(classified.get("classified", "")),
                      str(classified.get("review", 0) + classified.get("review_sample", 0))
                      if classified else "",
                      ", ".join(problems))
    return table


def _print_outcome(outcome: pipeline.RunOutcome, settings: Settings) -> None:
    if _State.quiet:
        return
    table = Table("source", "status", "new", "changed", "unchanged", "withdrawn",
                  "quarantined", "requests", title=f"Run {outcome.run_id}")
    for name, c in outcome.counts.get("harvest", {}).items():
        table.add_row(name, c["status"], *(str(c.get(k, 0)) for k in (
            "new", "changed", "unchanged", "withdrawn", "quarantined", "requests")))
    out.print(table)
    for name, c in outcome.counts.get("harvest", {}).items():
        if c.get("message"):
            out.print(f"{name} {c['status']}: {c['message']}", highlight=False)
    classified = outcome.counts.get("classify")
    if classified:
        out.print(f"classified {classified['classified']} records: {classified['likely']} likely, "
                  f"{classified['review']} to review, {classified['unlikely']} unlikely "
                  f"({classified['review_sample']} of them sampled for review)")
    resolved = outcome.counts.get("resolve")
    if resolved:
        out.print(f"resolved {resolved['records']} records into {resolved['entities']} entities "
                  f"({resolved['new']} new, {resolved['changed']} changed, "
                  f"{resolved['retired']} merged away or retired); {resolved['links']} links")
    checked = outcome.counts.get("links")
    if checked and checked["checked"]:
        out.print(f"checked {checked['checked']} links: {checked['dead']} dead "
                  "(`sonoharvest links` lists them)")
    pages = outcome.counts.get("landing")
    if pages and pages["fetched"]:
        out.print(f"landing pages: {pages['read']} of {pages['fetched']} read "
                  f"({pages['refused_by_robots']} refused by robots.txt, {pages['failed']} "
                  "failed); `sonoharvest landing` lists where they disagree with the APIs")
    scored = outcome.counts.get("score")
    if scored:
        out.print(f"scored {scored['scored']} entities ({scored['retiered']} changed tier, "
                  f"{scored['unchanged']} unchanged)")
    queue, review = outcome.counts.get("queue"), outcome.counts.get("review")
    if queue:
        out.print(f"review queue: {queue['pending']} pending"
                  + (f" ({review['decisions']} decisions applied)" if review else ""))
    for name, rows in outcome.counts.get("export", {}).items():
        out.print(f"exported {rows} rows to {settings.exports_dir / (name + '.parquet')}")
    if outcome.counts.get("export"):
        out.print(f"catalogue page: {settings.exports_dir / 'catalogue' / 'index.html'}")
    out.print(f"status: {outcome.status}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        Console(stderr=True).print("interrupted; rerun to finish (nothing stored is lost).")
        sys.exit(130)


if __name__ == "__main__":
    main()
