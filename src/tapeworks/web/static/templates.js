/* Templates: create or edit (intro, outro, music bed and the mix), list with the assets each
   one holds, delete. */
(function () {
  "use strict";
  var TW = window.TW;
  var ROLES = [["intro_asset_id", "intro", "Intro"], ["outro_asset_id", "outro", "Outro"], ["music_asset_id", "music", "Music bed"]];
  var MIX = ["music_gain_db", "duck_depth_db", "overlap_seconds"];
  var assetsById = {}, editing = null;

  function listOf(body) { return Array.isArray(body) ? body : (body && (body.items || body.templates || body.assets)) || []; }

  function assetLine(t, field, role, label) {
    var held = (t.assets || []).filter(function (a) { return a.role === role; })[0];
    var id = t[field];
    if (!id) return null;
    var a = held || assetsById[id];
    var text = a ? a.name + (a.duration_seconds ? " (" + TW.duration(a.duration_seconds) + ")" : "") : "(a deleted asset)";
    return TW.el("li", {}, [TW.el("span", { className: "meta", text: label + ": " }), text]);
  }

  function form() { return document.getElementById("template-form"); }

  function startEdit(t) {
    var f = form();
    editing = t;
    f.elements.name.value = t.name;
    ROLES.forEach(function (r) { f.elements[r[0]].value = t[r[0]] || ""; });
    var st = t.settings || {};
    MIX.forEach(function (k) { f.elements[k].value = st[k] === undefined ? "" : st[k]; });
    document.getElementById("tpl-new-heading").textContent = "Edit template “" + t.name + "”";
    f.querySelector("button[type=submit]").textContent = "Save changes";
    document.getElementById("tpl-cancel-edit").hidden = false;
    f.elements.name.focus();
    f.scrollIntoView({ block: "start" });
  }

  function stopEdit() {
    var f = form();
    editing = null;
    f.reset();
    document.getElementById("tpl-new-heading").textContent = "New template";
    f.querySelector("button[type=submit]").textContent = "Save template";
    document.getElementById("tpl-cancel-edit").hidden = true;
  }

  function load() {
    var ul = document.getElementById("template-list");
    return TW.api("GET", "/api/v1/templates").then(function (body) {
      ul.innerHTML = "";
      var items = listOf(body);
      if (!items.length) { ul.appendChild(TW.el("li", { className: "muted", text: "No templates yet." })); return; }
      items.forEach(function (t) {
        var st = t.settings || {}, mix = [];
        if (st.music_gain_db !== undefined) mix.push("music " + st.music_gain_db + " dB");
        if (st.duck_depth_db !== undefined) mix.push("ducking " + st.duck_depth_db + " dB");
        if (st.overlap_seconds !== undefined) mix.push("overlap " + st.overlap_seconds + " s");
        var held = ROLES.map(function (r) { return assetLine(t, r[0], r[1], r[2]); }).filter(Boolean);
        var name = t.name || t.id;
        ul.appendChild(TW.el("li", { className: "template-row", "data-template-id": t.id }, [
          TW.el("div", { className: "template-main" }, [
            TW.el("strong", { text: name }),
            held.length ? TW.el("ul", { className: "template-assets" }, held) :
              TW.el("span", { className: "meta", text: "No intro, outro or music: speech only." }),
            mix.length ? TW.el("span", { className: "meta", text: mix.join(" · ") }) : null
          ]),
          TW.el("span", { className: "row-actions" }, [
            TW.el("button", { type: "button", className: "btn btn-small", onclick: function () { startEdit(t); } },
              ["Edit", TW.el("span", { className: "visually-hidden", text: " template " + name })]),
            TW.el("button", { type: "button", className: "btn btn-danger btn-small",
              onclick: function () {
                if (!window.confirm("Delete template " + name + "? Episodes already made keep their audio.")) return;
                TW.api("DELETE", "/api/v1/templates/" + t.id).then(function () {
                  if (editing && editing.id === t.id) stopEdit();
                  TW.toast("Template " + name + " deleted.", "ok");
                  load();
                }, function (e) { TW.toast(e.message, "error"); });
              } }, ["Delete", TW.el("span", { className: "visually-hidden", text: " template " + name })])
          ])
        ]));
      });
    }, function (err) { ul.innerHTML = ""; ul.appendChild(TW.el("li", { className: "error-text", text: err.message })); });
  }

  function init() {
    var f = form();
    if (!f) return;
    TW.api("GET", "/api/v1/assets").then(function (body) {
      listOf(body).forEach(function (a) {
        assetsById[a.id] = a;
        f.querySelectorAll(".js-assets").forEach(function (sel) {
          sel.appendChild(TW.el("option", { value: a.id, text: (a.name || a.id) + (a.kind ? " (" + a.kind + ")" : "") }));
        });
      });
      if (editing) startEdit(editing);
    }, function () { /* templates without assets still work */ }).then(load);
    document.getElementById("tpl-cancel-edit").addEventListener("click", function () { stopEdit(); f.elements.name.focus(); });
    f.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var err = document.getElementById("template-error");
      err.textContent = "";
      var e = f.elements, body = { name: e.name.value.trim(), settings: {} };
      ROLES.forEach(function (r) { body[r[0]] = e[r[0]].value || null; });
      MIX.forEach(function (k) { if (e[k].value !== "") body.settings[k] = Number(e[k].value); });
      var was = editing;
      var call = was ? TW.api("PUT", "/api/v1/templates/" + was.id, body) : TW.api("POST", f.getAttribute("data-url"), body);
      call.then(function (t) {
        stopEdit();
        TW.toast(was ? "Template " + t.name + " saved." : "Template " + t.name + " created.", "ok");
        load();
      }, function (e2) { err.textContent = e2.message; });
    });
  }
  document.addEventListener("DOMContentLoaded", init);
})();
