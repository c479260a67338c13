"use strict";
// The raydeploy web page: plain JavaScript over the REST API, no build step.
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("raydeploy-token") || "";
let pendingName = null;
let lastRun = null;

function say(text) { $("message").textContent = text; }

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

async function api(path, options = {}) {
  const headers = { "Authorization": "Bearer " + token };
  if (options.body) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { ...options, headers });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const err = (data && data.error) || {};
    throw new Error(resp.status + ": " + (err.message || resp.statusText) + (err.field ? " (field " + err.field + ")" : ""));
  }
  return data;
}

function renderCheckpoints(list) {
  const body = $("checkpoints").querySelector("tbody");
  body.replaceChildren();
  for (const cp of list) {
    const status = cp.state ? cp.state.status : "not run";
    const tr = el("tr");
    tr.dataset.name = cp.name;
    tr.append(el("td", String(cp.number).padStart(2, "0")), el("td", cp.name),
      el("td", status, status), el("td", cp.state ? (cp.state.run_id || "") : ""),
      el("td", cp.approval ? cp.approval.state + (cp.approval.approved_by ? " by " + cp.approval.approved_by : "")
        : (cp.approval_required ? "needed" : "-")));
    const td = el("td");
    const run = el("button", "Run");
    run.onclick = () => { if (confirm("Start a run of " + cp.name + "?")) startRun(cp.name); };
    td.append(run);
    tr.append(td);
    body.append(tr);
  }
}

function renderPreview(preview) {
  const box = $("preview");
  box.replaceChildren();
  const hosts = (preview && preview.hosts) || {};
  for (const [host, p] of Object.entries(hosts)) {
    box.append(el("h4", host));
    const changes = p.would_change || [];
    const notSim = p.not_simulated || [];
    box.append(el("div", changes.length + " task(s) would change, " + notSim.length + " not simulated by check mode"));
    const pre = el("pre", changes.map((c) => "~ " + (c.task || JSON.stringify(c))).concat(
      notSim.map((c) => "? " + (typeof c === "string" ? c : c.task))).join("\n"));
    box.append(pre);
  }
  if (!Object.keys(hosts).length) box.append(el("div", "no preview recorded"));
}

async function refreshApproval() {
  const pending = (await api("/api/v1/approvals")).pending;
  if (!pending.length) {
    pendingName = null;
    $("approval").hidden = true;
    $("approval-none").hidden = false;
    return;
  }
  const rec = pending[0];
  const detail = await api("/api/v1/approvals/" + encodeURIComponent(rec.checkpoint));
  $("approval-none").hidden = true;
  $("approval").hidden = false;
  if (pendingName !== rec.checkpoint) {
    pendingName = rec.checkpoint;
    renderPreview(detail.preview);
  }
  $("approval-title").textContent = "Checkpoint " + rec.checkpoint + (rec.destructive ? " (DESTRUCTIVE)" : "") +
    " requested by " + rec.requested_by + " for run " + (rec.run_id || "?") + ", expires " + rec.expires_at +
    ", digest " + rec.digest.slice(0, 19) + "…";
  $("ack-label").hidden = !rec.destructive;
}

async function decide(kind) {
  if (!pendingName) return;
  const who = $("approved-by").value, reason = $("reason").value;
  const body = kind === "approve"
    ? { approved_by: who, reason: reason, acknowledge_risks: $("ack").checked }
    : { denied_by: who, reason: reason };
  const path = "/api/v1/approvals/" + encodeURIComponent(pendingName) + (kind === "deny" ? "/deny" : "");
  try {
    const rec = await api(path, { method: "POST", body: JSON.stringify(body) });
    $("decision").textContent = rec.checkpoint + ": " + rec.state + " by " + rec.decided_by + " (" + rec.reason + ")";
    say("");
    await refresh();
  } catch (e) { say(e.message); }
}

async function startRun(name) {
  try {
    const r = await api("/api/v1/checkpoints/" + encodeURIComponent(name), { method: "POST", body: "{}" });
    lastRun = r.run_id;
    say("started run " + r.run_id);
  } catch (e) { say(e.message); }
}

async function stopRun(id) {
  try {
    await api("/api/v1/runs/" + encodeURIComponent(id) + "/stop", { method: "POST",
      body: JSON.stringify({ reason: "stopped from the web page" }) });
    say("stopping run " + id);
  } catch (e) { say(e.message); }
}

function renderRun(run) {
  const box = $("run");
  box.replaceChildren();
  const line = el("div", "run " + run.run_id + ": " + run.status + (run.current_checkpoint ? " at " + run.current_checkpoint : "")
    + (run.message ? " - " + run.message : ""), "run-status " + run.status);
  if (run.status === "running") {
    // As Ctrl-C would: the checkpoint in progress ends "interrupted" and the lock is freed.
    const stop = el("button", "Stop");
    stop.id = "stop-run";
    stop.onclick = () => { if (confirm("Stop run " + run.run_id + "?")) stopRun(run.run_id); };
    line.append(" ", stop);
  }
  box.append(line);
  const t = el("table");
  t.append(el("tr"));
  t.rows[0].append(el("th", "checkpoint"), el("th", "status"), el("th", "hosts (ok/changed/failed/unreachable)"));
  for (const c of run.checkpoints) {
    const tr = el("tr");
    const hosts = Object.entries(c.hosts || {}).map(([h, n]) =>
      h + " " + n.ok + "/" + n.changed + "/" + n.failed + "/" + n.unreachable).join(", ");
    tr.append(el("td", c.name), el("td", c.status, c.status), el("td", hosts));
    t.append(tr);
  }
  box.append(t);
}

async function refreshRun() {
  if (!lastRun) {
    const runs = (await api("/api/v1/runs?limit=1")).runs;
    if (!runs.length) return;
    lastRun = runs[0].run_id;
  }
  const latest = (await api("/api/v1/runs?limit=1")).runs;
  if (latest.length && latest[0].run_id > lastRun) lastRun = latest[0].run_id;
  renderRun(await api("/api/v1/runs/" + encodeURIComponent(lastRun)));
}

async function refresh() {
  if (!token) { say("Enter the API token."); return; }
  try {
    renderCheckpoints((await api("/api/v1/checkpoints")).checkpoints);
    await refreshApproval();
    await refreshRun();
    const h = await api("/api/v1/cluster/health");
    $("cluster").textContent = "cluster: " + (h.healthy ? "healthy" : "not healthy") + ", " + h.nodes_alive +
      " node(s) alive" + (h.ray.available ? "" : " (Ray dashboard: " + h.ray.error + ")");
    if ($("message").textContent.startsWith("401")) say("");
  } catch (e) { say(e.message); }
}

$("save-token").onclick = () => {
  token = $("token").value.trim();
  sessionStorage.setItem("raydeploy-token", token);
  say("");
  refresh();
};
$("approve").onclick = () => decide("approve");
$("deny").onclick = () => decide("deny");
refresh();
setInterval(refresh, 2000);
