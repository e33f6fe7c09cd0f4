(function () {
  "use strict";
  document.querySelectorAll("[data-copy]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var input = document.getElementById(btn.getAttribute("data-copy"));
      if (!input) return;
      input.select();
      var done = function () { btn.textContent = "Copied"; };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
      } else { document.execCommand("copy"); done(); }
    });
  });

  var art = document.getElementById("artwork-form");
  if (art) {
    art.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var err = document.getElementById("artwork-error");
      err.textContent = "";
      var xhr = new XMLHttpRequest();
      xhr.open("PUT", art.getAttribute("data-url"));
      xhr.setRequestHeader("X-CSRF-Token", TW.csrf());
      xhr.setRequestHeader("Accept", "application/json");
      xhr.addEventListener("load", function () {
        if (xhr.status >= 200 && xhr.status < 300) window.location.reload();
        else err.textContent = TW.errorMessage(xhr.status, xhr.responseText);
      });
      xhr.addEventListener("error", function () { err.textContent = TW.errorMessage(0, ""); });
      xhr.send(new FormData(art));
    });
  }
  var rotate = document.getElementById("rotate-token");
  if (rotate) {
    rotate.addEventListener("click", function () {
      var status = document.getElementById("feed-token-status");
      TW.api("POST", rotate.getAttribute("data-url")).then(function (show) {
        document.getElementById("feed-url").value = show.feed_url;
        status.textContent = "This private feed link is shown only now: copy it. The old one no longer works.";
      }, function (e) { status.textContent = e.message; });
    });
  }
})();
