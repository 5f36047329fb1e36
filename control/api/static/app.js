// The uqo status page. Plain browser JavaScript, no build step, nothing loaded from elsewhere.
//
// Flow: the login form posts to /v1/auth/login; the bearer token it returns lives only in
// the variable `token` below (never in storage: a reload asks to log in again). The page then
// reads /v1/status/stream (server-sent events, read with fetch because EventSource cannot
// send an Authorization header) and renders each status; agents and failure domains come
// from /v1/agents every AGENTS_EVERY_MS, the recent security events from /v1/security/events
// when a status shows the 24-hour count changed (or every EVENTS_EVERY_MS). Charts are inline
// SVG drawn here.
//
// Every number the page shows is in an element with data-k="section.key" (a path into the
// /v1/status document); the element's data-raw attribute holds the value as JSON, so a test
// can compare what is shown with what the API answers.
"use strict";

const STREAM_INTERVAL_S = 1;
const AGENTS_EVERY_MS = 5000;
const EVENTS_EVERY_MS = 10000;
const EVENTS_SHOWN = 20;
const AGENT_PAGES_MAX = 10;          // 10 x 1000 agents; beyond that the page says so
const HISTORY = 120;                 // samples kept for the charts (2 min at 1 s)
const SVG = "http://www.w3.org/2000/svg";

let token = null;
let aborter = null;
let generation = 0;                  // a new login ends the previous stream's loop
let agentsAt = 0;
let eventsAt = 0;
let eventsCount = null;              // security_events_24h when the list was last read
const history = [];

const $ = (id) => document.getElementById(id);

// ---- API ---------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code;
  }
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, cache: "no-store",
                                  body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// ---- login and logout --------------------------------------------------------------------

async function onLogin(event) {
  event.preventDefault();
  const form = event.target;
  const body = { user_id: form.user_id.value.trim(), password: form.password.value };
  if (form.mfa_token.value.trim()) body.mfa_token = form.mfa_token.value.trim();
  $("login-error").textContent = "";
  try {
    const session = await api("POST", "/v1/auth/login", body);
    token = session.token;
    form.reset();
    $("who").textContent = `${session.user_id} (${session.role}, level ${session.level})`;
    showDashboard(true);
    follow();
  } catch (err) {
    $("login-error").textContent = err.message;
  }
}

async function onLogout() {
  try { await api("POST", "/v1/auth/logout", {}); } catch (err) { /* signed out anyway */ }
  signOut("");
}

function signOut(message) {
  token = null;
  generation += 1;
  if (aborter) aborter.abort();
  history.length = 0;
  agentsAt = 0;
  eventsAt = 0;
  eventsCount = null;
  $("event-rows").replaceChildren();
  showDashboard(false);
  setConn("signed out");
  $("who").textContent = "";
  $("login-error").textContent = message;
}

function showDashboard(on) {
  $("login").hidden = on;
  $("dash").hidden = !on;
  $("logout").hidden = !on;
}

function setConn(text, live = false) {
  $("conn").textContent = text;
  $("conn").classList.toggle("live", live);
}

// ---- the status stream -------------------------------------------------------------------

async function follow() {
  const mine = ++generation;
  let delay = 1000;
  while (token && mine === generation) {
    aborter = new AbortController();
    try {
      const res = await fetch(`/v1/status/stream?interval=${STREAM_INTERVAL_S}`, {
        headers: { Authorization: `Bearer ${token}` }, signal: aborter.signal,
        cache: "no-store" });
      if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
      setConn("live", true);
      delay = 1000;
      await readEvents(res.body, onEvent);
    } catch (err) {
      if (!token || mine !== generation) return;
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
        signOut(err.message);
        return;
      }
      setConn(`reconnecting (${err.message})`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 15000);
    }
  }
}

// Server-sent events: blocks separated by a blank line, "event:" and "data:" fields.
async function readEvents(stream, handle) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      handle(name, data.join("\n"));
    }
  }
}

function onEvent(name, data) {
  const doc = JSON.parse(data);
  if (name === "error") {
    signOut(doc.error ? doc.error.message : "the session ended");
  } else if (name === "status") {
    render(doc);
    if (Date.now() - agentsAt > AGENTS_EVERY_MS) {
      agentsAt = Date.now();
      refreshAgents().catch((err) => { $("domains-note").textContent = err.message; });
    }
    const count = doc.security.security_events_24h;
    if (count !== eventsCount || Date.now() - eventsAt > EVENTS_EVERY_MS) {
      eventsAt = Date.now();
      eventsCount = count;
      refreshEvents().catch((err) => {
        $("events-note").textContent = err.status === 403
          ? "the list of events needs the operator or admin role" : err.message;
      });
    }
  }
}

// ---- rendering ---------------------------------------------------------------------------

function lookup(doc, path) {
  return path.split(".").reduce((v, key) => (v == null ? undefined : v[key]), doc);
}

function fmt(v) {
  if (v === null || v === undefined) return "\u2014";
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(4);
  return String(v);
}

function render(status) {
  for (const el of document.querySelectorAll("[data-k]")) {
    const v = lookup(status, el.dataset.k);
    el.textContent = fmt(v);
    el.dataset.raw = JSON.stringify(v === undefined ? null : v);
  }
  const q = status.quantum, c = status.consensus;
  $("degraded").hidden = !q.degraded;
  $("role").textContent = c.role || (c.is_leader ? "leader" : "follower");
  history.push({ coh: q.global_coherence, ent: q.mean_entropy,
                 sec: status.security.security_events_24h });
  if (history.length > HISTORY) history.shift();
  const top = Math.max(1, ...history.map((h) => h.ent || 0));
  lineChart($("chart-quantum"), top, [
    { cls: "coh", values: history.map((h) => h.coh) },
    { cls: "ent", values: history.map((h) => h.ent) }], q.coherence_threshold);
  const secTop = Math.max(1, ...history.map((h) => h.sec || 0));
  lineChart($("chart-security"), secTop, [{ cls: "sec", values: history.map((h) => h.sec) }]);
  barChart($("chart-tasks"), Object.entries(status.scheduler.tasks));
  replicaRows(c);
  domainRows(status.failure_domains);
}

// One row per domain of /v1/status failure_domains; each cell keeps its value as JSON in
// data-raw and its field in data-f (the row: data-domain), for the same comparison as data-k.
function domainRows(fd) {
  const fields = ["agents", "agents_up", "pairs", "mean_pair_mutual_information",
                  "max_pair_mutual_information"];
  $("domain-mi-note").textContent = fd === null || fd === undefined
    ? "not yet measured (before the first tick), or not every agent is visible to you" : "";
  $("domain-mi-rows").replaceChildren(...((fd && fd.domains) || []).map((d) => {
    const tr = document.createElement("tr");
    tr.dataset.domain = d.domain;
    const name = document.createElement("td");
    name.textContent = d.domain;
    tr.append(name);
    for (const f of fields) {
      const td = document.createElement("td");
      td.dataset.f = f;
      td.dataset.raw = JSON.stringify(d[f]);
      td.textContent = fmt(d[f]);
      tr.append(td);
    }
    return tr;
  }));
}

function utc(ts) {
  return new Date(ts * 1000).toISOString().slice(0, 19).replace("T", " ");
}

async function refreshEvents() {
  const page = await api("GET", `/v1/security/events?limit=${EVENTS_SHOWN}`);
  $("event-rows").replaceChildren(...page.events.map((e) => {
    const tr = document.createElement("tr");
    tr.dataset.seq = String(e.seq);
    for (const cell of [utc(e.ts), e.kind, e.subject === null ? "\u2014" : e.subject,
                        e.outcome, e.detail.code || e.detail.rule || ""]) {
      const td = document.createElement("td");
      td.textContent = cell;
      tr.append(td);
    }
    return tr;
  }));
  $("events-note").textContent = page.events.length ? "" : "none recorded";
}

function replicaRows(c) {
  const rows = Object.entries(c.replicas || {}).map(([id, r]) =>
    [id, r.role, r.lag_entries, r.age_s]);
  if (!rows.length) rows.push([c.node_id || c.replica_id || "this node", c.mode, 0, null]);
  fillTable($("replica-rows"), rows);
}

async function refreshAgents() {
  const agents = [];
  let cursor = 0, pages = 0;
  while (cursor !== null && pages < AGENT_PAGES_MAX) {
    const page = await api("GET", `/v1/agents?limit=1000&cursor=${cursor}`);
    agents.push(...page.items);
    cursor = page.next_cursor;
    pages += 1;
  }
  const busy = agents.filter((a) => a.assigned_tasks.length > 0).length;
  $("agents-busy").textContent = fmt(busy);
  $("agents-idle").textContent = fmt(agents.length - busy);
  barChart($("chart-agents"), [["with assignments", busy], ["without", agents.length - busy]]);
  const domains = new Map();
  for (const a of agents) {
    const key = a.failure_domain === null ? "(none)" : a.failure_domain;
    const d = domains.get(key) || { n: 0, busy: 0, fitness: 0 };
    d.n += 1;
    d.busy += a.assigned_tasks.length > 0 ? 1 : 0;
    d.fitness += a.fitness;
    domains.set(key, d);
  }
  const rows = [...domains].sort((x, y) => y[1].n - x[1].n)
    .map(([name, d]) => [name, d.n, d.busy, d.fitness / d.n]);
  fillTable($("domain-rows"), rows);
  $("domains-note").textContent = cursor === null ? ""
    : `first ${agents.length} agents only (the fleet is larger)`;
}

function fillTable(tbody, rows) {
  tbody.replaceChildren(...rows.map((cells) => {
    const tr = document.createElement("tr");
    for (const cell of cells) {
      const td = document.createElement("td");
      td.textContent = typeof cell === "string" ? cell : fmt(cell);
      tr.append(td);
    }
    return tr;
  }));
}

// ---- SVG charts --------------------------------------------------------------------------

function el(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

// Lines over the last HISTORY samples, y from 0 to `top`; a null value breaks the line.
function lineChart(svg, top, series, threshold) {
  const [, , w, h] = svg.getAttribute("viewBox").split(" ").map(Number);
  const left = 34, pad = 8, plotW = w - left - pad, plotH = h - 2 * pad;
  const x = (i) => left + (plotW * i) / (HISTORY - 1);
  const y = (v) => pad + plotH * (1 - v / top);
  const nodes = [];
  for (const frac of [0, 0.5, 1]) {
    nodes.push(el("line", { class: "grid", x1: left, x2: w - pad, y1: y(top * frac),
                            y2: y(top * frac) }));
    nodes.push(el("text", { x: 2, y: y(top * frac) + 4 }, (top * frac).toFixed(2)));
  }
  if (threshold != null) {
    nodes.push(el("line", { class: "thr", x1: left, x2: w - pad, y1: y(threshold),
                            y2: y(threshold) }));
  }
  for (const s of series) {
    const offset = HISTORY - s.values.length;
    let d = "", pen = "M";
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) { pen = "M"; return; }
      d += `${pen}${x(offset + i).toFixed(1)},${y(v).toFixed(1)} `;
      pen = "L";
    });
    nodes.push(el("path", { class: s.cls, d }));
  }
  svg.replaceChildren(...nodes);
}

// Horizontal bars, one per [label, count].
function barChart(svg, items) {
  const [, , w] = svg.getAttribute("viewBox").split(" ").map(Number);
  const rowH = 20, labelW = 130, max = Math.max(1, ...items.map(([, n]) => n));
  svg.setAttribute("viewBox", `0 0 ${w} ${Math.max(rowH, rowH * items.length)}`);
  const nodes = [];
  items.forEach(([label, n], i) => {
    const top = i * rowH, barW = ((w - labelW - 60) * n) / max;
    nodes.push(el("text", { x: 0, y: top + 14 }, label));
    nodes.push(el("rect", { x: labelW, y: top + 3, width: Math.max(barW, 1), height: rowH - 6 }));
    nodes.push(el("text", { class: "v", x: labelW + barW + 6, y: top + 14 }, String(n)));
  });
  svg.replaceChildren(...nodes);
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", onLogout);
});
