/* Share links of a session (session page, "Share" panel): make one (its URL is shown only
   once), list them with creation, expiry and last use, revoke one at once. Calls the JSON
   API: POST/GET /api/v1/sessions/{id}/shares, DELETE /api/v1/shares/{id}. */
(function () {
  "use strict";
  var TW = window.TW;
  var panel = document.getElementById("panel-share");
  if (!panel || !TW) { return; }
  var sid = panel.getAttribute("data-session-id");
  var list = document.getElementById("share-list");
  var form = document.getElementById("share-form");
  var error = document.getElementById("share-error");

  function when(iso) {
    if (!iso) { return null; }
    var d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString();
  }

  function row(link) {
    var bits = ["made " + when(link.created_at)];
    bits.push(link.expires_at ? "works until " + when(link.expires_at) : "no expiry");
    bits.push(link.last_used_at ? "last opened " + when(link.last_used_at) : "not opened yet");
    if (!link.allow_download) { bits.push("no download"); }
    var revoked = !!link.revoked_at;
    var expired = link.expires_at && new Date(link.expires_at) <= new Date();
    var state = revoked ? "revoked" : (expired ? "expired" : "active");
    var li = TW.el("li", { "data-share-id": link.id, className: "share-row share-" + state }, [
      TW.el("span", {}, [TW.el("strong", { text: state }), " · " + bits.join(" · ")])
    ]);
    if (state === "active") {
      li.appendChild(TW.el("button", {
        type: "button", className: "btn btn-small btn-danger",
        "aria-label": "Revoke the link made " + when(link.created_at), text: "Revoke",
        onclick: function () {
          TW.api("DELETE", "/api/v1/shares/" + link.id).then(function () {
            TW.toast("The link no longer works.", "ok");
            load();
          }, function (err) { TW.toast(err.message, "error"); });
        }
      }));
    }
    return li;
  }

  function load() {
    TW.api("GET", "/api/v1/sessions/" + sid + "/shares").then(function (links) {
      list.textContent = "";
      if (!links.length) {
        list.appendChild(TW.el("li", { className: "muted", text: "No links yet." }));
        return;
      }
      links.forEach(function (l) { list.appendChild(row(l)); });
    }, function (err) {
      list.textContent = "";
      list.appendChild(TW.el("li", { className: "error-text", text: err.message }));
    });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    error.textContent = "";
    var body = { allow_download: document.getElementById("share-download").checked };
    var local = document.getElementById("share-expires").value;
    if (local) {
      var d = new Date(local);
      if (isNaN(d)) { error.textContent = "Write the expiry as a date and time."; return; }
      body.expires_at = d.toISOString();
    }
    TW.api("POST", "/api/v1/sessions/" + sid + "/shares", body).then(function (made) {
      document.getElementById("share-new").hidden = false;
      var url = document.getElementById("share-url");
      url.value = made.url;
      url.focus();
      url.select();
      load();
    }, function (err) { error.textContent = err.message; });
  });

  load();
})();
