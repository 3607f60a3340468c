// warmer console: live regions, local times, confirmations. No library, nothing from outside,
// no inline script (the CSP allows none): pages declare what is live with data attributes.
//
// Live: every element with `data-live` and an id is refreshed from the same URL, re-rendered by
// the server in one snapshot, and swapped in place. One request at a time: the next poll is
// scheduled only when the previous one has finished (never setInterval), and none is sent while
// the tab is hidden; a tab that becomes visible again refreshes at once.
(function () {
  "use strict";

  function pad(n) { return String(n).padStart(2, "0"); }
  function localText(date) {
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + " " +
      pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds());
  }
  function age(seconds) {
    const s = Math.abs(seconds), future = seconds < 0;
    let text;
    if (s < 5) return "just now";
    if (s < 60) text = Math.floor(s) + "s";
    else if (s < 3600) text = Math.floor(s / 60) + "m";
    else if (s < 86400) text = Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
    else text = Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
    return future ? "in " + text : text + " ago";
  }
  // Times come from the server in UTC; show them in the reader's zone with their age.
  function localizeTimes(root) {
    const now = Date.now();
    for (const node of root.querySelectorAll("time[datetime]")) {
      const date = new Date(node.getAttribute("datetime"));
      if (isNaN(date)) continue;
      if (!node.title) node.title = node.textContent + " (UTC)";
      node.textContent = localText(date) + " · " + age((now - date.getTime()) / 1000);
    }
  }

  const live = { polls: 0, inFlight: 0, maxInFlight: 0, failures: 0, timer: null };
  window.warmerLive = live;  // read by the browser tests

  function schedule(delay) {
    clearTimeout(live.timer);
    live.timer = null;
    if (!document.hidden) live.timer = setTimeout(poll, delay);
  }

  async function poll() {
    live.timer = null;
    if (document.hidden || live.inFlight) return;
    const status = document.getElementById("live-status");
    const text = document.getElementById("live-text");
    const interval = Number(document.body.dataset.liveInterval || 3000);
    live.inFlight += 1;
    live.maxInFlight = Math.max(live.maxInFlight, live.inFlight);
    try {
      const response = await fetch(window.location.href, {
        credentials: "same-origin", headers: { Accept: "text/html", "X-Warmer-Live": "1" }, cache: "no-store",
      });
      if (!response.ok) throw new Error(response.status + " " + response.statusText);
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const region of document.querySelectorAll("[data-live][id]")) {
        const next = fresh.getElementById(region.id);
        if (next) region.replaceWith(document.importNode(next, true));
      }
      localizeTimes(document);
      live.polls += 1;
      document.body.dataset.polls = String(live.polls);
      if (status) status.classList.remove("offline");
      if (text) text.textContent = "live · updated " + localText(new Date()).slice(11);
    } catch (err) {
      live.failures += 1;
      if (status) status.classList.add("offline");
      if (text) text.textContent = "live refresh paused: " + err.message;
    } finally {
      live.inFlight -= 1;
      schedule(interval);
    }
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { clearTimeout(live.timer); live.timer = null; }
    else if (document.querySelector("[data-live]") && !live.inFlight) schedule(0);
  });

  document.addEventListener("submit", function (event) {
    const message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // Flower's theme.js applies the theme (stored choice, else the browser's); it marks the choice
  // only in its own menu, so the console's switch marks it here.
  function markTheme() {
    let chosen = "system";
    try { chosen = window.localStorage.getItem("flower-theme") || "system"; } catch (err) { /* none */ }
    for (const button of document.querySelectorAll(".theme-switch [data-bs-theme-value]")) {
      const on = button.getAttribute("data-bs-theme-value") === chosen;
      button.classList.toggle("active", on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
    }
  }
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest(".theme-switch [data-bs-theme-value]")) setTimeout(markTheme, 0);
  });

  document.addEventListener("DOMContentLoaded", function () {
    markTheme();
    localizeTimes(document);
    if (document.querySelector("[data-live]")) schedule(Number(document.body.dataset.liveInterval || 3000));
  });
})();
