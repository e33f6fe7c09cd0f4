// The share page: a time beside a segment plays the recording from there; the segment
// being played is marked as the audio runs.
(function () {
  "use strict";
  var player = document.getElementById("player");
  var transcript = document.getElementById("share-transcript");
  if (!player || !transcript) { return; }
  var segments = Array.prototype.slice.call(transcript.querySelectorAll(".share-segment"));
  transcript.addEventListener("click", function (event) {
    var button = event.target.closest("button.seg-time");
    if (!button) { return; }
    player.currentTime = parseFloat(button.getAttribute("data-start")) || 0;
    var playing = player.play();
    if (playing && playing.catch) { playing.catch(function () { /* the user can press play */ }); }
  });
  var current = null;
  player.addEventListener("timeupdate", function () {
    var t = player.currentTime, found = null;
    for (var i = 0; i < segments.length; i++) {
      if (parseFloat(segments[i].getAttribute("data-start")) <= t + 0.05) { found = segments[i]; } else { break; }
    }
    if (found !== current) {
      if (current) { current.classList.remove("is-playing"); current.removeAttribute("aria-current"); }
      if (found) { found.classList.add("is-playing"); found.setAttribute("aria-current", "true"); }
      current = found;
    }
  });
})();
