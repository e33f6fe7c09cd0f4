/* Library: one recording made of several tracks (one file per speaker). The files are
   chosen together, each gets a speaker name (the file name to start with) and an optional
   offset in seconds; one POST /api/v1/sessions carries every file with its 'track_names'
   and 'track_offsets' entry in the same order. A refusal names the track at fault and
   keeps nothing; on success the recording is linked and followed like any upload. */
(function () {
  "use strict";
  var TW = window.TW;

  function speakerOf(filename) {
    return filename.replace(/\.[^.]+$/, "").replace(/[_-]+/g, " ").trim().slice(0, 100) || "Speaker";
  }

  function init() {
    var form = document.getElementById("tracks-form");
    if (!form) return;
    var input = document.getElementById("tracks-files"), rows = document.getElementById("track-rows");
    var submit = document.getElementById("tracks-submit"), err = document.getElementById("tracks-error");
    var bar = document.getElementById("tracks-progress"), status = document.getElementById("tracks-status");
    var files = [];

    function draw() {
      rows.innerHTML = "";
      files.forEach(function (file, i) {
        var n = i + 1;
        rows.appendChild(TW.el("li", { className: "track-row" }, [
          TW.el("span", { className: "track-file", text: file.name + " · " + TW.bytes(file.size) }),
          TW.el("div", { className: "track-fields" }, [
            TW.el("div", { className: "field grow" }, [
              TW.el("label", { "for": "track-name-" + n, text: "Speaker on track " + n }),
              TW.el("input", { id: "track-name-" + n, className: "js-track-name", type: "text", maxlength: "100",
                required: true, value: speakerOf(file.name) })
            ]),
            TW.el("div", { className: "field" }, [
              TW.el("label", { "for": "track-offset-" + n, text: "Starts after (seconds)" }),
              TW.el("input", { id: "track-offset-" + n, className: "js-track-offset", type: "number", min: "0",
                step: "0.01", inputmode: "decimal", value: "0", size: "6" })
            ])
          ])
        ]));
      });
      submit.disabled = files.length < 2;
      if (files.length === 1) err.textContent = "Choose at least two files: one per speaker.";
    }

    input.addEventListener("change", function () {
      err.textContent = "";
      status.textContent = "";
      files = Array.prototype.slice.call(input.files || []);
      draw();
    });

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      err.textContent = "";
      var names = Array.prototype.map.call(rows.querySelectorAll(".js-track-name"), function (i) { return i.value.trim(); });
      var offsets = Array.prototype.map.call(rows.querySelectorAll(".js-track-offset"), function (i) { return i.value.trim() || "0"; });
      if (files.length < 2) { err.textContent = "Choose at least two files: one per speaker."; return; }
      var unnamed = names.indexOf("");
      if (unnamed >= 0) {
        err.textContent = "Name the speaker on track " + (unnamed + 1) + ".";
        rows.querySelectorAll(".js-track-name")[unnamed].focus();
        return;
      }
      var data = new FormData();
      files.forEach(function (file, i) {
        data.append("file", file, file.name);
        data.append("track_names", names[i]);
        data.append("track_offsets", offsets[i]);
      });
      var title = document.getElementById("tracks-title").value.trim();
      if (title) data.append("title", title);
      var language = document.getElementById("upload-language");
      if (language && language.value.trim()) data.append("language", language.value.trim());
      var client = document.getElementById("upload-client");
      if (client && client.value) data.append("client_id", client.value);

      var xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/v1/sessions");
      xhr.setRequestHeader("X-CSRF-Token", TW.csrf());
      xhr.setRequestHeader("Accept", "application/json");
      bar.hidden = false;
      submit.disabled = true;
      status.textContent = "Uploading " + files.length + " tracks…";
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) return;
        var pct = (100 * e.loaded) / e.total;
        bar.firstChild.style.width = pct + "%";
        bar.setAttribute("aria-valuenow", String(Math.round(pct)));
      });
      xhr.upload.addEventListener("load", function () { status.textContent = "Uploaded; checking every track…"; });
      xhr.addEventListener("load", function () {
        bar.hidden = true;
        submit.disabled = false;
        if (xhr.status === 200 || xhr.status === 201) {
          var s = JSON.parse(xhr.responseText);
          files = [];
          form.reset();
          draw();
          status.textContent = "";
          status.appendChild(document.createTextNode("Uploaded as one recording: "));
          status.appendChild(TW.el("a", { href: "/sessions/" + s.id, text: s.title }));
          var state = TW.el("span", { className: "js-track-state", text: " · " + TW.stageText(s) });
          status.appendChild(state);
          TW.poll("/api/v1/sessions/" + s.id + "/status", function (st) {
            state.textContent = " · " + TW.stageText(st);
          }, function (st) {
            state.textContent = st.status === "completed" ? " · transcript ready" :
              " · " + (st.status === "failed" ? "transcription failed: " + (st.error || "no reason given") : st.status);
          });
        } else {
          status.textContent = "";
          err.textContent = "Refused, nothing was kept: " + TW.errorMessage(xhr.status, xhr.responseText);
        }
      });
      xhr.addEventListener("error", function () {
        bar.hidden = true;
        submit.disabled = false;
        status.textContent = "";
        err.textContent = TW.errorMessage(0, "");
      });
      xhr.send(data);
    });
  }

  /* Session page: one more track for a multitrack recording whose transcription has not
     started (POST /api/v1/sessions/{id}/tracks); the page reloads to list it. */
  function initAddTrack() {
    var form = document.getElementById("add-track-form");
    if (!form) return;
    var input = document.getElementById("add-track-file"), name = document.getElementById("add-track-name");
    var offset = document.getElementById("add-track-offset"), submit = document.getElementById("add-track-submit");
    var err = document.getElementById("add-track-error"), status = document.getElementById("add-track-status");

    input.addEventListener("change", function () {
      err.textContent = "";
      var file = input.files && input.files[0];
      if (file && !name.value.trim()) name.value = speakerOf(file.name);
    });

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      err.textContent = "";
      var file = input.files && input.files[0];
      if (!file) { err.textContent = "Choose the track's file."; input.focus(); return; }
      if (!name.value.trim()) { err.textContent = "Name the speaker on the new track."; name.focus(); return; }
      var data = new FormData();
      data.append("file", file, file.name);
      data.append("name", name.value.trim());
      data.append("offset", offset.value.trim() || "0");
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.getAttribute("data-url"));
      xhr.setRequestHeader("X-CSRF-Token", TW.csrf());
      xhr.setRequestHeader("Accept", "application/json");
      submit.disabled = true;
      status.textContent = "Uploading " + file.name + "…";
      xhr.addEventListener("load", function () {
        submit.disabled = false;
        status.textContent = "";
        if (xhr.status === 201) {
          status.textContent = "Added; the recording now has " + JSON.parse(xhr.responseText).track_count + " tracks.";
          window.location.reload();
        } else {
          err.textContent = "Not added: " + TW.errorMessage(xhr.status, xhr.responseText);
        }
      });
      xhr.addEventListener("error", function () {
        submit.disabled = false;
        status.textContent = "";
        err.textContent = TW.errorMessage(0, "");
      });
      xhr.send(data);
    });
  }

  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("DOMContentLoaded", initAddTrack);
})();
