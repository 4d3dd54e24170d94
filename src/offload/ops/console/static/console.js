// offload console: the task list and task pages, kept live by server-sent events. No dependencies.
"use strict";

const LIVE = new Set(["working", "input_required"]);
const STATUSES = ["working", "input_required", "completed", "failed", "cancelled"];
const $ = (id) => document.getElementById(id);

let token = sessionStorage.getItem("offload-console-token") || "";
let source = null;        // the open EventSource
let clockOffset = 0;      // server time minus this browser's time
let limit = 50;
let lastList = null;      // the last `tasks` event, to re-render ages every second
let current = null;       // the task shown on the task page

// A token in the address (?token=...) is taken once and removed from it, so it is not bookmarked.
(function takeTokenFromAddress() {
  const params = new URLSearchParams(location.search);
  if (params.has("token")) {
    token = params.get("token");
    sessionStorage.setItem("offload-console-token", token);
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
  }
})();

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function age(ms) {
  if (ms < 1000) return Math.max(0, Math.round(ms)) + "ms";
  let s = Math.floor(ms / 1000);
  if (s < 60) return s + "s";
  let m = Math.floor(s / 60); s %= 60;
  if (m < 60) return m + "m" + String(s).padStart(2, "0") + "s";
  let h = Math.floor(m / 60); m %= 60;
  if (h < 24) return h + "h" + String(m).padStart(2, "0") + "m";
  const d = Math.floor(h / 24); h %= 24;
  return d + "d" + String(h).padStart(2, "0") + "h";
}

const now = () => Date.now() + clockOffset;
const label = (status) => status.replace("_", " ");

function badge(status) {
  return el("span", { class: "badge " + status, text: label(status) });
}

async function api(path, options) {
  const opts = Object.assign({ headers: {} }, options || {});
  if (token) opts.headers.Authorization = "Bearer " + token;
  const response = await fetch(path, opts);
  if (response.status === 401) {
    showLogin(token ? "That token was not accepted." : "");
    throw new Error("unauthorized");
  }
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || "HTTP " + response.status);
  return body;
}

function streamUrl(params) {
  if (token) params.set("token", token);
  return "api/stream?" + params.toString();
}

function setLive(state, text) {
  const node = $("live");
  node.className = "live " + state;
  node.textContent = text;
}

function openStream(params, handlers) {
  if (source) source.close();
  setLive("off", "connecting…");
  source = new EventSource(streamUrl(params));
  source.addEventListener("open", () => setLive("on", "live"));
  source.addEventListener("trouble", (e) => setLive("off", "store unreachable: " + JSON.parse(e.data).error));
  source.addEventListener("error", () => {
    setLive("off", "reconnecting…");
    if (source && source.readyState === EventSource.CLOSED) {
      api("api/stats").catch(() => {}); // a 401 shows the token form; anything else, the stream retries
      setTimeout(route, 2000);
    }
  });
  for (const [name, fn] of Object.entries(handlers)) {
    source.addEventListener(name, (e) => {
      const body = JSON.parse(e.data);
      if (body.serverNow) clockOffset = body.serverNow - Date.now();
      setLive("on", "live");
      fn(body);
    });
  }
}

// -- routing: #/?filters for the list, #/task/ID for one task --

function hashParts() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?");
  return { path, params: new URLSearchParams(query || "") };
}

function show(id) {
  for (const view of ["login", "list-view", "task-view"]) $(view).hidden = view !== id;
}

function route() {
  const { path, params } = hashParts();
  if (path.startsWith("/task/")) {
    showTask(decodeURIComponent(path.slice(6)));
  } else {
    showList(params);
  }
}

function showLogin(message) {
  if (source) source.close();
  source = null;
  setLive("off", "locked");
  show("login");
  $("login-error").hidden = !message;
  $("login-error").textContent = message || "";
  $("login-token").focus();
}

// -- the task list --

function showList(params) {
  show("list-view");
  document.title = "Tasks · offload console";
  const form = $("filters");
  for (const name of ["status", "tool", "principal", "older_than"]) form.elements[name].value = params.get(name) || "";
  const query = new URLSearchParams();
  for (const [k, v] of params) if (v) query.set(k, v);
  query.set("limit", String(limit));
  openStream(query, { tasks: renderList });
}

function renderCounts(stats) {
  const box = $("counts");
  box.replaceChildren();
  box.append(el("span", { class: "count total", text: stats.total + " tasks" }));
  for (const status of STATUSES) {
    const n = stats.by_status[status] || 0;
    const chip = el("button", { class: "count " + status, type: "button", title: "show only " + label(status) },
      el("b", { text: String(n) }), " " + label(status));
    chip.addEventListener("click", () => setFilter("status", status));
    box.append(chip);
  }
  const tools = $("tools");
  tools.replaceChildren(...Object.keys(stats.by_tool).map((t) => el("option", { value: t })));
}

function renderList(body) {
  lastList = body;
  $("list-error").hidden = true;
  if (body.stats) renderCounts(body.stats);
  const rows = body.tasks.map((t) => {
    const link = el("a", { href: "#/task/" + encodeURIComponent(t.taskId), title: t.taskId, text: t.taskId.slice(0, 12) });
    const tr = el("tr", { "data-task": t.taskId, "data-status": t.status },
      el("td", { class: "id" }, link),
      el("td", {}, badge(t.status)),
      el("td", { text: t.tool }),
      el("td", { text: t.principal || "–" }),
      el("td", { class: "age", "data-created": String(t.createdMs), text: age(now() - t.createdMs) }),
      el("td", { class: "num", text: String(t.attempts) }),
      el("td", { class: "msg", text: t.statusMessage || "" }));
    tr.addEventListener("click", (e) => { if (e.target.tagName !== "A") location.hash = link.getAttribute("href"); });
    return tr;
  });
  $("rows").replaceChildren(...rows);
  $("empty").hidden = rows.length > 0;
  $("more").hidden = !body.nextCursor;
}

function setFilter(name, value) {
  const { params } = hashParts();
  if (value) params.set(name, value); else params.delete(name);
  limit = 50;
  location.hash = "#/?" + params.toString();
}

let filterTimer = null;
$("filters").addEventListener("input", (e) => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => setFilter(e.target.name, e.target.value.trim()), e.target.tagName === "SELECT" ? 0 : 350);
});
$("filters").addEventListener("reset", () => { limit = 50; setTimeout(() => { location.hash = "#/"; }, 0); });
$("filters").addEventListener("submit", (e) => e.preventDefault());
$("more").addEventListener("click", () => { limit = Math.min(limit + 50, 1000); route(); });

setInterval(() => {
  for (const cell of document.querySelectorAll("td.age")) cell.textContent = age(now() - Number(cell.dataset.created));
}, 1000);

// -- one task --

function showTask(taskId) {
  show("task-view");
  document.title = taskId.slice(0, 12) + " · offload console";
  current = null;
  $("t-id").textContent = taskId;
  $("t-fields").replaceChildren();
  $("t-sections").replaceChildren();
  $("t-message").textContent = "";
  $("t-status").hidden = true;
  $("t-cancel").hidden = true;
  $("t-missing").hidden = true;
  const json = "api/tasks/" + encodeURIComponent(taskId) + (token ? "?token=" + encodeURIComponent(token) : "");
  $("t-json").setAttribute("href", json);
  openStream(new URLSearchParams({ task: taskId }), { task: (body) => renderTask(taskId, body.task) });
}

function pre(value) {
  return el("pre", { text: typeof value === "string" ? value : JSON.stringify(value, null, 2) });
}

function section(title, ...content) {
  return el("section", { class: "card" }, el("h3", { text: title }), ...content);
}

function renderTask(taskId, t) {
  current = t;
  $("t-missing").hidden = t !== null;
  if (t === null) {
    $("t-status").hidden = true;
    $("t-cancel").hidden = true;
    return;
  }
  const status = $("t-status");
  status.hidden = false;
  status.className = "badge " + t.status;
  status.textContent = label(t.status);
  $("t-message").textContent = t.statusMessage || "";
  $("t-cancel").hidden = !LIVE.has(t.status);
  const fields = [
    ["Tool", t.tool],
    ["Principal", t.principal || "–"],
    ["Created", t.createdAt + " (" + age(now() - t.createdMs) + " ago)"],
    ["Last updated", t.lastUpdatedAt],
    ["Expires", t.expiresAt || "never"],
    ["Owner", t.owner || "–"],
    ["Attempts", String(t.attempts)],
    ["Poll interval", t.pollIntervalMs == null ? "–" : t.pollIntervalMs + " ms"],
  ];
  $("t-fields").replaceChildren(...fields.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
  const sections = [];
  const inputs = Object.entries(t.inputRequests || {});
  if (inputs.length) {
    sections.push(section("Input requests (" + inputs.length + ")", ...inputs.map(([key, req]) =>
      el("div", { class: "input" },
        el("p", {}, el("code", { text: key }), " " + (req.method || "") +
          (req.params && req.params.message ? ": " + req.params.message : "")),
        pre(req)))));
  }
  if (t.result) sections.push(section(t.result.isError ? "Result (the tool reported an error)" : "Result", pre(t.preview || ""), details("Full result (JSON)", t.result)));
  if (t.error) sections.push(section("Error", pre(t.preview || ""), details("Error (JSON)", t.error)));
  if (t.request) sections.push(section("Arguments", pre(t.request.arguments == null ? {} : t.request.arguments)));
  $("t-sections").replaceChildren(...sections);
}

function details(summary, value) {
  return el("details", {}, el("summary", { text: summary }), pre(value));
}

$("t-cancel").addEventListener("click", () => {
  $("confirm-id").textContent = $("t-id").textContent;
  $("confirm").returnValue = "";
  $("confirm").showModal();
});

$("confirm").addEventListener("close", async () => {
  if ($("confirm").returnValue !== "cancel") return;
  const taskId = $("t-id").textContent;
  $("t-cancel").disabled = true;
  try {
    const body = await api("api/tasks/" + encodeURIComponent(taskId) + "/cancel", {
      method: "POST",
      headers: { "X-Offload-Console": "1" },
    });
    renderTask(taskId, body.task);
  } catch (err) {
    $("t-message").textContent = "Could not cancel: " + err.message;
  } finally {
    $("t-cancel").disabled = false;
  }
});

$("t-copy").addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText($("t-id").textContent));

// -- start --

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  token = $("login-token").value.trim();
  sessionStorage.setItem("offload-console-token", token);
  try {
    await api("api/stats");
    route();
  } catch (err) {
    if (err.message !== "unauthorized") showLogin(err.message);
  }
});

window.addEventListener("hashchange", route);

api("api/stats").then(route, (err) => {
  if (err.message !== "unauthorized") {
    route();
  }
});
