/* Episode page: status and progress, player, the list of cuts (each playable before and
   after), downloads. Built against the episodes API contract; tolerant of missing fields. */
(function () {
  "use strict";
  var TW = window.TW;
  var CONTEXT = 1.5;  // seconds of audio played around a cut
  var eid, episode, formats = [], stopAt = null, activePlayer = null;

  function pick(obj, names) {
    for (var i = 0; i < names.length; i++) {
      var parts = names[i].split("."), v = obj;
      for (var k = 0; k < parts.length && v !== undefined && v !== null; k++) v = v[parts[k]];
      if (v !== undefined && v !== null) return v;
    }
    return null;
  }

  /** Cuts from GET /episodes/{id}/edit-list: source range, kind, removed words, join time. */
  function cutsOf(editList) {
    var cuts = (editList && editList.cuts) || [];
    var removedBefore = 0;
    return cuts.map(function (c) {
      var start = Number(pick(c, ["source_start", "start"])), end = Number(pick(c, ["source_end", "end"]));
      var after = pick(c, ["episode_time"]);
      if (after === null) after = start - removedBefore;
      removedBefore += end - start;
      return { start: start, end: end, kind: pick(c, ["kind"]) || "cut", reason: pick(c, ["reason"]) || "",
        words: c.words || [], after: Number(after) };
    });
  }

  function playRange(player, from, to) {
    [document.getElementById("ep-player"), document.getElementById("src-player")].forEach(function (p) { if (p !== player) p.pause(); });
    activePlayer = player;
    stopAt = to;
    player.currentTime = Math.max(0, from);
    var p = player.play();
    if (p && p.catch) p.catch(function (e) { TW.toast("Could not play: " + e.message, "error"); });
  }

  function renderCuts(ep, editList) {
    var cuts = cutsOf(editList);
    var summary = document.getElementById("ep-cuts-summary");
    var table = document.getElementById("ep-cuts");
    var body = table.querySelector("tbody");
    body.innerHTML = "";
    if (!cuts.length) {
      summary.textContent = ep.status === "completed" ? "Nothing was cut." : "The cuts are listed when the episode is ready.";
      table.hidden = true;
      return;
    }
    var total = cuts.reduce(function (a, c) { return a + (c.end - c.start); }, 0);
    var kinds = {};
    cuts.forEach(function (c) { kinds[c.kind] = (kinds[c.kind] || 0) + 1; });
    summary.textContent = cuts.length + " cut" + (cuts.length === 1 ? "" : "s") + " removed " + total.toFixed(1) + " s (" +
      Object.keys(kinds).map(function (k) {
        var n = kinds[k];
        var word = k === "user" ? "by you" : k + (n === 1 ? "" : "s");
        return n + " " + word;
      }).join(", ") + ").";
    var src = document.getElementById("src-player"), out = document.getElementById("ep-player");
    var canBefore = !!src.getAttribute("src"), canAfter = ep.status === "completed";
    cuts.forEach(function (c, i) {
      var n = i + 1;
      body.appendChild(TW.el("tr", {}, [
        TW.el("td", { text: String(n) }),
        TW.el("td", {}, [TW.el("span", { className: "badge badge-cut", text: c.kind }),
          c.words.length ? TW.el("span", { className: "meta", text: " “" + c.words.join(" ") + "”" }) :
            (c.reason ? TW.el("span", { className: "meta", text: " " + c.reason }) : null)]),
        TW.el("td", { className: "nowrap", text: TW.clock(c.start) + " – " + TW.clock(c.end) }),
        TW.el("td", { className: "nowrap", text: TW.clock(c.after) }),
        TW.el("td", { className: "nowrap", text: (c.end - c.start).toFixed(2) + " s" }),
        TW.el("td", { className: "nowrap" }, [
          TW.el("button", { type: "button", className: "btn btn-small", disabled: !canBefore,
            "aria-label": "Play cut " + n + " before (original)", text: "▶ Before",
            onclick: function () { playRange(src, c.start - CONTEXT, c.end + CONTEXT); } }),
          TW.el("button", { type: "button", className: "btn btn-small", disabled: !canAfter,
            "aria-label": "Play cut " + n + " after (episode)", text: "▶ After",
            onclick: function () { playRange(out, c.after - CONTEXT, c.after + CONTEXT); } })
        ])
      ]));
    });
    table.hidden = false;
  }

  function renderSettings(ep, templateName) {
    var dl = document.getElementById("ep-settings");
    dl.innerHTML = "";
    var s = ep.settings || {};
    var cleaning = s.cleaning || {};
    var loud = s.loudness || {};
    var rows = [
      ["Template", templateName || (ep.template_id ? ep.template_id : "none")],
      ["Fillers", cleaning.remove_fillers === false ? "kept" : "removed"],
      ["Pauses", cleaning.shorten_pauses === false ? "kept" : "over " + (cleaning.max_pause_seconds || 1.5) + " s → " +
        (cleaning.target_pause_seconds === undefined ? 0.5 : cleaning.target_pause_seconds) + " s"],
      ["Loudness", loud.enabled === false ? "unchanged" : (loud.target_lufs ? loud.target_lufs + " LUFS" : "standard (−16 stereo, −19 mono LUFS)")],
      ["Format", ep.format || (s.render && s.render.format) || "mp3"]
    ];
    rows.forEach(function (r) { dl.appendChild(TW.el("dt", { text: r[0] })); dl.appendChild(TW.el("dd", { text: String(r[1]) })); });
  }

  function renderDownloads(ep) {
    var ul = document.getElementById("ep-downloads");
    ul.innerHTML = "";
    if (ep.status !== "completed") {
      ul.appendChild(TW.el("li", { className: "muted", text: "Available when the episode is ready." }));
      return;
    }
    var base = "/api/v1/episodes/" + eid;
    ul.appendChild(TW.el("li", {}, [TW.el("a", { className: "btn btn-primary", id: "ep-download-audio",
      href: base + "/audio?download=true", download: true, text: "Audio (" + (ep.format || "mp3").toUpperCase() + ")" })]));
    formats.forEach(function (f) {
      ul.appendChild(TW.el("li", {}, [TW.el("a", { className: "btn", id: "ep-download-" + f,
        href: base + "/transcript?format=" + f + "&download=true", download: true, text: "Transcript " + f.toUpperCase() })]));
    });
  }

  function paint(ep) {
    episode = ep;
    var badge = document.getElementById("ep-badge");
    badge.className = "badge js-badge badge-" + ep.status;
    badge.textContent = ep.status;
    var title = pick(ep, ["title"]);
    if (title) { document.getElementById("ep-title").textContent = title; document.title = title + " · tapeworks"; }
    var sessionId = pick(ep, ["session_id"]);
    if (sessionId) {
      var link = document.getElementById("ep-session-link");
      link.href = "/sessions/" + sessionId;
      link.hidden = false;
      if (!link.getAttribute("data-named")) {
        link.setAttribute("data-named", "1");
        TW.api("GET", "/api/v1/sessions/" + sessionId).then(function (s) { link.textContent = s.title; }, function () { /* keep "Session" */ });
      }
      var src = document.getElementById("src-player");
      if (!src.getAttribute("src")) src.setAttribute("src", "/api/v1/sessions/" + sessionId + "/audio");
    }
    var block = document.getElementById("ep-progress");
    var unfinished = TW.terminal.indexOf(ep.status) < 0;
    block.hidden = !unfinished;
    if (unfinished) TW.paintProgress(block, ep);
    var err = document.getElementById("ep-error");
    var retry = document.getElementById("ep-retry");
    if (ep.status === "failed" || ep.status === "cancelled") {
      var stage = pick(ep, ["error_stage"]);
      err.textContent = ep.status === "cancelled" ? "This episode was cancelled." :
        "The episode could not be produced" + (stage ? " while " + (TW.stages[stage] || stage) : "") + ": " +
        (pick(ep, ["error", "message"]) || "no reason was recorded") + ".";
      err.hidden = false;
      retry.hidden = false;
    } else { err.hidden = true; retry.hidden = true; }
    document.getElementById("ep-cancel").hidden = !unfinished;
    var player = document.getElementById("ep-player");
    var note = document.getElementById("ep-player-note");
    if (ep.status === "completed") {
      if (!player.getAttribute("src")) player.setAttribute("src", "/api/v1/episodes/" + eid + "/audio");
      note.hidden = true;
      var loud = ep.loudness || {};
      var bits = [];
      if (ep.duration_seconds !== null && ep.duration_seconds !== undefined) bits.push("Length " + TW.duration(ep.duration_seconds));
      if (loud.output_lufs !== null && loud.output_lufs !== undefined) bits.push("loudness " + Number(loud.output_lufs).toFixed(1) + " LUFS");
      if (loud.true_peak_dbtp !== null && loud.true_peak_dbtp !== undefined) bits.push("true peak " + Number(loud.true_peak_dbtp).toFixed(1) + " dBTP");
      document.getElementById("ep-loudness").textContent = bits.join(" · ");
    } else {
      note.textContent = unfinished ? "The episode audio appears here when it is ready." : "There is no episode audio.";
    }
    renderSettings(ep, null);
    if (ep.template_id) {
      TW.api("GET", "/api/v1/templates/" + ep.template_id).then(function (t) { renderSettings(ep, t.name); },
        function () { renderSettings(ep, "(deleted template)"); });
    }
    renderDownloads(ep);
    if (ep.status === "completed") {
      TW.api("GET", "/api/v1/episodes/" + eid + "/edit-list").then(function (editList) {
        if (editList.source_duration) {
          document.getElementById("ep-loudness").textContent += " · was " + TW.duration(editList.source_duration);
        }
        renderCuts(ep, editList);
      }, function (err) {
        document.getElementById("ep-cuts-summary").textContent = "The list of cuts could not be loaded: " + err.message;
      });
    } else {
      renderCuts(ep, null);
    }
  }

  function load() {
    return TW.api("GET", "/api/v1/episodes/" + eid).then(paint, function (err) {
      var root = document.getElementById("episode");
      root.innerHTML = "";
      root.appendChild(TW.el("section", { className: "card narrow" }, [
        TW.el("h2", { text: err.status === 404 ? "Episode not found" : "The episode could not be loaded" }),
        TW.el("p", { text: err.message }),
        TW.el("p", {}, [TW.el("a", { className: "btn", href: "/", text: "Back to your library" })])
      ]));
      throw err;
    });
  }

  function follow() {
    if (!episode || TW.terminal.indexOf(episode.status) >= 0) return;
    var block = document.getElementById("ep-progress");
    TW.poll("/api/v1/episodes/" + eid + "/status", function (st) {
      TW.paintProgress(block, st);
      TW.paintBadge(document.getElementById("ep-badge"), st.status);
    }, function () { load(); });
  }

  function init() {
    var root = document.getElementById("episode");
    if (!root) return;
    eid = root.getAttribute("data-episode-id");
    formats = JSON.parse(root.getAttribute("data-formats") || "[]");
    ["ep-player", "src-player"].forEach(function (id) {
      var p = document.getElementById(id);
      p.addEventListener("timeupdate", function () {
        if (activePlayer === p && stopAt !== null && p.currentTime >= stopAt) { p.pause(); stopAt = null; }
      });
    });
    document.getElementById("ep-retry").addEventListener("click", function () {
      TW.api("POST", "/api/v1/episodes/" + eid + "/retry").then(function () { return load(); }).then(follow,
        function (err) { TW.toast(err.message, "error"); });
    });
    document.getElementById("ep-cancel").addEventListener("click", function () {
      TW.api("POST", "/api/v1/episodes/" + eid + "/cancel").then(function () { return load(); }, function (err) { TW.toast(err.message, "error"); });
    });
    load().then(follow, function () { /* message already shown */ });
  }

  document.addEventListener("DOMContentLoaded", init);
})();
