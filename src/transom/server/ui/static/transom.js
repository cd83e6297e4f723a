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

  if (window.htmx) { window.htmx.onLoad(localTimes); }
  else { document.addEventListener("DOMContentLoaded", function () { localTimes(document); }); }
})();
