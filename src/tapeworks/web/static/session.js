/* Session page: the transcript beside the player, edited at the word.

   - one speaker header per turn (consecutive segments of one speaker), words highlighted
     as they play, a click or Enter on a word plays from it;
   - words are reachable by keyboard: one word is in the tab order (roving tabindex), the
     arrow keys move between words (up/down by segment), E edits the word in place, S splits
     the segment before it;
   - segments: edit the text, change or add the speaker, merge with the next, delete;
   - undo and redo (Ctrl+Z, Ctrl+Shift+Z) over the server's versions, a version list to go
     back to; find with highlighted matches and next/previous;
   - rename or delete the recording; tabs on a narrow screen; the episode form. */
(function () {
  "use strict";
  var TW = window.TW;
  var root, player, box, sid, transcript = null, roles = [];
  var words = [], wordSeg = [], starts = [], spans = [], current = -1, focusIdx = 0;
  var history = { canUndo: false, canRedo: false, loaded: false };
  var find = { query: "", matches: [], at: -1 };
  var busy = false;

  function api(method, path, body) { return TW.api(method, "/api/v1/sessions/" + sid + path, body); }

  // --- speakers ---------------------------------------------------------------------------
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

  function speakerIndex(id) {
    if (!transcript) return 0;
    for (var i = 0; i < transcript.speakers.length; i++) if (transcript.speakers[i].id === id) return i % 6;
    return 0;
  }

  /** The id the server gives the next added speaker: spk-N, N from len+1 up, first free. */
  function nextSpeakerId() {
    var taken = {}, n = transcript.speakers.length + 1;
    transcript.speakers.forEach(function (sp) { taken[sp.id] = true; });
    while (taken["spk-" + n]) n++;
    return "spk-" + n;
  }

  // --- rendering ----------------------------------------------------------------------------
  function segmentById(id) {
    for (var i = 0; i < transcript.segments.length; i++) if (transcript.segments[i].id === id) return i;
    return -1;
  }

  function render() {
    box.innerHTML = "";
    words = []; wordSeg = []; starts = []; spans = []; current = -1;
    if (!transcript) return;
    if (!transcript.segments.length) {
      box.appendChild(TW.el("p", { className: "muted", text: "No speech was found in this recording, or every segment was deleted." }));
      return;
    }
    var turn = null, lastSpeaker = {};
    transcript.segments.forEach(function (seg, si) {
      if (!turn || seg.speaker !== lastSpeaker.id) {
        lastSpeaker = { id: seg.speaker };
        turn = TW.el("div", { className: "turn", "data-speaker": seg.speaker || "" }, [
          TW.el("p", { className: "turn-head" }, [
            TW.el("span", { className: "seg-speaker speaker-" + speakerIndex(seg.speaker), text: speakerLabel(seg.speaker) })
          ])
        ]);
        box.appendChild(turn);
      }
      var text = TW.el("p", { className: "seg-text", lang: transcript.language || null });
      if (seg.words && seg.words.length) {
        seg.words.forEach(function (w, k) {
          var i = words.length;
          words.push(w); wordSeg.push(si); starts.push(w.start);
          var span = TW.el("span", { className: "w" + (w.confidence < 0.5 ? " low" : ""), "data-i": String(i),
            "data-start": String(w.start), tabindex: "-1" }, [w.text]);
          spans.push(span);
          if (k > 0) text.appendChild(document.createTextNode(" "));
          text.appendChild(span);
        });
      } else {
        text.textContent = seg.text;
      }
      var when = TW.duration(seg.start);
      turn.appendChild(TW.el("div", { className: "segment", id: "seg-" + seg.id, "data-seg-id": seg.id }, [
        TW.el("button", { type: "button", className: "seg-time", "data-start": String(seg.start) },
          [when, TW.el("span", { className: "visually-hidden", text: ", play from here" })]),
        text,
        TW.el("button", { type: "button", className: "btn btn-small btn-quiet seg-edit", "data-seg": seg.id },
          ["Edit", TW.el("span", { className: "visually-hidden", text: " the segment at " + when })])
      ]));
    });
    focusIdx = Math.max(0, Math.min(focusIdx, spans.length - 1));
    if (spans[focusIdx]) spans[focusIdx].setAttribute("tabindex", "0");
    highlight(true);
    applyFind(false);
    paintNotes();
    paintMoment();
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

  /** Show a transcript the server returned; `focusWord` keeps the keyboard where it was. */
  // --- known voices: "this is me / this is <name>" on each speaker --------------------------
  var voiceConfig = { voices: [], enrollable: [] };

  function voiceById(id) {
    for (var i = 0; i < voiceConfig.voices.length; i++) if (voiceConfig.voices[i].id === id) return voiceConfig.voices[i];
    return null;
  }

  function myVoice() {
    for (var i = 0; i < voiceConfig.voices.length; i++) if (voiceConfig.voices[i].is_me) return voiceConfig.voices[i];
    return null;
  }

  var enrolled = null;  // the voice just remembered on this page: offered for earlier recordings

  function renderVoices() {
    var box = document.getElementById("voice-controls");
    if (!box || !transcript) return;
    box.innerHTML = "";
    if (!transcript.speakers.length) return;
    box.appendChild(TW.el("h3", { className: "small-heading", id: "voice-controls-heading", text: "Known voices" }));
    if (enrolled) {
      box.appendChild(TW.el("button", { type: "button", className: "btn btn-small", id: "apply-voice",
        "data-voice": enrolled.id, text: "Name " + enrolled.name + " in my earlier recordings too" }));
    }
    var list = TW.el("ul", { className: "plain-list voice-list", "aria-labelledby": "voice-controls-heading" });
    transcript.speakers.forEach(function (sp, i) {
      var item = TW.el("li", { className: "voice-row", "data-speaker": sp.id }, [
        TW.el("div", { className: "voice-head" }, [
          TW.el("span", { className: "swatch speaker-" + (i % 6), "aria-hidden": "true" }),
          TW.el("strong", { text: sp.name })
        ])
      ]);
      var actions = TW.el("div", { className: "voice-actions" });
      var known = sp.voice_id ? voiceById(sp.voice_id) : null;
      if (sp.voice_id) {
        var score = typeof sp.match_score === "number" ? " (match " + Math.round(sp.match_score * 100) + " %)" : "";
        item.appendChild(TW.el("span", { className: "meta", text: "Recognised as " + (known ? known.name : sp.name) + score }));
      } else if (voiceConfig.enrollable.indexOf(sp.id) >= 0) {
        var me = myVoice();
        actions.appendChild(TW.el("button", { type: "button", className: "btn btn-small js-voice", "data-speaker": sp.id,
          "data-voice": me ? me.id : "", "data-me": "1", text: "This is me" }));
        voiceConfig.voices.forEach(function (v) {
          if (v.is_me) return;
          actions.appendChild(TW.el("button", { type: "button", className: "btn btn-small js-voice", "data-speaker": sp.id,
            "data-voice": v.id, text: "This is " + v.name }));
        });
        actions.appendChild(TW.el("button", { type: "button", className: "btn btn-small js-voice", "data-speaker": sp.id,
          "data-voice": "", "data-new": "1", text: "Remember as " + sp.name }));
        item.appendChild(actions);
      } else {
        item.appendChild(TW.el("span", { className: "meta", text: "Too little of this voice to remember it" }));
      }
      if (sp.role_inferred && sp.role) {
        item.appendChild(TW.el("span", { className: "meta", text: "Role " + sp.role + " inferred from the other speaker's known voice" }));
      }
      list.appendChild(item);
    });
    box.appendChild(list);
  }

  function applyVoice(b) {
    busy = true;
    b.disabled = true;
    TW.api("POST", "/api/v1/voices/" + b.getAttribute("data-voice") + "/apply").then(function (res) {
      busy = false;
      var n = res.sessions.length, name = enrolled ? enrolled.name : "the voice";
      enrolled = null;
      renderVoices();
      TW.toast(n ? name + " is now named in " + n + " earlier recording" + (n === 1 ? "" : "s") + "."
        : "No earlier recording has " + name + "'s voice.", "ok");
    }, function (err) {
      busy = false;
      b.disabled = false;
      TW.toast("Earlier recordings were not labelled: " + err.message, "error");
    });
  }

  function onVoiceClick(ev) {
    var a = ev.target.closest("#apply-voice");
    if (a && !busy) { applyVoice(a); return; }
    var b = ev.target.closest(".js-voice");
    if (!b || busy) return;
    var speaker = b.getAttribute("data-speaker"), voice = b.getAttribute("data-voice");
    var sp = speakerById(speaker), request;
    if (voice) {
      request = TW.api("POST", "/api/v1/voices/" + voice + "/samples", { session_id: sid, speaker_id: speaker });
    } else if (b.getAttribute("data-me")) {
      request = TW.api("POST", "/api/v1/voices", { session_id: sid, speaker_id: speaker, is_me: true, role: sp && sp.role ? sp.role : null });
    } else {
      request = TW.api("POST", "/api/v1/voices", { session_id: sid, speaker_id: speaker, name: sp ? sp.name : speaker, role: sp && sp.role ? sp.role : null });
    }
    busy = true;
    b.disabled = true;
    request.then(function (v) {
      if (!voiceById(v.id)) voiceConfig.voices.push({ id: v.id, name: v.name, is_me: v.is_me, role: v.role });
      enrolled = { id: v.id, name: v.name };
      return api("GET", "/transcript").then(function (t) {
        busy = false;
        setTranscript(t);
        refreshHistory();
        TW.toast((v.is_me ? "Your voice" : "The voice of " + v.name) + " is remembered: your next recordings name it.", "ok");
        var heading = document.getElementById("voice-controls-heading");
        if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
      });
    }, function (err) {
      busy = false;
      b.disabled = false;
      TW.toast("The voice was not saved: " + err.message, "error");
    });
  }

  function setTranscript(t, focusWord) {
    transcript = t;
    if (typeof focusWord === "number") focusIdx = focusWord;
    render();
    renderSpeakers();
    renderVoices();
    if (typeof focusWord === "number" && spans.length) focusWordAt(Math.min(focusWord, spans.length - 1));
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
    var bar = document.querySelector(".session-bar");
    if (bar && getComputedStyle(bar).position === "sticky") top = bar.getBoundingClientRect().bottom;
    if (r.top < top + 20 || r.bottom > bottom - 20) {
      node.scrollIntoView({ block: "center", behavior: window.matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth" });
    }
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

  function play() {
    if (!player || !player.paused) return;
    var p = player.play();
    if (p && p.catch) p.catch(function (e) { TW.toast("The audio could not play: " + e.message, "error"); });
  }

  function togglePlay() {
    if (!player) return;
    if (player.paused) play(); else player.pause();
  }

  function typing(target) {
    if (!target) return false;
    var tag = target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
  }

  function onKey(ev) {
    if (typing(ev.target)) return;
    var key = ev.key;
    if ((ev.ctrlKey || ev.metaKey) && !ev.altKey && (key === "z" || key === "Z" || key === "y" || key === "Y")) {
      if (!transcript) return;
      ev.preventDefault();
      if (key === "y" || key === "Y" || ev.shiftKey) redo(); else undo();
      return;
    }
    if (!player || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (key === " " && (ev.target.tagName === "BUTTON" || ev.target.tagName === "A" || ev.target.tagName === "AUDIO" ||
        ev.target.getAttribute("role") === "tab" || ev.target.tagName === "SUMMARY")) return;
    if (key === " " || key === "k" || key === "K") { ev.preventDefault(); togglePlay(); }
    else if (key === "j" || key === "J" || (key === "ArrowLeft" && ev.shiftKey)) { ev.preventDefault(); seek(player.currentTime - 5); }
    else if (key === "l" || key === "L" || (key === "ArrowRight" && ev.shiftKey)) { ev.preventDefault(); seek(player.currentTime + 5); }
  }

  // --- words by keyboard ----------------------------------------------------------------------
  function focusWordAt(i) {
    if (!spans.length) return;
    i = Math.max(0, Math.min(spans.length - 1, i));
    if (spans[focusIdx]) spans[focusIdx].setAttribute("tabindex", "-1");
    focusIdx = i;
    spans[i].setAttribute("tabindex", "0");
    spans[i].focus();
  }

  function firstWordOfSegment(si) {
    for (var i = 0; i < wordSeg.length; i++) if (wordSeg[i] === si) return i;
    return -1;
  }

  function onWordKey(ev) {
    var w = ev.target.closest && ev.target.closest(".w");
    if (!w || ev.target.tagName === "INPUT" || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var i = parseInt(w.getAttribute("data-i"), 10);
    var key = ev.key;
    if (ev.shiftKey && (key === "ArrowLeft" || key === "ArrowRight")) return;  // seek keys
    var si = wordSeg[i];
    if (key === "ArrowRight") { ev.preventDefault(); focusWordAt(i + 1); }
    else if (key === "ArrowLeft") { ev.preventDefault(); focusWordAt(i - 1); }
    else if (key === "ArrowDown" || key === "ArrowUp") {
      ev.preventDefault();
      var target = si + (key === "ArrowDown" ? 1 : -1), j = -1;
      while (target >= 0 && target < transcript.segments.length && (j = firstWordOfSegment(target)) < 0) {
        target += key === "ArrowDown" ? 1 : -1;
      }
      if (j >= 0) focusWordAt(j);
    }
    else if (key === "Home") { ev.preventDefault(); focusWordAt(firstWordOfSegment(si)); }
    else if (key === "End") { ev.preventDefault(); focusWordAt(firstWordOfSegment(si) + transcript.segments[si].words.length - 1); }
    else if (key === "Enter") { ev.preventDefault(); seek(words[i].start); play(); }
    else if (key === "e" || key === "E" || key === "F2") { ev.preventDefault(); editWord(i); }
    else if (key === "s" || key === "S") { ev.preventDefault(); splitBefore(i); }
    else if ((key === "n" || key === "N") && document.getElementById("note-form")) { ev.preventDefault(); noteFocusedWord(i); }
  }

  // --- editing -----------------------------------------------------------------------------------
  /** Send edit ops as one new version; re-render from the transcript the server returns. */
  function edit(ops, done, focusWord) {
    if (busy) return Promise.resolve(null);
    busy = true;
    return api("POST", "/transcript/edits", { ops: ops }).then(function (t) {
      busy = false;
      setTranscript(t, focusWord);
      refreshHistory();
      if (done) TW.toast(done, "ok");
      return t;
    }, function (err) {
      busy = false;
      TW.toast("Not saved: " + err.message, "error");
      throw err;
    });
  }

  function editWord(i) {
    var span = spans[i];
    if (!span || span.querySelector("input")) return;
    var si = wordSeg[i], seg = transcript.segments[si], k = i - firstWordOfSegment(si);
    var old = words[i].text;
    var input = TW.el("input", { type: "text", className: "word-input", value: old, "aria-label": "Edit the word " + old,
      size: String(Math.max(3, old.length + 1)), autocomplete: "off", spellcheck: "true" });
    span.textContent = "";
    span.appendChild(input);
    input.focus();
    input.select();
    var closed = false;
    function close(save) {
      if (closed) return;
      closed = true;
      var value = input.value.trim().replace(/\s+/g, " ");
      if (!save || value === old) { span.textContent = old; focusWordAt(i); return; }
      span.textContent = value || old;
      // one word, and nothing else: its timing is kept (several words share its span)
      edit([{ op: "edit_word", segment_id: seg.id, word_index: k, text: value }],
        value ? "Word changed." : "Word deleted.", i).then(null, function () { span.textContent = old; focusWordAt(i); });
    }
    input.addEventListener("keydown", function (ev) {
      ev.stopPropagation();
      if (ev.key === "Enter") { ev.preventDefault(); close(true); }
      else if (ev.key === "Escape") { ev.preventDefault(); close(false); }
    });
    input.addEventListener("input", function () { input.size = Math.max(3, input.value.length + 1); });
    input.addEventListener("blur", function () { close(true); });
  }

  function splitBefore(i) {
    var si = wordSeg[i], k = i - firstWordOfSegment(si);
    if (k <= 0) { TW.toast("This is the first word of its segment: there is nothing to split off before it.", "error"); return; }
    edit([{ op: "split_segment", segment_id: transcript.segments[si].id, at_word_index: k }],
      "Segment split before “" + words[i].text + "”.", i);
  }

  function saveSpeakers(ev) {
    ev.preventDefault();
    var changes = [];
    transcript.speakers.forEach(function (sp, i) {
      var name = document.getElementById("sp-name-" + i).value.trim();
      var role = document.getElementById("sp-role-" + i).value || null;
      if (!name) return;
      if (name !== sp.name || role !== (sp.role || null)) changes.push({ id: sp.id, name: name, role: role });
    });
    if (!changes.length) { TW.toast("Nothing changed.", "ok"); return; }
    var btn = document.getElementById("save-speakers");
    btn.disabled = true;
    api("PATCH", "/speakers", { speakers: changes }).then(function (t) {
      setTranscript(t);
      refreshHistory();
      TW.toast("Speakers saved.", "ok");
      var again = document.getElementById("save-speakers");
      if (again) again.focus();
    }, function (err) {
      btn.disabled = false;
      TW.toast("Speakers not saved: " + err.message, "error");
    });
  }

  function addSpeaker(ev) {
    ev.preventDefault();
    var form = ev.target, name = form.elements.name.value.trim(), role = form.elements.role.value;
    if (!name) return;
    var op = { op: "add_speaker", name: name };
    if (role) op.role = role;
    edit([op], "Speaker " + name + " added.").then(function () {
      form.reset();
      var last = document.getElementById("sp-name-" + (transcript.speakers.length - 1));
      if (last) last.focus();
    }, function () { /* toast shown */ });
  }

  function editSegment(segId) {
    var node = document.getElementById("seg-" + segId);
    if (!node || node.querySelector(".seg-editor")) return;
    var si = segmentById(segId), seg = transcript.segments[si];
    var textEl = node.querySelector(".seg-text");
    var areaId = "edit-" + segId, selId = "edit-sp-" + segId, newId = "edit-new-sp-" + segId;
    var area = TW.el("textarea", { id: areaId, rows: "3", className: "seg-textarea" });
    area.value = seg.text;
    var options = transcript.speakers.map(function (sp) {
      return TW.el("option", { value: sp.id, text: sp.name, selected: sp.id === seg.speaker });
    });
    options.push(TW.el("option", { value: "__new", text: "New speaker…" }));
    var newName = TW.el("div", { className: "field", hidden: true }, [
      TW.el("label", { "for": newId, text: "New speaker's name" }),
      TW.el("input", { id: newId, type: "text", maxlength: "100", autocomplete: "off" })]);
    var hasNext = si + 1 < transcript.segments.length;
    var editor = TW.el("div", { className: "seg-editor" }, [
      TW.el("label", { "for": areaId, className: "visually-hidden", text: "Segment text" }), area,
      TW.el("div", { className: "row" }, [
        TW.el("div", { className: "field" }, [TW.el("label", { "for": selId, text: "Speaker" }), TW.el("select", { id: selId }, options)]),
        newName
      ]),
      TW.el("div", { className: "row-actions" }, [
        TW.el("button", { type: "button", className: "btn btn-primary btn-small seg-save", text: "Save" }),
        TW.el("button", { type: "button", className: "btn btn-small seg-split", text: "Split at the cursor" }),
        hasNext ? TW.el("button", { type: "button", className: "btn btn-small seg-merge", text: "Merge with the next segment" }) : null,
        TW.el("button", { type: "button", className: "btn btn-small btn-danger seg-delete", text: "Delete segment" }),
        TW.el("button", { type: "button", className: "btn btn-small btn-quiet seg-cancel", text: "Cancel" })
      ])
    ]);
    textEl.hidden = true;
    node.appendChild(editor);
    area.focus();
    var sel = editor.querySelector("#" + CSS.escape(selId));
    sel.addEventListener("change", function () {
      newName.hidden = sel.value !== "__new";
      if (!newName.hidden) newName.querySelector("input").focus();
    });
    function close() {
      editor.remove();
      textEl.hidden = false;
      var again = document.querySelector("#seg-" + CSS.escape(segId) + " .seg-edit");
      if (again) again.focus();
    }
    function refocus(t) {  // after a change: the edit button of the segment that is now there
      var s = t.segments[Math.min(si, t.segments.length - 1)];
      var again = s && document.querySelector("#seg-" + CSS.escape(s.id) + " .seg-edit");
      if (again) again.focus();
    }
    editor.querySelector(".seg-cancel").addEventListener("click", close);
    editor.addEventListener("keydown", function (ev) {
      ev.stopPropagation();
      if (ev.key === "Escape") { ev.preventDefault(); close(); }
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); editor.querySelector(".seg-save").click(); }
    });
    editor.querySelector(".seg-save").addEventListener("click", function () {
      var ops = [];
      if (area.value.trim() !== seg.text.trim()) ops.push({ op: "edit_text", segment_id: segId, text: area.value.trim() });
      if (sel.value === "__new") {
        var name = newName.querySelector("input").value.trim();
        if (!name) { TW.toast("Give the new speaker a name.", "error"); newName.querySelector("input").focus(); return; }
        var id = nextSpeakerId();
        ops.unshift({ op: "add_speaker", name: name });
        ops.push({ op: "reassign_segment", segment_id: segId, speaker_id: id });
      } else if (sel.value && sel.value !== seg.speaker) {
        ops.push({ op: "reassign_segment", segment_id: segId, speaker_id: sel.value });
      }
      if (!ops.length) { close(); return; }
      // an emptied text deletes the segment: say so
      if (!area.value.trim() && !window.confirm("The text is empty: delete this segment?")) return;
      edit(ops, "Segment saved.").then(refocus, function () { /* toast shown */ });
    });
    editor.querySelector(".seg-split").addEventListener("click", function () {
      if (area.value !== seg.text) { TW.toast("Save or cancel the text change first, then split.", "error"); return; }
      var before = area.value.slice(0, area.selectionStart);
      var k = before.trim() ? before.trim().split(/\s+/).length : 0;
      if (before && !/\s$/.test(before) && area.value.charAt(area.selectionStart) && !/\s/.test(area.value.charAt(area.selectionStart))) k -= 1;
      if (k <= 0 || k >= seg.words.length) { TW.toast("Put the cursor between two words to split there.", "error"); area.focus(); return; }
      edit([{ op: "split_segment", segment_id: segId, at_word_index: k }], "Segment split.").then(refocus, function () { /* toast */ });
    });
    var merge = editor.querySelector(".seg-merge");
    if (merge) merge.addEventListener("click", function () {
      var next = transcript.segments[si + 1];
      edit([{ op: "merge_segments", segment_ids: [segId, next.id] }], "Segments merged.").then(refocus, function () { /* toast */ });
    });
    editor.querySelector(".seg-delete").addEventListener("click", function () {
      if (!window.confirm("Delete this segment and its words? You can undo it.")) return;
      edit([{ op: "delete_segment", segment_id: segId }], "Segment deleted.").then(refocus, function () { /* toast */ });
    });
  }

  // --- undo, redo, versions -------------------------------------------------------------------
  function listOf(body, names) {
    if (!body) return [];
    if (Array.isArray(body)) return body;
    for (var i = 0; i < names.length; i++) if (Array.isArray(body[names[i]])) return body[names[i]];
    return [];
  }

  function paintHistory() {
    var u = document.getElementById("undo"), r = document.getElementById("redo");
    if (u) u.disabled = !history.canUndo;
    if (r) r.disabled = !history.canRedo;
  }

  function refreshHistory() {
    return api("GET", "/transcript/versions").then(function (body) {
      history.loaded = true;
      history.canUndo = !!(body && body.can_undo);
      history.canRedo = !!(body && body.can_redo);
      paintHistory();
      renderVersions(body);
      return body;
    }, function (err) {
      history.canUndo = history.canRedo = false;
      paintHistory();
      var ol = document.getElementById("version-list");
      if (ol) {
        ol.innerHTML = "";
        ol.appendChild(TW.el("li", { className: err.status === 404 ? "muted" : "error-text",
          text: err.status === 404 ? "The list of versions is not available on this server." : "The versions could not be loaded: " + err.message }));
      }
    });
  }

  function describe(v) {
    var what = v.summary || v.description || v.label || (v.version === 1 ? "transcribed" : "edited");
    return "Version " + v.version + " · " + what + (v.created_at ? " · " + String(v.created_at).replace("T", " ").slice(0, 16) : "");
  }

  function renderVersions(body) {
    var ol = document.getElementById("version-list");
    if (!ol) return;
    ol.innerHTML = "";
    var list = listOf(body, ["versions", "items"]).slice().sort(function (a, b) { return b.version - a.version; });
    var cur = body && (body.current_version || body.current || body.version);
    list.forEach(function (v) {
      var isCurrent = v.version === cur || v.current === true;
      ol.appendChild(TW.el("li", { className: isCurrent ? "current" : "" }, [
        TW.el("span", { text: describe(v) + (isCurrent ? " (shown)" : "") }),
        isCurrent ? null : TW.el("button", { type: "button", className: "btn btn-small", "data-version": String(v.version),
          text: "Go back to version " + v.version })
      ]));
    });
    if (!list.length) ol.appendChild(TW.el("li", { className: "muted", text: "No earlier versions." }));
  }

  function step(which) {
    if (busy || !transcript) return;
    var can = which === "undo" ? history.canUndo : history.canRedo;
    if (history.loaded && !can) { TW.toast(which === "undo" ? "Nothing to undo." : "Nothing to redo.", "ok"); return; }
    busy = true;
    api("POST", "/transcript/" + which).then(function (t) {
      busy = false;
      setTranscript(t && t.segments ? t : (t && t.transcript) || transcript, focusIdx);
      TW.toast((which === "undo" ? "Undone" : "Redone") + ": the transcript is as it was in version " +
        (t && (t.restored_from || t.version)) + ".", "ok");
      refreshHistory();
    }, function (err) {
      busy = false;
      TW.toast(err.message, "error");
      refreshHistory();
    });
  }
  function undo() { step("undo"); }
  function redo() { step("redo"); }

  function restoreVersion(n) {
    if (busy) return;
    busy = true;
    api("POST", "/transcript/restore", { version: n }).then(function (t) {
      busy = false;
      setTranscript(t && t.segments ? t : (t && t.transcript) || transcript, 0);
      TW.toast("Back to version " + n + " (saved as a new version).", "ok");
      refreshHistory();
    }, function (err) { busy = false; TW.toast(err.message, "error"); });
  }

  // --- find -------------------------------------------------------------------------------------
  function norm(s) { return s.normalize("NFKC").toLowerCase(); }

  /** Matches of the query over the words (a phrase may span words): [firstWord, lastWord]. */
  function findMatches(q) {
    var out = [];
    q = norm(q).trim().replace(/\s+/g, " ");
    if (!q) return out;
    var text = "", owner = [];
    words.forEach(function (w, i) {
      if (i > 0) { text += " "; owner.push(i - 1); }
      var t = norm(w.text);
      for (var c = 0; c < t.length; c++) owner.push(i);
      text += t;
    });
    var from = 0, at;
    while ((at = text.indexOf(q, from)) >= 0) {
      out.push([owner[at], owner[at + q.length - 1]]);
      from = at + Math.max(1, q.length);
    }
    return out;
  }

  function applyFind(move) {
    spans.forEach(function (s) { s.classList.remove("match", "match-current"); });
    var count = document.getElementById("find-count");
    if (!count) return;
    find.matches = findMatches(find.query);
    if (find.at >= find.matches.length) find.at = find.matches.length - 1;
    if (find.matches.length && find.at < 0) find.at = 0;
    find.matches.forEach(function (m, k) {
      for (var i = m[0]; i <= m[1]; i++) spans[i].classList.add(k === find.at ? "match-current" : "match");
    });
    document.getElementById("find-prev").disabled = document.getElementById("find-next").disabled = find.matches.length < 1;
    if (!find.query.trim()) count.textContent = "";
    else if (!find.matches.length) count.textContent = "No matches";
    else count.textContent = (find.at + 1) + " of " + find.matches.length;
    if (move && find.matches.length) {
      var first = spans[find.matches[find.at][0]];
      keepVisible(first);
    }
  }

  function findStep(delta) {
    if (!find.matches.length) return;
    find.at = (find.at + delta + find.matches.length) % find.matches.length;
    applyFind(true);
  }

  function wireFind() {
    var input = document.getElementById("find-input");
    if (!input) return;
    input.addEventListener("input", function () { find.query = input.value; find.at = 0; applyFind(true); });
    input.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") { ev.preventDefault(); findStep(ev.shiftKey ? -1 : 1); }
      else if (ev.key === "Escape") { input.value = ""; find.query = ""; applyFind(false); }
    });
    document.getElementById("find-next").addEventListener("click", function () { findStep(1); });
    document.getElementById("find-prev").addEventListener("click", function () { findStep(-1); });
  }


  // --- notes and highlights ------------------------------------------------------------------
  // Notes live in recording time (start, end in seconds), so they stay on their words through
  // text edits and speaker changes: each render marks the words whose time the note covers.
  var notes = [], pending = null, editing = null;
  var COLOURS = { "#ffe066": "yellow", "#b2f2bb": "green", "#a5d8ff": "blue", "#fcc2d7": "pink" };

  function covers(n, w) {
    if (n.start === null || n.start === undefined) return false;
    if (n.end <= n.start) return w.start <= n.start + 0.001 && w.end >= n.start - 0.001;
    return w.start < n.end - 0.001 && w.end > n.start + 0.001;
  }

  function colourClass(n) { return n.colour ? "hl-" + (COLOURS[n.colour] || "other") : "noted-plain"; }

  function span(n) {
    if (n.start === null || n.start === undefined) return "Whole session";
    return n.end > n.start ? TW.duration(n.start) + "–" + TW.duration(n.end) : TW.duration(n.start);
  }

  function quoteOf(n) {
    var out = [];
    for (var i = 0; i < words.length; i++) if (covers(n, words[i])) out.push(words[i].text);
    var text = out.join(" ");
    return text.length > 120 ? text.slice(0, 117) + "…" : text;
  }

  function segmentOfTime(t) {
    var segs = transcript ? transcript.segments : [];
    for (var i = 0; i < segs.length; i++) if (segs[i].end > t) return i;
    return segs.length - 1;
  }

  function paintNotes() {
    if (!transcript) return;
    spans.forEach(function (sp) {
      sp.classList.remove("noted", "noted-plain", "hl-yellow", "hl-green", "hl-blue", "hl-pink", "hl-other");
      sp.removeAttribute("data-notes");
    });
    box.querySelectorAll(".margin-note").forEach(function (m) { m.remove(); });
    notes.forEach(function (n, k) {
      if (n.start === null || n.start === undefined) return;
      words.forEach(function (w, i) {
        if (!covers(n, w)) return;
        spans[i].classList.add("noted", colourClass(n));
        spans[i].setAttribute("data-notes", ((spans[i].getAttribute("data-notes") || "") + " " + n.id).trim());
      });
      var si = segmentOfTime(n.start);
      var node = si >= 0 && document.getElementById("seg-" + transcript.segments[si].id);
      if (!node) return;
      node.appendChild(TW.el("aside", { className: "margin-note " + colourClass(n), "data-note-id": n.id,
        "aria-label": "Note at " + span(n) }, [
        TW.el("span", { className: "margin-when", text: span(n) }),
        " ", n.text ? TW.el("span", { className: "margin-text", text: n.text }) : TW.el("span", { className: "meta", text: "highlight" })
      ]));
    });
  }

  function renderNoteList() {
    var ol = document.getElementById("note-list");
    if (!ol) return;
    ol.innerHTML = "";
    if (!notes.length) { ol.appendChild(TW.el("li", { className: "muted", text: "No notes yet." })); return; }
    notes.forEach(function (n) {
      var hasSpan = n.start !== null && n.start !== undefined;
      var quote = hasSpan ? quoteOf(n) : "";
      ol.appendChild(TW.el("li", { className: "note-item", "data-note-id": n.id }, [
        TW.el("div", { className: "note-head" }, [
          hasSpan ? TW.el("button", { type: "button", className: "seg-time note-jump", "data-start": String(n.start) },
            [span(n), TW.el("span", { className: "visually-hidden", text: ", play from here" })])
            : TW.el("span", { className: "meta", text: "Whole session" }),
          n.colour ? TW.el("span", { className: "note-swatch " + colourClass(n), title: "highlight", "aria-hidden": "true" }) : null,
          n.colour ? TW.el("span", { className: "visually-hidden", text: "highlighted " + (COLOURS[n.colour] || n.colour) }) : null
        ]),
        quote ? TW.el("p", { className: "note-quote", text: "“" + quote + "”" }) : null,
        n.text ? TW.el("p", { className: "note-body", text: n.text }) : null,
        TW.el("div", { className: "row-actions" }, [
          TW.el("button", { type: "button", className: "btn btn-small note-edit", "data-note-id": n.id },
            ["Edit", TW.el("span", { className: "visually-hidden", text: " the note at " + span(n) })]),
          TW.el("button", { type: "button", className: "btn btn-small btn-danger note-delete", "data-note-id": n.id },
            ["Delete", TW.el("span", { className: "visually-hidden", text: " the note at " + span(n) })])
        ])
      ]));
    });
  }

  function noteById(id) { for (var i = 0; i < notes.length; i++) if (notes[i].id === id) return notes[i]; return null; }

  function loadNotes() {
    return api("GET", "/notes").then(function (list) {
      notes = list || [];
      paintNotes();
      renderNoteList();
    }, function (err) { TW.toast("The notes could not be loaded: " + err.message, "error"); });
  }

  function paintTarget() {
    var target = document.getElementById("note-target");
    if (!target) return;
    var colourField = document.getElementById("note-colour-field");
    var clear = document.getElementById("note-clear");
    var save = document.getElementById("note-save");
    if (editing) {
      target.textContent = "Editing the note at " + span(editing) + ".";
      colourField.hidden = editing.start === null || editing.start === undefined;
      clear.hidden = false;
      clear.textContent = "Cancel";
      save.textContent = "Save note";
      return;
    }
    save.textContent = "Add note";
    clear.textContent = "Note the whole session instead";
    if (pending) {
      target.textContent = "On " + span(pending) + ": “" + pending.quote + "”";
      colourField.hidden = false;
      clear.hidden = false;
    } else {
      target.innerHTML = "";
      target.appendChild(document.createTextNode("On the whole session. Select words in the transcript (or press "));
      target.appendChild(TW.el("kbd", { text: "N" }));
      target.appendChild(document.createTextNode(" on a word) to note a passage."));
      colourField.hidden = true;
      clear.hidden = true;
    }
  }

  /** The words the reader selected in the transcript, as a span of recording time. */
  function selectionSpan() {
    var sel = window.getSelection();
    if (!sel || sel.isCollapsed || !sel.rangeCount) return null;
    var first = -1, last = -1;
    for (var i = 0; i < spans.length; i++) {
      if (sel.containsNode(spans[i], true)) { if (first < 0) first = i; last = i; }
    }
    if (first < 0) return null;
    return spanOfWords(first, last);
  }

  function spanOfWords(first, last) {
    var text = [];
    for (var i = first; i <= last; i++) text.push(words[i].text);
    var quote = text.join(" ");
    return { start: words[first].start, end: words[last].end,
      quote: quote.length > 120 ? quote.slice(0, 117) + "…" : quote };
  }

  function showNotesTab() {
    var tab = document.getElementById("tab-notes");
    if (tab && getComputedStyle(document.getElementById("session-tabs")).display !== "none") tab.click();
  }

  function startNote(target) {
    editing = null;
    pending = target;
    paintTarget();
    var selBtn = document.getElementById("note-selection");
    if (selBtn) selBtn.disabled = !pending;
  }

  function noteFocusedWord(i) {
    startNote(spanOfWords(i, i));
    showNotesTab();
    document.getElementById("note-text").focus();
  }

  function wireNotes() {
    var form = document.getElementById("note-form");
    if (!form) return;
    var errorBox = document.getElementById("note-error");
    var area = document.getElementById("note-text"), colour = document.getElementById("note-colour");
    var selBtn = document.getElementById("note-selection");
    document.addEventListener("selectionchange", function () {
      if (editing) return;
      var found = selectionSpan();
      if (found) startNote(found);
      if (selBtn) selBtn.disabled = !pending;
    });
    if (selBtn) selBtn.addEventListener("click", function () {
      showNotesTab();
      area.focus();
    });
    document.getElementById("note-clear").addEventListener("click", function () {
      editing = null; pending = null;
      form.reset();
      errorBox.textContent = "";
      if (selBtn) selBtn.disabled = true;
      paintTarget();
      area.focus();
    });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      errorBox.textContent = "";
      var body = { text: area.value.trim() };
      var req;
      if (editing) {
        if (!colour.parentNode.hidden) body.colour = colour.value || null;
        req = api("PATCH", "/notes/" + editing.id, body);
      } else {
        if (pending) {
          body.start = pending.start; body.end = pending.end;
          if (colour.value) body.colour = colour.value;
        }
        if (!body.text && !body.colour) { errorBox.textContent = "Write a note, or choose a highlight colour for the selected words."; area.focus(); return; }
        req = api("POST", "/notes", body);
      }
      var was = editing;
      req.then(function () {
        editing = null; pending = null;
        form.reset();
        if (selBtn) selBtn.disabled = true;
        paintTarget();
        TW.toast(was ? "Note saved." : "Note added.", "ok");
        return loadNotes();
      }, function (err) { errorBox.textContent = err.message; });
    });
    document.getElementById("note-list").addEventListener("click", function (ev) {
      var jump = ev.target.closest(".note-jump");
      if (jump) { seek(parseFloat(jump.getAttribute("data-start"))); play(); return; }
      var ed = ev.target.closest(".note-edit");
      if (ed) {
        editing = noteById(ed.getAttribute("data-note-id"));
        pending = null;
        area.value = editing ? editing.text : "";
        colour.value = editing && editing.colour && COLOURS[editing.colour] ? editing.colour : "";
        paintTarget();
        area.focus();
        return;
      }
      var del = ev.target.closest(".note-delete");
      if (del) {
        var n = noteById(del.getAttribute("data-note-id"));
        if (!n || !window.confirm("Delete the note at " + span(n) + "?")) return;
        api("DELETE", "/notes/" + n.id).then(function () {
          TW.toast("Note deleted.", "ok");
          return loadNotes().then(function () { area.focus(); });
        }, function (err) { TW.toast(err.message, "error"); });
      }
    });
    paintTarget();
    renderNoteList();
  }

  // --- a moment found by search: /sessions/{id}?t=12.3&seg=...&q=... -------------------------
  var moment = null;

  function fold(s) {
    return s.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function queryTerms(q) {
    var out = [];
    fold(q).replace(/["()]/g, " ").split(/\s+/).forEach(function (t) {
      if (!t || t.charAt(0) === "-" || t === "or") return;
      var prefix = /\*$/.test(t);
      t.replace(/\*/g, " ").split(/[^\p{L}\p{N}]+/u).forEach(function (part, k, all) {
        if (part) out.push({ text: part, prefix: prefix && k === all.length - 1 });
      });
    });
    return out;
  }

  function wordMatches(w, terms) {
    var parts = fold(w.text).split(/[^\p{L}\p{N}]+/u);
    return parts.some(function (p) {
      return p && terms.some(function (t) { return t.prefix ? p.indexOf(t.text) === 0 : p === t.text; });
    });
  }

  function paintMoment() {
    if (!moment || !transcript) return;
    box.querySelectorAll(".segment.moment").forEach(function (n) { n.classList.remove("moment"); });
    spans.forEach(function (sp) { sp.classList.remove("hit"); });
    var si = moment.seg ? segmentById(moment.seg) : -1;
    if (si < 0 && moment.t !== null) si = segmentOfTime(moment.t);
    if (si < 0) return;
    var node = document.getElementById("seg-" + transcript.segments[si].id);
    if (node) node.classList.add("moment");
    moment.first = -1;
    for (var i = 0; i < words.length; i++) {
      if (wordSeg[i] === si && wordMatches(words[i], moment.terms)) {
        spans[i].classList.add("hit");
        if (moment.first < 0) moment.first = i;
      }
    }
    moment.node = node;
  }

  function openMoment() {
    var params = new URLSearchParams(window.location.search);
    if (!params.has("t") && !params.has("seg")) return;
    var t = parseFloat(params.get("t"));
    moment = { t: isNaN(t) ? null : t, seg: params.get("seg"), terms: queryTerms(params.get("q") || "") };
    paintMoment();
    if (moment.node) {
      moment.node.scrollIntoView({ block: "center" });
      if (moment.first >= 0) focusWordAt(moment.first);
    }
    if (player && moment.t !== null) {
      var go = function () { seek(moment.t); };
      if (player.readyState >= 1) go(); else player.addEventListener("loadedmetadata", go, { once: true });
    }
  }

  // --- tabs (narrow screens) -------------------------------------------------------------------
  function wireTabs() {
    var list = document.getElementById("session-tabs");
    if (!list) return;
    var tabs = Array.prototype.slice.call(list.querySelectorAll('[role="tab"]'));
    function select(tab, focus) {
      tabs.forEach(function (t) {
        var on = t === tab;
        t.setAttribute("aria-selected", on ? "true" : "false");
        t.setAttribute("tabindex", on ? "0" : "-1");
        var panel = document.getElementById(t.getAttribute("aria-controls"));
        if (panel) panel.classList.toggle("tab-inactive", !on);
      });
      root.setAttribute("data-tab", tab.id.replace("tab-", ""));
      if (focus) tab.focus();
    }
    tabs.forEach(function (t, i) {
      t.addEventListener("click", function () { select(t, false); });
      t.addEventListener("keydown", function (ev) {
        var j = null;
        if (ev.key === "ArrowRight") j = (i + 1) % tabs.length;
        else if (ev.key === "ArrowLeft") j = (i - 1 + tabs.length) % tabs.length;
        else if (ev.key === "Home") j = 0;
        else if (ev.key === "End") j = tabs.length - 1;
        if (j !== null) { ev.preventDefault(); select(tabs[j], true); }
      });
    });
    select(tabs[0], false);
  }

  // --- rename, delete --------------------------------------------------------------------------
  function wireManage() {
    var renameBtn = document.getElementById("rename-session"), form = document.getElementById("rename-form");
    var input = document.getElementById("rename-input"), errorBox = document.getElementById("rename-error");
    var title = document.getElementById("session-title");
    function open(on) {
      form.hidden = !on;
      renameBtn.setAttribute("aria-expanded", on ? "true" : "false");
      if (on) { input.value = title.textContent; input.focus(); input.select(); } else renameBtn.focus();
    }
    renameBtn.addEventListener("click", function () { open(form.hidden); });
    document.getElementById("rename-cancel").addEventListener("click", function () { open(false); });
    input.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { ev.preventDefault(); open(false); } });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      errorBox.textContent = "";
      TW.api("PATCH", "/api/v1/sessions/" + sid, { title: input.value.trim() }).then(function (s) {
        title.textContent = s.title;
        document.title = s.title + " · tapeworks";
        root.setAttribute("data-title", s.title);
        var epTitle = document.getElementById("ep-title-input");
        if (epTitle) epTitle.placeholder = s.title;
        open(false);
        TW.toast("Renamed to “" + s.title + "”.", "ok");
      }, function (err) { errorBox.textContent = err.message; });
    });
    document.getElementById("delete-session").addEventListener("click", function () {
      var name = title.textContent;
      if (!window.confirm("Delete “" + name + "”, its transcript and every episode made from it? This cannot be undone.")) return;
      TW.api("DELETE", "/api/v1/sessions/" + sid).then(function () {
        TW.flashNext("“" + name + "” was deleted.");
        window.location.href = "/";
      }, function (err) { TW.toast(err.message, "error"); });
    });
  }


  // --- client and coaching-log fields ---------------------------------------------------------
  function wireDetails() {
    var form = document.getElementById("details-form");
    if (!form) return;
    var errorBox = document.getElementById("details-error");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      errorBox.textContent = "";
      var f = form.elements;
      var body = { client_id: f.client_id.value || null, session_type: f.session_type.value,
        paid: f.paid.value === "true" };
      if (f.session_date.value) body.session_date = f.session_date.value;
      var minutes = f.billable_minutes.value.trim();
      if (f.billable_minutes.validity && f.billable_minutes.validity.badInput) minutes = "?";
      if (minutes === "") body.billable_minutes = null;
      else if (isNaN(Number(minutes))) { errorBox.textContent = "Billable minutes must be a number, such as 50."; f.billable_minutes.focus(); return; }
      else body.billable_minutes = Number(minutes);
      TW.api("PATCH", "/api/v1/sessions/" + sid, body).then(function (s) {
        if (s.session_date) f.session_date.value = s.session_date;
        TW.toast("Details saved.", "ok");
      }, function (err) { errorBox.textContent = err.message; });
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
  function wireEpisodes() {
    var form = document.getElementById("episode-form");
    if (!form) return;
    var errorBox = document.getElementById("episode-error");
    TW.api("GET", "/api/v1/templates").then(function (body) {
      var sel = document.getElementById("ep-template");
      listOf(body, ["items", "templates"]).forEach(function (t) { sel.appendChild(TW.el("option", { value: t.id, text: t.name || t.id })); });
    }, function () { /* no templates: speech only */ });
    var list = document.getElementById("episode-list");
    api("GET", "/episodes").then(function (body) {
      listOf(body, ["items", "episodes"]).forEach(function (ep) {
        list.appendChild(TW.el("li", {}, [
          TW.el("a", { href: "/episodes/" + ep.id, text: ep.title || "Episode" }),
          TW.el("span", { className: "badge badge-" + ep.status, text: ep.status })]));
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
      if (f.title.value.trim()) body.title = f.title.value.trim();
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
    var notesData = document.getElementById("notes-data");
    notes = notesData ? JSON.parse(notesData.textContent) || [] : [];
    var vd = document.getElementById("voice-data");
    if (vd) voiceConfig = JSON.parse(vd.textContent);
    var vc = document.getElementById("voice-controls");
    if (vc) vc.addEventListener("click", onVoiceClick);
    setTranscript(JSON.parse(document.getElementById("transcript-data").textContent));
    box.addEventListener("click", function (ev) {
      var w = ev.target.closest(".w");
      if (w && !ev.target.closest("input")) {
        var i = parseInt(w.getAttribute("data-i"), 10);
        seek(parseFloat(w.getAttribute("data-start")));
        if (spans[focusIdx]) spans[focusIdx].setAttribute("tabindex", "-1");
        focusIdx = i;
        w.setAttribute("tabindex", "0");
        return;
      }
      var t = ev.target.closest(".seg-time");
      if (t) { seek(parseFloat(t.getAttribute("data-start"))); play(); return; }
      var e = ev.target.closest(".seg-edit");
      if (e) editSegment(e.getAttribute("data-seg"));
    });
    box.addEventListener("dblclick", function (ev) {
      var w = ev.target.closest(".w");
      if (w && !ev.target.closest("input")) editWord(parseInt(w.getAttribute("data-i"), 10));
    });
    box.addEventListener("keydown", onWordKey);
    var sf = document.getElementById("speakers-form");
    if (sf) sf.addEventListener("submit", saveSpeakers);
    var af = document.getElementById("add-speaker-form");
    if (af) af.addEventListener("submit", addSpeaker);
    if (player) {
      player.addEventListener("play", function () { requestAnimationFrame(loop); });
      player.addEventListener("seeked", function () { highlight(true); });
      player.addEventListener("timeupdate", function () { highlight(false); });
      player.addEventListener("error", function () {
        TW.toast("The audio could not be loaded. It may have been deleted, or the format is not playable in this browser.", "error");
      });
    }
    var u = document.getElementById("undo"), r = document.getElementById("redo");
    if (u) u.addEventListener("click", undo);
    if (r) r.addEventListener("click", redo);
    var vt = document.getElementById("versions-toggle");
    if (vt) vt.addEventListener("click", function () {
      var panel = document.getElementById("versions");
      panel.hidden = !panel.hidden;
      vt.setAttribute("aria-expanded", panel.hidden ? "false" : "true");
      if (!panel.hidden) refreshHistory();
    });
    var vl = document.getElementById("version-list");
    if (vl) vl.addEventListener("click", function (ev) {
      var b = ev.target.closest("[data-version]");
      if (b) restoreVersion(parseInt(b.getAttribute("data-version"), 10));
    });
    document.addEventListener("keydown", onKey);
    if (transcript) refreshHistory();
    wireFind();
    wireTabs();
    wireManage();
    wireActions();
    wireEpisodes();
    wireNotes();
    wireDetails();
    openMoment();
  }

  document.addEventListener("DOMContentLoaded", init);
})();
