"""The weekly change report: what a run found new, changed, withdrawn, re-tiered, what waits
for review and which sources failed; as a dict (JSON) and as Markdown (Prefect artifact)."""

from __future__ import annotations

from typing import Any

import duckdb

from sonoharvest import warehouse

LISTED = 25          # names listed per section; the rest is counted


def run_report(con: duckdb.DuckDBPyConnection, run_id: str | None = None,
               pending_review: int | None = None) -> dict[str, Any] | None:
    """The report of one run (default: the latest finished run), or None without runs."""
    run = warehouse.run_row(con, run_id)
    if run is None:
        return None
    changes = warehouse.run_changes(con, run["started_at"], run["finished_at"] or run[
        "started_at"], run["run_id"]) if run["finished_at"] else {
        "new": [], "changed": [], "withdrawn": [], "retiered": []}
    counts = run["counts"] or {}
    harvest = counts.get("harvest", {})
    return {
        "run_id": run["run_id"], "status": run["status"],
        "started_at": str(run["started_at"]), "finished_at": str(run["finished_at"]),
        "records": {k: sum(c.get(k, 0) for c in harvest.values())
                    for k in ("new", "changed", "withdrawn", "quarantined")},
        "new_entities": [{"entity_id": e, "kind": k, "name": n, "tier": t}
                         for e, k, n, t in changes["new"]],
        "changed_entities": [{"entity_id": e, "kind": k, "name": n, "status": s}
                             for e, k, n, s in changes["changed"]],
        "withdrawn_records": [{"record": f"{s}:{i}", "title": t}
                              for s, i, t in changes["withdrawn"]],
        "retiered": [{"entity_id": e, "name": n, "from": a, "to": b}
                     for e, n, a, b in changes["retiered"]],
        "pending_review": pending_review if pending_review is not None else
        (counts.get("queue") or {}).get("pending"),
        "failed_sources": [{"source": e["source"], "message": e["message"]}
                           for e in run["errors"] or [] if e.get("stage") == "harvest"],
        "other_errors": [e for e in run["errors"] or [] if e.get("stage") != "harvest"],
        "sources": [{"source": src, "entities": n, "only_here": solo}
                    for src, n, solo in warehouse.source_contributions(con)],
        "active_entities": warehouse.active_entity_count(con),
        "hosts": hosting_sites(warehouse.host_contributions(con)),
    }


# Sites that give each project its own subdomain (camus.grand-challenge.org): counted as one.
SUBDOMAIN_SITES = ("grand-challenge.org", "github.io", "readthedocs.io")


def hosting_sites(rows: list[tuple[str, int, list[str]]]) -> list[dict[str, Any]]:
    """Per-host counts folded into sites (no "www.", one row per subdomain site)."""
    sites: dict[str, dict[str, Any]] = {}
    for host, n, found in rows:
        site = host.removeprefix("www.")
        site = next((s for s in SUBDOMAIN_SITES if site.endswith("." + s)), site)
        entry = sites.setdefault(site, {"host": site, "entities": 0, "found_by": set()})
        entry["entities"] += n
        entry["found_by"].update(found)
    return [{**e, "found_by": sorted(e["found_by"])}
            for e in sorted(sites.values(), key=lambda e: (-e["entities"], e["host"]))]


def to_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown, for a Prefect artifact or an e-mail."""
    r = report
    lines = [f"# sonoharvest run {r['run_id']}: {r['status']}", "",
             f"{r['started_at'][:19]} to {r['finished_at'][:19]}", "",
             "| | count |", "| --- | --- |",
             *(f"| records {k} | {v} |" for k, v in r["records"].items()),
             f"| new entities | {len(r['new_entities'])} |",
             f"| changed entities | {len(r['changed_entities'])} |",
             f"| withdrawn records | {len(r['withdrawn_records'])} |",
             f"| re-tiered | {len(r['retiered'])} |",
             f"| waiting for review | {r['pending_review']} |",
             f"| failed sources | {len(r['failed_sources'])} |", ""]
    if r.get("sources"):
        lines += ["| source | entities with a copy there | found only there |",
                  "| --- | --- | --- |",
                  *(f"| {c['source']} | {c['entities']} | {c['only_here']} |"
                    for c in r["sources"]), ""]
        single = sum(c["only_here"] for c in r["sources"])
        lines += [f"{single} of {r.get('active_entities', '?')} active entities were found by "
                  "one source only.", ""]
    if r.get("hosts"):
        hosts = r["hosts"]
        lines += ["| where entities are hosted | entities | found by |", "| --- | --- | --- |",
                  *(f"| {_md(h['host'])} | {h['entities']} | {', '.join(h['found_by'])} |"
                    for h in hosts[:LISTED]), ""]
        if len(hosts) > LISTED:
            lines += [f"… and {len(hosts) - LISTED} more hosts", ""]
    sections = (
        ("New entities", [f"{e['name']} ({e['kind']}, {e['tier'] or 'unscored'}, "
                          f"`{e['entity_id']}`)" for e in r["new_entities"]]),
        ("Re-tiered", [f"{e['name']}: {e['from']} → {e['to']} (`{e['entity_id']}`)"
                       for e in r["retiered"]]),
        ("Changed entities", [f"{e['name']} ({e['status']}, `{e['entity_id']}`)"
                              for e in r["changed_entities"]]),
        ("Withdrawn records", [f"{e['title']} (`{e['record']}`)"
                               for e in r["withdrawn_records"]]),
        ("Failed sources", [f"**{e['source']}**: {e['message']}"
                            for e in r["failed_sources"]]),
    )
    for title, items in sections:
        if items:
            lines += [f"## {title}", "", *(f"- {_md(i)}" for i in items[:LISTED])]
            if len(items) > LISTED:
                lines.append(f"- … and {len(items) - LISTED} more")
            lines.append("")
    return "\n".join(lines)


def _md(text: str) -> str:
    """Harvested text inside Markdown: no HTML, no links or images it did not earn."""
    return (text.replace("<", "&lt;").replace(">", "&gt;").replace("[", "\\[")
            .replace("]", "\\]").replace("\n", " "))
