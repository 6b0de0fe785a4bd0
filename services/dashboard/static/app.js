// Equity Benchmarks dashboard: draws the view the server pushes over Server-Sent Events.
// Charts with Observable Plot (served from the dashboard's own node_modules); every chart has
// a table view and a CSV download; hidden cells read "fewer than k responses".
"use strict";
(function () {
  const body = document.body;
  const ROLE = body.dataset.role;
  const K = Number(body.dataset.k || 10);
  const COORDINATOR = ROLE === "coordinator";
  const SUPPRESSED = `fewer than ${K} responses`;
  const HIDDEN_REACH = `fewer than ${K} records`;
  // Okabe-Ito: colour-blind-safe.
  const C = { band: "#56B4E9", iqr: "#0072B2", median: "#000000", site: "#D55E00", other: "#009E73", grey: "#999999" };
  const VIEWS = COORDINATOR
    ? [["overview", "Collaborative overview"], ["scorecard", "Site scorecard"], ["interventions", "Interventions"], ["status", "Live status"]]
    : [["scorecard", "Scorecard"], ["interventions", "Interventions"], ["status", "Live status"]];
  const COMPOSITE_LABELS = {
    belonging: "Belonging", inclusion: "Inclusion", psychological_safety: "Psychological safety",
    equitable_opportunity: "Equitable opportunity", trust_in_reporting: "Trust in reporting",
    leadership_commitment: "Leadership commitment",
  };
  const human = (s) => (s == null ? "" : String(s).replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase()));
  const compositeLabel = (c) => COMPOSITE_LABELS[c] || human(c);
  const pct = (v) => (v == null ? "" : `${v.toFixed(1)}%`);
  const rate = (v) => (v == null ? "" : `${(v * 100).toFixed(1)}%`);
  const num = (v, d = 2) => (v == null ? "" : Number(v).toFixed(d));
  const signed = (v) => (v == null ? "" : `${v > 0 ? "+" : ""}${v.toFixed(1)}`);

  const state = { view: null, params: new URLSearchParams(), source: null, data: null, sites: [], ui: {} };
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value == null || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) if (child != null) node.append(child);
    return node;
  };

  // ------------------------------------------------------------------ routing and the stream
  function route() {
    const [name, query] = location.hash.replace(/^#\/?/, "").split("?");
    const view = VIEWS.some(([v]) => v === name) ? name : VIEWS[0][0];
    state.view = view;
    state.params = new URLSearchParams(query || "");
    for (const link of document.querySelectorAll("#nav a")) {
      if (link.dataset.view === view) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    document.title = `${VIEWS.find(([v]) => v === view)[1]} · Equity Benchmarks`;
    state.data = null;
    document.getElementById("view").replaceChildren();
    buildControls();
    connect();
  }

  function navigate(params) {
    const merged = new URLSearchParams(state.params);
    for (const [key, value] of Object.entries(params)) merged.set(key, value);
    location.hash = `#/${state.view}?${merged}`;
  }

  function connect() {
    if (state.source) state.source.close();
    const live = document.getElementById("live");
    live.textContent = "Connecting to the live benchmarks…";
    const params = new URLSearchParams();
    // A site always sees its own site: only a coordinator chooses one.
    for (const key of COORDINATOR ? ["wave", "site"] : ["wave"]) if (state.params.get(key)) params.set(key, state.params.get(key));
    const source = new EventSource(`/api/stream/${state.view}?${params}`);
    state.source = source;
    source.addEventListener("view", (event) => {
      const data = JSON.parse(event.data);
      state.data = data;
      render(data);
      body.dataset.viewVersion = String(data.view_version);
      body.dataset.renderedAt = String(Date.now());
      live.textContent = `Live: updated ${new Date().toLocaleTimeString()} (view version ${data.view_version}).`;
    });
    source.addEventListener("signedout", () => { source.close(); location.assign("/signin"); });
    source.addEventListener("offline", () => { live.textContent = "Connection to the benchmarks lost; reconnecting…"; });
    source.addEventListener("problem", (event) => {
      source.close();
      const problem = JSON.parse(event.data);
      live.textContent = `The benchmark service refused this view: ${problem.message || problem.code}`;
    });
    source.onerror = () => { if (source.readyState !== EventSource.CLOSED) live.textContent = "Reconnecting…"; };
  }

  // ------------------------------------------------------------------ controls
  function select(id, label, options, value, onchange) {
    const control = el("select", { id, name: id, onchange: (event) => onchange(event.target.value) },
      options.map(([v, text]) => el("option", { value: v, selected: v === value, text })));
    return el("label", { for: id }, label, control);
  }

  function buildControls() {
    const controls = document.getElementById("controls");
    controls.replaceChildren();
    state.ui.filters = state.ui.filters || { region: "", urbanicity: "", teaching_type: "" };
  }

  function fillControls(data) {
    const controls = document.getElementById("controls");
    if (controls.childElementCount) return; // built once per route: live updates keep focus
    const waves = (data.waves || ["baseline"]).map((w) => [w, human(w)]);
    if (data.wave) controls.append(select("wave", "Wave", waves, data.wave, (wave) => navigate({ wave })));
    if (COORDINATOR && (state.view === "scorecard" || state.view === "interventions") && data.site) {
      const options = state.sites.length ? state.sites.map((s) => [s.site_id, s.name]) : [[data.site.site_id, data.site.name]];
      controls.append(select("site", "Site", options, data.site.site_id, (site) => navigate({ site })));
    }
    if (state.view === "overview") {
      const f = state.ui.filters;
      const values = (key) => [["", "All"], ...[...new Set(data.sites.map((s) => s[key]))].sort().map((v) => [v, human(v)])];
      controls.append(
        select("filter-region", "Region", values("region"), f.region, (v) => { f.region = v; render(state.data); }),
        select("filter-urbanicity", "Urban / rural", values("urbanicity"), f.urbanicity, (v) => { f.urbanicity = v; render(state.data); }),
        select("filter-teaching", "Teaching type", values("teaching_type"), f.teaching_type, (v) => { f.teaching_type = v; render(state.data); }),
      );
    }
  }

  // ------------------------------------------------------------------ figures: chart + table + CSV
  function csvOf(columns, rows) {
    const quote = (v) => { const s = v == null ? "" : String(v); return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s; };
    return [columns.map((c) => quote(c.label)), ...rows.map((r) => columns.map((c) => quote(cellText(c, r))))]
      .map((line) => line.join(",")).join("\r\n") + "\r\n";
  }

  function cellText(column, row) {
    const value = column.value ? column.value(row) : row[column.key];
    if (value === SUPPRESSED || value === HIDDEN_REACH) return value;
    return column.format ? column.format(value, row) : value == null ? "" : String(value);
  }

  function table(id, caption, columns, rows) {
    const sort = state.ui[`sort-${id}`];
    let sorted = rows;
    if (sort) {
      const column = columns.find((c) => c.label === sort.label);
      if (column) {
        const get = (r) => { const v = column.value ? column.value(r) : r[column.key]; return typeof v === "number" ? v : v == null || v === SUPPRESSED ? -Infinity : String(v); };
        sorted = [...rows].sort((a, b) => { const x = get(a), y = get(b); return (x < y ? -1 : x > y ? 1 : 0) * (sort.ascending ? 1 : -1); });
      }
    }
    const head = el("tr", {}, columns.map((column) => {
      const direction = sort && sort.label === column.label ? (sort.ascending ? "ascending" : "descending") : null;
      return el("th", { scope: "col", "aria-sort": direction || (column.sortable === false ? null : "none") },
        column.sortable === false ? column.label : el("button", {
          type: "button", text: column.label, "aria-label": `Sort by ${column.label}`,
          onclick: () => {
            state.ui[`sort-${id}`] = { label: column.label, ascending: !(sort && sort.label === column.label && sort.ascending) };
            render(state.data);
            const again = document.querySelector(`#${id} th[aria-sort="${state.ui[`sort-${id}`].ascending ? "ascending" : "descending"}"] button`);
            if (again) again.focus();
          },
        }));
    }));
    const lines = sorted.map((row) => el("tr", row._attrs || {}, columns.map((column) => {
      const text = cellText(column, row);
      const hidden = text === SUPPRESSED || text === HIDDEN_REACH;
      const attrs = { class: [column.numeric ? "num" : "", hidden ? "suppressed" : ""].join(" ").trim() || null };
      if (column.attrs) Object.assign(attrs, column.attrs(row));
      return column.header ? el("th", { scope: "row", ...attrs, text }) : el("td", { ...attrs, text });
    })));
    return el("div", { class: "table-wrap" }, el("table", { id }, el("caption", { text: caption }), el("thead", {}, head), el("tbody", {}, lines)));
  }

  function figure({ id, title, description, chart, columns, rows, legend }) {
    const showTable = !chart || state.ui[`table-${id}`] === true;
    const toggle = chart ? el("button", {
      type: "button", "aria-pressed": showTable ? "true" : "false", "aria-controls": `${id}-body`,
      text: showTable ? "Show chart" : "Show table",
      onclick: () => { state.ui[`table-${id}`] = !showTable; render(state.data); document.querySelector(`#${id}-figure .toolbar button`).focus(); },
    }) : null;
    const download = el("button", {
      type: "button", text: "Download CSV", "aria-describedby": `${id}-title`,
      onclick: () => {
        const blob = new Blob([csvOf(columns, rows)], { type: "text/csv" });
        const link = el("a", { href: URL.createObjectURL(blob), download: `${id}.csv` });
        document.body.append(link); link.click(); link.remove();
      },
    });
    let content;
    if (showTable) content = table(id, title, columns, rows);
    else {
      content = el("div", { class: "chart", role: "img", "aria-label": `${title}. ${description} Use "Show table" for the values.` });
      // The container is the image (named above; its values are in the table view): the SVG's
      // own per-mark labels would be unnamed groups to assistive technology.
      const svg = chart();
      svg.setAttribute("aria-hidden", "true");
      for (const node of svg.querySelectorAll("[aria-label]")) node.removeAttribute("aria-label");
      content.append(svg);
    }
    return el("section", { class: "figure", id: `${id}-figure`, "aria-labelledby": `${id}-title` },
      el("h2", { id: `${id}-title`, text: title }),
      description ? el("p", { class: "desc", text: description }) : null,
      legend ? el("div", { class: "legend", "aria-hidden": "true" }, legend.map(([colour, text]) => el("span", {}, el("span", { class: "swatch", style: `background:${colour}` }), text))) : null,
      el("div", { class: "toolbar" }, toggle, download),
      el("div", { id: `${id}-body` }, content));
  }

  // A horizontal band per row: p10–p90, IQR, median tick, and dots.
  function bandChart(rows, dots, { dotColour = C.site, width = 900 } = {}) {
    const y = rows.map((r) => r.label);
    return Plot.plot({
      width, height: 60 + 44 * y.length, marginLeft: 190, marginRight: 30,
      x: { domain: [0, 100], label: "Percent positive →", grid: true },
      y: { domain: y, label: null },
      style: { fontSize: "13px", color: "#1a1a1a", background: "#ffffff" },
      marks: [
        Plot.barX(rows.filter((r) => r.dist), { y: "label", x1: (r) => r.dist.p10, x2: (r) => r.dist.p90, fill: C.band, fillOpacity: 0.45, insetTop: 8, insetBottom: 8 }),
        Plot.barX(rows.filter((r) => r.dist), { y: "label", x1: (r) => r.dist.p25, x2: (r) => r.dist.p75, fill: C.iqr, fillOpacity: 0.55, insetTop: 12, insetBottom: 12 }),
        Plot.tickX(rows.filter((r) => r.dist), { y: "label", x: (r) => r.dist.p50, stroke: C.median, strokeWidth: 3 }),
        Plot.dot(dots, { y: "label", x: "value", r: 5, fill: dotColour, stroke: "#fff", strokeWidth: 1, title: "title" }),
      ],
    });
  }

  function intervalChart(rows, { domain, label, zero = false, colour = (r) => C.iqr } = {}) {
    return Plot.plot({
      width: 1000, height: 50 + 26 * Math.max(rows.length, 1), marginLeft: 400, marginRight: 30,
      x: { domain, label, grid: true }, y: { domain: rows.map((r) => r.label), label: null },
      style: { fontSize: "12px", color: "#1a1a1a", background: "#ffffff" },
      marks: [
        zero ? Plot.ruleX([0], { stroke: "#4a4a4a" }) : null,
        Plot.ruleY(rows, { y: "label", x1: "low", x2: "high", stroke: colour, strokeWidth: 2 }),
        Plot.dot(rows, { y: "label", x: "value", r: 4, fill: (r) => (r.filled === false ? "#fff" : colour(r)), stroke: colour, strokeWidth: 2, title: "title" }),
      ],
    });
  }

  // ------------------------------------------------------------------ views
  function render(data) {
    if (!data) return;
    if (data.site && !COORDINATOR) state.sites = [data.site];
    if (data.sites) state.sites = data.sites;
    fillControls(data);
    const view = document.getElementById("view");
    const parts = { overview, scorecard, interventions, status }[data.view](data);
    view.replaceChildren(...parts);
  }

  function overview(data) {
    const f = state.ui.filters;
    const sites = data.sites.filter((s) => (!f.region || s.region === f.region) && (!f.urbanicity || s.urbanicity === f.urbanicity)
      && (!f.teaching_type || s.teaching_type === f.teaching_type));
    const bands = data.composites.map((c) => ({ label: compositeLabel(c.composite), composite: c.composite, dist: c.distribution }));
    const dots = [];
    for (const c of data.composites) for (const s of sites) {
      const v = c.values[s.site_id];
      if (v) dots.push({ label: compositeLabel(c.composite), value: v.percent_positive, title: `${s.name}: ${pct(v.percent_positive)} (n=${v.n})` });
    }
    const distColumns = [
      { label: "Composite", key: "label", header: true },
      { label: "Eligible sites", value: (r) => r.dist && r.dist.sites, numeric: true },
      ...["p10", "p25", "p50", "p75", "p90"].map((p) => ({ label: p === "p50" ? "Median" : p, value: (r) => (r.dist ? r.dist[p] : null), format: pct, numeric: true })),
    ];
    const rows = sites.map((s) => {
      const row = { ...s, _attrs: { "data-site-id": s.site_id } };
      const any = data.composites.map((c) => c.values[s.site_id]).filter(Boolean);
      row.n = any.length ? Math.max(...any.map((v) => v.n)) : SUPPRESSED;
      const rr = any.find((v) => v.response_rate != null);
      row.response_rate = any.length ? (rr ? rr.response_rate : null) : SUPPRESSED;
      for (const c of data.composites) row[c.composite] = c.values[s.site_id] ? c.values[s.site_id].percent_positive : SUPPRESSED;
      return row;
    });
    const siteColumns = [
      { label: "Site", key: "name", header: true },
      { label: "Region", key: "region", format: human },
      { label: "Urban / rural", key: "urbanicity", format: human },
      { label: "Teaching type", key: "teaching_type", format: human },
      { label: "Responses", key: "n", numeric: true },
      { label: "Response rate", key: "response_rate", format: rate, numeric: true },
      ...data.composites.map((c) => ({ label: compositeLabel(c.composite), key: c.composite, format: pct, numeric: true,
        attrs: () => ({ "data-composite": c.composite }) })),
    ];
    return [
      el("h1", { text: `Collaborative overview, ${human(data.wave)} wave` }),
      figure({
        id: "overview-band", title: "Every site's percent positive against the collaborative",
        description: `Bands show the 10th–90th and 25th–75th percentiles over eligible sites (at least ${Math.max(10, K)} responses: SOPS's 10, or k if larger); the black tick is the median; each dot is one site (${sites.length} shown).`,
        legend: [[C.band, "p10–p90"], [C.iqr, "p25–p75"], [C.median, "median"], [C.site, "a site"]],
        chart: () => bandChart(bands, dots), columns: distColumns, rows: bands,
      }),
      figure({ id: "site-table", title: "Sites by composite (percent positive)", description: "Select a column heading to sort.", columns: siteColumns, rows }),
    ];
  }

  function scorecard(data) {
    const rows = data.composites.map((c) => ({ ...c, label: compositeLabel(c.composite), dist: c.peer }));
    const dots = rows.filter((r) => r.value).map((r) => ({ label: r.label, value: r.value.percent_positive, title: `${data.site.name}: ${pct(r.value.percent_positive)}` }));
    const hidden = (r, f) => (r.value ? f(r.value) : SUPPRESSED);
    const columns = [
      { label: "Composite", key: "label", header: true },
      { label: "Percent positive", value: (r) => hidden(r, (v) => v.percent_positive), format: pct, numeric: true, attrs: (r) => ({ "data-composite": r.composite }) },
      { label: "Mean (1–5)", value: (r) => hidden(r, (v) => v.mean), format: (v) => num(v), numeric: true },
      { label: "Mean 95% CI", value: (r) => hidden(r, (v) => (v.mean_low == null ? null : `${num(v.mean_low)}–${num(v.mean_high)}`)) },
      { label: "Responses", value: (r) => hidden(r, (v) => v.n), numeric: true },
      { label: "Peer median", value: (r) => r.peer && r.peer.p50, format: pct, numeric: true },
      { label: "Peer IQR", value: (r) => (r.peer ? `${pct(r.peer.p25)}–${pct(r.peer.p75)}` : null) },
      { label: "Percentile rank", value: (r) => (r.percentile_rank == null ? null : Math.round(r.percentile_rank * 100)), format: (v) => (v == null ? "" : `${v}th`), numeric: true },
      { label: "Peer sites", value: (r) => r.peer && r.peer.sites, numeric: true },
    ];
    const chosen = state.ui.breakdownComposite || (data.composites[0] && data.composites[0].composite);
    const breakdowns = data.breakdowns.filter((b) => b.composite === chosen).map((b) => ({
      ...b, label: `${human(b.dimension)}: ${human(b.group)}`,
      _attrs: { "data-dimension": b.dimension, "data-group": b.group },
    }));
    const shown = breakdowns.filter((b) => b.value).map((b) => ({ label: b.label, value: b.value.mean, low: b.value.mean_low ?? b.value.mean, high: b.value.mean_high ?? b.value.mean, title: `${b.label}: mean ${num(b.value.mean)} (n=${b.value.n})` }));
    const bcol = [
      { label: "Breakdown", value: (r) => human(r.dimension), header: true },
      { label: "Group", value: (r) => human(r.group) },
      { label: "Responses", value: (r) => (r.value ? r.value.n : SUPPRESSED), numeric: true },
      { label: "Percent positive", value: (r) => (r.value ? r.value.percent_positive : SUPPRESSED), format: pct, numeric: true },
      { label: "Mean (1–5)", value: (r) => (r.value ? r.value.mean : SUPPRESSED), format: (v) => num(v), numeric: true },
      { label: "Mean 95% CI", value: (r) => (r.value ? (r.value.mean_low == null ? null : `${num(r.value.mean_low)}–${num(r.value.mean_high)}`) : SUPPRESSED) },
    ];
    const gaps = data.disparities.map((d) => ({ ...d, label: `${compositeLabel(d.composite)} · ${human(d.dimension)}: ${human(d.group)} vs ${human(d.reference_group)}`, value: d.difference, filled: d.significant, title: `${signed(d.difference)} points (${signed(d.low)} to ${signed(d.high)})${d.significant ? ", significant" : ""}` }));
    const gcol = [
      { label: "Composite", value: (r) => compositeLabel(r.composite), header: true },
      { label: "Breakdown", value: (r) => human(r.dimension) },
      { label: "Group", value: (r) => human(r.group) },
      { label: "Reference", value: (r) => human(r.reference_group) },
      { label: "Gap (points)", key: "difference", format: signed, numeric: true },
      { label: "95% CI", value: (r) => `${signed(r.low)} to ${signed(r.high)}` },
      { label: "Significant", value: (r) => (r.significant ? "yes" : "no") },
      { label: "n (group / reference)", value: (r) => `${r.n} / ${r.reference_n}` },
    ];
    const changes = data.changes.map((c) => ({ ...c, label: `${compositeLabel(c.composite)} (${human(c.from_wave)} → ${human(c.to_wave)})`, value: c.difference, title: `${signed(c.difference)} points: ${human(c.direction)}` }));
    const ccol = [
      { label: "Composite", value: (r) => compositeLabel(r.composite), header: true },
      { label: "From", value: (r) => human(r.from_wave) }, { label: "To", value: (r) => human(r.to_wave) },
      { label: "Before", key: "from_percent_positive", format: pct, numeric: true },
      { label: "After", key: "to_percent_positive", format: pct, numeric: true },
      { label: "Change (points)", key: "difference", format: signed, numeric: true },
      { label: "95% CI", value: (r) => `${signed(r.low)} to ${signed(r.high)}` },
      { label: "Verdict", value: (r) => human(r.direction), attrs: (r) => ({ class: `verdict-${r.direction}` }) },
    ];
    const composites = data.composites.map((c) => [c.composite, compositeLabel(c.composite)]);
    const picker = el("div", { class: "controls" }, select("breakdown-composite", "Composite of the breakdowns", composites, chosen,
      (v) => { state.ui.breakdownComposite = v; render(state.data); document.getElementById("breakdown-composite").focus(); }));
    const responses = data.responses ? `${data.responses.n} responses${data.responses.response_rate != null ? `, response rate ${rate(data.responses.response_rate)}` : ""}` : SUPPRESSED;
    return [
      el("h1", { text: `${data.site.name}: ${human(data.wave)} wave` }),
      el("p", { id: "responses", text: responses }),
      figure({
        id: "composites", title: "Composites against the peer distribution",
        description: "The site's percent positive (orange dot) against its peers' median (black tick), interquartile range (dark band) and 10th–90th percentiles (light band). Peers appear only as this distribution.",
        legend: [[C.band, "peers p10–p90"], [C.iqr, "peers p25–p75"], [C.median, "peer median"], [C.site, "this site"]],
        chart: () => bandChart(rows, dots), columns, rows,
      }),
      picker,
      figure({
        id: "breakdowns", title: `Breakdowns of ${compositeLabel(chosen)}`,
        description: `Mean score (1–5) with its 95% confidence interval for each role, department and group. Groups with fewer than ${K} responses are hidden.`,
        chart: () => intervalChart(shown, { domain: [1, 5], label: "Mean score (1–5) →" }), columns: bcol, rows: breakdowns,
      }),
      figure({
        id: "disparities", title: "Disparity gaps",
        description: "Percent positive of a group minus its reference group, in points, with the 95% interval. Filled dots are significant (the interval excludes 0).",
        chart: () => intervalChart(gaps, { domain: [-60, 60], label: "Gap in percentage points →", zero: true, colour: (r) => (r.significant ? C.site : C.iqr) }), columns: gcol, rows: gaps,
      }),
      figure({
        id: "changes", title: "Change between waves",
        description: "Percent positive of the later wave minus the earlier, with the 95% interval and the verdict: improved, declined or no clear change.",
        chart: () => intervalChart(changes, { domain: [-40, 40], label: "Change in percentage points →", zero: true, colour: (r) => (r.direction === "improved" ? C.other : r.direction === "declined" ? C.site : C.iqr) }), columns: ccol, rows: changes,
      }),
    ];
  }

  // The figures come described by the server (services/dashboard/reach_charts.py): one chart
  // per unit, each with its own axis (0 to a round top; all zeros give 0 to 1 and empty bars).
  function reachAxis(axis, label = axis.label) {
    return { domain: [0, axis.top], ticks: axis.ticks, tickFormat: (d) => Number(d).toFixed(axis.decimals), label, grid: true };
  }

  function reachBars(fig, shown) {
    return Plot.plot({
      width: 900, height: 60 + 28 * Math.max(shown.length, 1), marginLeft: 330, marginRight: 40,
      x: reachAxis(fig.axis), y: { domain: shown.map((r) => r.label), label: null },
      style: { fontSize: "12px", color: "#1a1a1a", background: "#ffffff" },
      marks: [
        Plot.barX(shown, { y: "label", x1: 0, x2: "plotted", fill: C.iqr, className: "reach-bar", title: (r) => `${r.label}: ${r.text}` }),
        Plot.ruleX([0]),
      ],
    });
  }

  function reachSeries(fig) {
    const points = fig.rows;
    return Plot.plot({
      width: 900, height: 300, marginLeft: 60, marginRight: 40, marginBottom: 50,
      x: { domain: points.map((p) => p.quarter), label: "Quarter", type: "point", padding: 0.3 },
      y: reachAxis(fig.axis),
      style: { fontSize: "12px", color: "#1a1a1a", background: "#ffffff" },
      marks: [
        Plot.ruleY([0]),
        Plot.lineY(points, { x: "quarter", y: "value", stroke: C.iqr, strokeWidth: 2, className: "reach-line" }),
        Plot.dot(points, { x: "quarter", y: "value", r: 4, fill: C.iqr, className: "reach-point", title: (p) => `${p.quarter}: ${p.text}` }),
      ],
    });
  }

  function interventions(data) {
    const parts = [el("h1", { text: `${data.site.name}: interventions` })];
    for (const fig of data.figures) {
      const value = (r) => (r.value == null ? HIDDEN_REACH : r.value);
      const columns = fig.kind === "series"
        ? [{ label: "Quarter", key: "quarter", header: true }, { label: "Sessions", key: "value", format: (v, r) => r.text, numeric: true }]
        : [{ label: "Measure", key: "label", header: true }, { label: "Value", value, format: (v, r) => r.text, numeric: true },
          ...(fig.n_label ? [{ label: fig.n_label, key: "n", numeric: true }] : [])];
      const shown = fig.rows.filter((r) => r.value != null);
      const chart = fig.kind === "table" || !shown.length ? null : fig.kind === "series" ? () => reachSeries(fig) : () => reachBars(fig, shown);
      const section = figure({ id: fig.id, title: fig.title, description: fig.description, chart, columns, rows: fig.rows });
      section.dataset.unit = fig.unit;
      section.dataset.kind = fig.kind;
      parts.push(section);
    }
    return parts;
  }

  function status(data) {
    const field = (name) => () => ({ "data-field": name });
    const rows = data.releases.map((r) => ({ ...r, _attrs: { "data-scope": r.scope, "data-site-id": r.site_id, "data-wave": r.wave } }));
    const none = "none yet";
    // Whether the row's release is its wave's result (the release names the wave in its
    // closed_waves); intervention events have no wave: not applicable.
    const resultText = (v, r) => {
      if (v == null) return "—";
      if (v) return "yes: the wave's result";
      if (!r.release || r.covered === 0) return "not yet";
      return r.site_id ? "interim: totals only" : "interim";
    };
    const columns = [
      { label: "Site", key: "site_name", header: true },
      { label: "Wave", key: "wave", format: (v) => (v === "interventions" ? "Intervention events" : human(v)) },
      { label: "Release", key: "release", format: (v) => (v ? String(v) : none), numeric: true, attrs: field("release") },
      { label: "Cut at", key: "cut_at", format: (v) => (v ? new Date(v).toLocaleString() : none), attrs: field("cut_at") },
      { label: "Responses covered", key: "covered", format: (v) => (v == null ? "see the sites' rows" : String(v)), numeric: true, attrs: field("covered") },
      { label: "Received since (held back)", key: "held_back", format: (v) => (v == null ? "see the sites' rows" : String(v)), numeric: true, attrs: field("held_back") },
      { label: "Wave's result", key: "result", format: (v, r) => resultText(v, r), attrs: field("result") },
    ];
    const flagged = (data.flags || []).map((f) => ({ ...f, _attrs: { "data-site-id": f.site_id, "data-wave": f.wave } }));
    const flags = flagged.length ? [figure({ id: "status-flags", title: "Flagged: uploads refused for more responses than eligible staff", columns: [
      { label: "Site", key: "site_name", header: true },
      { label: "Wave", key: "wave", format: human },
      { label: "Eligible headcount", key: "eligible", numeric: true },
      { label: "Responses stored", key: "stored", numeric: true },
      { label: "Refused", key: "refused", numeric: true },
      { label: "Refused at", key: "flagged_at", format: (v) => new Date(v).toLocaleString() },
      { label: "What the site was told", key: "reason" }], rows: flagged })] : [];
    return [
      el("h1", { text: "Live status" }),
      ...flags,
      el("p", { class: "desc", text: `The latest release of each site and wave: its number, when it was cut, the responses it covers, and the responses received since. Releases are cut on a calendar announced in advance, never because of what the responses say: at every scheduled release time and at each wave's close. At a scheduled time a wave advances when at least ${K} new responses arrived since its last release, and the release then covers every response received up to that time; fewer than ${K} wait for the next scheduled time, shown here as received since (held back). While a wave is open its releases are interim and show totals only; the release at or after its close is the wave's result, with its breakdowns. A row reads "not yet" while none of its wave's responses is released. Intervention events have no wave: their row has no wave's result (—, not applicable). A site's release covers all its waves at once; the cross-site distributions and ranks of a wave are released from the sites' released totals.` }),
      figure({ id: "status-table", title: "Latest release by site and wave", columns, rows }),
    ];
  }

  // ------------------------------------------------------------------ start
  const nav = document.getElementById("nav");
  for (const [view, label] of VIEWS) nav.append(el("li", {}, el("a", { href: `#/${view}`, "data-view": view, text: label })));
  window.addEventListener("hashchange", route);
  route();
})();
