/* Assets: upload (with byte progress), make one from text with a narrator (it is
   `processing` while spoken, then plays like any other), list with a visible player and
   the templates that use each one, delete (an asset in use asks first: remove it from
   those templates and delete, or keep it). */
(function () {
  "use strict";
  var TW = window.TW;

  function listOf(body) { return Array.isArray(body) ? body : (body && (body.items || body.assets || body.templates)) || []; }

  var KIND = { intro: "Intro", outro: "Outro", music: "Music bed", other: "Other" };

  /** Template names by asset id, from the templates' own asset lists. */
  function usage(templates) {
    var used = {};
    templates.forEach(function (t) {
      var ids = (t.assets || []).map(function (a) { return a.id; });
      [t.intro_asset_id, t.outro_asset_id, t.music_asset_id].forEach(function (id) { if (id && ids.indexOf(id) < 0) ids.push(id); });
      ids.forEach(function (id) { (used[id] = used[id] || []).push(t.name); });
    });
    return used;
  }

  function confirmInUse(li, a, names, done) {
    var old = li.querySelector(".in-use");
    if (old) old.remove();
    var box = TW.el("div", { className: "alert in-use", role: "alert" }, [
      TW.el("p", { text: "“" + a.name + "” is used by " + (names.length === 1 ? "the template " : "the templates ") +
        names.map(function (n) { return "“" + n + "”"; }).join(", ") + ". Deleting it takes it out of " +
        (names.length === 1 ? "that template: its" : "those templates: their") + " next episodes are made without it." }),
      TW.el("div", { className: "row-actions" }, [
        TW.el("button", { type: "button", className: "btn btn-danger btn-small js-force", text: "Remove from templates and delete" }),
        TW.el("button", { type: "button", className: "btn btn-small js-keep", text: "Keep it" })
      ])
    ]);
    li.appendChild(box);
    box.querySelector(".js-keep").addEventListener("click", function () {
      box.remove();
      var del = li.querySelector(".js-delete");
      if (del) del.focus();
    });
    box.querySelector(".js-force").addEventListener("click", function () {
      TW.api("DELETE", "/api/v1/assets/" + a.id + "?force=true").then(function () {
        TW.toast("“" + a.name + "” was deleted and taken out of its templates.", "ok");
        done();
      }, function (e) { TW.toast(e.message, "error"); });
    });
    box.querySelector(".js-force").focus();
  }

  var narratorNames = {}, following = {};

  function clip(text) { return text.length > 80 ? text.slice(0, 79) + "…" : text; }

  /** The player once the audio exists; while a narrator speaks a note, after a failure why. */
  function playerOrState(a, name) {
    if (a.status === "failed") {
      return TW.el("p", { className: "error-text asset-state", role: "alert",
        text: "The narrator could not make this asset: " + (a.error || "no reason was recorded") + "." });
    }
    if (a.status && a.status !== "completed") {
      return TW.el("p", { className: "meta asset-state", role: "status", text: "Being spoken…" });
    }
    return TW.el("audio", { className: "asset-player", controls: true, preload: "metadata",
      src: "/api/v1/assets/" + a.id + "/audio", "aria-label": "Play " + name });
  }

  /** A generated asset's progress: the list is drawn again when it is done. */
  function follow(id) {
    if (following[id]) return;
    following[id] = true;
    TW.poll("/api/v1/assets/" + id, function () {}, function (st) {
      delete following[id];
      if (st.status === "completed") TW.toast("“" + st.name + "” is ready to play.", "ok");
      else TW.toast("“" + st.name + "” could not be made: " + (st.error || "no reason was recorded") + ".", "error");
      load();
    });
  }

  function loadNarrators() {
    var select = document.getElementById("speech-narrator");
    if (!select) return Promise.resolve();
    return TW.api("GET", "/api/v1/narrators").then(function (found) {
      listOf(found).forEach(function (n) {
        narratorNames[n.id] = n.name;
        select.appendChild(TW.el("option", { value: n.id, text: n.name + (n.language ? " (" + n.language + ")" : "") +
          (n.default ? ", the default" : "") }));
      });
      if (!listOf(found).length) {
        select.disabled = true;
        document.getElementById("speech-error").textContent = "This server has no narrator installed.";
      }
    }, function (e) { document.getElementById("speech-error").textContent = e.message; });
  }

  function initSpeech() {
    var form = document.getElementById("speech-form");
    if (!form) return Promise.resolve();
    var ready = loadNarrators();
    var text = document.getElementById("speech-text"), count = document.getElementById("speech-count");
    text.addEventListener("input", function () {
      count.textContent = text.value.length + " of 5,000 characters.";
    });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var err = document.getElementById("speech-error");
      err.textContent = "";
      var body = { text: text.value, kind: document.getElementById("speech-kind").value };
      var name = document.getElementById("speech-name").value.trim();
      var narrator = document.getElementById("speech-narrator").value;
      if (name) body.name = name;
      if (narrator) body.narrator = narrator;
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      TW.api("POST", "/api/v1/assets/speech", body).then(function (a) {
        button.disabled = false;
        form.reset();
        count.textContent = "Up to 5,000 characters.";
        TW.toast("“" + a.name + "” is being spoken.", "ok");
        load();
      }, function (e) { button.disabled = false; err.textContent = e.message; });
    });
    return ready;
  }

  function load() {
    var ul = document.getElementById("asset-list");
    Promise.all([TW.api("GET", "/api/v1/assets"), TW.api("GET", "/api/v1/templates").then(null, function () { return []; })])
      .then(function (res) {
        ul.innerHTML = "";
        var items = listOf(res[0]), used = usage(listOf(res[1]));
        if (!items.length) { ul.appendChild(TW.el("li", { className: "muted", text: "No assets yet." })); return; }
        items.forEach(function (a) {
          var name = a.name || a.filename || a.id;
          var names = used[a.id] || [];
          var li = TW.el("li", { className: "asset-row", "data-asset-id": a.id }, [
            TW.el("div", { className: "asset-head" }, [
              TW.el("div", { className: "asset-main" }, [
                TW.el("strong", { text: name }),
                TW.el("span", { className: "meta", text: (KIND[a.kind] || a.kind || "") +
                  (a.duration_seconds ? " · " + TW.duration(a.duration_seconds) : "") + (a.filename ? " · " + a.filename : "") }),
                TW.el("span", { className: "meta", text: names.length ? "Used by " + names.join(", ") : "Not used by a template" }),
                a.origin === "speech" ? TW.el("span", { className: "meta asset-spoken", text: "Spoken" +
                  (a.narrator ? " by " + (narratorNames[a.narrator] || a.narrator) : "") + (a.text ? ": “" + clip(a.text) + "”" : "") }) : null
              ]),
              TW.el("button", { type: "button", className: "btn btn-danger btn-small js-delete" },
                ["Delete", TW.el("span", { className: "visually-hidden", text: " " + name })])
            ]),
            playerOrState(a, name)
          ]);
          li.querySelector(".js-delete").addEventListener("click", function () {
            if (!names.length && !window.confirm("Delete " + name + "?")) return;
            TW.api("DELETE", "/api/v1/assets/" + a.id).then(function () {
              TW.toast("“" + name + "” was deleted.", "ok");
              load();
            }, function (e) {
              var tpls = e.details && e.details.templates;
              if (e.status === 409 && tpls && tpls.length) {
                confirmInUse(li, { id: a.id, name: name }, tpls.map(function (t) { return t.name; }), load);
              } else TW.toast(e.message, "error");
            });
          });
          ul.appendChild(li);
          if (a.status === "processing" || a.status === "queued") follow(a.id);
        });
      }, function (err) { ul.innerHTML = ""; ul.appendChild(TW.el("li", { className: "error-text", text: err.message })); });
  }

  function init() {
    var form = document.getElementById("asset-form");
    if (!form) return;
    initSpeech().then(load, load);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var err = document.getElementById("asset-error"), bar = document.getElementById("asset-progress");
      err.textContent = "";
      var data = new FormData(form);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.getAttribute("data-url"));
      xhr.setRequestHeader("X-CSRF-Token", TW.csrf());
      xhr.setRequestHeader("Accept", "application/json");
      bar.hidden = false;
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) return;
        var pct = (100 * e.loaded) / e.total;
        bar.firstChild.style.width = pct + "%";
        bar.setAttribute("aria-valuenow", String(Math.round(pct)));
      });
      xhr.addEventListener("load", function () {
        bar.hidden = true;
        if (xhr.status >= 200 && xhr.status < 300) { form.reset(); TW.toast("Asset uploaded.", "ok"); load(); }
        else err.textContent = TW.errorMessage(xhr.status, xhr.responseText);
      });
      xhr.addEventListener("error", function () { bar.hidden = true; err.textContent = TW.errorMessage(0, ""); });
      xhr.send(data);
    });
  }
  document.addEventListener("DOMContentLoaded", init);
})();
