/* tapeworks pages: shared helpers (no dependencies, no build step). */
(function () {
  "use strict";
  var TERMINAL = ["completed", "failed", "cancelled"];
  var STAGES = {
    uploaded: "uploaded", queued: "waiting for a worker", claim: "starting",
    download: "fetching the recording", decode: "reading the audio", vad: "finding speech",
    transcribe: "transcribing", align: "aligning words", diarize: "telling speakers apart",
    save: "saving", completed: "done", failed: "failed", cancelled: "cancelled",
    render: "rendering", clean: "finding cuts", loudness: "levelling loudness", encode: "encoding"
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

  /** The message of an API error body {"error": {"message"}}, or a plain fallback. */
  function errorMessage(status, text) {
    try {
      var body = JSON.parse(text);
      if (body && body.error && body.error.message) return body.error.message;
    } catch (e) { /* not JSON: fall through to the status text */ }
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
          err.status = r.status;
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
    if (stage) stage.textContent = STAGES[st.stage] || st.stage || st.status;
    var p = block.querySelector(".js-pct");
    if (p) p.textContent = Math.round(pct) + "%";
    var eta = block.querySelector(".js-eta");
    if (eta) eta.textContent = st.eta_seconds ? " · about " + duration(st.eta_seconds) + " left" : "";
    block.setAttribute("data-status", st.status);
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

  window.TW = {
    api: api, csrf: csrf, toast: toast, el: el, duration: duration, clock: clock, bytes: bytes,
    poll: poll, paintProgress: paintProgress, paintBadge: paintBadge, errorMessage: errorMessage,
    stages: STAGES, terminal: TERMINAL
  };

  document.addEventListener("DOMContentLoaded", function () {
    watchProgressBlocks();
    wireCopyButtons();
  });
})();
