/* Template management: create from assets, list, delete. */
(function () {
  "use strict";
  var TW = window.TW;

  function listOf(body) { return Array.isArray(body) ? body : (body && (body.items || body.templates || body.assets)) || []; }

  function load() {
    var ul = document.getElementById("template-list");
    TW.api("GET", "/api/v1/templates").then(function (body) {
      ul.innerHTML = "";
      var items = listOf(body);
      if (!items.length) { ul.appendChild(TW.el("li", { className: "muted", text: "No templates yet." })); return; }
      items.forEach(function (t) {
        var parts = [];
        if (t.intro_asset_id) parts.push("intro");
        if (t.outro_asset_id) parts.push("outro");
        if (t.music_asset_id) parts.push("music bed");
        var st = t.settings || {};
        if (st.duck_depth_db !== undefined) parts.push("ducking " + st.duck_depth_db + " dB");
        if (st.music_gain_db !== undefined) parts.push("music " + st.music_gain_db + " dB");
        ul.appendChild(TW.el("li", {}, [
          TW.el("span", {}, [TW.el("strong", { text: t.name || t.id }), TW.el("span", { className: "meta", text: parts.length ? " · " + parts.join(", ") : "" })]),
          TW.el("button", { type: "button", className: "btn btn-danger btn-small", text: "Delete", "aria-label": "Delete template " + (t.name || t.id),
            onclick: function () {
              if (!window.confirm("Delete template " + (t.name || t.id) + "?")) return;
              TW.api("DELETE", "/api/v1/templates/" + t.id).then(load, function (e) { TW.toast(e.message, "error"); });
            } })
        ]));
      });
    }, function (err) { ul.innerHTML = ""; ul.appendChild(TW.el("li", { className: "error-text", text: err.message })); });
  }

  function init() {
    var form = document.getElementById("template-form");
    if (!form) return;
    {
      TW.api("GET", "/api/v1/assets").then(function (body) {
        listOf(body).forEach(function (a) {
          form.querySelectorAll(".js-assets").forEach(function (sel) {
            sel.appendChild(TW.el("option", { value: a.id, text: (a.name || a.id) + (a.kind ? " (" + a.kind + ")" : "") }));
          });
        });
      }, function () { /* templates without assets still work */ });
    }
    load();
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var err = document.getElementById("template-error");
      err.textContent = "";
      var f = form.elements, body = { name: f.name.value.trim() };
      ["intro_asset_id", "outro_asset_id", "music_asset_id"].forEach(function (k) { if (f[k].value) body[k] = f[k].value; });
      body.settings = {};
      ["music_gain_db", "duck_depth_db", "overlap_seconds"].forEach(function (k) {
        if (f[k].value !== "") body.settings[k] = Number(f[k].value);
      });
      TW.api("POST", form.getAttribute("data-url"), body).then(function () {
        form.reset(); TW.toast("Template saved.", "ok"); load();
      }, function (e) { err.textContent = e.message; });
    });
  }
  document.addEventListener("DOMContentLoaded", init);
})();
