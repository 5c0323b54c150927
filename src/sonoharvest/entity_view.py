"""`sonoharvest show`: one entity with its copies, links, tags, licence, access and size."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

RELATION_NAMES = {
    ("uses_dataset", "out"): "uses dataset", ("uses_dataset", "in"): "used by",
    ("references", "out"): "references", ("references", "in"): "referenced by",
}


def entity_document(entity: dict[str, Any], members: list[dict[str, Any]],
                    links: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything `show` prints, as one JSON-ready document (for --json)."""
    facts = {k: v for k, v in entity["facts"].items() if k != "text"}
    return {
        "entity_id": entity["entity_id"], "kind": entity["kind"], "status": entity["status"],
        "name": entity["name"], "created_at": entity["created_at"],
        "updated_at": entity["updated_at"], "facts": facts,
        "copies": members, "links": links,
    }


def render_entity(doc: dict[str, Any]) -> RenderableType:
    f = doc["facts"]
    head = Text.assemble((doc["name"], "bold"), f"  {doc['entity_id']}  ",
                         (f"{doc['kind']}, {doc['status']}", "dim"))
    about = Table.grid(padding=(0, 2))
    about.add_column(style="bold")
    about.add_column()
    link = f.get("link") or {}
    checked = ("not checked yet" if not link else
               f"{link.get('status') or link.get('error')} "
               f"({'ok' if link.get('ok') else 'dead'}, "
               f"checked {str(link.get('checked_at'))[:10]})")
    rows = [
        ("primary", f.get("primary_url") or "-"),
        ("link", checked),
        ("doi", f.get("doi") or "-"),
        ("licence", f"{f.get('license') or 'not stated'} [{f.get('license_class')}]"),
        ("access", f"{f.get('access')} ({f.get('access_reason', '')})"),
        ("size", ", ".join(f"{n} {unit}" for unit, n in (f.get("size") or {}).items()) or "-"),
        ("anatomy", ", ".join(f.get("anatomy") or []) or "-"),
        ("tasks", ", ".join(f.get("tasks") or []) or "-"),
        ("papers", ", ".join(f.get("papers") or []) or "-"),
        ("relevance", str(f.get("relevance"))),
        ("landing page", _landing_line(f.get("landing"))),
        ("seen", f"{str(f.get('first_seen'))[:10]} .. {str(f.get('last_seen'))[:10]}"),
    ]
    if doc["kind"] == "model":
        rows.insert(6, ("weights", ", ".join(f.get("weights") or []) or "-"))
    for label, value in rows:
        about.add_row(label, escape(str(value)))

    copies = Table("role", "record", "title", "how it joined", "status",
                   title=f"Copies ({len(doc['copies'])})", title_justify="left")
    for m in doc["copies"]:
        how = m["method"] if m["role"] == "primary" else f"{m['method']}: {m['evidence']}"
        copies.add_row(m["role"], escape(f"{m['source']}:{m['source_id']}"),
                       escape(str(m["title"])[:60]), escape(how), m["status"])
    parts: list[RenderableType] = [head, about, copies]
    if doc["links"]:
        linked = Table("relation", "entity", "name", "kind", "evidence",
                       title=f"Links ({len(doc['links'])})", title_justify="left")
        for li in doc["links"]:
            relation = RELATION_NAMES[li["relation"], li["direction"]]
            linked.add_row(relation, li["entity_id"], escape(str(li["name"])[:50]), li["kind"],
                           escape(li["evidence"][:70]))
        parts.append(linked)
    conflicts = (f.get("landing") or {}).get("conflicts") or {}
    if conflicts:
        disagree = Table("fact", "API says", "page says", "read from",
                         title="Landing page disagrees (the API's value is kept)",
                         title_justify="left")
        for name, c in conflicts.items():
            disagree.add_row(name, escape(str(c["api"])), escape(str(c["page"])),
                             escape(c["via"]))
        parts.append(disagree)
    return Group(*parts)


def _landing_line(landing: dict[str, Any] | None) -> str:
    """What the landing page added, or why it was not read."""
    if not landing:
        return "-"
    when = str(landing.get("fetched_at"))[:10]
    if not landing.get("ok"):
        return f"not read ({landing.get('error')}), {when}"
    filled = landing.get("filled") or {}
    added = ", ".join(f"{name} via {v['via'].removeprefix('landing page ').strip('()')}"
                      for name, v in filled.items()) or "nothing the APIs did not state"
    return f"read {when}: {added}"


def render_explanation(doc: dict[str, Any]) -> RenderableType:
    """`sonoharvest explain`: tier and score, every criterion with its evidence, how to rise."""
    tier = doc["final_tier"]
    head = Text.assemble((doc["name"], "bold"), f"  {doc['entity_id']}\n",
                         (f"{tier}", "bold"), f"  {doc['score']:.1f}/100 on {doc['rubric']}")
    if doc["override"]:
        o = doc["override"]
        head.append(f"\ncurator override: {o['tier']} by {o['by']} ({o['reason']}); "
                    f"automatic tier {doc['tier']}")
    table = Table("criterion", "points", "evidence", title="Criteria", title_justify="left")
    for c in doc["criteria"]:
        style = "green" if c["credit"] >= 1 else ("yellow" if c["credit"] > 0 else "red")
        table.add_row(escape(c["title"]), Text(f"{c['points']:.1f} / {c['max_points']:.1f}",
                                               style=style), escape(c["evidence"]))
    hints = Text("What would raise the tier\n", style="bold")
    for line in doc["raise"]:
        hints.append(f"  - {line}\n")
    parts: list[RenderableType] = [head, table, hints]
    if len(doc["history"]) > 1:
        history = Table("scored", "rubric", "score", "tier", title="History",
                        title_justify="left")
        for h in doc["history"]:
            history.add_row(h["scored_at"][:19], h["rubric"], f"{h['score']:.1f}", h["tier"])
        parts.append(history)
    return Group(*parts)


def render_review_item(item: dict[str, Any], log: list[dict[str, Any]]) -> RenderableType:
    """`sonoharvest review show`: an item, its evidence and its decisions."""
    d = item["detail"]
    head = Text.assemble((item["name"], "bold"), f"  {item['item_id']}  ",
                         (f"{item['kind']}, {item['status']}, {item['reason']}", "dim"))
    if item.get("flagged"):
        head.append(f"\n{item['flagged']}", style="yellow")
    about = Table.grid(padding=(0, 2))
    about.add_column(style="bold")
    about.add_column()
    relevance = item["relevance"]
    for label, value in (
            ("relevance", f"{relevance:.2f} ({item['band']})" if relevance is not None else "-"),
            ("primary", d.get("primary_url") or "-"),
            ("licence", f"{d.get('license') or 'not stated'} [{d.get('license_class', '-')}]"),
            ("access", d.get("access") or "-"),
            ("anatomy", ", ".join(item["anatomy"]) or "-"),
            ("tasks", ", ".join(item["tasks"]) or "-"),
            ("tier", f"{(d.get('score') or {}).get('tier') or '-'} "
                     f"({(d.get('score') or {}).get('score') or '-'})")):
        about.add_row(label, escape(str(value)))
    parts: list[RenderableType] = [head, about, Text(str(d.get("description") or "")[:600])]
    if d.get("relevance_evidence"):
        parts.append(Text("Why relevant: " + "; ".join(d["relevance_evidence"][:6]),
                          style="dim"))
    copies = Table("role", "record", "title", "how it joined", title="Copies",
                   title_justify="left")
    for c in d.get("copies", []):
        copies.add_row(c["role"], escape(c["key"]), escape(str(c["title"])[:50]),
                       escape(f"{c['method']}: {c['evidence']}"[:70]))
    parts.append(copies)
    if log:
        history = Table("#", "when", "who", "action", "change", title="Decisions",
                        title_justify="left")
        for e in log:
            history.add_row(str(e["decision_id"]), e["at"][:19], escape(e["who"]), e["action"],
                            f"{e['old_state']} -> {e['new_state']}")
        parts.append(history)
    return Group(*parts)
