/* Session page: the transcript beside the player; highlight, seek, edit speakers and
   segments, keyboard shortcuts, retry/cancel, and the episode form. */
(function () {
  "use strict";
  var TW = window.TW;
  var root, player, box, sid, transcript = null, words = [], starts = [], spans = [], current = -1;
  var roles = [];

  function speakerById(id) {
    if (!transcript) return null;
    for (var i = 0; i < transcript.speakers.length; i++) {
      if (transcript.speakers[i].id === id) return transcript.speakers[i];
    }
    return null;
  }

  function speakerLabel(id) {
    var sp = speakerById(id);
    if (!sp) return id ? id : "Unknown speaker";
    return sp.name + (sp.role ? " (" + sp.role + ")" : "");
  }

  // --- transcript rendering -------------------------------------------------------------
  function render() {
    box.innerHTML = "";
    words = []; starts = []; spans = []; current = -1;
    if (!transcript) return;
    if (!transcript.segments.length) {
      box.appendChild(TW.el("p", { className: "muted", text: "No speech was found in this recording." }));
      return;
    }
    transcript.segments.forEach(function (seg) {
      var text = TW.el("p", { className: "seg-text", lang: transcript.language || null });
      if (seg.words && seg.words.length) {
        seg.words.forEach(function (w, k) {
          var i = words.length;
          words.push(w); starts.push(w.start);
          var span = TW.el("span", { className: "w" + (w.confidence < 0.5 ? " low" : ""), "data-i": String(i),
            "data-start": String(w.start), title: TW.clock(w.start) }, [w.text]);
          spans.push(span);
          if (k > 0) text.appendChild(document.createTextNode(" "));
          text.appendChild(span);
        });
      } else {
        text.textContent = seg.text;
      }
      var head = TW.el("div", { className: "seg-head" }, [
        TW.el("button", { type: "button", className: "seg-time", "data-start": String(seg.start),
          "aria-label": "Play from " + TW.clock(seg.start), text: TW.duration(seg.start) }),
        TW.el("span", { className: "seg-speaker speaker-" + speakerIndex(seg.speaker), text: speakerLabel(seg.speaker) }),
        TW.el("button", { type: "button", className: "btn btn-small btn-quiet seg-edit", "data-seg": seg.id,
          "aria-label": "Edit text of the segment at " + TW.duration(seg.start), text: "Edit" })
      ]);
      box.appendChild(TW.el("div", { className: "segment", id: "seg-" + seg.id, "data-seg-id": seg.id }, [head, text]));
    });
    highlight(true);
  }

  function speakerIndex(id) {
    if (!transcript) return 0;
    for (var i = 0; i < transcript.speakers.length; i++) if (transcript.speakers[i].id === id) return i % 6;
    return 0;
  }

  function renderSpeakers() {
    var form = document.getElementById("speakers-form");
    if (!form || !transcript) return;
    form.innerHTML = "";
    if (!transcript.speakers.length) {
      form.appendChild(TW.el("p", { className: "muted", text: "No speakers were identified." }));
      return;
    }
    transcript.speakers.forEach(function (sp, i) {
      var roleSelect = TW.el("select", { id: "sp-role-" + i, name: "role", "data-speaker": sp.id },
        [TW.el("option", { value: "", text: "No role" })].concat(roles.map(function (r) {
          return TW.el("option", { value: r, text: r.charAt(0).toUpperCase() + r.slice(1), selected: sp.role === r });
        })));
      form.appendChild(TW.el("div", { className: "speaker-row", "data-speaker": sp.id }, [
        TW.el("span", { className: "swatch speaker-" + (i % 6), "aria-hidden": "true" }),
        TW.el("div", { className: "field grow" }, [
          TW.el("label", { "for": "sp-name-" + i, text: "Name of " + sp.id }),
          TW.el("input", { id: "sp-name-" + i, name: "name", type: "text", maxlength: "100", required: true,
            value: sp.name, "data-speaker": sp.id, autocomplete: "off" })
        ]),
        TW.el("div", { className: "field" }, [TW.el("label", { "for": "sp-role-" + i, text: "Role" }), roleSelect])
      ]));
    });
    form.appendChild(TW.el("button", { type: "submit", className: "btn btn-primary", id: "save-speakers", text: "Save speakers" }));
  }

  function setTranscript(t) {
    transcript = t;
    render();
    renderSpeakers();
  }

  // --- playback ------------------------------------------------------------------------------
  function wordAt(t) {
    var lo = 0, hi = starts.length - 1, found = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (starts[mid] <= t + 0.001) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    if (found >= 0 && t > words[found].end + 0.25) return -1;  // in a pause
    return found;
  }

  function highlight(force) {
    if (!player) return;
    var i = wordAt(player.currentTime);
    if (i === current && !force) return;
    if (current >= 0 && spans[current]) spans[current].classList.remove("now");
    current = i;
    if (i >= 0 && spans[i]) {
      spans[i].classList.add("now");
      if (!player.paused && !box.contains(document.activeElement)) keepVisible(spans[i]);
    }
  }

  function keepVisible(node) {
    var r = node.getBoundingClientRect();
    var top = 0, bottom = window.innerHeight;
    var sticky = document.querySelector(".player-card");
    if (sticky && getComputedStyle(sticky).position === "sticky" && window.innerWidth < 900) {
      top = sticky.getBoundingClientRect().bottom;
    }
    if (r.top < top + 20 || r.bottom > bottom - 20) node.scrollIntoView({ block: "center", behavior: "smooth" });
  }

  function loop() {
    highlight(false);
    if (player && !player.paused) requestAnimationFrame(loop);
  }

  function seek(t) {
    if (!player) return;
    player.currentTime = Math.max(0, t);
    highlight(true);
  }

  function togglePlay() {
    if (!player) return;
    if (player.paused) {
      var p = player.play();
      if (p && p.catch) p.catch(function (e) { TW.toast("The audio could not play: " + e.message, "error"); });
    } else player.pause();
  }

  function typing(target) {
    if (!target) return false;
    var tag = target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
  }

  function onKey(ev) {
    if (!player || ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) return;
    var key = ev.key;
    if (key === " " && (ev.target.tagName === "BUTTON" || ev.target.tagName === "A" || ev.target.tagName === "AUDIO")) return;
    if (key === " " || key === "k" || key === "K") { ev.preventDefault(); togglePlay(); }
    else if (key === "j" || key === "J" || (key === "ArrowLeft" && ev.shiftKey)) { ev.preventDefault(); seek(player.currentTime - 5); }
    else if (key === "l" || key === "L" || (key === "ArrowRight" && ev.shiftKey)) { ev.preventDefault(); seek(player.currentTime + 5); }
  }

  // --- editing ---------------------------------------------------------------------------------
  function saveSpeakers(ev) {
    ev.preventDefault();
    var changes = [];
    transcript.speakers.forEach(function (sp, i) {
      var name = document.getElementById("sp-name-" + i).value.trim();
      var role = document.getElementById("sp-role-" + i).value || null;
      if (!name) return;
      if (name !== sp.name || role !== (sp.role || null)) changes.push({ id: sp.id, name: name, role: role });
    });
    if (!changes.length) { TW.toast("Nothing to save."); return; }
    var btn = document.getElementById("save-speakers");
    btn.disabled = true;
    TW.api("PATCH", "/api/v1/sessions/" + sid + "/speakers", { speakers: changes }).then(function (t) {
      setTranscript(t);
      TW.toast("Speakers saved.", "ok");
      var again = document.getElementById("save-speakers");
      if (again) again.focus();
    }, function (err) {
      btn.disabled = false;
      TW.toast("Speakers not saved: " + err.message, "error");
    });
  }

  function editSegment(segId) {
    var node = document.getElementById("seg-" + segId);
    if (!node || node.querySelector("textarea")) return;
    var seg = transcript.segments.filter(function (s) { return s.id === segId; })[0];
    var textEl = node.querySelector(".seg-text");
    var areaId = "edit-" + segId, selId = "edit-sp-" + segId;
    var area = TW.el("textarea", { id: areaId, rows: "3", className: "seg-textarea" });
    area.value = seg.text;
    var options = transcript.speakers.map(function (sp) {
      return TW.el("option", { value: sp.id, text: sp.name, selected: sp.id === seg.speaker });
    });
    var editor = TW.el("div", { className: "seg-editor" }, [
      TW.el("label", { "for": areaId, className: "visually-hidden", text: "Segment text" }), area,
      options.length ? TW.el("div", { className: "field inline" }, [
        TW.el("label", { "for": selId, text: "Speaker" }), TW.el("select", { id: selId }, options)]) : null,
      TW.el("div", { className: "row-actions" }, [
        TW.el("button", { type: "button", className: "btn btn-primary btn-small seg-save", text: "Save" }),
        TW.el("button", { type: "button", className: "btn btn-small btn-quiet seg-cancel", text: "Cancel" })
      ])
    ]);
    textEl.hidden = true;
    node.appendChild(editor);
    area.focus();
    function close() { editor.remove(); textEl.hidden = false; node.querySelector(".seg-edit").focus(); }
    editor.querySelector(".seg-cancel").addEventListener("click", close);
    area.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape") close();
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) editor.querySelector(".seg-save").click();
    });
    editor.querySelector(".seg-save").addEventListener("click", function () {
      var body = {};
      if (area.value.trim() !== seg.text.trim()) body.text = area.value.trim();
      var sel = document.getElementById(selId);
      if (sel && sel.value !== seg.speaker) body.speaker = sel.value;
      if (!Object.keys(body).length) { close(); return; }
      TW.api("PATCH", "/api/v1/sessions/" + sid + "/segments/" + encodeURIComponent(segId), body).then(function (t) {
        setTranscript(t);
        TW.toast("Segment saved.", "ok");
        var again = document.querySelector('#seg-' + CSS.escape(segId) + ' .seg-edit');
        if (again) again.focus();
      }, function (err) { TW.toast("Not saved: " + err.message, "error"); });
    });
  }

  // --- retry, cancel, live status ------------------------------------------------------------
  function wireActions() {
    document.querySelectorAll(".js-action").forEach(function (btn) {
      btn.addEventListener("click", function () {
        btn.disabled = true;
        TW.api("POST", btn.getAttribute("data-url")).then(function () {
          window.location.reload();
        }, function (err) {
          btn.disabled = false;
          TW.toast(err.message, "error");
        });
      });
    });
    root.addEventListener("tw:finished", function () {
      setTimeout(function () { window.location.reload(); }, 300);
    });
  }

  // --- episodes --------------------------------------------------------------------------------
  function listOf(body) {
    if (!body) return [];
    if (Array.isArray(body)) return body;
    return body.items || body.templates || body.episodes || [];
  }

  function wireEpisodes() {
    var form = document.getElementById("episode-form");
    if (!form) return;
    var errorBox = document.getElementById("episode-error");
    {
      TW.api("GET", "/api/v1/templates").then(function (body) {
        var sel = document.getElementById("ep-template");
        listOf(body).forEach(function (t) { sel.appendChild(TW.el("option", { value: t.id, text: t.name || t.id })); });
      }, function () { /* no templates: speech only */ });
    }
    var list = document.getElementById("episode-list");
    TW.api("GET", "/api/v1/sessions/" + sid + "/episodes").then(function (body) {
      listOf(body).forEach(function (ep) {
        list.appendChild(TW.el("li", {}, [TW.el("a", { href: "/episodes/" + ep.id, text: (ep.title || "Episode") + " · " + ep.status })]));
      });
    }, function () { /* listing episodes per session is optional */ });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      errorBox.textContent = "";
      var f = form.elements;
      var num = function (v) { return v === "" ? null : Number(v); };
      var clean = function (o) {  // drop unset values: the server's defaults apply
        Object.keys(o).forEach(function (k) { if (o[k] === null || o[k] === undefined || (typeof o[k] === "number" && isNaN(o[k]))) delete o[k]; });
        return o;
      };
      var body = {
        cleaning: clean({
          remove_fillers: f.remove_fillers.checked,
          shorten_pauses: f.shorten_pauses.checked,
          max_pause_seconds: num(f.max_pause_seconds.value),
          target_pause_seconds: num(f.target_pause_seconds.value)
        }),
        loudness: clean({ enabled: f.loudness.checked, target_lufs: num(f.target_lufs.value) }),
        render: { format: f.output_format.value }
      };
      if (f.template_id.value) body.template_id = f.template_id.value;
      var btn = form.querySelector("button[type=submit]");
      btn.disabled = true;
      TW.api("POST", form.getAttribute("data-url"), body).then(function (ep) {
        window.location.href = "/episodes/" + ep.id;
      }, function (err) {
        btn.disabled = false;
        errorBox.textContent = err.message;
      });
    });
  }

  function init() {
    root = document.getElementById("session");
    if (!root) return;
    sid = root.getAttribute("data-session-id");
    box = document.getElementById("transcript");
    player = document.getElementById("player");
    roles = JSON.parse(box.getAttribute("data-roles") || "[]");
    setTranscript(JSON.parse(document.getElementById("transcript-data").textContent));
    box.addEventListener("click", function (ev) {
      var w = ev.target.closest(".w");
      if (w) { seek(parseFloat(w.getAttribute("data-start"))); return; }
      var t = ev.target.closest(".seg-time");
      if (t) { seek(parseFloat(t.getAttribute("data-start"))); if (player && player.paused) togglePlay(); return; }
      var e = ev.target.closest(".seg-edit");
      if (e) editSegment(e.getAttribute("data-seg"));
    });
    var sf = document.getElementById("speakers-form");
    if (sf) sf.addEventListener("submit", saveSpeakers);
    if (player) {
      player.addEventListener("play", function () { requestAnimationFrame(loop); });
      player.addEventListener("seeked", function () { highlight(true); });
      player.addEventListener("timeupdate", function () { highlight(false); });
      player.addEventListener("error", function () {
        TW.toast("The audio could not be loaded. It may have been deleted, or the format is not playable in this browser.", "error");
      });
    }
    document.addEventListener("keydown", onKey);
    wireActions();
    wireEpisodes();
  }

  document.addEventListener("DOMContentLoaded", init);
})();
