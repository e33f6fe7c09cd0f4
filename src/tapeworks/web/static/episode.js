/* Episode page: status and progress, players, downloads and versions, and the cut editor:
   a waveform of the source with the cuts on it (peaks computed by the server, see
   GET /sessions/{id}/waveform), each cut playable before and after, restorable or changeable,
   filler cuts reviewed one by one, cuts the audio check kept shown with their reason, and
   words cut by selecting them in the transcript. Changes make a new version
   (PUT /episodes/{id}/cuts); the previous audio stays downloadable until it is complete. */
(function () {
  "use strict";
  var TW = window.TW;
  var CONTEXT = 1.5;  // seconds of audio played around a cut
  var eid, sid, episode = null, formats = [], stopAt = null, activePlayer = null;
  var cuts = [], kept = [], bleeps = [], transcript = null, srcWords = [], wordSpans = [];
  var pending = { restore: {}, unrestore: {}, add: [], drop: {} };
  var wave = { overview: null, detail: null, start: 0, end: 0, duration: 0 };
  var sel = { anchor: -1, focus: -1, cursor: 0 };
  var review = { list: [], at: 0 };

  function pick(obj, names) {
    for (var i = 0; i < names.length; i++) {
      var parts = names[i].split("."), v = obj;
      for (var k = 0; k < parts.length && v !== undefined && v !== null; k++) v = v[parts[k]];
      if (v !== undefined && v !== null) return v;
    }
    return null;
  }

  function listOf(body, names) {
    if (!body) return [];
    if (Array.isArray(body)) return body;
    for (var i = 0; i < names.length; i++) if (Array.isArray(body[names[i]])) return body[names[i]];
    return [];
  }

  function secs(x) { return x.toFixed(2) + " s"; }

  // --- the edit list, as the page uses it ---------------------------------------------------
  /** Cuts from GET /episodes/{id}/edit-list: applied ones, and those the audio check kept. */
  function readEditList(editList) {
    var removedBefore = 0;
    var all = listOf(editList, ["cuts"]).map(function (c, i) {
      var start = Number(pick(c, ["source_start", "start"])), end = Number(pick(c, ["source_end", "end"]));
      var applied = c.applied !== false;
      var after = pick(c, ["episode_time"]);
      if (after === null) after = start - removedBefore;
      if (applied) removedBefore += end - start;
      return { id: c.id || ("cut-" + i), kind: c.kind || "cut", start: start, end: end, applied: applied,
        reason: c.reason || "", words: c.words || [], wordIdx: c.word_indices || null, after: Number(after) };
    });
    listOf(editList, ["kept"]).forEach(function (c, i) {
      all.push({ id: c.id || ("kept-" + i), kind: c.kind || "cut", start: Number(pick(c, ["source_start", "start"])),
        end: Number(pick(c, ["source_end", "end"])), applied: false, reason: c.reason || "", words: c.words || [],
        wordIdx: c.word_indices || null, after: Number(pick(c, ["episode_time"]) || 0) });
    });
    cuts = all.filter(function (c) { return c.applied; });
    kept = all.filter(function (c) { return !c.applied; });
    bleeps = listOf(editList, ["bleeps"]).map(function (b) {
      return { start: Number(b.source_start), end: Number(b.source_end), at: Number(b.episode_start),
        words: b.words || [], reason: b.reason || "bleep" };
    }).sort(function (a, b) { return a.start - b.start; });
    cuts.sort(function (a, b) { return a.start - b.start; });
    kept.sort(function (a, b) { return a.start - b.start; });
  }

  function isUser(c) { return c.kind === "user"; }

  function pendingCount() {
    return Object.keys(pending.restore).length + Object.keys(pending.drop).length + pending.add.length;
  }

  /** The desired set of cuts for PUT /episodes/{id}/cuts: automatic cuts to restore, and the
      user's own cuts (kept ones, minus the dropped, plus the added) by word index or time. */
  function desiredCuts() {
    var restore = (pick(episode, ["cuts_settings.restore", "settings.cuts.restore"]) || []).slice();
    Object.keys(pending.restore).forEach(function (id) { if (restore.indexOf(id) < 0) restore.push(id); });
    var add = [];
    cuts.filter(isUser).forEach(function (c) {
      if (!pending.drop[c.id]) add.push({ start: c.start, end: c.end });
    });
    pending.add.forEach(function (a) {
      if (a.wordStart !== undefined) add.push({ word_start: a.wordStart, word_end: a.wordEnd });
      else add.push({ start: a.start, end: a.end });
    });
    return { restore: restore, add: add };
  }

  // --- playing around a cut -------------------------------------------------------------------
  function players() { return [document.getElementById("ep-player"), document.getElementById("src-player")]; }

  function playRange(player, from, to) {
    players().forEach(function (p) { if (p !== player) p.pause(); });
    activePlayer = player;
    stopAt = to;
    player.currentTime = Math.max(0, from);
    var p = player.play();
    if (p && p.catch) p.catch(function (e) { TW.toast("Could not play: " + e.message, "error"); });
  }

  // --- waveform -----------------------------------------------------------------------------------
  function loadWave() {
    return TW.api("GET", "/api/v1/sessions/" + sid + "/waveform").then(function (w) {
      wave.overview = w;
      wave.duration = w.duration_seconds;
      wave.start = 0;
      wave.end = w.duration_seconds;
      drawWave();
    }, function (err) {
      var range = document.getElementById("wave-range");
      range.textContent = "The waveform could not be drawn: " + err.message;
    });
  }

  function zoomTo(c) {
    if (!wave.overview) return;
    var pad = Math.max(2, (c.end - c.start) * 0.75);
    wave.start = Math.max(0, c.start - pad);
    wave.end = Math.min(wave.duration, c.end + pad);
    wave.detail = null;
    document.getElementById("wave-whole").hidden = false;
    drawWave();
    var span = wave.end - wave.start;
    if (wave.overview.bucket_seconds > span / 600 && span <= 120) {  // too coarse: ask for detail
      var want = { start: wave.start, end: wave.end };
      TW.api("GET", "/api/v1/sessions/" + sid + "/waveform?start=" + want.start.toFixed(3) + "&end=" +
        want.end.toFixed(3) + "&buckets=1200").then(function (d) {
        if (wave.start === want.start && wave.end === want.end) { wave.detail = d; drawWave(); }
      }, function () { /* the overview is drawn */ });
    }
  }

  function wholeWave() {
    wave.start = 0; wave.end = wave.duration; wave.detail = null;
    document.getElementById("wave-whole").hidden = true;
    drawWave();
  }

  function drawWave() {
    var canvas = document.getElementById("wave");
    if (!canvas || !wave.overview) return;
    var dpr = window.devicePixelRatio || 1;
    var cssW = canvas.clientWidth || 600, cssH = canvas.clientHeight || 120;
    canvas.width = Math.round(cssW * dpr);
    canvas.height = Math.round(cssH * dpr);
    var g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, cssW, cssH);
    var span = Math.max(1e-6, wave.end - wave.start);
    var x = function (t) { return ((t - wave.start) / span) * cssW; };
    // cuts first, under the waveform
    function region(c, fill, stroke, dash) {
      var x0 = Math.max(0, x(c.start)), x1 = Math.min(cssW, x(c.end));
      if (x1 < 0 || x0 > cssW) return;
      var w = Math.max(2, x1 - x0);
      g.fillStyle = fill;
      g.fillRect(x0, 0, w, cssH);
      if (stroke) {
        g.save();
        g.strokeStyle = stroke; g.lineWidth = 2;
        if (dash) g.setLineDash([4, 3]);
        g.strokeRect(x0 + 1, 1, w - 2, cssH - 2);
        g.restore();
      }
    }
    kept.forEach(function (c) { region(c, "rgba(30,107,52,.18)", "#1e6b34", true); });
    cuts.forEach(function (c) {
      if (pending.restore[c.id] || pending.drop[c.id]) region(c, "rgba(31,95,191,.12)", "#1f5fbf", true);
      else if (isUser(c)) region(c, "rgba(107,63,160,.30)", "#6b3fa0", false);
      else region(c, "rgba(179,38,30,.25)", "#b3261e", false);
    });
    pending.add.forEach(function (a) { region(a, "rgba(107,63,160,.30)", "#6b3fa0", true); });
    // peaks (square-root scale, so quiet speech is visible next to loud speech)
    var src = wave.detail || wave.overview;
    var peaks = src.peaks, b = src.bucket_seconds, s0 = src.start;
    var mid = cssH / 2;
    g.fillStyle = "#374151";
    for (var px = 0; px < cssW; px++) {
      var t0 = wave.start + (px / cssW) * span, t1 = wave.start + ((px + 1) / cssW) * span;
      var i0 = Math.max(0, Math.floor((t0 - s0) / b)), i1 = Math.min(peaks.length, Math.ceil((t1 - s0) / b));
      var m = 0;
      for (var i = i0; i < Math.max(i1, i0 + 1) && i < peaks.length; i++) if (peaks[i] > m) m = peaks[i];
      var h = Math.max(0.5, Math.sqrt(m) * (mid - 2));
      g.fillRect(px, mid - h, 1, 2 * h);
    }
    // where the source player is
    var p = document.getElementById("src-player");
    if (p && p.currentTime >= wave.start && p.currentTime <= wave.end) {
      g.fillStyle = "#ffbf47";
      g.fillRect(x(p.currentTime) - 1, 0, 2, cssH);
    }
    document.getElementById("wave-range").textContent = "Showing " + TW.clock(wave.start) + " to " + TW.clock(wave.end) +
      " of the original recording.";
    canvas.setAttribute("aria-label", "Waveform of the original recording from " + TW.clock(wave.start) + " to " +
      TW.clock(wave.end) + ", with " + cuts.length + " cut" + (cuts.length === 1 ? "" : "s") + " and " + kept.length +
      " kept span" + (kept.length === 1 ? "" : "s") + " marked; the list below has every cut.");
  }

  // --- the list of cuts ---------------------------------------------------------------------------
  function cutLabel(c) {
    if (isUser(c)) return "cut by you";
    if (c.kind === "marker") return "edit marker";
    return c.kind;
  }

  /** Bleeped words: they keep their time, their audio is a tone (or silence). */
  function renderBleeps() {
    var box = document.getElementById("ep-bleeps"), list = document.getElementById("ep-bleep-list");
    if (!box || !list) return;
    list.innerHTML = "";
    box.hidden = !bleeps.length;
    if (!bleeps.length) return;
    var mute = pick(episode || {}, ["settings.cleaning.bleep_mode"]) === "mute";
    document.getElementById("ep-bleeps-summary").textContent = bleeps.length + " word" + (bleeps.length === 1 ? " was" : "s were") +
      " bleeped: each keeps its time and is " + (mute ? "silenced" : "covered by a 1 kHz tone") +
      "; the episode's transcript reads [bleep] there.";
    var out = document.getElementById("ep-player"), canPlay = !!out.getAttribute("src");
    bleeps.forEach(function (b, i) {
      var n = i + 1;
      var li = TW.el("li", { className: "cut cut-bleep" }, [
        TW.el("div", { className: "cut-head" }, [
          TW.el("span", { className: "badge badge-bleep", text: b.reason }),
          TW.el("span", { className: "cut-when", text: TW.clock(b.start) + " – " + TW.clock(b.end) + " · " + secs(b.end - b.start) })
        ]),
        b.words.length ? TW.el("p", { className: "cut-words", text: "“" + b.words.join(" ") + "”" }) : null,
        TW.el("p", { className: "cut-reason", text: "Bleeped: " + (mute ? "silenced" : "a tone") + " at " + TW.clock(b.at) +
          " in the episode, from your bleep words." }),
        TW.el("div", { className: "row-actions" }, [
          TW.el("button", { type: "button", className: "btn btn-small js-bleep-play", disabled: !canPlay },
            ["▶ Play", TW.el("span", { className: "visually-hidden", text: " bleep " + n + " in the episode" })])
        ])
      ]);
      li.querySelector(".js-bleep-play").addEventListener("click", function () { playRange(out, b.at - CONTEXT, b.at + (b.end - b.start) + CONTEXT); });
      list.appendChild(li);
    });
  }

  function renderCuts() {
    var summary = document.getElementById("ep-cuts-summary");
    var list = document.getElementById("ep-cuts");
    list.innerHTML = "";
    var done = episode && episode.status === "completed";
    if (!cuts.length && !kept.length) {
      summary.textContent = done ? "Nothing was cut." : "The cuts are listed when the episode is ready.";
    } else {
      var total = cuts.reduce(function (a, c) { return a + (c.end - c.start); }, 0);
      var kinds = {};
      cuts.forEach(function (c) { kinds[c.kind] = (kinds[c.kind] || 0) + 1; });
      summary.textContent = cuts.length + " cut" + (cuts.length === 1 ? "" : "s") + " removed " + total.toFixed(1) + " s (" +
        Object.keys(kinds).map(function (k) {
          var n = kinds[k];
          return n + " " + (k === "user" ? "by you" : (k === "marker" ? "edit marker" : k) + (n === 1 ? "" : "s"));
        }).join(", ") + ")" + (kept.length ? "; " + kept.length + " kept because the audio check found speech." : ".");
    }
    var src = document.getElementById("src-player"), out = document.getElementById("ep-player");
    var canAfter = !!out.getAttribute("src");
    cuts.concat(kept).sort(function (a, b) { return a.start - b.start; }).forEach(function (c, i) {
      var n = i + 1, restored = !!(pending.restore[c.id] || pending.drop[c.id]);
      var li = TW.el("li", { className: "cut" + (c.applied ? "" : " cut-kept") + (restored ? " cut-restored" : ""), "data-cut-id": c.id }, [
        TW.el("div", { className: "cut-head" }, [
          TW.el("span", { className: "cut-n", text: String(n) }),
          TW.el("span", { className: "badge " + (c.applied ? (isUser(c) ? "badge-user" : c.kind === "marker" ? "badge-marker" : "badge-cut") : "badge-kept"),
            text: c.applied ? cutLabel(c) : "kept: speech found" }),
          TW.el("span", { className: "cut-when", text: TW.clock(c.start) + " – " + TW.clock(c.end) + " · " + secs(c.end - c.start) })
        ]),
        c.words.length ? TW.el("p", { className: "cut-words", text: "“" + c.words.join(" ") + "”" }) : null,
        !c.applied ? TW.el("p", { className: "cut-reason", text: (c.kind === "filler" ? "A filler cut was planned here" : "A " + c.kind + " cut was planned here") +
          ", but the audio check found speech, so nothing was cut" + (c.reason ? ": " + c.reason : "") + "." }) :
          (c.reason && !isUser(c) ? TW.el("p", { className: "cut-reason", text: c.reason }) : null),
        c.applied ? TW.el("p", { className: "meta", text: "Joins at " + TW.clock(c.after) + " in the episode." +
          (restored ? " Will be restored in the next version." : "") }) : null,
        TW.el("div", { className: "row-actions" }, [
          TW.el("button", { type: "button", className: "btn btn-small js-before", disabled: !src.getAttribute("src") },
            ["▶ Before", TW.el("span", { className: "visually-hidden", text: " cut " + n + " (the original)" })]),
          c.applied ? TW.el("button", { type: "button", className: "btn btn-small js-after", disabled: !canAfter },
            ["▶ After", TW.el("span", { className: "visually-hidden", text: " cut " + n + " (the episode)" })]) : null,
          TW.el("button", { type: "button", className: "btn btn-small js-show" },
            ["Show", TW.el("span", { className: "visually-hidden", text: " cut " + n + " on the waveform" })]),
          c.applied ? TW.el("button", { type: "button", className: "btn btn-small js-restore" },
            [restored ? "Keep the cut" : "Restore", TW.el("span", { className: "visually-hidden", text: " cut " + n })]) : null,
          c.applied ? TW.el("button", { type: "button", className: "btn btn-small js-change" },
            ["Change", TW.el("span", { className: "visually-hidden", text: " cut " + n })]) : null
        ])
      ]);
      li.querySelector(".js-before").addEventListener("click", function () { playRange(src, c.start - CONTEXT, c.end + CONTEXT); });
      var after = li.querySelector(".js-after");
      if (after) after.addEventListener("click", function () { playRange(out, c.after - CONTEXT, c.after + CONTEXT); });
      li.querySelector(".js-show").addEventListener("click", function () { zoomTo(c); });
      var restore = li.querySelector(".js-restore");
      if (restore) restore.addEventListener("click", function () { toggleRestore(c); focusCut(c.id, ".js-restore"); });
      var change = li.querySelector(".js-change");
      if (change) change.addEventListener("click", function () { openChange(li, c); });
      list.appendChild(li);
    });
    pending.add.forEach(function (a, k) {
      var li = TW.el("li", { className: "cut cut-added" }, [
        TW.el("div", { className: "cut-head" }, [
          TW.el("span", { className: "badge badge-user", text: "new cut" }),
          TW.el("span", { className: "cut-when", text: TW.clock(a.start) + " – " + TW.clock(a.end) + " · " + secs(a.end - a.start) })]),
        a.text ? TW.el("p", { className: "cut-words", text: "“" + a.text + "”" }) : null,
        TW.el("p", { className: "meta", text: "Will be cut in the next version." }),
        TW.el("div", { className: "row-actions" }, [
          TW.el("button", { type: "button", className: "btn btn-small", text: "▶ Listen",
            onclick: function () { playRange(src, a.start - CONTEXT, a.end + CONTEXT); } }),
          TW.el("button", { type: "button", className: "btn btn-small",
            onclick: function () { pending.add.splice(k, 1); changed(); } },
            ["Remove", TW.el("span", { className: "visually-hidden", text: " the new cut at " + TW.clock(a.start) })])
        ])
      ]);
      list.appendChild(li);
    });
    var fillers = cuts.concat(kept).filter(function (c) { return c.kind === "filler"; });
    document.getElementById("filler-review-start").hidden = !fillers.length;
    document.getElementById("review-fillers").textContent = "Review the " + fillers.length + " filler cut" +
      (fillers.length === 1 ? "" : "s") + " one by one";
  }

  function focusCut(id, selector) {
    var b = document.querySelector('.cut[data-cut-id="' + CSS.escape(id) + '"] ' + selector);
    if (b) b.focus();
  }

  function toggleRestore(c) {
    var bag = isUser(c) ? pending.drop : pending.restore;
    if (bag[c.id]) delete bag[c.id]; else bag[c.id] = true;
    changed();
  }

  function openChange(li, c) {
    if (li.querySelector(".cut-change")) return;
    var id = "chg-" + c.id.replace(/[^a-zA-Z0-9_-]/g, "_");
    var box = TW.el("div", { className: "cut-change" }, [
      TW.el("div", { className: "row" }, [
        TW.el("div", { className: "field" }, [TW.el("label", { "for": id + "-start", text: "Cut from (s)" }),
          TW.el("input", { id: id + "-start", type: "number", step: "0.01", min: "0", max: String(wave.duration || c.end + 60), value: c.start.toFixed(2) })]),
        TW.el("div", { className: "field" }, [TW.el("label", { "for": id + "-end", text: "to (s)" }),
          TW.el("input", { id: id + "-end", type: "number", step: "0.01", min: "0", max: String(wave.duration || c.end + 60), value: c.end.toFixed(2) })])
      ]),
      TW.el("p", { className: "hint", text: "The new span is cut as you set it, without splitting a word: a word it touches is cut whole." }),
      TW.el("div", { className: "row-actions" }, [
        TW.el("button", { type: "button", className: "btn btn-primary btn-small js-ok", text: "Use this span" }),
        TW.el("button", { type: "button", className: "btn btn-small btn-quiet js-cancel", text: "Cancel" })])
    ]);
    li.appendChild(box);
    box.querySelector("input").focus();
    box.querySelector(".js-cancel").addEventListener("click", function () { box.remove(); focusCut(c.id, ".js-change"); });
    box.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { box.remove(); focusCut(c.id, ".js-change"); } });
    box.querySelector(".js-ok").addEventListener("click", function () {
      var a = Number(document.getElementById(id + "-start").value), b = Number(document.getElementById(id + "-end").value);
      if (!(b > a) || a < 0 || (wave.duration && b > wave.duration + 0.01)) {
        TW.toast("The end must come after the start, inside the recording.", "error");
        return;
      }
      (isUser(c) ? pending.drop : pending.restore)[c.id] = true;
      pending.add.push({ start: a, end: b, text: "" });
      changed();
    });
  }

  function changed() {
    var n = pendingCount();
    var bar = document.getElementById("cut-changes");
    bar.hidden = n === 0;
    var r = Object.keys(pending.restore).length + Object.keys(pending.drop).length, a = pending.add.length;
    var parts = [];
    if (r) parts.push(r + " cut" + (r === 1 ? "" : "s") + " to restore");
    if (a) parts.push(a + " new cut" + (a === 1 ? "" : "s"));
    document.getElementById("cut-changes-text").textContent = n ? "Not saved yet: " + parts.join(", ") + "." : "";
    document.getElementById("cut-error").textContent = "";
    renderCuts();
    drawWave();
    paintWords();
  }

  function applyChanges() {
    var btn = document.getElementById("cut-apply");
    btn.disabled = true;
    TW.api("PUT", "/api/v1/episodes/" + eid + "/cuts", desiredCuts()).then(function () {
      btn.disabled = false;
      pending = { restore: {}, unrestore: {}, add: [], drop: {} };
      document.getElementById("cut-changes").hidden = true;
      TW.toast("A new version is being made; the current audio stays here until it is ready.", "ok");
      return load().then(follow);
    }, function (err) {
      btn.disabled = false;
      document.getElementById("cut-error").textContent = err.message;
    });
  }

  // --- filler review, one by one ---------------------------------------------------------------
  function startReview() {
    review.list = cuts.concat(kept).filter(function (c) { return c.kind === "filler"; })
      .sort(function (a, b) { return a.start - b.start; });
    review.at = 0;
    if (!review.list.length) return;
    document.getElementById("filler-review").hidden = false;
    showReview();
    document.getElementById("review-heading").focus();
  }

  function showReview() {
    var c = review.list[review.at];
    if (!c) return;
    document.getElementById("review-pos").textContent = (review.at + 1) + " of " + review.list.length;
    var restored = !!pending.restore[c.id];
    document.getElementById("review-what").textContent = "“" + (c.words.join(" ") || "filler") + "” at " + TW.clock(c.start) +
      " (" + secs(c.end - c.start) + "): " + (!c.applied ? "kept, because the audio check found speech." :
        restored ? "will be restored in the next version." : "cut.");
    document.getElementById("review-keep").hidden = !c.applied;
    document.getElementById("review-restore").hidden = !c.applied;
    document.getElementById("review-prev").disabled = review.at === 0;
    document.getElementById("review-next").disabled = review.at >= review.list.length - 1;
    zoomTo(c);
  }

  function reviewDecide(restore) {
    var c = review.list[review.at];
    if (!c) return;
    if (restore) pending.restore[c.id] = true; else delete pending.restore[c.id];
    changed();
    if (review.at < review.list.length - 1) review.at++;
    showReview();
  }

  // --- words of the source transcript: select to cut ---------------------------------------------
  function wordIsCut(i) {
    var w = srcWords[i], mid = (w.start + w.end) / 2;
    for (var k = 0; k < cuts.length; k++) {
      var c = cuts[k];
      if (pending.restore[c.id] || pending.drop[c.id]) continue;
      if (c.wordIdx && c.wordIdx.length) { if (c.wordIdx.indexOf(i) >= 0) return true; }
      else if (mid > c.start && mid < c.end) return true;
    }
    for (var j = 0; j < pending.add.length; j++) {
      var a = pending.add[j];
      if (a.wordStart !== undefined ? (i >= a.wordStart && i <= a.wordEnd) : (mid > a.start && mid < a.end)) return true;
    }
    return false;
  }

  function renderWords() {
    var box = document.getElementById("ep-words");
    box.innerHTML = "";
    srcWords = []; wordSpans = [];
    if (!transcript || !transcript.segments.length) {
      box.appendChild(TW.el("p", { className: "muted", text: "There are no words to cut." }));
      return;
    }
    var lastSpeaker = null;
    transcript.segments.forEach(function (seg) {
      if (seg.speaker !== lastSpeaker) {
        lastSpeaker = seg.speaker;
        var sp = (transcript.speakers || []).filter(function (x) { return x.id === seg.speaker; })[0];
        box.appendChild(TW.el("p", { className: "turn-head" }, [TW.el("span", { className: "seg-speaker", text: sp ? sp.name : (seg.speaker || "") })]));
      }
      var p = TW.el("p", { className: "seg-text", lang: transcript.language || null });
      (seg.words || []).forEach(function (w, k) {
        var i = srcWords.length;
        srcWords.push(w);
        var span = TW.el("span", { className: "w", "data-i": String(i), tabindex: i === 0 ? "0" : "-1" }, [w.text]);
        wordSpans.push(span);
        if (k > 0) p.appendChild(document.createTextNode(" "));
        p.appendChild(span);
      });
      box.appendChild(p);
    });
    paintWords();
  }

  function selRange() {
    if (sel.anchor < 0) return null;
    return [Math.min(sel.anchor, sel.focus), Math.max(sel.anchor, sel.focus)];
  }

  function paintWords() {
    var r = selRange();
    wordSpans.forEach(function (s, i) {
      s.classList.toggle("cut-out", wordIsCut(i));
      s.classList.toggle("sel", !!r && i >= r[0] && i <= r[1]);
    });
    var btn = document.getElementById("cut-selection"), note = document.getElementById("selection-note");
    if (!r) { btn.disabled = true; note.textContent = ""; return; }
    var n = r[1] - r[0] + 1, a = srcWords[r[0]], b = srcWords[r[1]];
    btn.disabled = false;
    note.textContent = n + " word" + (n === 1 ? "" : "s") + " selected, " + TW.clock(a.start) + " – " + TW.clock(b.end) +
      ": “" + srcWords.slice(r[0], r[1] + 1).map(function (w) { return w.text; }).join(" ") + "”";
  }

  function moveCursor(i, extend) {
    if (!wordSpans.length) return;
    i = Math.max(0, Math.min(wordSpans.length - 1, i));
    wordSpans[sel.cursor].setAttribute("tabindex", "-1");
    sel.cursor = i;
    wordSpans[i].setAttribute("tabindex", "0");
    wordSpans[i].focus();
    if (extend) { if (sel.anchor < 0) sel.anchor = i; sel.focus = i; }
    paintWords();
  }

  function selectFromDocument() {
    var s = window.getSelection();
    if (!s || s.isCollapsed || !s.rangeCount) return false;
    var box = document.getElementById("ep-words");
    var inside = wordSpans.filter(function (w) { return s.containsNode(w, true); });
    if (!inside.length || !box.contains(s.anchorNode)) return false;
    sel.anchor = parseInt(inside[0].getAttribute("data-i"), 10);
    sel.focus = parseInt(inside[inside.length - 1].getAttribute("data-i"), 10);
    paintWords();
    return true;
  }

  function cutSelection() {
    var r = selRange();
    if (!r) return;
    var a = srcWords[r[0]], b = srcWords[r[1]];
    pending.add.push({ wordStart: r[0], wordEnd: r[1], start: a.start, end: b.end,
      text: srcWords.slice(r[0], r[1] + 1).map(function (w) { return w.text; }).join(" ") });
    sel.anchor = sel.focus = -1;
    var s = window.getSelection();
    if (s) s.removeAllRanges();
    changed();
    TW.toast("Those words will be cut in the next version: make it when you are ready.", "ok");
  }

  function wireWords() {
    var box = document.getElementById("ep-words");
    box.addEventListener("mouseup", function () { setTimeout(selectFromDocument, 0); });
    box.addEventListener("click", function (ev) {
      var w = ev.target.closest(".w");
      if (!w) return;
      var s = window.getSelection();
      if (s && !s.isCollapsed) return;  // a drag selection: handled on mouseup
      var i = parseInt(w.getAttribute("data-i"), 10);
      if (ev.shiftKey && sel.anchor >= 0) { sel.focus = i; paintWords(); return; }
      sel.anchor = sel.focus = i;
      moveCursor(i, false);
      var src = document.getElementById("src-player");
      if (src.getAttribute("src")) src.currentTime = srcWords[i].start;
    });
    box.addEventListener("keydown", function (ev) {
      var w = ev.target.closest && ev.target.closest(".w");
      if (!w) return;
      var i = parseInt(w.getAttribute("data-i"), 10);
      if (ev.key === "ArrowRight" || ev.key === "ArrowLeft") {
        ev.preventDefault();
        var j = i + (ev.key === "ArrowRight" ? 1 : -1);
        if (ev.shiftKey && sel.anchor < 0) sel.anchor = i;
        if (!ev.shiftKey) sel.anchor = sel.focus = -1;
        moveCursor(j, ev.shiftKey);
      } else if (ev.key === " " || ev.key === "Enter") {
        ev.preventDefault();
        if (ev.key === "Enter" && selRange()) { cutSelection(); return; }
        sel.anchor = sel.focus = i;
        paintWords();
      } else if (ev.key === "Escape") {
        sel.anchor = sel.focus = -1;
        paintWords();
      }
    });
    document.getElementById("cut-selection").addEventListener("click", cutSelection);
  }

  function loadWords() {
    var v = pick(episode, ["source_transcript_version"]);
    TW.api("GET", "/api/v1/sessions/" + sid + "/transcript?format=json" + (v ? "&version=" + v : "")).then(function (t) {
      transcript = t;
      renderWords();
    }, function (err) {
      var box = document.getElementById("ep-words");
      box.innerHTML = "";
      box.appendChild(TW.el("p", { className: "error-text", text: "The transcript could not be loaded: " + err.message }));
    });
  }

  // --- status, versions, downloads ------------------------------------------------------------
  function renderSettings(ep, templateName) {
    var dl = document.getElementById("ep-settings");
    dl.innerHTML = "";
    var s = ep.settings || {};
    var cleaning = s.cleaning || {};
    var loud = s.loudness || {};
    var rows = [
      ["Template", templateName || (ep.template_id ? "…" : "none")],
      ["Fillers", cleaning.remove_fillers === false ? "kept" : "removed"],
      ["Pauses", cleaning.shorten_pauses === false ? "kept" : "over " + (cleaning.max_pause_seconds || 1.5) + " s → " +
        (cleaning.target_pause_seconds === undefined ? 0.5 : cleaning.target_pause_seconds) + " s"],
      ["Edit marker", cleaning.edit_marker ? "“" + cleaning.edit_marker + "”" : "off"],
      ["Bleeps", (cleaning.bleep_words || []).length || cleaning.bleep_default_list ?
        ((cleaning.bleep_words || []).length ? (cleaning.bleep_words || []).length + " word" + ((cleaning.bleep_words || []).length === 1 ? "" : "s") : "") +
        (cleaning.bleep_default_list ? ((cleaning.bleep_words || []).length ? " and " : "") + "the built-in list" : "") +
        (cleaning.bleep_mode === "mute" ? ", silenced" : ", a tone") : "none"],
      ["Loudness", loud.enabled === false ? "unchanged" : (loud.target_lufs ? loud.target_lufs + " LUFS" : "standard (−16 stereo, −19 mono LUFS)")],
      ["Format", ep.format || (s.render && s.render.format) || "mp3"]
    ];
    rows.forEach(function (r) { dl.appendChild(TW.el("dt", { text: r[0] })); dl.appendChild(TW.el("dd", { text: String(r[1]) })); });
  }

  function hasAudio(ep, versions) {
    if (ep.status === "completed") return true;
    return versions.some(function (v) { return v.status === "completed"; });
  }

  function renderDownloads(ep, versions) {
    var ul = document.getElementById("ep-downloads");
    ul.innerHTML = "";
    if (!hasAudio(ep, versions)) {
      ul.appendChild(TW.el("li", { className: "muted", text: "Available when the episode is ready." }));
      return;
    }
    var base = "/api/v1/episodes/" + eid;
    var newest = versions.filter(function (v) { return v.status === "completed"; }).map(function (v) { return v.version; });
    var label = newest.length ? " (version " + Math.max.apply(null, newest) + ")" : "";
    ul.appendChild(TW.el("li", {}, [TW.el("a", { className: "btn btn-primary", id: "ep-download-audio",
      href: base + "/audio?download=true", download: true, text: "Audio" + label })]));
    formats.forEach(function (f) {
      ul.appendChild(TW.el("li", {}, [TW.el("a", { className: "btn", id: "ep-download-" + f,
        href: base + "/transcript?format=" + f + "&download=true", download: true },
        ["Transcript " + f.toUpperCase()])]));
    });
  }

  function renderVersions(ep, versions) {
    var ol = document.getElementById("ep-versions");
    ol.innerHTML = "";
    if (!versions.length) {
      ol.appendChild(TW.el("li", { className: "muted", text: "Only this version." }));
      return;
    }
    versions.slice().sort(function (a, b) { return b.version - a.version; }).forEach(function (v) {
      var bits = ["Version " + v.version, v.status];
      if (v.duration_seconds) bits.push(TW.duration(v.duration_seconds));
      ol.appendChild(TW.el("li", {}, [
        TW.el("span", { text: bits.join(" · ") }),
        v.status === "completed" ? TW.el("a", { href: "/api/v1/episodes/" + eid + "/audio?version=" + v.version + "&download=true",
          download: true }, ["Download", TW.el("span", { className: "visually-hidden", text: " version " + v.version })]) : null
      ]));
    });
  }

  function paint(ep, versions) {
    episode = ep;
    var badge = document.getElementById("ep-badge");
    badge.className = "badge js-badge badge-" + ep.status;
    badge.textContent = ep.status;
    var title = pick(ep, ["title"]);
    if (title) { document.getElementById("ep-title").textContent = title; document.title = title + " · tapeworks"; }
    var src = document.getElementById("src-player");
    if (!src.getAttribute("src")) src.setAttribute("src", "/api/v1/sessions/" + sid + "/audio");
    var block = document.getElementById("ep-progress");
    var unfinished = TW.terminal.indexOf(ep.status) < 0;
    block.hidden = !unfinished;
    if (unfinished) TW.paintProgress(block, ep);
    var version = pick(ep, ["version"]);
    document.getElementById("ep-version-note").textContent = version ? "version " + version : "";
    var err = document.getElementById("ep-error");
    var retry = document.getElementById("ep-retry");
    if (ep.status === "failed" || ep.status === "cancelled") {
      var stage = pick(ep, ["error_stage"]);
      err.textContent = ep.status === "cancelled" ? "This episode was cancelled." :
        "The episode could not be produced" + (stage ? " while " + (TW.stages[stage] || String(stage).replace(/_/g, " ")) : "") + ": " +
        String(pick(ep, ["error", "message"]) || "no reason was recorded").replace(/\.$/, "") + ".";
      err.hidden = false;
      retry.hidden = false;
    } else { err.hidden = true; retry.hidden = true; }
    document.getElementById("ep-cancel").hidden = !unfinished;
    var player = document.getElementById("ep-player");
    var note = document.getElementById("ep-player-note");
    var audio = hasAudio(ep, versions);
    if (audio) {
      // the newest completed version: while a new one renders, the previous one plays
      if (!player.getAttribute("src") || ep.status === "completed") {
        var want = "/api/v1/episodes/" + eid + "/audio" + (ep.status === "completed" && version ? "?version=" + version : "");
        if (player.getAttribute("src") !== want) player.setAttribute("src", want);
      }
      note.hidden = !unfinished;
      note.textContent = unfinished ? "This is the previous version; the new one replaces it when it is ready." : "";
      var loud = ep.loudness || {};
      var bits = [];
      if (ep.duration_seconds !== null && ep.duration_seconds !== undefined) bits.push("Length " + TW.duration(ep.duration_seconds));
      if (loud.output_lufs !== null && loud.output_lufs !== undefined) bits.push("loudness " + Number(loud.output_lufs).toFixed(1) + " LUFS");
      if (loud.true_peak_dbtp !== null && loud.true_peak_dbtp !== undefined) bits.push("true peak " + Number(loud.true_peak_dbtp).toFixed(1) + " dBTP");
      document.getElementById("ep-loudness").textContent = bits.join(" · ");
    } else {
      player.removeAttribute("src");
      note.hidden = false;
      note.textContent = unfinished ? "The episode audio appears here when it is ready." : "There is no episode audio.";
    }
    renderSettings(ep, null);
    if (ep.template_id) {
      TW.api("GET", "/api/v1/templates/" + ep.template_id).then(function (t) { renderSettings(ep, t.name); },
        function () { renderSettings(ep, "(deleted template)"); });
    }
    renderDownloads(ep, versions);
    renderVersions(ep, versions);
    if (audio) {
      return TW.api("GET", "/api/v1/episodes/" + eid + "/edit-list").then(function (editList) {
        readEditList(editList);
        if (editList.source_duration && ep.status === "completed") {
          document.getElementById("ep-loudness").textContent += " · was " + TW.duration(editList.source_duration);
        }
        renderCuts();
        renderBleeps();
        drawWave();
        paintWords();
      }, function (e) {
        document.getElementById("ep-cuts-summary").textContent = "The list of cuts could not be loaded: " + e.message;
      });
    }
    cuts = []; kept = []; bleeps = [];
    renderCuts();
    renderBleeps();
    return Promise.resolve();
  }

  function load() {
    return Promise.all([
      TW.api("GET", "/api/v1/episodes/" + eid),
      TW.api("GET", "/api/v1/episodes/" + eid + "/versions").then(null, function () { return []; })
    ]).then(function (res) {
      return paint(res[0], listOf(res[1], ["versions", "items"]));
    }, function (err) {
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

  // --- rename, delete ---------------------------------------------------------------------------
  function wireManage() {
    var btn = document.getElementById("rename-episode"), form = document.getElementById("ep-rename-form");
    var input = document.getElementById("ep-rename-input"), errorBox = document.getElementById("ep-rename-error");
    var title = document.getElementById("ep-title");
    function open(on) {
      form.hidden = !on;
      btn.setAttribute("aria-expanded", on ? "true" : "false");
      if (on) { input.value = title.textContent; input.focus(); input.select(); } else btn.focus();
    }
    btn.addEventListener("click", function () { open(form.hidden); });
    document.getElementById("ep-rename-cancel").addEventListener("click", function () { open(false); });
    input.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { ev.preventDefault(); open(false); } });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      errorBox.textContent = "";
      TW.api("PATCH", "/api/v1/episodes/" + eid, { title: input.value.trim() }).then(function (ep) {
        title.textContent = ep.title;
        document.title = ep.title + " · tapeworks";
        open(false);
        TW.toast("Renamed to “" + ep.title + "”; the audio gets the new title the next time it is made.", "ok");
      }, function (err) { errorBox.textContent = err.message; });
    });
    document.getElementById("delete-episode").addEventListener("click", function () {
      var name = title.textContent;
      if (!window.confirm("Delete the episode “" + name + "” and its audio? The recording and its transcript stay.")) return;
      TW.api("DELETE", "/api/v1/episodes/" + eid).then(function () {
        TW.flashNext("The episode “" + name + "” was deleted.");
        window.location.href = "/sessions/" + sid;
      }, function (err) { TW.toast(err.message, "error"); });
    });
  }

  function init() {
    var root = document.getElementById("episode");
    if (!root) return;
    eid = root.getAttribute("data-episode-id");
    sid = root.getAttribute("data-session-id");
    formats = JSON.parse(root.getAttribute("data-formats") || "[]");
    players().forEach(function (p) {
      p.addEventListener("timeupdate", function () {
        if (activePlayer === p && stopAt !== null && p.currentTime >= stopAt) { p.pause(); stopAt = null; }
        if (p.id === "src-player") drawWave();
      });
      p.addEventListener("seeked", function () { if (p.id === "src-player") drawWave(); });
    });
    var canvas = document.getElementById("wave");
    canvas.addEventListener("click", function (ev) {
      var r = canvas.getBoundingClientRect();
      var t = wave.start + ((ev.clientX - r.left) / r.width) * (wave.end - wave.start);
      var src = document.getElementById("src-player");
      if (src.getAttribute("src")) { src.currentTime = Math.max(0, t); drawWave(); }
    });
    window.addEventListener("resize", drawWave);
    document.getElementById("wave-whole").addEventListener("click", wholeWave);
    document.getElementById("cut-apply").addEventListener("click", applyChanges);
    document.getElementById("cut-discard").addEventListener("click", function () {
      pending = { restore: {}, unrestore: {}, add: [], drop: {} };
      changed();
    });
    document.getElementById("review-fillers").addEventListener("click", startReview);
    document.getElementById("review-keep").addEventListener("click", function () { reviewDecide(false); });
    document.getElementById("review-restore").addEventListener("click", function () { reviewDecide(true); });
    document.getElementById("review-prev").addEventListener("click", function () { if (review.at > 0) { review.at--; showReview(); } });
    document.getElementById("review-next").addEventListener("click", function () { if (review.at < review.list.length - 1) { review.at++; showReview(); } });
    document.getElementById("review-play").addEventListener("click", function () {
      var c = review.list[review.at];
      if (c) playRange(document.getElementById("src-player"), c.start - CONTEXT, c.end + CONTEXT);
    });
    document.getElementById("review-close").addEventListener("click", function () {
      document.getElementById("filler-review").hidden = true;
      document.getElementById("review-fillers").focus();
    });
    document.getElementById("ep-retry").addEventListener("click", function () {
      TW.api("POST", "/api/v1/episodes/" + eid + "/retry").then(function () { return load(); }).then(follow,
        function (err) { TW.toast(err.message, "error"); });
    });
    document.getElementById("ep-cancel").addEventListener("click", function () {
      TW.api("POST", "/api/v1/episodes/" + eid + "/cancel").then(function () { return load(); }, function (err) { TW.toast(err.message, "error"); });
    });
    wireManage();
    wireWords();
    loadWave();
    load().then(function () { loadWords(); follow(); }, function () { /* message already shown */ });
  }

  document.addEventListener("DOMContentLoaded", init);
})();
