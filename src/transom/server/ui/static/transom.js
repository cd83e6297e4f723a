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

  // The dashboard's chart: the server's buckets (data-chart) drawn stacked by uPlot, which the
  // page loads itself (a script in the page's body; htmx runs it on a boosted visit too).
  function css(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function drawChart(tries) {
    var el = document.getElementById("chart");
    if (!el || el.getAttribute("data-drawn")) return;
    if (!window.uPlot) {
      if (tries < 200) setTimeout(function () { drawChart(tries + 1); }, 25);
      return;
    }
    var data = JSON.parse(el.getAttribute("data-chart"));
    var kinds = [["COMPLETED", "Completed", css("--ok", "#067647")],
                 ["FAILED", "Failed", css("--bad", "#b42318")],
                 ["CRASHED", "Crashed", css("--warn", "#b54708")]];
    var raw = kinds.map(function (k) { return data.series[k[0]] || []; });
    // Stacked: each series is drawn as the sum of itself and those below it, the tallest
    // first so the lower ones paint over it; the legend shows each one's own count.
    var stacked = raw.map(function (_, i) {
      return data.x.map(function (_, j) {
        var sum = 0;
        for (var k = 0; k <= i; k++) sum += raw[k][j] || 0;
        return sum;
      });
    });
    var order = [2, 1, 0];
    var bars = window.uPlot.paths.bars({ size: [0.8, 64] });
    var series = [{ value: function (u, v) {
      return v == null ? "" : new Date(v * 1000).toLocaleString(undefined,
        { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }) + " " + zone;
    } }];
    order.forEach(function (i) {
      series.push({ label: kinds[i][1], stroke: kinds[i][2], fill: kinds[i][2], paths: bars,
                    points: { show: false },
                    value: function (u, v, si, idx) { return idx == null ? "" : raw[i][idx]; } });
    });
    el.setAttribute("data-drawn", "1");
    var width = Math.max(el.clientWidth || 0, 320);
    new window.uPlot({
      width: width, height: 220, series: series,
      axes: [{ stroke: css("--muted", "#667085") },
             { stroke: css("--muted", "#667085"), grid: { stroke: css("--line", "#e4e7ec") } }],
      scales: { x: { time: true }, y: { range: function (u, lo, hi) { return [0, Math.max(hi, 1)]; } } },
    }, [data.x].concat(order.map(function (i) { return stacked[i]; })), el);
  }

  function onLoad(root) { localTimes(root); drawChart(0); }

  if (window.htmx) { window.htmx.onLoad(onLoad); }
  else { document.addEventListener("DOMContentLoaded", function () { onLoad(document); }); }
})();
