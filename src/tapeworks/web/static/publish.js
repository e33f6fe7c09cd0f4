/* Episode page, "Publish" card: publish the episode in a show (or edit its item, or
   schedule it), unpublish it, and set its chapters. Calls the JSON API:
   GET /api/v1/episodes/{id}/publication, POST .../publish, POST .../unpublish,
   GET|PUT .../chapters. */
(function () {
  "use strict";
  var TW = window.TW;
  var root = document.getElementById("episode");
  var card = document.getElementById("ep-publish");
  if (!root || !card || !TW) { return; }
  var eid = root.getAttribute("data-episode-id");
  var base = "/api/v1/episodes/" + eid;
  var form = document.getElementById("pub-form");
  var state = document.getElementById("pub-state");
  var pub = null;
  var counter = 0;

  function when(iso) {
    var d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString();
  }

  function localInput(iso) {  // ISO time -> the value of a datetime-local input (local time)
    if (!iso) { return ""; }
    var d = new Date(iso), pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" +
      pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function showName(id) {
    var opt = form && form.querySelector('#pub-show option[value="' + id + '"]');
    return opt ? opt.textContent : "a show";
  }

  function paint(ep) {
    pub = ep.publication;
    var live = pub && pub.state === "published";
    if (!pub || !live) {
      state.textContent = ep.status === "completed" ? (pub ? "Not published (it was before; publishing again keeps its place in podcast apps)." : "Not published.")
        : "It can be published once it is completed.";
    } else if (pub.publish_at && new Date(pub.publish_at) > new Date()) {
      state.textContent = "Scheduled in " + showName(pub.show_id) + " for " + when(pub.publish_at) + ".";
    } else {
      state.textContent = "Published in " + showName(pub.show_id) + " since " + when(pub.published_at) + ".";
    }
    if (!form) { return; }
    document.getElementById("pub-submit").textContent = live ? "Save changes" : "Publish";
    document.getElementById("pub-unpublish").hidden = !live;
    if (pub) {
      if (pub.show_id) { document.getElementById("pub-show").value = pub.show_id; }
      document.getElementById("pub-title").value = pub.title || "";
      document.getElementById("pub-notes").value = pub.description || "";
      document.getElementById("pub-season").value = pub.season === null ? "" : pub.season;
      document.getElementById("pub-number").value = pub.number === null ? "" : pub.number;
      document.getElementById("pub-type").value = pub.episode_type || "full";
      document.getElementById("pub-explicit").value = pub.explicit === null ? "" : String(pub.explicit);
      document.getElementById("pub-at").value = pub.publish_at && new Date(pub.publish_at) > new Date() ? localInput(pub.publish_at) : "";
    }
  }

  function load() {
    return TW.api("GET", base + "/publication").then(paint, function (err) { state.textContent = err.message; });
  }

  function intOrNull(id) {
    var v = document.getElementById(id).value.trim();
    return v === "" ? null : Number(v);
  }

  if (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var error = document.getElementById("pub-error");
      error.textContent = "";
      var body = {
        show_id: document.getElementById("pub-show").value,
        description: document.getElementById("pub-notes").value,
        season: intOrNull("pub-season"), number: intOrNull("pub-number"),
        episode_type: document.getElementById("pub-type").value
      };
      var title = document.getElementById("pub-title").value.trim();
      if (title) { body.title = title; }
      var explicit = document.getElementById("pub-explicit").value;
      body.explicit = explicit === "" ? null : explicit === "true";
      var at = document.getElementById("pub-at").value;
      if (at) {
        var d = new Date(at);
        if (isNaN(d)) { error.textContent = "Write the time to publish as a date and time."; return; }
        body.publish_at = d.toISOString();
      } else if (pub && pub.publish_at && new Date(pub.publish_at) > new Date()) {
        body.publish_at = null;  // the schedule was cleared: publish now
      }
      TW.api("POST", base + "/publish", body).then(function (ep) {
        paint(ep);
        TW.toast(ep.publication.publish_at && new Date(ep.publication.publish_at) > new Date()
          ? "Scheduled." : "Published: it is in the show's feed.", "ok");
      }, function (err) { error.textContent = err.message; });
    });
    document.getElementById("pub-unpublish").addEventListener("click", function () {
      TW.api("POST", base + "/unpublish").then(function (ep) {
        paint(ep);
        TW.toast("Unpublished: it is no longer in the feed.", "ok");
      }, function (err) { document.getElementById("pub-error").textContent = err.message; });
    });
  }

  // --- chapters --------------------------------------------------------------------------------
  var rows = document.getElementById("chapter-rows");

  function clock(sec) {
    var m = Math.floor(sec / 60), s = sec - m * 60;
    var whole = Math.abs(s - Math.round(s)) < 0.0005;
    var text = whole ? String(Math.round(s)) : s.toFixed(3).replace(/0+$/, "");
    return m + ":" + (s < 10 ? "0" : "") + text;
  }

  function parseTime(text) {
    var t = text.trim();
    if (!t) { return NaN; }
    if (/^\d+(\.\d+)?$/.test(t)) { return Number(t); }
    var parts = t.split(":");
    if (parts.length < 2 || parts.length > 3 || !parts.every(function (p) { return /^\d+(\.\d+)?$/.test(p); })) { return NaN; }
    return parts.reduce(function (acc, p) { return acc * 60 + Number(p); }, 0);
  }

  function addRow(ch) {
    counter += 1;
    var n = counter;
    var li = TW.el("li", { className: "chapter-row" }, [
      TW.el("div", { className: "field" }, [
        TW.el("label", { "for": "ch-start-" + n, text: "Start" }),
        TW.el("input", { id: "ch-start-" + n, className: "chapter-start", type: "text", inputmode: "decimal",
                         value: ch ? clock(ch.start) : "", placeholder: "0:00" })]),
      TW.el("div", { className: "field" }, [
        TW.el("label", { "for": "ch-title-" + n, text: "Title" }),
        TW.el("input", { id: "ch-title-" + n, className: "chapter-title", type: "text", maxlength: "200", value: ch ? ch.title : "" })]),
      TW.el("div", { className: "field chapter-url" }, [
        TW.el("label", { "for": "ch-url-" + n, text: "Link (optional)" }),
        TW.el("input", { id: "ch-url-" + n, className: "chapter-link", type: "url", value: ch && ch.url ? ch.url : "" })])
    ]);
    li.appendChild(TW.el("button", { type: "button", className: "btn btn-small btn-quiet chapter-remove",
      text: "Remove this chapter", onclick: function () { li.remove(); } }));
    rows.appendChild(li);
    return li;
  }

  function paintChapters(list) {
    rows.textContent = "";
    (list.chapters || []).forEach(addRow);
  }

  document.getElementById("chapter-add").addEventListener("click", function () {
    addRow(null).querySelector(".chapter-start").focus();
  });

  document.getElementById("chapters-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var error = document.getElementById("chapters-error");
    error.textContent = "";
    var out = [], bad = null;
    Array.prototype.forEach.call(rows.querySelectorAll(".chapter-row"), function (li, i) {
      var startText = li.querySelector(".chapter-start").value;
      var start = parseTime(startText);
      if (isNaN(start) && !bad) { bad = "Chapter " + (i + 1) + ": write the start as minutes:seconds (1:30) or seconds."; }
      var ch = { start: start, title: li.querySelector(".chapter-title").value };
      var url = li.querySelector(".chapter-link").value.trim();
      if (url) { ch.url = url; }
      out.push(ch);
    });
    if (bad) { error.textContent = bad; return; }
    TW.api("PUT", base + "/chapters", out).then(function (saved) {
      paintChapters(saved);
      TW.toast(saved.chapters.length ? "Chapters saved." : "No chapters now.", "ok");
    }, function (err) { error.textContent = err.message; });
  });

  load();
  TW.api("GET", base + "/chapters").then(paintChapters, function () { /* shown when saving */ });
})();
