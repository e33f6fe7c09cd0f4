/* Library uploads: drag and drop or pick several files; checks before sending, a byte
   progress bar per file (XMLHttpRequest upload progress), then live job progress. */
(function () {
  "use strict";
  var TW = window.TW;

  function ext(name) {
    var i = name.lastIndexOf(".");
    return i > 0 ? name.slice(i + 1).toLowerCase() : "";
  }

  /** Duration in seconds read by the browser, or null when it cannot tell (the server decides). */
  function browserDuration(file) {
    return new Promise(function (resolve) {
      var audio = document.createElement("audio"), url = URL.createObjectURL(file), done = false;
      function finish(v) {
        if (done) return;
        done = true;
        URL.revokeObjectURL(url);
        audio.removeAttribute("src");
        resolve(v);
      }
      audio.preload = "metadata";
      audio.addEventListener("loadedmetadata", function () {
        finish(isFinite(audio.duration) ? audio.duration : null);
      });
      audio.addEventListener("error", function () { finish(null); });
      setTimeout(function () { finish(null); }, 4000);
      audio.src = url;
    });
  }

  function init() {
    var zone = document.getElementById("dropzone");
    if (!zone) return;
    var config = JSON.parse(zone.getAttribute("data-config"));
    var input = document.getElementById("file-input");
    var list = document.getElementById("upload-list");
    var queue = Promise.resolve();
    var remaining = config.remainingSeconds;  // null = unlimited

    function item(file) {
      var bar = TW.el("div", { className: "progress", role: "progressbar", "aria-valuemin": "0",
        "aria-valuemax": "100", "aria-valuenow": "0", "aria-label": "Upload of " + file.name },
        [TW.el("div", { className: "progress-fill" })]);
      var text = TW.el("p", { className: "progress-text" }, ["Waiting to upload…"]);
      var li = TW.el("li", { className: "upload-item" }, [
        TW.el("div", { className: "upload-head" }, [
          TW.el("span", { className: "upload-name", text: file.name }),
          TW.el("span", { className: "meta", text: TW.bytes(file.size) })
        ]),
        TW.el("div", { className: "progress-block" }, [bar, text])
      ]);
      list.appendChild(li);
      return {
        li: li, bar: bar, text: text,
        refuse: function (message) {
          li.classList.add("refused");
          bar.hidden = true;
          text.className = "progress-text error-text";
          text.setAttribute("role", "alert");
          text.textContent = "Refused: " + message;
        }
      };
    }

    function check(file, seconds) {
      var e = ext(file.name);
      if (config.extensions.indexOf(e) < 0) {
        return file.name + " is not an audio file we accept" + (e ? " (." + e + ")" : "") +
          ". Use MP3, WAV, FLAC, M4A, OGG, Opus or another audio format.";
      }
      if (file.size === 0) return "the file is empty.";
      if (file.size > config.maxFileBytes) {
        return "the file is " + TW.bytes(file.size) + "; your plan allows " + TW.bytes(config.maxFileBytes) + " per file.";
      }
      if (seconds !== null && config.maxRecordingSeconds && seconds > config.maxRecordingSeconds) {
        return "the recording is " + TW.duration(seconds) + " long; your plan allows " +
          TW.duration(config.maxRecordingSeconds) + " per recording.";
      }
      if (seconds !== null && remaining !== null && seconds > remaining) {
        return "the recording is " + TW.duration(seconds) + " long but only " + TW.duration(remaining) +
          " of transcription is left this month.";
      }
      return null;
    }

    function send(file, ui) {
      return new Promise(function (resolve) {
        var form = new FormData();
        form.append("file", file, file.name);
        form.append("title", file.name.replace(/\.[^.]+$/, ""));
        var speakers = document.getElementById("upload-speakers");
        var language = document.getElementById("upload-language");
        if (speakers && speakers.value) form.append("speakers", speakers.value);
        if (language && language.value.trim()) form.append("language", language.value.trim());
        var vocabulary = document.getElementById("upload-vocabulary");
        if (vocabulary && vocabulary.value.trim()) form.append("vocabulary", vocabulary.value.trim());
        var client = document.getElementById("upload-client");
        if (client && client.value) form.append("client_id", client.value);
        var xhr = new XMLHttpRequest();
        xhr.open("POST", "/api/v1/sessions");
        xhr.setRequestHeader("X-CSRF-Token", TW.csrf());
        xhr.setRequestHeader("Accept", "application/json");
        xhr.upload.addEventListener("progress", function (ev) {
          var total = ev.lengthComputable ? ev.total : file.size;
          var pct = total ? Math.min(100, (100 * ev.loaded) / total) : 0;
          ui.bar.firstChild.style.width = pct + "%";
          ui.bar.setAttribute("aria-valuenow", String(Math.round(pct)));
          ui.text.textContent = "Uploading: " + TW.bytes(Math.min(ev.loaded, file.size)) + " of " + TW.bytes(file.size) + " sent";
        });
        xhr.upload.addEventListener("load", function () {
          ui.text.textContent = "Uploaded; checking the audio…";
        });
        xhr.addEventListener("load", function () {
          if (xhr.status === 200 || xhr.status === 201) {
            var s = JSON.parse(xhr.responseText);
            follow(s, ui);
          } else {
            ui.refuse(TW.errorMessage(xhr.status, xhr.responseText));
          }
          resolve();
        });
        xhr.addEventListener("error", function () { ui.refuse(TW.errorMessage(0, "")); resolve(); });
        xhr.send(form);
      });
    }

    var countEl = document.getElementById("recording-count");
    var filtered = countEl && countEl.getAttribute("data-filtered") === "true";
    var sessionList = document.getElementById("session-list");

    function paintCount(total) {
      if (!countEl || filtered) return;
      countEl.setAttribute("data-total", String(total));
      countEl.textContent = total + " recording" + (total === 1 ? "" : "s");
    }

    /** The new recording joins the list at once (page 1, no filter), with live progress. */
    function addRow(s) {
      if (!sessionList || filtered || sessionList.getAttribute("data-page") !== "1") return null;
      if (sessionList.querySelector('[data-session-id="' + CSS.escape(s.id) + '"]')) return null;
      var block = TW.el("div", { className: "progress-block", "data-status": s.status }, [
        TW.el("div", { className: "progress", role: "progressbar", "aria-label": "Transcription of " + s.title,
          "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0" }, [TW.el("div", { className: "progress-fill" })]),
        TW.el("p", { className: "progress-text" }, [TW.el("span", { className: "js-stage" }), " · ",
          TW.el("span", { className: "js-pct" }), TW.el("span", { className: "js-eta" })])
      ]);
      var created = new Date(s.created_at);
      var pad = function (n) { return (n < 10 ? "0" : "") + n; };
      var when = created.getFullYear() + "-" + pad(created.getMonth() + 1) + "-" + pad(created.getDate()) + " " +
        pad(created.getHours()) + ":" + pad(created.getMinutes());
      var row = TW.el("li", { className: "session-row just-added", "data-session-id": s.id }, [
        TW.el("div", { className: "session-main" }, [
          TW.el("a", { className: "session-title", href: "/sessions/" + s.id, text: s.title }),
          TW.el("span", { className: "meta", text: TW.duration(s.duration_seconds) + " · " + when })]),
        TW.el("div", { className: "session-state" }, [
          TW.el("span", { className: "badge badge-" + s.status + " js-badge", text: s.status }), block])
      ]);
      sessionList.insertBefore(row, sessionList.firstChild);
      sessionList.hidden = false;
      var empty = document.getElementById("library-empty");
      if (empty) empty.hidden = true;
      TW.paintProgress(block, s);
      return { row: row, block: block, badge: row.querySelector(".js-badge") };
    }

    function finishRow(r, st) {
      if (!r) return;
      r.block.hidden = st.status === "completed";
      if (st.status === "failed" || st.status === "cancelled") {
        r.block.remove();
        r.row.querySelector(".session-state").appendChild(TW.el("span", { className: "meta error-text row-error",
          text: st.status === "cancelled" ? "Cancelled." : "Failed: " + (st.error || "no reason was recorded") + ". Open it to retry." }));
      }
    }

    function follow(s, ui) {
      if (remaining !== null) remaining = Math.max(0, remaining - (s.duration_seconds || 0));
      if (countEl) paintCount(parseInt(countEl.getAttribute("data-total"), 10) + 1);
      var row = addRow(s);
      ui.li.setAttribute("data-session-id", s.id);
      var link = TW.el("a", { href: "/sessions/" + s.id, className: "upload-name", text: s.title });
      var head = ui.li.querySelector(".upload-head");
      head.replaceChild(link, head.firstChild);
      var badge = TW.el("span", { className: "badge badge-" + s.status + " js-badge", text: s.status });
      head.appendChild(badge);
      ui.text.setAttribute("aria-live", "polite");
      var block = ui.li.querySelector(".progress-block");
      ui.bar.setAttribute("aria-label", "Transcription of " + s.title);
      ui.text.innerHTML = "";
      ui.text.appendChild(TW.el("span", { className: "js-stage" }));
      ui.text.appendChild(document.createTextNode(" · "));
      ui.text.appendChild(TW.el("span", { className: "js-pct" }));
      ui.text.appendChild(TW.el("span", { className: "js-eta" }));
      TW.paintProgress(block, s);
      TW.poll("/api/v1/sessions/" + s.id + "/status", function (st) {
        TW.paintProgress(block, st);
        TW.paintBadge(badge, st.status);
        if (row) { TW.paintProgress(row.block, st); TW.paintBadge(row.badge, st.status); }
      }, function (st) {
        finishRow(row, st);
        if (st.status === "completed") {
          ui.text.textContent = "Transcript ready. ";
          ui.text.appendChild(TW.el("a", { href: "/sessions/" + s.id, text: "Open " + s.title }));
        } else if (st.status === "failed") {
          ui.text.className = "progress-text error-text";
          ui.text.textContent = "Transcription failed: " + (st.error || "no reason given") + ". Open it to retry.";
        }
      });
    }

    function handle(files) {
      Array.prototype.forEach.call(files, function (file) {
        var ui = item(file);
        queue = queue.then(function () {
          ui.text.textContent = "Checking…";
          return browserDuration(file).then(function (seconds) {
            var problem = check(file, seconds);
            if (problem) { ui.refuse(problem); return null; }
            return send(file, ui);
          });
        });
      });
    }

    input.addEventListener("change", function () {
      handle(input.files);
      input.value = "";
    });
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (ev) { ev.preventDefault(); zone.classList.add("dragging"); });
    });
    ["dragleave", "drop"].forEach(function (type) {
      zone.addEventListener(type, function (ev) { ev.preventDefault(); zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (ev) {
      if (ev.dataTransfer && ev.dataTransfer.files.length) handle(ev.dataTransfer.files);
    });
  }

  document.addEventListener("DOMContentLoaded", init);
})();
