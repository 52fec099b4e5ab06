// Kestrel dashboard: a small single-page app over the server's JSON API.
// Everything is built with DOM calls (never innerHTML with data), so what the API returns is
// always text, whatever it contains. Lists are paginated and filtered by the server, so a page
// costs the same with ten findings or ten thousand.
"use strict";

const TOKEN_KEY = "kestrel.token";
const PAGE = 100;
const PRIORITY_COLORS = {
  Emergency: "#7f1d1d", Alert: "#991b1b", Critical: "#b91c1c", Error: "#ea580c",
  Warning: "#ca8a04", Notice: "#2563eb", Informational: "#64748b", Debug: "#94a3b8",
};

// ---- DOM helpers ---------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function sev(text) {
  return h("span", { class: `sev ${String(text).toLowerCase()}` }, text);
}

function fmtTime(t) {
  if (!t) return "";
  const d = new Date(t);
  return isNaN(d) ? t : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function fmtNum(n, digits = 1) {
  return n === undefined || n === null ? "" : Number(n).toFixed(digits);
}

function workloadHref(cluster, w) {
  return `#/workload/${[cluster, w.namespace, w.kind, w.name].map(encodeURIComponent).join("/")}`;
}

function link(href, text) {
  return h("a", { href }, text);
}

// ---- API -----------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, params) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") qs.set(k, v);
  }
  const url = qs.toString() ? `${path}?${qs}` : path;
  const resp = await fetch(url, { headers: { Authorization: `Bearer ${localStorage.getItem(TOKEN_KEY) || ""}` } });
  let body;
  try { body = await resp.json(); } catch { body = null; }
  if (!resp.ok) {
    if (resp.status === 401) { localStorage.removeItem(TOKEN_KEY); }
    throw new ApiError(resp.status, (body && body.error) || `HTTP ${resp.status}`);
  }
  return body;
}

// ---- routing -------------------------------------------------------------------------------

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { route: parts[0] || "overview", args: parts.slice(1), params: Object.fromEntries(new URLSearchParams(query || "")) };
}

function setParams(params) {
  const { route, args } = parseHash();
  const clean = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ""));
  const qs = new URLSearchParams(clean).toString();
  location.hash = `#/${[route, ...args].map(encodeURIComponent).join("/")}${qs ? "?" + qs : ""}`;
}

const ROUTES = {
  overview: viewOverview,
  workloads: viewWorkloads,
  workload: viewWorkload,
  vulnerabilities: viewVulns,
  alerts: viewAlerts,
  posture: viewPosture,
  paths: viewPaths,
  path: viewPath,
  sensors: viewSensors,
};

let renderSeq = 0;
async function render() {
  const main = document.getElementById("main");
  if (!localStorage.getItem(TOKEN_KEY)) return showLogin();
  document.getElementById("logout").hidden = false;
  const { route, args, params } = parseHash();
  for (const a of document.querySelectorAll("nav a")) {
    const r = a.dataset.route;
    a.classList.toggle("active", r === route || (r === "workloads" && route === "workload") || (r === "paths" && route === "path"));
  }
  const view = ROUTES[route] || viewOverview;
  const seq = ++renderSeq;
  main.replaceChildren(h("p", { class: "loading" }, "Loading…"));
  try {
    const content = await view(args, params);
    // A newer navigation started while this one was loading: drop the stale result.
    if (seq !== renderSeq) return;
    main.replaceChildren(content);
    main.dataset.ready = ROUTES[route] ? route : "overview";
  } catch (e) {
    if (seq !== renderSeq) return;
    if (e.status === 401) return showLogin("Your token was refused; sign in again.");
    main.replaceChildren(h("p", { class: "error", "data-testid": "error" }, e.message));
  }
}

function showLogin(message) {
  document.getElementById("logout").hidden = true;
  const main = document.getElementById("main");
  const form = document.getElementById("login-template").content.cloneNode(true);
  main.replaceChildren(form);
  main.dataset.ready = "login";
  if (message) document.getElementById("login-error").textContent = message;
  document.getElementById("login").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const token = document.getElementById("token").value.trim();
    localStorage.setItem(TOKEN_KEY, token);
    try {
      await api("/api/v1/whoami");
      render();
    } catch (e) {
      localStorage.removeItem(TOKEN_KEY);
      document.getElementById("login-error").textContent = e.message;
    }
  });
}

// ---- shared widgets ------------------------------------------------------------------------

// A sortable, paginated table over a server list endpoint.
function table(columns, rows, opts = {}) {
  const { sort, order, onSort } = opts;
  const head = h("tr", {}, columns.map((c) => {
    const cls = [c.sort ? "sortable" : "", c.sort && c.sort === sort ? `sorted-${order || "desc"}` : ""].join(" ").trim();
    return h("th", {
      class: cls || undefined,
      "data-sort": c.sort,
      onclick: c.sort && onSort ? () => onSort(c.sort) : undefined,
    }, c.title);
  }));
  const body = rows.length
    ? rows.map((r) => h("tr", {}, columns.map((c) => h("td", { class: c.num ? "num" : undefined }, c.cell(r)))))
    : [h("tr", {}, h("td", { colspan: columns.length, class: "muted" }, "Nothing matches."))];
  return h("table", { "data-testid": opts.testid }, h("thead", {}, head), h("tbody", {}, body));
}

function pager(page, params) {
  const from = page.total === 0 ? 0 : page.offset + 1;
  const to = page.offset + page.items.length;
  return h("div", { class: "pager", "data-testid": "pager" },
    h("span", { "data-testid": "total" }, `${from}–${to} of ${page.total}`),
    h("button", { type: "button", disabled: page.offset === 0 || undefined,
      onclick: () => setParams({ ...params, offset: Math.max(0, page.offset - page.limit) || undefined }) }, "Previous"),
    h("button", { type: "button", disabled: to >= page.total || undefined,
      onclick: () => setParams({ ...params, offset: page.offset + page.limit }) }, "Next"));
}

// A filter form: fields are [name, label, kind, options]; submitting rewrites the URL.
function filters(fields, params) {
  const form = h("form", { class: "filters", "data-testid": "filters" });
  for (const [name, label, kind, options] of fields) {
    let input;
    if (kind === "select") {
      input = h("select", { name }, options.map(([v, t]) => h("option", { value: v, selected: params[name] === v || undefined }, t)));
    } else {
      input = h("input", { name, type: kind || "text", value: params[name] || "", placeholder: label });
    }
    form.append(h("label", {}, label, input));
  }
  form.append(h("button", { type: "submit", class: "primary" }, "Apply"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const next = { ...params };
    for (const [name] of fields) next[name] = new FormData(form).get(name) || undefined;
    delete next.offset;
    setParams(next);
  });
  return form;
}

const SEVERITIES = [["", "any"], ["critical", "critical"], ["high", "high+"], ["medium", "medium+"], ["low", "low+"]];
const PRIORITIES = [["", "any"], ["critical", "critical+"], ["error", "error+"], ["warning", "warning+"], ["notice", "notice+"], ["informational", "informational+"]];

function vulnColumns(withWorkload) {
  const cols = [
    { title: "Score", sort: "score", num: true, cell: (v) => h("strong", {}, fmtNum(v.score)) },
    { title: "Vulnerability", sort: "vulnerability", cell: (v) => [h("code", {}, v.vulnerability), v.summary ? h("div", { class: "muted" }, v.summary) : null] },
    { title: "Severity", sort: "severity", cell: (v) => sev(v.severity) },
    { title: "Package", sort: "package", cell: (v) => h("code", {}, `${v.package.name} ${v.package.version}`) },
  ];
  if (withWorkload) {
    cols.push({ title: "Workload", sort: "workload", cell: (v) => link(workloadHref(v.cluster, v.workload), `${v.workload.namespace}/${v.workload.name}`) });
  }
  cols.push(
    { title: "Why", cell: (v) => h("ul", { class: "reasons" }, (v.reasons || []).map((r) => h("li", {}, r))) },
    { title: "Signals", cell: (v) => [
      v.kev ? h("span", { class: "tag kev" }, "KEV") : null,
      h("span", { class: `tag ${v.in_use}` }, `in use: ${v.in_use}`),
      h("span", { class: "tag" }, v.exposure),
      h("span", { class: "tag" }, v.environment),
    ] },
    { title: "EPSS", sort: "epss", num: true, cell: (v) => (v.epss === undefined ? "" : fmtNum(v.epss, 3)) },
    { title: "Fixed in", cell: (v) => v.fixed_version || h("span", { class: "muted" }, "no fix") },
  );
  return cols;
}

function alertColumns() {
  return [
    { title: "Time", cell: (a) => fmtTime(a.alert.time) },
    { title: "Priority", cell: (a) => sev(a.alert.priority) },
    { title: "Rule", cell: (a) => a.alert.rule },
    { title: "Workload", cell: (a) => (a.workload ? link(workloadHref(a.cluster, a.workload), `${a.workload.namespace}/${a.workload.name}`)
      : [a.alert.output_fields["k8s.ns.name"], a.alert.output_fields["k8s.pod.name"]].filter(Boolean).join("/")) },
    { title: "Node", cell: (a) => a.node },
    { title: "Output", cell: (a) => h("code", {}, a.alert.output) },
  ];
}

function postureColumns() {
  return [
    { title: "Severity", cell: (p) => sev(p.severity) },
    { title: "Check", cell: (p) => [h("code", {}, p.check_id), h("div", {}, p.title)] },
    { title: "Resource", cell: (p) => `${p.resource.kind} ${p.resource.namespace ? p.resource.namespace + "/" : ""}${p.resource.name}` },
    { title: "Container", cell: (p) => p.container || "" },
    { title: "Field", cell: (p) => (p.path ? h("code", {}, p.path) : "") },
    { title: "OWASP", cell: (p) => p.owasp || "" },
    { title: "Message", cell: (p) => p.message },
  ];
}

function pathColumns() {
  return [
    { title: "Score", num: true, cell: (p) => h("strong", {}, fmtNum(p.score)) },
    { title: "Path", cell: (p) => link(`#/path/${encodeURIComponent(p.cluster)}/${encodeURIComponent(p.id)}`, p.title) },
    { title: "Entry", cell: (p) => link(workloadHref(p.cluster, p.workload), `${p.workload.namespace}/${p.workload.name}`) },
    { title: "Hops", num: true, cell: (p) => p.hops.length },
    { title: "Target", cell: (p) => nodeLabel(p.hops[p.hops.length - 1].to) },
  ];
}

function nodeLabel(n) {
  return `${n.kind} ${n.namespace ? n.namespace + "/" : ""}${n.name}`;
}

function withSort(params, key) {
  const same = params.sort === key;
  return { ...params, sort: key, order: same && params.order !== "asc" ? "asc" : "desc", offset: undefined };
}

// ---- views ---------------------------------------------------------------------------------

async function viewOverview() {
  const o = await api("/api/v1/overview");
  const card = (n, l, href, id) => h("a", { class: "card", href, "data-testid": id }, h("div", { class: "n" }, n), h("div", { class: "l" }, l));
  return h("div", {},
    h("h1", {}, "Overview"),
    h("div", { class: "cards" },
      card(o.workloads, "workloads", "#/workloads", "count-workloads"),
      card(o.vulnerabilities, "vulnerabilities", "#/vulnerabilities", "count-vulnerabilities"),
      card(o.alerts, "alerts", "#/alerts", "count-alerts"),
      card(o.posture_findings, "posture findings", "#/posture", "count-posture"),
      card(o.attack_paths, "attack paths", "#/paths", "count-paths")),
    h("h2", {}, "Top risks"),
    table(vulnColumns(true), o.top_risks, { testid: "top-risks" }),
    h("h2", {}, "Alerts, last 24 hours"),
    h("div", { class: "panel timeline", "data-testid": "timeline" }, timeline(o.timeline)),
    h("h2", {}, "Sensors"),
    sensorTable(o.sensors));
}

function timeline(buckets) {
  const W = 960, H = 160, pad = 24;
  const totals = buckets.map((b) => Object.values(b.counts).reduce((a, c) => a + c, 0));
  const max = Math.max(1, ...totals);
  const bw = (W - pad) / buckets.length;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H + 20}`, role: "img", "aria-label": "alerts per hour" });
  svg.append(s("text", { x: 0, y: 12, "font-size": 11, fill: "#5d6778" }, String(max)));
  buckets.forEach((b, i) => {
    let y = H;
    for (const p of Object.keys(PRIORITY_COLORS)) {
      const n = b.counts[p] || 0;
      if (!n) continue;
      const bh = (n / max) * (H - 16);
      y -= bh;
      svg.append(s("rect", { x: pad + i * bw + 1, y, width: Math.max(1, bw - 2), height: bh, fill: PRIORITY_COLORS[p], "data-priority": p },
        s("title", {}, `${fmtTime(b.start)}: ${n} ${p}`)));
    }
    if (i % 4 === 0) {
      svg.append(s("text", { x: pad + i * bw, y: H + 14, "font-size": 10, fill: "#5d6778" }, new Date(b.start).toISOString().slice(11, 16)));
    }
  });
  const legend = h("div", { class: "legend" }, Object.entries(PRIORITY_COLORS).slice(0, 7).map(([p, c]) => {
    const sw = h("i");
    sw.style.background = c;
    return h("span", {}, sw, p);
  }));
  return [svg, legend];
}

function sensorTable(sensors) {
  return table([
    { title: "Cluster", cell: (x) => x.cluster },
    { title: "Node", cell: (x) => x.node },
    { title: "Status", cell: (x) => h("span", { class: `status-${x.status}` }, x.status) },
    { title: "Version", cell: (x) => x.version },
    { title: "Events/s", num: true, cell: (x) => fmtNum(x.events_per_second) },
    { title: "Events", num: true, cell: (x) => x.events_total },
    { title: "Drops", num: true, cell: (x) => x.drops_total },
    { title: "Buffer", num: true, cell: (x) => `${x.buffer_bytes || 0} B${x.buffer_dropped_batches ? `, ${x.buffer_dropped_batches} batches lost` : ""}` },
    { title: "Last seen", cell: (x) => fmtTime(x.last_seen) },
    { title: "Notes", cell: (x) => (x.messages || []).join("; ") },
  ], sensors, { testid: "sensors" });
}

async function viewVulns(_args, params) {
  const query = { ...params, limit: PAGE };
  const page = await api("/api/v1/vulnerabilities", query);
  return h("div", {},
    h("h1", {}, "Vulnerabilities"),
    filters([
      ["q", "Search", "text"],
      ["severity", "Severity", "select", SEVERITIES],
      ["kev", "KEV", "select", [["", "any"], ["true", "KEV only"], ["false", "not KEV"]]],
      ["in_use", "In use", "select", [["", "any"], ["yes", "yes"], ["no", "no"], ["unknown", "unknown"]]],
      ["namespace", "Namespace", "text"],
      ["min_score", "Min score", "number"],
    ], params),
    pager(page, params),
    table(vulnColumns(true), page.items, {
      testid: "vulns", sort: params.sort || "score", order: params.order || "desc",
      onSort: (key) => setParams(withSort(params, key)),
    }));
}

async function viewAlerts(_args, params) {
  const page = await api("/api/v1/alerts", { ...params, limit: PAGE });
  return h("div", {},
    h("h1", {}, "Alerts"),
    filters([
      ["priority", "Priority", "select", PRIORITIES],
      ["rule", "Rule", "text"],
      ["namespace", "Namespace", "text"],
      ["workload", "Workload or pod", "text"],
      ["node", "Node", "text"],
      ["since", "Since (RFC 3339)", "text"],
    ], params),
    pager(page, params),
    table(alertColumns(), page.items, { testid: "alerts" }));
}

async function viewPosture(_args, params) {
  const page = await api("/api/v1/posture", { ...params, limit: PAGE });
  return h("div", {},
    h("h1", {}, "Posture findings"),
    filters([
      ["severity", "Severity", "select", SEVERITIES],
      ["check_id", "Check", "text"],
      ["namespace", "Namespace", "text"],
      ["kind", "Kind", "text"],
    ], params),
    pager(page, params),
    table(postureColumns(), page.items, { testid: "posture" }));
}

async function viewWorkloads(_args, params) {
  const page = await api("/api/v1/workloads", { ...params, limit: PAGE });
  return h("div", {},
    h("h1", {}, "Workloads"),
    filters([
      ["q", "Search name or image", "text"],
      ["namespace", "Namespace", "text"],
      ["exposure", "Exposure", "select", [["", "any"], ["internet", "internet"], ["cluster", "cluster"], ["none", "none"], ["unknown", "unknown"]]],
      ["environment", "Environment", "select", [["", "any"], ["production", "production"], ["staging", "staging"], ["test", "test"], ["sandbox", "sandbox"], ["unknown", "unknown"]]],
    ], params),
    pager(page, params),
    table([
      { title: "Max score", num: true, cell: (w) => h("strong", {}, fmtNum(w.max_score)) },
      { title: "Workload", cell: (w) => link(workloadHref(w.cluster, w), `${w.namespace}/${w.name}`) },
      { title: "Kind", cell: (w) => w.kind },
      { title: "Cluster", cell: (w) => w.cluster },
      { title: "Images", cell: (w) => w.images.map((i) => h("div", {}, h("code", {}, i))) },
      { title: "Exposure", cell: (w) => [h("span", { class: "tag" }, w.exposure), ...w.exposure_routes.map((r) => h("div", { class: "muted" }, r))] },
      { title: "Environment", cell: (w) => w.environment },
      { title: "Vulns", num: true, cell: (w) => w.vulnerabilities },
      { title: "Alerts", num: true, cell: (w) => w.alerts },
    ], page.items, { testid: "workloads" }));
}

async function viewWorkload(args) {
  const [cluster, ns, kind, name] = args;
  const d = await api(`/api/v1/workloads/${[cluster, ns, kind, name].map(encodeURIComponent).join("/")}`);
  const w = d.summary;
  return h("div", { "data-testid": "workload" },
    h("h1", {}, `${w.kind} ${w.namespace}/${w.name}`),
    h("div", { class: "panel" },
      h("div", {}, h("strong", {}, "Cluster: "), w.cluster),
      h("div", {}, h("strong", {}, "Images: "), w.images.map((i) => h("code", { class: "tag" }, i))),
      h("div", {}, h("strong", {}, "Exposure: "), h("span", { class: "tag", "data-testid": "exposure" }, w.exposure), w.exposure_routes.join(", ")),
      h("div", {}, h("strong", {}, "Environment: "), w.environment),
      w.service_account ? h("div", {}, h("strong", {}, "Service account: "), w.service_account) : null,
      h("div", {}, h("strong", {}, "Last seen: "), fmtTime(w.last_seen))),
    h("h2", {}, `Vulnerabilities (${d.vulnerabilities.total})`),
    table(vulnColumns(false), d.vulnerabilities.items, { testid: "workload-vulns" }),
    h("h2", {}, `Attack paths (${d.attack_paths.total})`),
    table(pathColumns(), d.attack_paths.items, { testid: "workload-paths" }),
    h("h2", {}, `Alerts (${d.alerts.total})`),
    table(alertColumns(), d.alerts.items, { testid: "workload-alerts" }),
    h("h2", {}, `Posture findings (${d.posture.total})`),
    table(postureColumns(), d.posture.items, { testid: "workload-posture" }));
}

async function viewPaths(_args, params) {
  const page = await api("/api/v1/attack-paths", { ...params, limit: PAGE });
  return h("div", {},
    h("h1", {}, "Attack paths"),
    filters([["namespace", "Namespace", "text"], ["workload", "Entry workload", "text"], ["min_score", "Min score", "number"]], params),
    pager(page, params),
    table(pathColumns(), page.items, { testid: "paths" }));
}

async function viewPath(args) {
  const [cluster, id] = args;
  const p = await api(`/api/v1/attack-paths/${encodeURIComponent(cluster)}/${encodeURIComponent(id)}`);
  return h("div", { "data-testid": "path" },
    h("h1", {}, p.title),
    h("p", {}, "Score ", h("strong", {}, fmtNum(p.score)), " · entry ",
      link(workloadHref(p.cluster, p.workload), `${p.workload.namespace}/${p.workload.name}`), ` · cluster ${p.cluster}`),
    h("div", { class: "panel graph" }, graph(p.hops)),
    h("h2", {}, "Each hop"),
    h("ol", { class: "hops", "data-testid": "hops" }, p.hops.map((hop) => h("li", {},
      h("strong", {}, nodeLabel(hop.from)), ` —${hop.relation}→ `, h("strong", {}, nodeLabel(hop.to)),
      h("div", { class: "muted" }, hop.explanation)))));
}

// Draws a path as nodes left to right with labelled arrows; wraps onto a new row every 4 nodes.
function graph(hops) {
  const nodes = [hops[0].from, ...hops.map((x) => x.to)];
  const perRow = 4, bw = 200, bh = 54, gx = 70, gy = 50;
  const rows = Math.ceil(nodes.length / perRow);
  const W = perRow * bw + (perRow - 1) * gx + 20, H = rows * bh + (rows - 1) * gy + 20;
  const pos = nodes.map((_, i) => ({ x: 10 + (i % perRow) * (bw + gx), y: 10 + Math.floor(i / perRow) * (bh + gy) }));
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "attack path", "data-testid": "graph" },
    s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, orient: "auto-start-reverse" },
      s("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#c2410c" }))));
  hops.forEach((hop, i) => {
    const a = pos[i], b = pos[i + 1];
    let x1, y1, x2, y2;
    if (a.y === b.y) { x1 = a.x + bw; y1 = a.y + bh / 2; x2 = b.x; y2 = b.y + bh / 2; }
    else { x1 = a.x + bw / 2; y1 = a.y + bh; x2 = b.x + bw / 2; y2 = b.y; }
    svg.append(s("line", { x1, y1, x2, y2, stroke: "#c2410c", "stroke-width": 2, "marker-end": "url(#arrow)" }, s("title", {}, hop.explanation)));
    svg.append(s("text", { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 6, "text-anchor": "middle", "font-size": 11, fill: "#5d6778" }, hop.relation));
  });
  nodes.forEach((n, i) => {
    const { x, y } = pos[i];
    svg.append(s("g", { "data-node": nodeLabel(n) },
      s("rect", { x, y, width: bw, height: bh, rx: 8, fill: i === nodes.length - 1 ? "#fee2e2" : "#fff", stroke: "#94a3b8" }),
      s("text", { x: x + 10, y: y + 20, "font-size": 11, fill: "#5d6778" }, n.kind),
      s("text", { x: x + 10, y: y + 40, "font-size": 13, "font-weight": 600, fill: "#1d2430" },
        `${n.namespace ? n.namespace + "/" : ""}${n.name}`.slice(0, 26))));
  });
  return svg;
}

async function viewSensors() {
  const sensors = await api("/api/v1/sensors");
  return h("div", {}, h("h1", {}, "Sensors"), sensorTable(sensors));
}

// ---- start ---------------------------------------------------------------------------------

// `kestrel up` prints a URL carrying the token in the fragment (never sent to the server);
// keep it and clean the address bar.
function takeTokenFromHash() {
  const m = location.hash.match(/[#&]token=([^&]+)/);
  if (m) {
    localStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + "#/overview");
  }
}

function start() {
  takeTokenFromHash();
  document.getElementById("logout").addEventListener("click", () => {
    localStorage.removeItem(TOKEN_KEY);
    render();
  });
  window.addEventListener("hashchange", () => {
    takeTokenFromHash();
    render();
  });
  render();
}

start();
