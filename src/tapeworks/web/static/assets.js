/* Asset management: upload (with byte progress), list, delete. */
(function () {
  "use strict";
  var TW = window.TW;

  function listOf(body) { return Array.isArray(body) ? body : (body && (body.items || body.assets)) || []; }

  function load() {
    var ul = document.getElementById("asset-list");
    TW.api("GET", "/api/v1/assets").then(function (body) {
      ul.innerHTML = "";
      var items = listOf(body);
      if (!items.length) { ul.appendChild(TW.el("li", { className: "muted", text: "No assets yet." })); return; }
      items.forEach(function (a) {
        var name = a.name || a.filename || a.id;
        ul.appendChild(TW.el("li", {}, [
          TW.el("span", {}, [TW.el("strong", { text: name }), TW.el("span", { className: "meta", text: " " + (a.kind || "") + (a.duration_seconds ? " · " + TW.duration(a.duration_seconds) : "") })]),
          TW.el("span", { className: "row-actions" }, [
            TW.el("audio", { controls: true, preload: "none", src: "/api/v1/assets/" + a.id + "/audio", "aria-label": "Play " + name }),
            TW.el("button", { type: "button", className: "btn btn-danger btn-small", text: "Delete", "aria-label": "Delete " + name,
              onclick: function () {
                if (!window.confirm("Delete " + name + "?")) return;
                TW.api("DELETE", "/api/v1/assets/" + a.id).then(load, function (e) { TW.toast(e.message, "error"); });
              } })
          ])
        ]));
      });
    }, function (err) { ul.innerHTML = ""; ul.appendChild(TW.el("li", { className: "error-text", text: err.message })); });
  }

  function init() {
    var form = document.getElementById("asset-form");
    if (!form) return;
    load();
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var err = document.getElementById("asset-error"), bar = document.getElementById("asset-progress");
      err.textContent = "";
      var data = new FormData(form);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.getAttribute("data-url"));
      xhr.setRequestHeader("X-CSRF-Token", TW.csrf());
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
