// warmer console: live refresh of the Warmers page from /api/warmer/overview, and confirmations.
// No library and nothing fetched from outside; every value goes in through textContent.
(function () {
  "use strict";
  const STATUS_CLASS = { queued: "secondary", claimed: "info", running: "primary", completed: "success", failed: "danger" };

  function when(iso) { return iso ? iso.slice(0, 19).replace("T", " ") + " UTC" : "-"; }
  function secondsText(v) {
    if (v === null || v === undefined) return "-";
    if (v < 60) return v < 10 ? v.toFixed(2) + "s" : v.toFixed(1) + "s";
    let m = Math.floor(v / 60); const s = Math.floor(v % 60);
    if (m < 60) return m + "m " + String(s).padStart(2, "0") + "s";
    const h = Math.floor(m / 60); m = m % 60;
    return h + "h " + String(m).padStart(2, "0") + "m";
  }
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    }
    for (const child of children || []) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    return node;
  }
  function badge(text, kind) { return el("span", { class: "badge text-bg-" + kind, text: text }); }
  function emptyRow(cols, text) { return el("tr", { class: "empty" }, [el("td", { colspan: String(cols), text: text })]); }
  function fill(tbody, rows, cols, emptyText) {
    tbody.replaceChildren(...(rows.length ? rows : [emptyRow(cols, emptyText)]));
  }

  function render(root, data) {
    for (const key of ["total_queued", "in_progress", "completed_24h", "failed_24h"]) {
      const node = root.querySelector('[data-field="' + key + '"]');
      if (node) node.textContent = String(data[key]);
    }
    for (const q of data.queues) {
      const row = root.querySelector('tr[data-queue="' + CSS.escape(q.name) + '"]');
      if (!row) continue;
      row.querySelector('[data-cell="broker"]').textContent = q.broker_messages === null ? "n/a" : String(q.broker_messages);
      row.querySelector('[data-cell="ledger"]').textContent = String(q.ledger_queued);
    }
    const brokerError = root.querySelector("#broker-error");
    brokerError.textContent = data.broker_error || "";
    brokerError.hidden = !data.broker_error;

    fill(root.querySelector("#instances-table tbody"), data.instances.map(function (i) {
      const pct = Math.round(i.utilization * 100);
      const util = el("div", { class: "util" }, [
        el("div", { class: "util-bar" }, [el("div", { class: "util-fill", style: "width: " + pct + "%" })]),
        el("span", { text: i.active_jobs + "/" + i.concurrency }),
      ]);
      return el("tr", { "data-instance": i.id, class: i.stale ? "row-stale" : "" }, [
        el("td", { class: "mono", text: i.id }), el("td", { text: i.hostname }), el("td", { text: when(i.heartbeat_at) }),
        el("td", {}, [i.stale ? badge("stale heartbeat", "warning") : badge("alive", "success")]),
        el("td", {}, [util]), el("td", { class: "num", text: String(i.jobs_processed) }), el("td", { text: when(i.started_at) }),
      ]);
    }), 7, "No warmer instance is running.");

    const jobUrl = root.dataset.jobUrl;
    fill(root.querySelector("#progress-table tbody"), data.jobs_in_progress.map(function (j) {
      return el("tr", { "data-job": String(j.id) }, [
        el("td", { class: "num" }, [el("a", { href: jobUrl + j.id, text: String(j.id) })]),
        el("td", {}, [j.repo + " ", el("span", { class: "muted", text: j.branch })]),
        el("td", { text: j.artifact_type }), el("td", { text: j.trigger }),
        el("td", {}, [badge(j.status, STATUS_CLASS[j.status] || "secondary")]),
        el("td", { class: "mono small", text: j.worker_id || "-" }),
        el("td", { class: "num", text: secondsText(j.elapsed_seconds) }),
      ]);
    }), 7, "No job is being processed.");
  }

  function liveWarmers(root, intervalMs) {
    const status = document.getElementById("live-status");
    const text = document.getElementById("live-text");
    async function tick() {
      try {
        const response = await fetch(root.dataset.api, { credentials: "same-origin", headers: { Accept: "application/json" } });
        const body = await response.json();
        if (!response.ok) throw new Error(body.error || response.statusText);
        render(root, body);
        status.classList.remove("offline");
        text.textContent = "live · as of " + when(body.now);
        root.dataset.refreshed = String(Number(root.dataset.refreshed || 0) + 1);
      } catch (err) {
        status.classList.add("offline");
        text.textContent = "live refresh paused: " + err.message;
      }
    }
    setInterval(tick, intervalMs || 2000);
  }

  document.addEventListener("submit", function (event) {
    const message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  window.warmerConsole = { liveWarmers: liveWarmers };
})();
