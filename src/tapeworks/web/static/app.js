/* tapeworks pages: shared helpers (no dependencies, no build step). */
(function () {
  "use strict";
  var TERMINAL = ["completed", "failed", "cancelled"];
  // The stage codes the jobs report (sessions/tasks.py, episodes/tasks.py), in words.
  var STAGES = {
    uploaded: "uploaded", queued: "waiting for a worker", starting: "starting",
    downloading: "fetching the recording", loading_model: "loading the speech model",
    transcribing: "transcribing", finding_speakers: "finding who speaks when",
    uploading: "saving", saving: "saving", analysing: "finding fillers and pauses",
    verifying: "checking the cuts against the audio", measuring: "measuring loudness",
    rendering: "rendering", mixing: "mixing", encoding: "encoding",
    completed: "done", failed: "failed", cancelled: "cancelled"
  };

  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }

  function duration(sec) {
    if (sec === null || sec === undefined || isNaN(sec) || sec < 0) return "–";
    var s = Math.round(sec), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return h ? h + ":" + pad(m) + ":" + pad(r) : m + ":" + pad(r);
  }

  function clock(sec) {  // 1:02.35 — for cut lists and word times
    if (sec === null || sec === undefined || isNaN(sec)) return "–";
    var m = Math.floor(sec / 60), s = sec - m * 60;
    return m + ":" + (s < 10 ? "0" : "") + s.toFixed(2);
  }

  function bytes(n) {
    var units = ["bytes", "KB", "MB", "GB", "TB"], i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return i === 0 ? n + " bytes" : n.toFixed(1) + " " + units[i];
  }

  function errorBody(text) {
    try {
      var body = JSON.parse(text);
      if (body && body.error) return body.error;
    } catch (e) { /* not JSON */ }
    return null;
  }

  /** The message of an API error body {"error": {"message"}}, or a plain fallback. */
  function errorMessage(status, text) {
    var body = errorBody(text);
    if (body && body.message) return body.message;
    if (status === 0) return "The server could not be reached. Check your connection and try again.";
    if (status === 401) return "Your sign-in has expired. Reload the page to sign in again.";
    return "The server answered " + status + ".";
  }

  /** Call the JSON API with the session cookie and the CSRF header. Resolves to the body. */
  function api(method, url, body) {
    var opts = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (method !== "GET" && method !== "HEAD") opts.headers["X-CSRF-Token"] = csrf();
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(function (r) {
      return r.text().then(function (text) {
        if (!r.ok) {
          var err = new Error(errorMessage(r.status, text));
          var body = errorBody(text) || {};
          err.status = r.status;
          err.code = body.code || null;
          err.details = body.details || null;
          throw err;
        }
        if (!text) return null;
        try { return JSON.parse(text); } catch (e) { return text; }
      });
    }, function () {
      var err = new Error(errorMessage(0, ""));
      err.status = 0;
      throw err;
    });
  }

  var toastTimer = null;
  function toast(message, kind) {
    var el = document.getElementById("toast");
    if (!el) return;
    el.textContent = message;
    el.className = "toast show" + (kind ? " toast-" + kind : "");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { el.className = "toast"; }, 5000);
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") node.textContent = v;
      else if (k === "className") node.className = v;
      else if (k.indexOf("on") === 0) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  /** Update a .progress-block (bar, stage, percentage, ETA) from a status body. */
  function paintProgress(block, st) {
    var pct = Math.max(0, Math.min(100, st.progress_percentage || 0));
    var bar = block.querySelector(".progress");
    var fill = block.querySelector(".progress-fill");
    if (fill) fill.style.width = pct + "%";
    if (bar) bar.setAttribute("aria-valuenow", String(Math.round(pct)));
    var stage = block.querySelector(".js-stage");
    if (stage) stage.textContent = stageText(st);
    var p = block.querySelector(".js-pct");
    if (p) p.textContent = Math.round(pct) + "%";
    var eta = block.querySelector(".js-eta");
    if (eta) eta.textContent = etaText(st.eta_seconds);
    block.setAttribute("data-status", st.status);
  }

  /** What is happening: the stage in words, with the job's own detail while transcribing
      ("12 of 30 seconds of audio"). */
  function stageText(st) {
    var words = STAGES[st.stage] || (st.stage ? String(st.stage).replace(/_/g, " ") : st.status);
    var msg = st.message || "";
    if (msg && msg !== words && /\d/.test(msg)) return words + " (" + msg + ")";
    return words;
  }

  /** The server shows an ETA only once it is stable (queue/eta.py); say it in round terms. */
  function etaText(sec) {
    if (sec === null || sec === undefined || isNaN(sec) || sec <= 0) return "";
    if (sec < 15) return " · a few seconds left";
    if (sec < 90) return " · about " + (Math.round(sec / 5) * 5) + " s left";
    return " · about " + duration(Math.round(sec / 30) * 30) + " left";
  }

  /** A message for the next page this tab opens (after a delete that navigates away). */
  function flashNext(message) {
    try { window.sessionStorage.setItem("tw-flash", message); } catch (e) { /* private mode: no message */ }
  }

  function showFlash() {
    var message = null;
    try {
      message = window.sessionStorage.getItem("tw-flash");
      window.sessionStorage.removeItem("tw-flash");
    } catch (e) { return; }
    if (message) toast(message, "ok");
  }

  function paintBadge(badge, status) {
    if (!badge) return;
    badge.textContent = status;
    badge.className = badge.className.replace(/badge-\w+/, "badge-" + status);
  }

  /** Poll a status URL until the job ends; onUpdate(status) each time, onDone(status) at the end. */
  function poll(url, onUpdate, onDone, intervalMs) {
    var stopped = false, failures = 0;
    function tick() {
      if (stopped) return;
      api("GET", url).then(function (st) {
        failures = 0;
        onUpdate(st);
        if (TERMINAL.indexOf(st.status) >= 0) { stopped = true; if (onDone) onDone(st); return; }
        setTimeout(tick, intervalMs || 800);
      }, function (err) {
        failures++;
        if (err.status === 404 || err.status === 401 || failures > 20) { stopped = true; return; }
        setTimeout(tick, Math.min(10000, 1000 * failures));
      });
    }
    tick();
    return function () { stopped = true; };
  }

  /** Every [data-poll] progress block on the page follows its job. */
  function watchProgressBlocks() {
    document.querySelectorAll(".progress-block[data-poll]").forEach(function (block) {
      var row = block.closest("[data-session-id]");
      var badge = row ? row.querySelector(".js-badge") : null;
      poll(block.getAttribute("data-poll"), function (st) {
        paintProgress(block, st);
        paintBadge(badge, st.status);
      }, function (st) {
        block.dispatchEvent(new CustomEvent("tw:finished", { bubbles: true, detail: st }));
        if (st.status === "completed") block.hidden = true;
        else if (st.status === "failed" && st.error) {
          var msg = block.querySelector(".progress-text");
          if (msg) { msg.textContent = "Failed: " + st.error; msg.className = "progress-text error-text"; }
        }
      });
    });
  }

  function wireCopyButtons() {
    document.querySelectorAll(".js-copy").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var input = document.getElementById(btn.getAttribute("data-target"));
        if (!input) return;
        input.select();
        var done = function () { toast("Copied to the clipboard.", "ok"); };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
        } else { document.execCommand("copy"); done(); }
      });
    });
  }

  /** Forms marked js-confirm ask first (deleting a client, a log entry). */
  function wireConfirmForms() {
    document.querySelectorAll("form.js-confirm").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        if (!window.confirm(form.getAttribute("data-confirm") || "Are you sure?")) ev.preventDefault();
      });
    });
  }

  window.TW = {
    api: api, csrf: csrf, toast: toast, el: el, duration: duration, clock: clock, bytes: bytes,
    poll: poll, paintProgress: paintProgress, paintBadge: paintBadge, errorMessage: errorMessage,
    stages: STAGES, terminal: TERMINAL, stageText: stageText, etaText: etaText, flashNext: flashNext
  };

  document.addEventListener("DOMContentLoaded", function () {
    watchProgressBlocks();
    wireCopyButtons();
    wireConfirmForms();
    showFlash();
  });
})();
