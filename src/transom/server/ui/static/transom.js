// The reader's choices, kept in localStorage and applied on every page: times in the browser's
// zone or in UTC, a 24- or 12-hour clock, and a light, dark or automatic (prefers-color-scheme)
// theme. The header's buttons (hidden until this script runs) change them; a change is sent to
// the rest of this file as the event `transom:prefs` on document. The theme is mirrored in the
// cookie `transom_theme`, which the server reads to write <html data-theme> into the next page
// (so a full page load is not first painted in the other theme).
(function () {
  "use strict";
  var CHOICES = { zone: ["local", "utc"], clock: ["24", "12"], theme: ["auto", "dark", "light"] };
  var LABELS = { theme: { auto: "Theme: auto", dark: "Theme: dark", light: "Theme: light" } };
  var pad = function (n) { return String(n).padStart(2, "0"); };
  var localZone = (function () {
    try {
      var part = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" })
        .formatToParts(new Date()).find(function (p) { return p.type === "timeZoneName"; });
      return part ? part.value : "local";
    } catch (e) { return "local"; }
  })();

  function get(name) {
    var value = null;
    try { value = window.localStorage.getItem("transom." + name); } catch (e) { /* private mode */ }
    return CHOICES[name].indexOf(value) >= 0 ? value : CHOICES[name][0];
  }

  var memory = {};  // where localStorage is refused, a choice lasts as long as the page
  function set(name, value) {
    try { window.localStorage.setItem("transom." + name, value); } catch (e) { /* kept for this page */ }
    memory[name] = value;
    if (name === "theme") applyTheme();
    sync();
    document.dispatchEvent(new CustomEvent("transom:prefs", { detail: { name: name } }));
  }
  function choice(name) { return memory[name] || get(name); }

  function applyTheme() {
    var theme = choice("theme"), root = document.documentElement;
    if (theme === "auto") root.removeAttribute("data-theme");
    else root.setAttribute("data-theme", theme);
    document.cookie = "transom_theme=" + (theme === "auto" ? "; max-age=0" : theme +
      "; max-age=31536000") + "; path=/; SameSite=Strict";
  }

  // A time as the pages show it: "2026-03-01 18:00:05 GMT+9", "2026-03-01 9:00:05 AM UTC".
  function format(when) {
    var utc = choice("zone") === "utc";
    var y = utc ? when.getUTCFullYear() : when.getFullYear();
    var mo = utc ? when.getUTCMonth() : when.getMonth(), d = utc ? when.getUTCDate() : when.getDate();
    var h = utc ? when.getUTCHours() : when.getHours();
    var mi = utc ? when.getUTCMinutes() : when.getMinutes();
    var se = utc ? when.getUTCSeconds() : when.getSeconds();
    var clock = pad(h);
    var suffix = "";
    if (choice("clock") === "12") { clock = String(h % 12 || 12); suffix = h < 12 ? " AM" : " PM"; }
    return y + "-" + pad(mo + 1) + "-" + pad(d) + " " + clock + ":" + pad(mi) + ":" + pad(se) +
      suffix + " " + zoneName();
  }

  function zoneName() { return choice("zone") === "utc" ? "UTC" : localZone; }

  // The header's buttons show the choices in force (a boosted page brings a new header).
  function sync() {
    var zone = document.getElementById("pref-zone"), clock = document.getElementById("pref-clock");
    var theme = document.getElementById("pref-theme");
    if (zone) { zone.hidden = false; zone.setAttribute("aria-pressed", String(choice("zone") === "utc")); }
    if (clock) { clock.hidden = false; clock.setAttribute("aria-pressed", String(choice("clock") === "24")); }
    if (theme) { theme.hidden = false; theme.textContent = LABELS.theme[choice("theme")]; }
  }

  document.addEventListener("click", function (event) {
    var button = event.target && event.target.closest ? event.target.closest("button[data-pref]") : null;
    if (!button) return;
    var name = button.getAttribute("data-pref"), options = CHOICES[name];
    if (!options) return;
    set(name, options[(options.indexOf(choice(name)) + 1) % options.length]);
  });
  // "auto" follows the system's setting as it changes; the canvases are drawn again.
  if (window.matchMedia) {
    var media = window.matchMedia("(prefers-color-scheme: dark)");
    var changed = function () {
      if (choice("theme") === "auto") {
        document.dispatchEvent(new CustomEvent("transom:prefs", { detail: { name: "theme" } }));
      }
    };
    if (media.addEventListener) media.addEventListener("change", changed);
  }

  // A choice made in another tab applies here too.
  window.addEventListener("storage", function (event) {
    if (!event.key || event.key.indexOf("transom.") !== 0) return;
    memory = {};
    applyTheme();
    sync();
    document.dispatchEvent(new CustomEvent("transom:prefs", { detail: { name: event.key.slice(8) } }));
  });

  applyTheme();
  window.transomPrefs = { get: choice, set: set, format: format, zone: zoneName, sync: sync };
})();

// Transom's pages: times shown in the browser's zone (or UTC, as chosen), named. The server
// writes them in UTC (<time datetime="..."> with "UTC" after them), so a page without this
// script is still right.
(function () {
  "use strict";
  var prefs = window.transomPrefs;

  function localTimes(root) {
    var times = (root || document).querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var el = times[i], when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) continue;
      el.title = el.getAttribute("datetime");
      el.textContent = prefs.format(when);
    }
    var label = document.getElementById("zone");
    if (label) label.textContent = "Times in " + prefs.zone();
    prefs.sync();
  }

  window.transomLocalTimes = localTimes;  // for rows added outside htmx (the live log tail)
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
    var utc = prefs.get("zone") === "utc", h12 = prefs.get("clock") === "12";
    var series = [{ value: function (u, v) {
      return v == null ? "" : new Date(v * 1000).toLocaleString(undefined,
        { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: h12,
          timeZone: utc ? "UTC" : undefined }) + " " + prefs.zone();
    } }];
    order.forEach(function (i) {
      series.push({ label: kinds[i][1], stroke: kinds[i][2], fill: kinds[i][2], paths: bars,
                    points: { show: false },
                    value: function (u, v, si, idx) { return idx == null ? "" : raw[i][idx]; } });
    });
    el.setAttribute("data-drawn", "1");
    var width = Math.max(el.clientWidth || 0, 320);
    chart = new window.uPlot({
      width: width, height: 220, series: series, tzDate: chartDate(utc), fmtDate: chartFormat(h12),
      axes: [{ stroke: css("--muted", "#667085") },
             { stroke: css("--muted", "#667085"), grid: { stroke: css("--line", "#e4e7ec") } }],
      scales: { x: { time: true }, y: { range: function (u, lo, hi) { return [0, Math.max(hi, 1)]; } } },
    }, [data.x].concat(order.map(function (i) { return stacked[i]; })), el);
  }

  // The chart's axis in the chosen zone and clock (uPlot's own formats are 12-hour).
  var chart = null;
  function chartDate(utc) {
    return function (ts) {
      return utc ? window.uPlot.tzDate(new Date(ts * 1000), "Etc/UTC") : new Date(ts * 1000);
    };
  }
  function chartFormat(h12) {
    return function (template) {
      return window.uPlot.fmtDate(h12 ? template : template.replace(/\{h\}\{aa\}/g, "{HH}:00")
        .replace(/\{h\}/g, "{HH}").replace(/\s*\{(aa|AA|a)\}/g, ""));
    };
  }

  // A choice changed: the times and the chart again, the chart in the theme's colours.
  document.addEventListener("transom:prefs", function () {
    localTimes(document);
    var el = document.getElementById("chart");
    if (chart && el && el.getAttribute("data-drawn")) {
      chart.destroy(); chart = chart;
      chart = null;
      el.removeAttribute("data-drawn");
      drawChart(0);
    }
  });

  function onLoad(root) { localTimes(root); drawChart(0); }

  if (window.htmx) { window.htmx.onLoad(onLoad); }
  else { document.addEventListener("DOMContentLoaded", function () { onLoad(document); }); }
})();

// The pages' server-sent event streams (the log tail, the runs list), opened only while the tab
// is visible: a hidden tab keeps no connection and makes no request. A stream is an object
// {source, ...}: `open` starts its EventSource at url() (where it resumes) unless the tab is
// hidden or it is open already; `close` ends it. The element following it says which, in
// data-stream ("open" / "closed"), for a reader and the tests.
(function () {
  "use strict";
  function hidden() { return document.visibilityState === "hidden"; }

  function mark(stream, state) {
    var el = stream.table || stream.box;
    if (el) el.setAttribute("data-stream", state);
  }

  function open(stream, url, handlers) {
    if (stream.source || hidden()) { if (!stream.source) mark(stream, "closed"); return; }
    var source = new EventSource(url());
    Object.keys(handlers).forEach(function (name) { source.addEventListener(name, handlers[name]); });
    stream.source = source;
    mark(stream, "open");
  }

  function close(stream) {
    if (stream.source) { stream.source.close(); stream.source = null; }
    mark(stream, "closed");
  }

  // The same URL with one query parameter set (a relative URL stays relative to the page).
  function withParam(url, name, value) {
    var parsed = new URL(url, window.location.href);
    parsed.searchParams.set(name, value);
    return parsed.pathname + parsed.search;
  }

  var watchers = [];
  function onVisibility(watcher) { watchers.push(watcher); }
  document.addEventListener("visibilitychange", function () {
    var visible = !hidden();
    watchers.forEach(function (watcher) { watcher(visible); });
  });

  window.transomLive = { open: open, close: close, withParam: withParam, onVisibility: onVisibility };
})();

// A run's live log tail: while the run goes on, its page follows /runs/ID/logs/live, server-sent
// events (no polling from here): each `line` event is a table row rendered and escaped by the
// server; `end` says the run is over and every line was sent. EventSource reconnects by itself,
// from the last line it got (Last-Event-ID). In a hidden tab the stream is closed (no traffic
// at all); shown again, it is opened after the last line on the page, so none is lost or doubled.
(function () {
  "use strict";
  var live = window.transomLive;
  var tail = null;  // {table, url, lastId, source}: the page's tail while the run goes on

  function stop() {
    if (tail) { live.close(tail); tail = null; }
  }

  function onLine(event) {
    var table = tail && tail.table;
    if (!table || !document.body.contains(table)) { stop(); return; }
    if (event.lastEventId) tail.lastId = event.lastEventId;
    var body = table.tBodies[0];
    var atEnd = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
    body.insertAdjacentHTML("beforeend", event.data);
    table.hidden = false;
    var empty = document.getElementById("no-logs");
    if (empty) empty.remove();
    var row = body.lastElementChild;
    if (window.transomLocalTimes) window.transomLocalTimes(row);
    if (atEnd) row.scrollIntoView({ block: "end" });
  }

  function onEnd() {
    stop();
    var note = document.getElementById("live-note");
    if (note) note.textContent = "The run is over: every line is shown.";
  }

  // Where the stream (re)starts: after the last line shown, else where the page's own ends.
  function url() {
    return tail.lastId ? live.withParam(tail.url, "after_id", tail.lastId) : tail.url;
  }

  function follow(root) {
    var scope = root && root.querySelector ? root : document;
    var table = scope.querySelector("table[data-live]");
    if (!table || table.getAttribute("data-following")) return;
    stop();
    table.setAttribute("data-following", "1");
    tail = { table: table, url: table.getAttribute("data-live"), lastId: null, source: null };
    live.open(tail, url, { line: onLine, end: onEnd });
  }

  live.onVisibility(function (visible) {
    if (!tail) return;
    if (!document.body.contains(tail.table)) stop();
    else if (visible) live.open(tail, url, { line: onLine, end: onEnd });
    else live.close(tail);
  });
  // A boosted link swaps the page: the old tail must not keep a connection open.
  document.addEventListener("htmx:beforeSwap", stop);
  window.addEventListener("pagehide", stop);
  if (window.htmx) { window.htmx.onLoad(follow); }
  else { document.addEventListener("DOMContentLoaded", function () { follow(document); }); }
})();

// A flow run's timeline of task runs, drawn on a canvas from /runs/ID/timeline.json (lanes laid
// out by the server): wheel to zoom around the pointer, drag to pan, double-click to see it all,
// hover for a run's name, state and duration, click to open the task run.
(function () {
  "use strict";
  var AXIS = 18, MAX_HEIGHT = 480;

  function palette() {
    var css = getComputedStyle(document.documentElement);
    var v = function (name) { return css.getPropertyValue(name).trim() || "#888"; };
    return { COMPLETED: v("--ok"), FAILED: v("--bad"), CRASHED: v("--bad"), RUNNING: v("--run"),
      CANCELLED: v("--warn"), CANCELLING: v("--warn"), band: v("--head"), text: v("--fg"),
      muted: v("--muted"), line: v("--line") };
  }

  function span(ms) {
    if (ms < 1000) return ms + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s";
    var m = Math.floor(ms / 60000), s = Math.round((ms % 60000) / 1000);
    return m < 60 ? m + " min " + s + " s" : Math.floor(m / 60) + " h " + (m % 60) + " min";
  }

  function niceStep(range) {
    var raw = range / 6, pow = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1))));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * pow >= raw) return steps[i] * pow;
    return 10 * pow;
  }

  function timeline(box, data) {
    var canvas = box.querySelector("canvas"), tip = box.querySelector(".tip");
    var ctx = canvas.getContext("2d"), colours = palette();
    var lanes = 0;
    data.rows.forEach(function (r) { lanes = Math.max(lanes, r[1] + r[2]); });
    var lane = Math.max(2, Math.min(16, Math.floor(MAX_HEIGHT / Math.max(lanes, 1))));
    var full = [0, Math.max(data.end, 1)], view = full.slice(), queued = false;
    var width = 0, height = lanes * lane + AXIS;

    function size() {
      var ratio = window.devicePixelRatio || 1;
      width = box.clientWidth;
      canvas.style.width = width + "px"; canvas.style.height = height + "px";
      canvas.width = Math.round(width * ratio); canvas.height = Math.round(height * ratio);
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    }

    function x(ms) { return (ms - view[0]) * width / (view[1] - view[0]); }

    function paint() {
      queued = false;
      ctx.clearRect(0, 0, width, height);
      data.rows.forEach(function (r, i) {
        if (i % 2) { ctx.fillStyle = colours.band; ctx.fillRect(0, r[1] * lane, width, r[2] * lane); }
      });
      var fill = null;
      for (var i = 0; i < data.runs.length; i++) {
        var run = data.runs[i], x0 = x(run[1]), x1 = x(run[2]);
        if (x1 < 0 || x0 > width) continue;
        var colour = colours[data.states[run[3]]] || colours.muted;
        if (colour !== fill) { ctx.fillStyle = colour; fill = colour; }
        ctx.fillRect(x0, run[0] * lane + (lane > 4 ? 1 : 0), Math.max(x1 - x0, 1),
                     Math.max(lane - (lane > 4 ? 2 : 0), 1));
      }
      ctx.font = "11px system-ui, sans-serif"; ctx.textBaseline = "top";
      data.rows.forEach(function (r) {
        if (r[2] * lane < 11) return;
        var label = r[0] + (r[2] > 1 ? " (" + r[2] + " lanes)" : "");
        ctx.fillStyle = "rgba(127,127,127,.18)";
        ctx.fillRect(2, r[1] * lane, ctx.measureText(label).width + 6, 13);
        ctx.fillStyle = colours.text; ctx.fillText(label, 5, r[1] * lane + 1);
      });
      var step = niceStep(view[1] - view[0]), top = lanes * lane;
      ctx.fillStyle = colours.line; ctx.fillRect(0, top, width, 1);
      ctx.fillStyle = colours.muted;
      for (var t = Math.ceil(view[0] / step) * step; t <= view[1]; t += step) {
        var at = x(t);
        ctx.fillRect(at, top, 1, 4);
        ctx.fillText("+" + span(t), at + 2, top + 4);
      }
    }

    function redraw() { if (!queued) { queued = true; window.requestAnimationFrame(paint); } }

    function hit(event) {
      var rect = canvas.getBoundingClientRect(), px = event.clientX - rect.left;
      var row = Math.floor((event.clientY - rect.top) / lane);
      var t = view[0] + px * (view[1] - view[0]) / width, slack = 3 * (view[1] - view[0]) / width;
      for (var i = 0; i < data.runs.length; i++) {
        var run = data.runs[i];
        if (run[0] === row && run[1] - slack <= t && t <= run[2] + slack) return run;
      }
      return null;
    }

    var drag = null;
    canvas.addEventListener("wheel", function (event) {
      event.preventDefault();
      var rect = canvas.getBoundingClientRect(), at = (event.clientX - rect.left) / width;
      var range = view[1] - view[0], next = range * (event.deltaY > 0 ? 1.25 : 0.8);
      next = Math.max(Math.min(next, full[1] * 1.5), 1);
      var pivot = view[0] + at * range;
      view = [pivot - at * next, pivot + (1 - at) * next];
      redraw();
    }, { passive: false });
    canvas.addEventListener("mousedown", function (event) { drag = { x: event.clientX, view: view.slice(), moved: false }; });
    window.addEventListener("mouseup", function () { setTimeout(function () { drag = null; }, 0); });
    canvas.addEventListener("mousemove", function (event) {
      if (drag && event.buttons) {
        var shift = (event.clientX - drag.x) * (view[1] - view[0]) / width;
        if (Math.abs(event.clientX - drag.x) > 3) drag.moved = true;
        view = [drag.view[0] - shift, drag.view[1] - shift];
        redraw();
        return;
      }
      var run = hit(event);
      canvas.style.cursor = run ? "pointer" : "grab";
      if (!run) { tip.hidden = true; return; }
      tip.textContent = run[4] + " · " + data.states[run[3]].toLowerCase() + " · " + span(run[2] - run[1]);
      tip.style.left = (event.clientX - box.getBoundingClientRect().left + 12) + "px";
      tip.style.top = (event.clientY - box.getBoundingClientRect().top + 12) + "px";
      tip.hidden = false;
    });
    canvas.addEventListener("mouseleave", function () { tip.hidden = true; });
    canvas.addEventListener("dblclick", function () { view = full.slice(); redraw(); });
    canvas.addEventListener("click", function (event) {
      if (drag && drag.moved) return;
      var run = hit(event);
      var root = document.documentElement.getAttribute("data-root") || "";  // a path prefix
      if (run) window.location.assign(root + "/task-runs/" + run[5].replace(
        /^(.{8})(.{4})(.{4})(.{4})(.{12})$/, "$1-$2-$3-$4-$5"));
    });
    window.addEventListener("resize", function () { size(); redraw(); });
    document.addEventListener("transom:prefs", function repaint() {
      if (!document.body.contains(box)) { document.removeEventListener("transom:prefs", repaint); return; }
      colours = palette();
      redraw();
    });
    box.hidden = false;
    size();
    paint();
    box.setAttribute("data-drawn", String(data.runs.length));
  }

  function load(root) {
    var scope = root && root.querySelector ? root : document;
    var box = scope.querySelector("#timeline[data-src]");
    if (!box || box.getAttribute("data-loading")) return;
    box.setAttribute("data-loading", "1");
    fetch(box.getAttribute("data-src"), { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data && data.runs.length) timeline(box, data); });
  }

  if (window.htmx) { window.htmx.onLoad(load); }
  else { document.addEventListener("DOMContentLoaded", function () { load(document); }); }
})();

// The runs list, live: /runs/live (server-sent events) sends the list part of the page again,
// rendered by the server, whenever it changed; links in it are boosted by htmx like the rest.
// Each `page` event's id is the digest of what it holds: in a hidden tab the stream is closed,
// and opened again with `seen` set to the last digest, so the list comes again only if it changed.
(function () {
  "use strict";
  var live = window.transomLive;
  var list = null;  // {box, url, lastId, source}
  var pending = null;

  function stop() { if (list) { live.close(list); list = null; } }

  function onPage(event) {
    var box = list && list.box;
    if (!box || !document.body.contains(box)) { stop(); return; }
    if (event.lastEventId) list.lastId = event.lastEventId;
    pending = event.data;
    if (!box.querySelector("input[name=run]:checked")) show(box);  // else: after the choice
  }

  function url() {
    return list.lastId ? live.withParam(list.url, "seen", list.lastId) : list.url;
  }

  function follow(root) {
    var scope = root && root.querySelector ? root : document;
    // A pager link replaces the list itself: then it is the root htmx says was loaded.
    var box = scope.matches && scope.matches("#runs-live[data-live]") ? scope
      : scope.querySelector("#runs-live[data-live]");
    if (!box || box.getAttribute("data-following")) return;
    stop();
    box.setAttribute("data-following", "1");
    list = { box: box, url: box.getAttribute("data-live"), lastId: null, source: null };
    live.open(list, url, { page: onPage });
  }

  function show(box) {
    if (pending === null) return;
    box.innerHTML = pending;
    pending = null;
    box.setAttribute("data-updated", String(Date.now()));
    if (window.transomLocalTimes) window.transomLocalTimes(box);
    if (window.htmx) window.htmx.process(box);
  }

  // Selecting runs for an action: "all of this page", a count, and no live update meanwhile
  // (it would clear the boxes); what came in the meantime is shown once nothing is selected.
  document.addEventListener("change", function (event) {
    var box = document.getElementById("runs-live"), target = event.target;
    if (!box || !target || !box.contains(target)) return;
    var picks = box.querySelectorAll("input[name=run]");
    if (target.id === "pick-all") {
      for (var i = 0; i < picks.length; i++) picks[i].checked = target.checked;
    }
    var chosen = box.querySelectorAll("input[name=run]:checked").length;
    var label = document.getElementById("selected");
    if (label) label.textContent = chosen ? chosen + " selected" : "";
    if (!chosen) show(box);
  });

  live.onVisibility(function (visible) {
    if (!list) return;
    if (!document.body.contains(list.box)) stop();
    else if (visible) live.open(list, url, { page: onPage });
    else live.close(list);
  });
  document.addEventListener("htmx:beforeSwap", stop);
  window.addEventListener("pagehide", stop);
  if (window.htmx) { window.htmx.onLoad(follow); }
  else { document.addEventListener("DOMContentLoaded", function () { follow(document); }); }
})();

// Copy buttons (data-copy: the id of the element whose text they copy), hidden until this
// script shows them: without it the text is still there to select.
(function () {
  "use strict";
  function reveal(root) {
    var scope = root && root.querySelectorAll ? root : document;
    var buttons = scope.querySelectorAll("button[data-copy]");
    for (var i = 0; i < buttons.length; i++) buttons[i].hidden = false;
  }

  function fallback(text) {  // no Clipboard API (a page over plain http on another host)
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    var done = false;
    try { done = document.execCommand("copy"); } catch (e) { done = false; }
    document.body.removeChild(area);
    return done ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  document.addEventListener("click", function (event) {
    var button = event.target && event.target.closest ? event.target.closest("button[data-copy]") : null;
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.textContent;
    var copy = navigator.clipboard && window.isSecureContext
      ? navigator.clipboard.writeText(text) : fallback(text);
    var label = button.textContent === "Copied" || button.textContent === "Copy failed"
      ? "Copy" : button.textContent;
    copy.then(function () { button.textContent = "Copied"; },
              function () { button.textContent = "Copy failed"; })
      .then(function () { setTimeout(function () { button.textContent = label; }, 1500); });
  });

  if (window.htmx) { window.htmx.onLoad(reveal); }
  else { document.addEventListener("DOMContentLoaded", function () { reveal(document); }); }
})();
