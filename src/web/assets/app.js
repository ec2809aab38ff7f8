/* tasker dashboard: plain JavaScript, no libraries. Every value from the store reaches
 * the page through textContent or an attribute set by DOM calls, never as markup. */
"use strict";

const API = "/api/v1";
const REFRESH_MS = 5000;
const FINISHED = new Set(["success", "failed", "interrupted", "skipped", "cancelled"]);
const STATUSES = ["pending", "running", "success", "failed", "interrupted", "skipped", "cancelled"];

let token = localStorage.getItem("tasker.token") || "";
let timer = null;          /* the current view's refresh */
let tailAbort = null;      /* the current live tail */
let generation = 0;        /* bumped at each navigation: late answers are dropped */

/* ---- DOM --------------------------------------------------------------------------- */

/* el("td", {class: "x"}, "text", child): children are strings (as text) or nodes. */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "style") Object.assign(e.style, v); /* CSSOM: allowed by the CSP */
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}
const $ = (sel) => document.querySelector(sel);
function link(hash, text, cls) { return el("a", {href: hash, class: cls}, text); }
const taskHref = (id) => "#/task/" + encodeURIComponent(id);
const runHref = (id) => "#/run/" + encodeURIComponent(id);
function badge(status, text) { return el("span", {class: "badge s-" + status, "data-status": status}, text || status); }
function panel(title, body, extra, flush) {
  return el("section", {class: "panel"},
    el("div", {class: "ph"}, el("h2", {}, title), extra || null),
    el("div", {class: flush === false ? "pb" : "pb flush"}, body));
}
function table(headers, rows, empty) {
  if (!rows.length) return el("div", {class: "empty"}, empty || "Nothing yet.");
  return el("table", {},
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", {class: h.endsWith("#") ? "num" : null}, h.replace(/#$/, ""))))),
    el("tbody", {}, rows));
}
function flash(msg, ok) {
  const f = $("#flash");
  f.textContent = msg;
  f.className = ok ? "flash ok" : "flash";
  f.hidden = !msg;
}

/* ---- time -------------------------------------------------------------------------- */

function fmtDuration(us) {
  if (us === null || us === undefined || us < 0) return "–";
  const ms = us / 1000, s = ms / 1000;
  if (ms < 1000) return Math.round(ms) + "ms";
  if (s < 10) return s.toFixed(1) + "s";
  if (s < 60) return Math.round(s) + "s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + "m" + String(Math.round(s % 60)).padStart(2, "0") + "s";
  const h = Math.floor(m / 60);
  if (h < 48) return h + "h" + String(m % 60).padStart(2, "0") + "m";
  return Math.floor(h / 24) + "d" + String(h % 24).padStart(2, "0") + "h";
}
function fmtTime(us) {
  if (!us) return "–";
  const d = new Date(us / 1000), p = (n) => String(n).padStart(2, "0");
  return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " +
    p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
}
function fmtClock(us) {
  const d = new Date(us / 1000), p = (n) => String(n).padStart(2, "0");
  return p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds()) + "." + String(d.getMilliseconds()).padStart(3, "0");
}
function ago(us) {
  if (!us) return el("span", {class: "muted"}, "never");
  const delta = Date.now() * 1000 - us;
  const text = delta >= 0 ? fmtDuration(delta) + " ago" : "in " + fmtDuration(-delta);
  return el("span", {title: fmtTime(us)}, text);
}
function agoText(us) {
  const delta = Date.now() * 1000 - us;
  return delta >= 0 ? fmtDuration(delta) + " ago" : "in " + fmtDuration(-delta);
}
function runDuration(e) {
  if (e.start_us && e.end_us) return fmtDuration(e.end_us - e.start_us);
  if (e.status === "running" && e.start_us) return fmtDuration(Date.now() * 1000 - e.start_us) + "…";
  return "–";
}

/* ---- HTTP -------------------------------------------------------------------------- */

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (token) h["Authorization"] = "Bearer " + token;
  return h;
}
class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}
async function api(path, opts) {
  const res = await fetch(API + path, Object.assign({}, opts, {headers: headers((opts || {}).headers)}));
  if (res.status === 401) {
    $("#tokenbar").hidden = false;
    throw new ApiError(401, "this server needs a token");
  }
  const body = await res.json().catch(() => ({error: "HTTP " + res.status}));
  if (!res.ok) throw new ApiError(res.status, body.error || "HTTP " + res.status);
  $("#live").classList.remove("stale");
  return body;
}
function post(path, payload) {
  return api(path, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(payload || {})});
}

/* ---- views ------------------------------------------------------------------------- */

function statusCounts(c) {
  const failed = (c.failed || 0) + (c.interrupted || 0);
  return el("div", {class: "sub"},
    el("span", {class: "c-ok"}, el("b", {}, c.success || 0), " ok"),
    el("span", {class: "c-bad"}, el("b", {}, failed), " failed"),
    el("span", {class: "c-run"}, el("b", {}, c.running || 0), " running"),
    el("span", {class: "c-wait"}, el("b", {}, c.pending || 0), " pending"));
}
function total(c) { return Object.values(c).reduce((a, b) => a + b, 0); }
function statCard(label, value, sub) {
  return el("div", {class: "panel stat"}, el("div", {class: "label"}, label), el("div", {class: "value"}, value), sub || null);
}

function barChart(buckets, labelFn) {
  const max = Math.max(1, ...buckets.map((b) => total(b.counts)));
  const bars = buckets.map((b) => {
    const c = b.counts, parts = [
      ["success", c.success || 0], ["failed", (c.failed || 0) + (c.interrupted || 0)],
      ["running", c.running || 0], ["pending", c.pending || 0], ["other", c.skipped || 0]];
    const n = total(c);
    const bar = el("div", {class: "bar", title: labelFn(b.start_us) + ": " + n + " runs"});
    for (const [name, v] of parts)
      if (v) bar.append(el("span", {class: "b-" + name, style: {height: (100 * v / max).toFixed(2) + "%"}}));
    return bar;
  });
  return el("div", {}, el("div", {class: "bars"}, bars),
    el("div", {class: "axis"}, el("span", {}, labelFn(buckets[0].start_us)), el("span", {}, "now")));
}
function bucketsOf(list) {
  return list.map((b) => { const counts = Object.assign({}, b); delete counts.start_us; return {start_us: b.start_us, counts}; });
}
const legend = el("div", {class: "legend"},
  ...[["success", "ok"], ["failed", "failed"], ["running", "running"], ["pending", "pending"], ["other", "skipped"]]
    .map(([c, t]) => el("span", {}, el("i", {class: "b-" + c}), t)));

function lastRunCell(last) {
  if (!last) return el("span", {class: "muted"}, "no runs");
  return el("span", {}, link(runHref(last.exec_id), badge(last.status)), " ", ago(last.queued_us));
}

function taskRows(tasks, nextByTask) {
  return tasks.map((t) => el("tr", {},
    el("td", {}, link(taskHref(t.task_id), t.task_id), t.paused ? el("span", {class: "muted", "data-paused": ""}, " paused") : null),
    el("td", {}, lastRunCell(t.last)),
    el("td", {class: "num"}, t.last ? runDuration(t.last) : "–"),
    el("td", {class: "num"}, t.runs_day),
    el("td", {class: "num" + (t.failed_day ? " c-bad" : "")}, t.failed_day),
    el("td", {class: "num"}, t.pending + t.running ? t.pending + " / " + t.running : "–"),
    el("td", {}, nextByTask[t.task_id] ? ago(nextByTask[t.task_id]) : el("span", {class: "muted"}, "–")),
    el("td", {class: "wrap muted"}, t.desc || t.handler)));
}

/* Like systemctl list-timers: next, left, last, passed, schedule, task. */
function timerRows(schedules) {
  const sorted = schedules.slice().sort((a, b) => (a.next_fire_us || Infinity) - (b.next_fire_us || Infinity));
  return sorted.map((s) => el("tr", {},
    el("td", {}, fmtTime(s.next_fire_us)),
    el("td", {}, s.next_fire_us ? ago(s.next_fire_us) : "–"),
    el("td", {}, fmtTime(s.last_fire_us)),
    el("td", {}, s.last_fire_us ? ago(s.last_fire_us) : el("span", {class: "muted"}, "never")),
    el("td", {}, el("code", {}, s.cron), s.paused ? el("span", {class: "muted", "data-paused": ""}, " paused") : null),
    el("td", {}, link(taskHref(s.task_id), s.task_id))));
}

function nodeRows(nodes) {
  return nodes.map((n) => el("tr", {},
    el("td", {}, el("span", {class: "mono"}, n.node_id)),
    el("td", {}, badge(n.state)),
    el("td", {}, n.host),
    el("td", {class: "num"}, n.pid),
    el("td", {}, ago(n.heartbeat_us)),
    el("td", {}, ago(n.started_us)),
    el("td", {class: "num"}, n.running),
    el("td", {class: "wrap"}, (Array.isArray(n.handlers) ? n.handlers : []).join(", "))));
}

async function viewOverview(main, gen) {
  const [ov, schedules, nodes] = await Promise.all([api("/overview"), api("/schedules"), api("/nodes")]);
  if (gen !== generation) return;
  const nextByTask = {};
  for (const s of schedules)
    if (s.next_fire_us && (!nextByTask[s.task_id] || s.next_fire_us < nextByTask[s.task_id])) nextByTask[s.task_id] = s.next_fire_us;
  const failing = ov.tasks.filter((t) => t.last && (t.last.status === "failed" || t.last.status === "interrupted")).length;
  const hour = (us) => fmtTime(us).slice(11, 16);
  main.replaceChildren(
    el("div", {class: "head"}, el("div", {}, el("h1", {}, "Overview"),
      el("div", {class: "muted"}, ov.tasks.length + " tasks · " + schedules.length + " schedules · " + ov.execs_stored + " runs stored"))),
    el("div", {class: "grid cols-4"},
      statCard("Runs, last hour", total(ov.last_hour), statusCounts(ov.last_hour)),
      statCard("Runs, last 24 h", total(ov.last_day), statusCounts(ov.last_day)),
      statCard("Failing tasks", el("span", {class: failing ? "c-bad" : "c-ok"}, failing), el("div", {class: "sub"}, "whose last run failed")),
      statCard("Nodes", nodes.filter((n) => n.state === "live").length + " live",
        el("div", {class: "sub"}, nodes.reduce((a, n) => a + n.running, 0) + " in progress"))),
    el("div", {class: "grid cols-2 gap-top"},
      panel("Last hour", barChart(bucketsOf(ov.hour_buckets), hour), legend.cloneNode(true), false),
      panel("Last 24 hours", barChart(bucketsOf(ov.day_buckets), hour), legend.cloneNode(true), false)),
    el("div", {class: "grid gap-top"},
      panel("Tasks, failing first", table(["Task", "Last run", "Took#", "Runs 24h#", "Failed 24h#", "Queued / running#", "Next", "Description"],
        taskRows(ov.tasks, nextByTask), "No tasks. Add one with: tasker task add NAME --handler shell --param '{\"cmd\": \"...\"}'")),
      panel("Schedules", table(["Next", "Left", "Last", "Passed", "Schedule", "Task"], timerRows(schedules), "No schedules.")),
      el("div", {class: "grid cols-2"},
        panel("Recent runs", table(["Run", "Task", "Status", "Queued", "Took#"], runRows(ov.recent, true)), link("#/runs", "all runs")),
        panel("Nodes", table(["Node", "State", "Host", "PID#", "Heartbeat", "Up since", "Running#", "Handlers"], nodeRows(nodes))))));
}

/* A run's status, with its delay ("pending · in 5m") and its attempt past the first. */
function runState(e) {
  const delayed = e.status === "pending" && e.run_at_us && e.run_at_us > Date.now() * 1000;
  return el("span", {}, badge(e.status),
    delayed ? el("span", {class: "muted", "data-delay": ""}, " " + agoText(e.run_at_us)) : null,
    e.attempt > 1 ? el("span", {class: "muted", "data-attempt": e.attempt}, " attempt " + e.attempt) : null);
}

function runRows(execs, compact) {
  return execs.map((e) => el("tr", {"data-exec": e.exec_id},
    el("td", {}, link(runHref(e.exec_id), el("span", {class: "mono"}, e.exec_id.slice(0, compact ? 13 : 36)))),
    el("td", {}, link(taskHref(e.task_id), e.task_id)),
    el("td", {}, runState(e)),
    el("td", {}, ago(e.queued_us)),
    el("td", {class: "num"}, runDuration(e)),
    compact ? null : el("td", {}, e.scheme_id ? "schedule" : "trigger"),
    compact ? null : el("td", {class: "wrap"}, e.error ? el("span", {class: "c-bad ellipsis", title: e.error}, e.error) : "")));
}

/* The runs list with its filters; a task page shows it for one task. */
function runsPanel(fixedTask, gen, tasks) {
  const q = new URLSearchParams(location.hash.split("?")[1] || "");
  const body = el("div", {});
  const status = el("select", {"aria-label": "status", id: "f-status"}, el("option", {value: ""}, "any status"),
    STATUSES.map((s) => el("option", {value: s, selected: q.get("status") === s}, s)));
  const since = el("select", {"aria-label": "since", id: "f-since"},
    [["", "any time"], ["3600", "last hour"], ["86400", "last 24 hours"], ["604800", "last 7 days"]]
      .map(([v, t]) => el("option", {value: v, selected: (q.get("since") || "") === v}, t)));
  const task = fixedTask ? null : el("select", {"aria-label": "task", id: "f-task"}, el("option", {value: ""}, "any task"),
    (tasks || []).map((t) => el("option", {value: t.task_id, selected: q.get("task") === t.task_id}, t.task_id)));
  let cursor = null;
  async function load(append) {
    const p = new URLSearchParams({limit: "50"});
    const t = fixedTask || (task && task.value);
    if (t) p.set("task", t);
    if (status.value) p.set("status", status.value);
    if (since.value) p.set("since", String(Date.now() * 1000 - Number(since.value) * 1e6));
    if (append && cursor) p.set("cursor", cursor);
    const page = await api("/execs?" + p);
    if (gen !== generation) return;
    cursor = page.next_cursor;
    const rows = runRows(page.execs, false);
    const tbody = body.querySelector("tbody");
    if (append && tbody) tbody.append(...rows);
    else body.replaceChildren(table(["Run", "Task", "Status", "Queued", "Took#", "By", "Error"], rows, "No runs match."));
    body.append(...(cursor ? [el("div", {class: "more"}, el("button", {onclick: () => { body.lastChild.remove(); load(true).catch(showError); }}, "Load more"))] : []));
  }
  function changed() {
    if (!fixedTask) {
      const p = new URLSearchParams();
      if (task.value) p.set("task", task.value);
      if (status.value) p.set("status", status.value);
      if (since.value) p.set("since", since.value);
      history.replaceState(null, "", "#/runs" + (p.toString() ? "?" + p : ""));
    }
    load(false).catch(showError);
  }
  for (const s of [task, status, since]) if (s) s.addEventListener("change", changed);
  const p = panel(fixedTask ? "Runs" : "Runs, newest first", body, el("div", {class: "filters"}, task, status, since));
  return {node: p, refresh: () => (cursor && body.querySelectorAll("tbody tr").length > 50 ? Promise.resolve() : load(false))};
}

async function viewRuns(main, gen) {
  const tasks = await api("/tasks");
  if (gen !== generation) return;
  const runs = runsPanel(null, gen, tasks);
  main.replaceChildren(el("div", {class: "head"}, el("div", {}, el("h1", {}, "Runs"),
    el("div", {class: "muted"}, "Every stored run; filter by task, status and time."))), runs.node);
  await runs.refresh();
  return runs.refresh;
}

async function viewNodes(main, gen) {
  const nodes = await api("/nodes");
  if (gen !== generation) return;
  main.replaceChildren(el("div", {class: "head"}, el("div", {}, el("h1", {}, "Nodes"),
    el("div", {class: "muted"}, "Processes sharing this store, with their heartbeats."))),
    panel("Nodes", table(["Node", "State", "Host", "PID#", "Heartbeat", "Up since", "Running#", "Handlers"], nodeRows(nodes))));
}

function pretty(v) { return JSON.stringify(v, null, 2); }
/* A button that POSTs to path, then shows the page again (or goes where after says). */
function actionButton(text, id, path, after) {
  const b = el("button", {id, onclick: async () => {
    b.disabled = true;
    try {
      const r = await post(path, {});
      flash(text + ": done", true);
      if (after) after(r); else await route();
    } catch (err) { showError(err); } finally { b.disabled = false; }
  }}, text);
  return b;
}
function attemptsText(task) {
  if (!task.max_attempts || task.max_attempts <= 1) return "1 (no retry)";
  return task.max_attempts + ", backoff " + fmtDuration((task.backoff_ms || 1000) * 1000) +
    " doubling up to " + fmtDuration((task.backoff_max_ms || 3600000) * 1000);
}

async function viewTask(main, gen, id) {
  const task = await api("/tasks/" + encodeURIComponent(id));
  if (gen !== generation) return;
  const params = el("textarea", {id: "trigger-param", placeholder: "params for this run, as JSON (empty: the task's own)", spellcheck: "false"});
  const delay = el("input", {id: "trigger-delay", type: "number", min: "0", placeholder: "delay, seconds", "aria-label": "delay in seconds"});
  const key = el("input", {id: "trigger-key", placeholder: "unique key (optional)", "aria-label": "unique key"});
  const trigger = el("button", {class: "primary", id: "trigger", onclick: async () => {
    trigger.disabled = true;
    try {
      const text = params.value.trim();
      const body = text ? {param: JSON.parse(text)} : {};
      if (delay.value) body.delay_ms = Math.round(Number(delay.value) * 1000);
      if (key.value.trim()) body.unique_key = key.value.trim();
      const r = await post("/tasks/" + encodeURIComponent(id) + "/trigger", body);
      location.hash = runHref(r.exec_id);
    } catch (err) {
      showError(err instanceof SyntaxError ? new Error("params: " + err.message) : err);
    } finally { trigger.disabled = false; }
  }}, "Trigger now");
  const runs = runsPanel(id, gen);
  main.replaceChildren(
    el("div", {class: "crumbs"}, link("#/", "Overview"), " / task"),
    el("div", {class: "head"},
      el("div", {}, el("h1", {}, task.task_id), el("div", {class: "muted"}, task.desc || "")),
      el("div", {class: "actions"},
        task.paused ? actionButton("Resume", "task-resume", "/tasks/" + encodeURIComponent(id) + "/resume")
                    : actionButton("Pause", "task-pause", "/tasks/" + encodeURIComponent(id) + "/pause"),
        trigger)),
    el("div", {class: "grid cols-2"},
      panel("Task", el("dl", {class: "kv"},
        el("dt", {}, "Handler"), el("dd", {}, el("code", {}, task.handler)),
        el("dt", {}, "Paused"), el("dd", {id: "task-paused"}, task.paused ? "yes: no run starts until resumed" : "no"),
        el("dt", {}, "Attempts"), el("dd", {}, attemptsText(task)),
        el("dt", {}, "Timeout"), el("dd", {}, task.timeout_ms ? fmtDuration(task.timeout_ms * 1000) : "none"),
        el("dt", {}, "Priority"), el("dd", {}, String(task.priority || 0)),
        el("dt", {}, "At once"), el("dd", {}, task.max_concurrency ? String(task.max_concurrency) : "no limit"),
        el("dt", {}, "Params"), el("dd", {}, el("pre", {class: "json"}, pretty(task.param)))), null, false),
      panel("Trigger with params", el("div", {}, params, el("div", {class: "filters"}, delay, key),
        el("p", {class: "note"}, "Runs the task now, or after the delay, with these params instead of the task's. A unique key refuses a second run while one with the key is pending or running.")), null, false)),
    el("div", {class: "grid gap-top"},
      panel("Schedules", table(["Next", "Left", "Last", "Passed", "Schedule", "Task"], timerRows(task.schedules), "No schedules.")),
      runs.node));
  await runs.refresh();
  return runs.refresh;
}

function eventLine(ev) {
  return el("div", {class: "line", "data-event": ev.event_id},
    el("span", {class: "t", title: fmtTime(ev.time_us)}, fmtClock(ev.time_us)),
    el("span", {class: "lv lv-" + ev.level}, ev.level),
    el("span", {class: "msg"}, ev.message));
}

function runRecord(e) {
  const rows = [
    ["Status", el("span", {id: "run-status"}, badge(e.status))],
    ["Task", link(taskHref(e.task_id), e.task_id)],
    ["Started by", e.scheme_id ? "schedule " + e.scheme_id : "trigger"],
    ["Scheduled for", e.scheduled_us ? fmtTime(e.scheduled_us) : "–"],
    ["Queued", fmtTime(e.queued_us)],
    ["Attempt", el("span", {id: "run-attempt"}, String(e.attempt || 1), e.retry_of ? [" · a retry of ", link(runHref(e.retry_of), e.retry_of.slice(0, 13))] : [])],
    ["Runs at", e.run_at_us ? fmtTime(e.run_at_us) + (e.status === "pending" && e.run_at_us > Date.now() * 1000 ? " (" + agoText(e.run_at_us) + ")" : "") : "at once"],
    ["Priority", String(e.priority || 0)],
    ["Unique key", e.unique_key || "–"],
    ["Params", e.param === null || e.param === undefined ? "the task's" : el("pre", {class: "json"}, pretty(e.param))],
    ["Started", fmtTime(e.start_us)],
    ["Ended", fmtTime(e.end_us)],
    ["Took", runDuration(e)],
    ["Node", e.node_id || "–"],
    ["Error", e.error ? el("span", {class: "c-bad"}, e.error) : "–"],
    ["Result", e.result === null ? "–" : el("pre", {class: "json"}, pretty(e.result))]];
  return el("dl", {class: "kv", id: "run-record"}, rows.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

/* Reads a text/event-stream response with fetch (EventSource cannot send a token). */
async function tail(id, after, on, signal) {
  const res = await fetch(API + "/execs/" + encodeURIComponent(id) + "/events?after=" + after,
    {headers: headers({Accept: "text/event-stream"}), signal});
  if (!res.ok || !res.body) throw new ApiError(res.status, "live tail: HTTP " + res.status);
  const reader = res.body.getReader(), dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    buf += dec.decode(value, {stream: true});
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let type = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) type = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data && on[type]) on[type](JSON.parse(data));
    }
  }
}

async function viewRun(main, gen, id) {
  const e = await api("/execs/" + encodeURIComponent(id));
  if (gen !== generation) return;
  const log = el("div", {class: "log", id: "events"});
  const seen = new Set();
  const addEvent = (ev) => {
    if (seen.has(ev.event_id)) return;
    seen.add(ev.event_id);
    log.append(eventLine(ev));
    log.scrollTop = log.scrollHeight;
  };
  e.events.forEach(addEvent);
  const record = el("div", {}, runRecord(e));
  const tailNote = el("span", {class: "note", id: "tail-state"}, FINISHED.has(e.status) ? "finished" : "following live…");
  const eid = encodeURIComponent(e.exec_id);
  const retry = actionButton("Retry", "run-retry", "/execs/" + eid + "/retry", (r) => { location.hash = runHref(r.exec_id); });
  const cancel = actionButton("Cancel", "run-cancel", "/execs/" + eid + "/cancel");
  retry.disabled = !FINISHED.has(e.status);
  cancel.disabled = FINISHED.has(e.status);
  main.replaceChildren(
    el("div", {class: "crumbs"}, link("#/", "Overview"), " / ", link(taskHref(e.task_id), e.task_id), " / run"),
    el("div", {class: "head"},
      el("div", {}, el("h1", {class: "mono"}, e.exec_id), el("div", {class: "muted"}, "a run of ", link(taskHref(e.task_id), e.task_id))),
      el("div", {class: "actions"}, cancel, retry)),
    el("div", {class: "grid cols-2"},
      panel("Run", record, null, false),
      panel("Events", log, tailNote, false)));
  if (!e.events.length) log.append(el("div", {class: "empty", id: "no-events"}, "No events yet."));
  if (FINISHED.has(e.status)) return;
  tailAbort = new AbortController();
  const last = e.events.length ? e.events[e.events.length - 1].event_id : 0;
  let current = e;
  const update = (x) => { if (gen === generation) { current = x; record.replaceChildren(runRecord(x)); } };
  /* The running time ticks between events; route() clears the timer. */
  timer = setInterval(() => { if (!FINISHED.has(current.status)) update(current); }, 1000);
  tail(id, last, {
    event: (ev) => { if (gen !== generation) return; const n = $("#no-events"); if (n) n.remove(); addEvent(ev); },
    exec: update,
    end: (x) => { update(x); tailNote.textContent = "finished"; },
  }, tailAbort.signal).catch((err) => { if (err.name !== "AbortError") showError(err); });
}

/* ---- routing ----------------------------------------------------------------------- */

function showError(err) {
  if (err && err.name === "AbortError") return;
  if (err instanceof ApiError && err.status === 401) return flash("");
  flash(String(err && err.message ? err.message : err));
  $("#live").classList.add("stale");
}

async function route() {
  generation++;
  const gen = generation;
  clearInterval(timer);
  timer = null;
  if (tailAbort) { tailAbort.abort(); tailAbort = null; }
  flash("");
  const path = location.hash.replace(/^#/, "").split("?")[0] || "/";
  const main = $("#main");
  const parts = path.split("/").filter(Boolean);
  const section = parts[0] || "overview";
  for (const a of document.querySelectorAll("[data-nav]"))
    a.classList.toggle("active", a.dataset.nav === (section === "task" || section === "run" ? "" : section));
  let view;
  if (section === "overview") view = () => viewOverview(main, gen);
  else if (section === "runs") view = () => viewRuns(main, gen);
  else if (section === "nodes") view = () => viewNodes(main, gen);
  else if (section === "task" && parts[1]) view = () => viewTask(main, gen, decodeURIComponent(parts.slice(1).join("/")));
  else if (section === "run" && parts[1]) view = () => viewRun(main, gen, decodeURIComponent(parts[1]));
  else { main.replaceChildren(el("p", {}, "No such page. ", link("#/", "Overview"))); return; }
  try {
    const refresh = await view();
    if (gen !== generation || section === "run") return;
    /* Lists refresh themselves; the overview is rebuilt whole (it is one request set). */
    timer = setInterval(() => {
      if (document.hidden) return;
      (refresh ? refresh() : section === "overview" || section === "nodes" ? view() : Promise.resolve()).catch(showError);
    }, REFRESH_MS);
  } catch (err) {
    if (gen !== generation) return;
    if (err instanceof ApiError && err.status === 404) main.replaceChildren(el("p", {}, err.message + " ", link("#/", "Overview")));
    showError(err);
  }
}

function init() {
  $("#token-save").addEventListener("click", () => {
    token = $("#token").value.trim();
    localStorage.setItem("tasker.token", token);
    $("#tokenbar").hidden = true;
    route();
  });
  window.addEventListener("hashchange", route);
  $("#foot").textContent = "tasker dashboard · API at " + location.origin + API + " · metrics at /metrics";
  route();
}
init();
