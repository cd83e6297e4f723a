// Transom's pages: times shown in the browser's zone, named. The server writes them in UTC
// (<time datetime="..."> with "UTC" after them), so a page without this script is still right.
(function () {
  "use strict";
  var pad = function (n) { return String(n).padStart(2, "0"); };
  var zone = (function () {
    try {
      var part = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" })
        .formatToParts(new Date()).find(function (p) { return p.type === "timeZoneName"; });
      return part ? part.value : "local";
    } catch (e) { return "local"; }
  })();

  function localTimes(root) {
    var times = (root || document).querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var el = times[i], when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) continue;
      el.title = el.getAttribute("datetime");
      el.textContent = when.getFullYear() + "-" + pad(when.getMonth() + 1) + "-" +
        pad(when.getDate()) + " " + pad(when.getHours()) + ":" + pad(when.getMinutes()) + ":" +
        pad(when.getSeconds()) + " " + zone;
    }
    var label = document.getElementById("zone");
    if (label) label.textContent = "Times in " + zone;
  }

  window.transomLocalTimes = localTimes;  // for rows added outside htmx (the live log tail)
  if (window.htmx) { window.htmx.onLoad(localTimes); }
  else { document.addEventListener("DOMContentLoaded", function () { localTimes(document); }); }
})();

// A run's live log tail: while the run goes on, its page follows /runs/ID/logs/live, server-sent
// events (no polling from here): each `line` event is a table row rendered and escaped by the
// server; `end` says the run is over and every line was sent. EventSource reconnects by itself,
// from the last line it got (Last-Event-ID).
(function () {
  "use strict";
  var current = null;

  function stop() {
    if (current) { current.close(); current = null; }
  }

  function follow(root) {
    var scope = root && root.querySelector ? root : document;
    var table = scope.querySelector("table[data-live]");
    if (!table || table.getAttribute("data-following")) return;
    stop();
    table.setAttribute("data-following", "1");
    var body = table.tBodies[0];
    var source = new EventSource(table.getAttribute("data-live"));
    current = source;
    source.addEventListener("line", function (event) {
      if (!document.body.contains(table)) { stop(); return; }
      var atEnd = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
      body.insertAdjacentHTML("beforeend", event.data);
      table.hidden = false;
      var empty = document.getElementById("no-logs");
      if (empty) empty.remove();
      var row = body.lastElementChild;
      if (window.transomLocalTimes) window.transomLocalTimes(row);
      if (atEnd) row.scrollIntoView({ block: "end" });
    });
    source.addEventListener("end", function () {
      stop();
      var note = document.getElementById("live-note");
      if (note) note.textContent = "The run is over: every line is shown.";
    });
  }

  // A boosted link swaps the page: the old tail must not keep a connection open.
  document.addEventListener("htmx:beforeSwap", stop);
  window.addEventListener("pagehide", stop);
  if (window.htmx) { window.htmx.onLoad(follow); }
  else { document.addEventListener("DOMContentLoaded", function () { follow(document); }); }
})();
