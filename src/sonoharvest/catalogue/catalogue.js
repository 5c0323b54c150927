/* sonoharvest catalogue page: search, filters, sorting, entry details and SVG charts over the
   JSON embedded in index.html. No libraries, no network.

   Harvested text (names, descriptions, evidence, URLs) is hostile: it is only ever put into the
   page with textContent / createTextNode or as an attribute value, never parsed as HTML, and
   links are made only from absolute http(s) URLs. */
(function () {
  "use strict";

  const SVG_NS = "http://www.w3.org/2000/svg";
  const NONE = "\u0000none";
  const DATA = JSON.parse(document.getElementById("catalogue-data").textContent);
  const ENTITIES = DATA.entities || [];
  const TIERS = DATA.tiers || [];
  const TIER_RANK = new Map(TIERS.map((tier, i) => [tier, i]));
  const SOURCE_LABELS = DATA.source_labels || {};
  const BY_ID = new Map(ENTITIES.map((e) => [e.id, e]));
  const NUM = new Intl.NumberFormat("en");

  // --- small DOM helpers (text only) ---------------------------------------------------------

  function fill(node, attrs, children) {
    if (attrs) {
      for (const [key, value] of Object.entries(attrs)) {
        if (value === null || value === undefined || value === false) continue;
        if (key === "class") node.setAttribute("class", value);
        else node.setAttribute(key, value === true ? "" : String(value));
      }
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const el = (tag, attrs, ...children) => fill(document.createElement(tag), attrs, children);
  const svgEl = (tag, attrs, ...children) =>
    fill(document.createElementNS(SVG_NS, tag), attrs, children);

  function safeHref(url) {
    if (typeof url !== "string" || !url) return null;
    try {
      const parsed = new URL(url);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (err) {
      return null;
    }
  }

  function extLink(url, text, attrs) {
    const href = safeHref(url);
    const label = text || url || "";
    if (!href) return el("span", { class: "nolink", title: "not a web link" }, label);
    return el("a", Object.assign({ href: href, rel: "noopener noreferrer nofollow" }, attrs || {}),
      label);
  }

  const fmtNum = (n) => (n === null || n === undefined ? "" : NUM.format(n));
  const fmtDate = (iso) => (iso ? String(iso).slice(0, 10) : "");
  const sourceLabel = (s) => SOURCE_LABELS[s] || s;

  function sizeParts(e) {
    const parts = [];
    for (const [key, unit] of [["images", "image"], ["videos", "video"], ["patients", "patient"]]) {
      const n = e.size && e.size[key];
      if (n !== null && n !== undefined) parts.push(fmtNum(n) + " " + unit + (n === 1 ? "" : "s"));
    }
    return parts;
  }
  function sizeKey(e) {
    const values = ["images", "videos", "patients"]
      .map((k) => e.size && e.size[k]).filter((n) => typeof n === "number");
    return values.length ? Math.max(...values) : null;
  }

  // --- facets and state ----------------------------------------------------------------------

  const FACETS = [
    { key: "kind", values: (e) => [e.kind], order: ["dataset", "model"],
      label: (v) => ({ dataset: "Datasets", model: "Models" }[v] || v) },
    { key: "anatomy", values: (e) => (e.anatomy.length ? e.anatomy : [NONE]) },
    { key: "task", values: (e) => (e.tasks.length ? e.tasks : [NONE]) },
    { key: "licence", values: (e) => [e.license_class || "unknown"] },
    { key: "access", values: (e) => [e.access || "unknown"] },
    { key: "tier", values: (e) => [e.tier || NONE], order: TIERS },
    { key: "source", values: (e) => (e.sources.length ? e.sources : [NONE]), label: sourceLabel },
  ];
  for (const facet of FACETS) {
    facet.select = document.getElementById("f-" + facet.key);
    facet.valueSets = new Map(ENTITIES.map((e) => [e.id, new Set(facet.values(e))]));
  }

  const searchBox = document.getElementById("q");
  const tbody = document.getElementById("rows");
  const countNode = document.getElementById("count");
  const emptyNode = document.getElementById("empty");
  const HAYSTACK = new Map(ENTITIES.map((e) =>
    [e.id, [e.name, e.description || "", e.id].join("\n").toLowerCase()]));

  const state = { q: "", facets: {}, sort: { key: "tier", dir: "desc" } };
  const expanded = new Set();
  let shown = [];

  function terms() {
    return state.q.toLowerCase().split(/\s+/).filter(Boolean);
  }
  function matches(e, skipFacet, words) {
    for (const facet of FACETS) {
      if (facet.key === skipFacet) continue;
      const wanted = state.facets[facet.key];
      if (wanted && !facet.valueSets.get(e.id).has(wanted)) return false;
    }
    if (words.length) {
      const hay = HAYSTACK.get(e.id);
      for (const word of words) if (!hay.includes(word)) return false;
    }
    return true;
  }

  function buildOptions() {
    for (const facet of FACETS) {
      const counts = new Map();
      for (const e of ENTITIES) {
        for (const v of facet.valueSets.get(e.id)) counts.set(v, (counts.get(v) || 0) + 1);
      }
      let values = [...counts.keys()];
      if (facet.order) {
        const rank = (v) => (facet.order.includes(v) ? facet.order.indexOf(v) : facet.order.length);
        values.sort((a, b) => rank(a) - rank(b) || String(a).localeCompare(String(b)));
      } else {
        values.sort((a, b) => (a === NONE) - (b === NONE) || counts.get(b) - counts.get(a) ||
          String(a).localeCompare(String(b)));
      }
      facet.options = new Map();
      for (const value of values) {
        const label = value === NONE ? "(not stated)" : (facet.label ? facet.label(value) : value);
        const option = el("option", { value: value }, label);
        option.dataset.label = label;
        facet.options.set(value, option);
        facet.select.appendChild(option);
      }
    }
  }

  function updateOptionCounts(words) {
    for (const facet of FACETS) {
      const counts = new Map();
      for (const e of ENTITIES) {
        if (!matches(e, facet.key, words)) continue;
        for (const v of facet.valueSets.get(e.id)) counts.set(v, (counts.get(v) || 0) + 1);
      }
      for (const [value, option] of facet.options) {
        option.textContent = option.dataset.label + " (" + (counts.get(value) || 0) + ")";
      }
    }
  }

  // --- sorting -------------------------------------------------------------------------------

  const SORT_KEYS = {
    name: { first: "asc", key: (e) => e.name.toLowerCase() },
    tier: { first: "desc", key: (e) => (TIER_RANK.has(e.tier) ? TIERS.length - TIER_RANK.get(e.tier) : null) },
    score: { first: "desc", key: (e) => (typeof e.score === "number" ? e.score : null) },
    size: { first: "desc", key: sizeKey },
    first_seen: { first: "desc", key: (e) => e.first_seen || null },
  };

  function compare(a, b) {
    const spec = SORT_KEYS[state.sort.key];
    const ka = spec.key(a), kb = spec.key(b);
    if (ka === null && kb !== null) return 1; // missing values last either way
    if (kb === null && ka !== null) return -1;
    let c = 0;
    if (ka !== null) {
      c = typeof ka === "string" ? ka.localeCompare(kb) : ka - kb;
      if (state.sort.dir === "desc") c = -c;
    }
    return c || (b.score || 0) - (a.score || 0) || a.name.localeCompare(b.name) ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  }

  function updateSortHeaders() {
    for (const th of document.querySelectorAll("th[data-sort]")) {
      const active = th.dataset.sort === state.sort.key;
      th.setAttribute("aria-sort", active ? (state.sort.dir === "asc" ? "ascending" : "descending") : "none");
      th.querySelector(".arrow").textContent = active ? (state.sort.dir === "asc" ? " \u25B2" : " \u25BC") : " \u21C5";
    }
  }

  // --- table rows ----------------------------------------------------------------------------

  const ROWS = new Map();

  function tierBadge(tier) {
    if (!tier) return el("span", { class: "muted" }, "unscored");
    return el("span", { class: "tier tier-" + tier.toLowerCase().replace(/[^a-z]/g, "") }, tier);
  }
  function chips(values, cls) {
    if (!values.length) return el("span", { class: "muted" }, "\u2014");
    return values.map((v) => el("span", { class: "chip " + (cls || "") }, v));
  }

  function snippet(text) {
    if (!text) return "";
    const flat = text.replace(/\s+/g, " ").trim();
    return flat.length > 160 ? flat.slice(0, 157) + "\u2026" : flat;
  }

  function buildRow(e) {
    const detailId = "d-" + e.id;
    const toggle = el("button", { type: "button", class: "toggle", "aria-expanded": "false",
      "aria-controls": detailId }, el("span", { class: "caret", "aria-hidden": "true" }), e.name);
    toggle.addEventListener("click", () => setExpanded(e, !expanded.has(e.id)));
    const nameCell = el("th", { scope: "row", class: "col-name" }, toggle,
      e.href ? extLink(e.href, "\u2197", { class: "out", "aria-label": "Open " + e.name + " at its host", title: e.href }) : null,
      e.description ? el("span", { class: "snippet" }, snippet(e.description)) : null);
    const size = sizeParts(e);
    const main = el("tr", { class: "entity entity-" + e.kind, id: "e-" + e.id, "data-id": e.id },
      nameCell,
      el("td", { class: "col-kind" }, el("span", { class: "kind kind-" + e.kind }, e.kind)),
      el("td", { class: "col-tier" }, tierBadge(e.tier)),
      el("td", { class: "col-num" }, typeof e.score === "number" ? e.score.toFixed(1) : "\u2014"),
      el("td", null, chips(e.anatomy)),
      el("td", null, chips(e.tasks, "chip-task")),
      el("td", null, el("span", { class: "lic lic-" + (e.license_class || "unknown") }, e.license_class || "unknown"),
        e.license ? el("span", { class: "sub" }, e.license) : null),
      el("td", null, e.access || "unknown"),
      el("td", { class: "col-num" }, size.length ? size.map((p) => el("span", { class: "size-part" }, p)) : "\u2014"),
      el("td", null, e.sources.map(sourceLabel).join(", ")),
      el("td", { class: "col-date" }, fmtDate(e.first_seen)));
    main.dataset.tier = e.tier || "";
    ROWS.set(e.id, { main: main, detail: null, toggle: toggle });
  }

  function setExpanded(e, open) {
    const row = ROWS.get(e.id);
    if (open) {
      expanded.add(e.id);
      if (!row.detail) {
        row.detail = el("tr", { class: "detail", id: "d-" + e.id },
          el("td", { colspan: 11 }, buildDetail(e)));
      }
      row.main.after(row.detail);
      row.main.classList.add("open");
    } else {
      expanded.delete(e.id);
      if (row.detail) row.detail.remove();
      row.main.classList.remove("open");
    }
    row.toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }

  // --- entry details -------------------------------------------------------------------------

  function fact(term, ...value) {
    const flat = value.flat(Infinity).filter((v) => v !== null && v !== undefined && v !== "");
    if (!flat.length) return null;
    return [el("dt", null, term), el("dd", null, flat)];
  }

  function buildDetail(e) {
    const size = sizeParts(e);
    const about = el("section", { class: "d-about", "aria-label": "About " + e.name },
      el("h3", null, "About"),
      e.description ? el("p", { class: "desc" }, e.description) : el("p", { class: "muted" }, "No description."),
      el("dl", { class: "facts" },
        fact("Kind", e.kind),
        fact("Licence", e.license || "not stated", " (", e.license_class || "unknown", ")"),
        fact("Access", e.access || "unknown"),
        fact("Size", size.length ? size.join(", ") : "not stated"),
        fact("Hosts", e.sources.map(sourceLabel).join(", ")),
        fact("Source records", e.source_ids.join(", ")),
        fact("Copies", e.n_copies === null ? "" : fmtNum(e.n_copies)),
        fact("Status", e.status),
        fact("Link check", e.link_ok === null ? "not checked" :
          (e.link_ok ? "working" : "broken") + (e.link_status ? " (HTTP " + e.link_status + ")" : "")),
        fact("Relevance", typeof e.relevance === "number" ? e.relevance.toFixed(2) : ""),
        fact("Review", e.review_status),
        fact("First seen", fmtDate(e.first_seen)),
        fact("Last seen", fmtDate(e.last_seen)),
        fact("Updated upstream", fmtDate(e.updated_at)),
        fact("Created upstream", fmtDate(e.created_at)),
        fact("Entity id", el("code", null, e.id))));

    const linkItems = e.links.map((l) =>
      el("li", null, el("span", { class: "role" }, l.role), " ", extLink(l.href, l.text)));
    const relatedTitle = e.kind === "model" ? "Uses datasets" : "Used by models";
    const relatedItems = e.related.map((r) => {
      if (!BY_ID.has(r.id)) return el("li", null, el("code", null, r.id), " (not in this catalogue)");
      const a = el("a", { href: "#e-" + encodeURIComponent(r.id), class: "related" }, BY_ID.get(r.id).name);
      a.addEventListener("click", (ev) => { ev.preventDefault(); goTo(r.id, true); });
      return el("li", null, a);
    });
    const links = el("section", { class: "d-links", "aria-label": "Links of " + e.name },
      el("h3", null, "Links"),
      linkItems.length ? el("ul", { class: "links" }, linkItems) : el("p", { class: "muted" }, "No links."),
      el("h3", null, relatedTitle),
      relatedItems.length ? el("ul", { class: "links" }, relatedItems) : el("p", { class: "muted" }, "None known."));

    return el("div", { class: "detail-grid" }, about, links, buildExplanation(e));
  }

  function buildExplanation(e) {
    const x = e.explanation;
    const section = el("section", { class: "d-tier", "aria-label": "Tier explanation for " + e.name },
      el("h3", null, "Why ", tierBadge(e.tier)));
    if (e.override_reason || (e.auto_tier && e.tier && e.auto_tier !== e.tier)) {
      section.appendChild(el("p", { class: "override" }, "Curator override: the rubric gives ",
        e.auto_tier || "no tier", ", the catalogue shows ", e.tier || "no tier",
        e.override_reason ? ". Reason: " + e.override_reason : "."));
    }
    if (!x) {
      section.appendChild(el("p", { class: "muted" }, "No score history for this entry."));
      return section;
    }
    section.appendChild(el("p", { class: "score-line" },
      "Score ", el("strong", null, typeof x.score === "number" ? x.score.toFixed(1) : "?"), " of 100 under ",
      el("code", null, (x.rubric_id || "?") + " v" + (x.rubric_version ?? "?")),
      x.scored_at ? ", scored " + fmtDate(x.scored_at) : "", "."));
    const body = el("tbody");
    for (const c of x.criteria) {
      const max = typeof c.max_points === "number" ? c.max_points : 0;
      const pts = typeof c.points === "number" ? c.points : 0;
      const bar = el("span", { class: "meter", "aria-hidden": "true" }, el("span", { class: "meter-fill" }));
      bar.firstChild.style.width = (max > 0 ? Math.max(0, Math.min(1, pts / max)) * 100 : 0) + "%";
      body.appendChild(el("tr", { class: pts >= max && max > 0 ? "met" : pts > 0 ? "partial" : "unmet" },
        el("th", { scope: "row" }, c.title || c.id || "?"),
        el("td", { class: "pts" }, el("span", { class: "pts-text" }, fmtPts(pts) + " / " + fmtPts(max)), bar),
        el("td", { class: "evidence" }, c.evidence || "")));
    }
    section.appendChild(el("table", { class: "criteria" },
      el("caption", { class: "sr-only" }, "Rubric criteria, points and evidence"),
      el("thead", null, el("tr", null,
        el("th", { scope: "col" }, "Criterion"), el("th", { scope: "col" }, "Points"),
        el("th", { scope: "col" }, "Evidence"))),
      body));
    return section;
  }
  const fmtPts = (n) => (Math.round(n * 10) / 10).toString();

  function goTo(id, focus) {
    const e = BY_ID.get(id);
    if (!e) return;
    if (!shown.some((s) => s.id === id)) resetFilters();
    if (!expanded.has(id)) setExpanded(e, true);
    const row = ROWS.get(id);
    if (location.hash !== "#e-" + encodeURIComponent(id)) {
      try { history.replaceState(null, "", "#e-" + encodeURIComponent(id)); } catch (err) { /* file:// */ }
    }
    row.main.scrollIntoView({ block: "start" });
    if (focus) row.toggle.focus({ preventScroll: true });
  }

  function fromHash() {
    const m = /^#e-(.+)$/.exec(location.hash);
    if (!m) return;
    let id;
    try { id = decodeURIComponent(m[1]); } catch (err) { return; }
    goTo(id, true);
  }

  // --- charts (SVG, drawn from the filtered entries) -----------------------------------------

  function tally(list, valuesOf, order) {
    const counts = new Map();
    for (const e of list) {
      for (const v of valuesOf(e)) {
        const c = counts.get(v) || { dataset: 0, model: 0 };
        c[e.kind === "model" ? "model" : "dataset"] += 1;
        counts.set(v, c);
      }
    }
    let keys;
    if (order) {
      keys = order.slice(); // every tier gets a slot, even an empty one
      for (const k of counts.keys()) {
        if (!keys.includes(k)) keys.push(k);
      }
    } else {
      keys = [...counts.keys()].sort((a, b) =>
        total(counts.get(b)) - total(counts.get(a)) || String(a).localeCompare(String(b)));
    }
    return keys.map((k) => Object.assign({ key: k }, counts.get(k) || { dataset: 0, model: 0 }));
  }
  const total = (c) => c.dataset + c.model;

  function describe(item, label) {
    const parts = [];
    if (item.dataset) parts.push(item.dataset + " dataset" + (item.dataset === 1 ? "" : "s"));
    if (item.model) parts.push(item.model + " model" + (item.model === 1 ? "" : "s"));
    return label + ": " + (parts.join(", ") || "none");
  }

  function chartFrame(host, width, height, summary) {
    const plot = host.querySelector(".plot");
    const svg = svgEl("svg", { viewBox: "0 0 " + width + " " + height, width: width, height: height,
      role: "img", "aria-label": summary, preserveAspectRatio: "xMinYMin meet" });
    plot.replaceChildren(svg);
    return svg;
  }

  function emptyChart(host) {
    host.querySelector(".plot").replaceChildren(el("p", { class: "muted no-data" }, "No entries to chart."));
  }

  function horizontalBars(host, items, labelOf) {
    if (!items.length) return emptyChart(host);
    const W = 360, LABEL = 118, ROW = 17, TOP = 4, COUNT = 34;
    const H = TOP * 2 + items.length * ROW;
    const max = Math.max(1, ...items.map(total));
    const scale = (W - LABEL - COUNT) / max;
    const svg = chartFrame(host, W, H, host.querySelector("figcaption").textContent + ". " +
      items.map((it) => describe(it, labelOf(it.key))).join("; "));
    items.forEach((it, i) => {
      const y = TOP + i * ROW;
      const label = labelOf(it.key);
      const short = label.length > 19 ? label.slice(0, 18) + "\u2026" : label;
      const g = svgEl("g", { class: "bar-group" }, svgEl("title", null, describe(it, label)));
      g.appendChild(svgEl("text", { x: LABEL - 6, y: y + ROW / 2, class: "label", "text-anchor": "end",
        "dominant-baseline": "central" }, short));
      let x = LABEL;
      for (const kind of ["dataset", "model"]) {
        if (!it[kind]) continue;
        const w = it[kind] * scale;
        g.appendChild(svgEl("rect", { x: x.toFixed(1), y: y + 3, width: w.toFixed(1), height: ROW - 6,
          class: "bar bar-" + kind, rx: 2 }));
        x += w;
      }
      g.appendChild(svgEl("text", { x: x + 4, y: y + ROW / 2, class: "value", "dominant-baseline": "central" },
        String(total(it))));
      svg.appendChild(g);
    });
  }

  function verticalBars(host, items, labelOf) {
    if (!items.some(total)) return emptyChart(host);
    const W = 360, H = 200, BOTTOM = 22, TOP = 16, LEFT = 8;
    const band = (W - LEFT * 2) / items.length;
    const max = Math.max(1, ...items.map(total));
    const scale = (H - BOTTOM - TOP) / max;
    const svg = chartFrame(host, W, H, host.querySelector("figcaption").textContent + ". " +
      items.map((it) => describe(it, labelOf(it.key))).join("; "));
    svg.appendChild(svgEl("line", { x1: LEFT, x2: W - LEFT, y1: H - BOTTOM, y2: H - BOTTOM, class: "axis" }));
    items.forEach((it, i) => {
      const x = LEFT + i * band + band * 0.18, w = band * 0.64;
      const label = labelOf(it.key);
      const g = svgEl("g", { class: "bar-group" }, svgEl("title", null, describe(it, label)));
      let y = H - BOTTOM;
      for (const kind of ["dataset", "model"]) {
        if (!it[kind]) continue;
        const h = it[kind] * scale;
        y -= h;
        g.appendChild(svgEl("rect", { x: x.toFixed(1), y: y.toFixed(1), width: w.toFixed(1), height: h.toFixed(1),
          class: "bar bar-" + kind }));
      }
      g.appendChild(svgEl("text", { x: x + w / 2, y: y - 4, class: "value", "text-anchor": "middle" }, String(total(it))));
      g.appendChild(svgEl("text", { x: x + w / 2, y: H - BOTTOM + 14, class: "label", "text-anchor": "middle" },
        label.length > 10 ? label.slice(0, 9) + "\u2026" : label));
      svg.appendChild(g);
    });
  }

  // Growth: cumulative entries by first-seen day; by minute when everything was seen on one day.
  const SEEN_DAYS = new Set(ENTITIES.filter((e) => e.first_seen).map((e) => e.first_seen.slice(0, 10)));
  const BY_MINUTE = SEEN_DAYS.size === 1;
  const bucketOf = (e) => (BY_MINUTE ? e.first_seen.slice(0, 16).replace("T", " ") : e.first_seen.slice(0, 10));

  function growthChart(host, list) {
    const seen = list.filter((e) => e.first_seen);
    if (!seen.length) return emptyChart(host);
    const perBucket = new Map();
    for (const e of seen) {
      const b = bucketOf(e);
      const c = perBucket.get(b) || { dataset: 0, model: 0 };
      c[e.kind === "model" ? "model" : "dataset"] += 1;
      perBucket.set(b, c);
    }
    const buckets = [...perBucket.keys()].sort();
    let d = 0, m = 0;
    const points = buckets.map((b) => {
      d += perBucket.get(b).dataset; m += perBucket.get(b).model;
      return { key: b, dataset: d, model: m };
    });
    const W = 360, H = 200, LEFT = 34, RIGHT = 8, TOP = 12, BOTTOM = 24;
    const max = Math.max(1, d + m);
    const yOf = (v) => H - BOTTOM - v * (H - BOTTOM - TOP) / max;
    const last = points[points.length - 1];
    const unit = BY_MINUTE ? "minute (UTC)" : "day (UTC)";
    const svg = chartFrame(host, W, H, "Cumulative entries by first-seen " + unit + ": " +
      describe(last, "by " + last.key) + ", starting " + points[0].key + ".");
    for (const v of [0, Math.round(max / 2), max]) {
      svg.appendChild(svgEl("line", { x1: LEFT, x2: W - RIGHT, y1: yOf(v), y2: yOf(v), class: v ? "grid" : "axis" }));
      svg.appendChild(svgEl("text", { x: LEFT - 4, y: yOf(v), class: "value", "text-anchor": "end",
        "dominant-baseline": "central" }, String(v)));
    }
    const plotW = W - LEFT - RIGHT;
    if (points.length <= 60) {
      const band = plotW / points.length;
      const w = Math.max(1, Math.min(band * 0.7, 48));
      points.forEach((p, i) => {
        const x = LEFT + i * band + (band - w) / 2;
        const g = svgEl("g", { class: "bar-group" }, svgEl("title", null, describe(p, "by " + p.key)));
        let base = 0;
        for (const kind of ["dataset", "model"]) {
          if (!p[kind]) continue;
          g.appendChild(svgEl("rect", { x: x.toFixed(1), y: yOf(base + p[kind]).toFixed(1), width: w.toFixed(1),
            height: (yOf(base) - yOf(base + p[kind])).toFixed(1), class: "bar bar-" + kind }));
          base += p[kind];
        }
        svg.appendChild(g);
      });
    } else {
      const xOf = (i) => LEFT + (i / (points.length - 1)) * plotW;
      const area = (lower, upper) => {
        const top = points.map((p, i) => xOf(i).toFixed(1) + "," + yOf(upper(p)).toFixed(1));
        const bottom = points.map((p, i) => xOf(i).toFixed(1) + "," + yOf(lower(p)).toFixed(1)).reverse();
        return "M" + top.join("L") + "L" + bottom.join("L") + "Z";
      };
      svg.appendChild(svgEl("path", { d: area(() => 0, (p) => p.dataset), class: "bar bar-dataset area" }));
      svg.appendChild(svgEl("path", { d: area((p) => p.dataset, (p) => p.dataset + p.model), class: "bar bar-model area" }));
    }
    const firstLabel = BY_MINUTE ? points[0].key.slice(11) : points[0].key;
    const lastLabel = BY_MINUTE ? last.key.slice(11) : last.key;
    svg.appendChild(svgEl("text", { x: LEFT, y: H - 6, class: "label" }, firstLabel));
    if (points.length > 1) {
      svg.appendChild(svgEl("text", { x: W - RIGHT, y: H - 6, class: "label", "text-anchor": "end" }, lastLabel));
    }
    const caption = host.querySelector("figcaption");
    caption.textContent = "Growth: cumulative entries by first seen" +
      (BY_MINUTE ? " (all on " + [...SEEN_DAYS][0] + ", by minute UTC)" : " (UTC day)");
  }

  function drawCharts(list) {
    const anatomy = tally(list, (e) => (e.anatomy.length ? e.anatomy : [NONE]));
    horizontalBars(document.getElementById("chart-anatomy"), anatomy,
      (k) => (k === NONE ? "(not stated)" : k));
    verticalBars(document.getElementById("chart-tier"), tally(list, (e) => [e.tier || NONE], TIERS),
      (k) => (k === NONE ? "unscored" : k));
    horizontalBars(document.getElementById("chart-source"),
      tally(list, (e) => (e.sources.length ? e.sources : [NONE])),
      (k) => (k === NONE ? "(none)" : sourceLabel(k)));
    growthChart(document.getElementById("chart-growth"), list);
  }

  // --- render --------------------------------------------------------------------------------

  function render() {
    const words = terms();
    shown = ENTITIES.filter((e) => matches(e, null, words)).sort(compare);
    const frag = document.createDocumentFragment();
    for (const e of shown) {
      const row = ROWS.get(e.id);
      frag.appendChild(row.main);
      if (expanded.has(e.id) && row.detail) frag.appendChild(row.detail);
    }
    tbody.replaceChildren(frag);
    const nd = shown.filter((e) => e.kind === "dataset").length;
    const filtered = shown.length !== ENTITIES.length;
    countNode.textContent = (filtered ? "Showing " + shown.length + " of " + ENTITIES.length : "Showing all " + ENTITIES.length) +
      " entries (" + nd + " dataset" + (nd === 1 ? "" : "s") + ", " + (shown.length - nd) + " model" +
      (shown.length - nd === 1 ? "" : "s") + ").";
    countNode.dataset.shown = String(shown.length);
    countNode.dataset.total = String(ENTITIES.length);
    emptyNode.hidden = shown.length > 0;
    updateOptionCounts(words);
    updateSortHeaders();
    drawCharts(shown);
  }

  function resetFilters() {
    state.q = "";
    state.facets = {};
    searchBox.value = "";
    for (const facet of FACETS) facet.select.value = "";
    render();
  }

  // --- wiring --------------------------------------------------------------------------------

  buildOptions();
  ENTITIES.forEach(buildRow);
  document.getElementById("filters").addEventListener("submit", (ev) => ev.preventDefault());
  searchBox.addEventListener("input", () => { state.q = searchBox.value; render(); });
  for (const facet of FACETS) {
    facet.select.addEventListener("change", () => {
      state.facets[facet.key] = facet.select.value;
      render();
    });
  }
  for (const id of ["reset", "reset-empty"]) {
    document.getElementById(id).addEventListener("click", () => { resetFilters(); searchBox.focus(); });
  }
  for (const th of document.querySelectorAll("th[data-sort]")) {
    th.querySelector("button").addEventListener("click", () => {
      const key = th.dataset.sort;
      if (state.sort.key === key) state.sort.dir = state.sort.dir === "asc" ? "desc" : "asc";
      else state.sort = { key: key, dir: SORT_KEYS[key].first };
      render();
    });
  }
  window.addEventListener("hashchange", fromHash);
  render();
  document.documentElement.classList.add("ready");
  fromHash();
})();
