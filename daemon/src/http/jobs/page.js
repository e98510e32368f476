// The job queue's page: live figures from /jobs/events (Server-Sent
// Events read with fetch, so the token goes in a header), retry and
// discard buttons. The token comes from the URL fragment (#token=…, never
// sent to a server, then removed from the address bar) or the form, and
// stays in this tab's sessionStorage.
"use strict";

const STATES = ["scheduled", "available", "running", "retryable", "completed", "dead", "cancelled"];
const BARS = "▁▂▃▄▅▆▇█";
let token = null;
let stream = null;

function $(id) { return document.getElementById(id); }

function setStatus(text, kind) {
  const s = $("status");
  s.textContent = text;
  s.className = "status " + (kind || "");
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function sparkline(values) {
  const max = Math.max(0, ...values);
  return values.map(v => (v === 0 || max === 0) ? " " : BARS[Math.min(8, Math.max(1, Math.ceil(v * 8 / max))) - 1]).join("");
}

function render(snap) {
  const states = $("states").tBodies[0];
  states.replaceChildren();
  const names = document.createElement("tr");
  const counts = document.createElement("tr");
  for (const s of STATES) {
    const th = document.createElement("th");
    th.textContent = s;
    names.appendChild(th);
    cell(counts, String(snap.states[s]), "count-" + s).id = "count-" + s;
  }
  states.append(names, counts);

  const queues = $("queues").tBodies[0];
  queues.replaceChildren();
  for (const q of snap.queues) {
    const row = document.createElement("tr");
    row.dataset.queue = q.name;
    cell(row, q.name);
    for (const s of ["available", "scheduled", "running", "retryable", "dead", "completed"]) {
      cell(row, String(q.states[s]));
    }
    cell(row, sparkline(q.throughput), "spark");
    cell(row, q.wait_p99_ms + " ms");
    cell(row, q.run_p99_ms + " ms");
    cell(row, q.paused ? "paused" : "", q.paused ? "paused" : "");
    queues.appendChild(row);
  }

  $("dead-count").textContent = "(" + snap.states.dead + ")";
  const dead = $("dead").tBodies[0];
  dead.replaceChildren();
  for (const j of snap.dead) {
    const row = document.createElement("tr");
    row.id = "job-" + j.id;
    row.dataset.id = j.id;
    cell(row, String(j.id));
    cell(row, j.queue);
    cell(row, j.kind);
    cell(row, j.attempt + "/" + j.max_attempts);
    const errors = j.errors || [];
    cell(row, errors.length ? errors[errors.length - 1].message : "", "error");
    cell(row, j.args, "args");
    const actions = cell(row, "");
    for (const action of ["retry", "discard"]) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = action === "retry" ? "Retry" : "Discard";
      b.className = action;
      b.addEventListener("click", () => act("/jobs/api/jobs/" + j.id + "/" + action, action + " job " + j.id));
      actions.appendChild(b);
    }
    dead.appendChild(row);
  }
  $("retry-all").disabled = $("discard-all").disabled = snap.states.dead === 0;
}

async function act(path, what) {
  $("message").textContent = what + "…";
  try {
    const res = await fetch(path, { method: "POST", headers: { "Authorization": "Token " + token } });
    const body = await res.json();
    if (res.status === 401) return signedOut(body.error);
    $("message").textContent = res.ok ? what + ": " + body.count + (body.count === 1 ? " job" : " jobs") : what + ": " + body.error;
  } catch (e) {
    $("message").textContent = what + ": " + e;
  }
}

function signedOut(why) {
  sessionStorage.removeItem("agora-token");
  token = null;
  if (stream) stream.abort();
  $("main").hidden = true;
  $("signin").hidden = false;
  setStatus(why || "a token is needed", "down");
}

// Reads /jobs/events: "event: NAME" and "data: …" lines, blank line ends
// an event; lines starting with ":" are keep-alives.
async function follow() {
  stream = new AbortController();
  let retry = 1000;
  while (token) {
    try {
      const res = await fetch("/jobs/events", { headers: { "Authorization": "Token " + token }, signal: stream.signal });
      if (res.status === 401) {
        const body = await res.json();
        return signedOut(body.error);
      }
      if (!res.ok) throw new Error("HTTP " + res.status);
      setStatus("live", "live");
      $("signin").hidden = true;
      $("main").hidden = false;
      retry = 1000;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "", name = "message", data = [];
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let nl;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl).replace(/\r$/, "");
          buffer = buffer.slice(nl + 1);
          if (line === "") {
            if (name === "snapshot" && data.length) render(JSON.parse(data.join("\n")));
            if (name === "failure") setStatus(data.join("\n"), "down");
            name = "message"; data = [];
          } else if (line.startsWith("event:")) {
            name = line.slice(6).trim();
          } else if (line.startsWith("data:")) {
            data.push(line.slice(5).replace(/^ /, ""));
          }
        }
      }
    } catch (e) {
      if (stream.signal.aborted) return;
      setStatus("disconnected: " + e.message + "; retrying", "down");
    }
    await new Promise(r => setTimeout(r, retry));
    retry = Math.min(retry * 2, 10000);
  }
}

function start(t) {
  token = t;
  sessionStorage.setItem("agora-token", t);
  setStatus("connecting…");
  follow();
}

document.addEventListener("DOMContentLoaded", () => {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const given = fragment.get("token");
  if (given) history.replaceState(null, "", location.pathname + location.search);
  $("signin").addEventListener("submit", e => {
    e.preventDefault();
    start($("token").value.trim());
  });
  $("retry-all").addEventListener("click", () => {
    if (confirm("Retry every dead job?")) act("/jobs/api/dead/retry", "retry all dead jobs");
  });
  $("discard-all").addEventListener("click", () => {
    if (confirm("Discard every dead job? This cannot be undone.")) act("/jobs/api/dead/discard", "discard all dead jobs");
  });
  const saved = given || sessionStorage.getItem("agora-token");
  if (saved) start(saved); else signedOut();
});
