// radose ui: refreshes running runs. Rows marked data-status="running" are
// polled through /api/runs every two seconds; when one ends, the page
// reloads to show its results. A run page of a running run reloads itself.
(function () {
  "use strict";
  function running() {
    return Array.prototype.slice.call(document.querySelectorAll('tr[data-status="running"]'));
  }
  function poll() {
    var rows = running();
    if (rows.length === 0) { return; }
    var ids = rows.map(function (r) { return r.getAttribute("data-run"); }).join(",");
    fetch("/api/runs?ids=" + encodeURIComponent(ids), { credentials: "same-origin" })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        var ended = false;
        data.runs.forEach(function (run) {
          var tr = document.querySelector('tr[data-run="' + run.id + '"]');
          if (!tr) { return; }
          var cell = tr.querySelector(".progress");
          if (cell) { cell.textContent = run.progress || ""; }
          var badge = tr.querySelector(".badge");
          if (badge) { badge.textContent = run.status; badge.className = "badge " + run.status; }
          if (run.status !== "running") { tr.setAttribute("data-status", run.status); ended = true; }
        });
        if (ended) { window.location.reload(); }
      })
      .catch(function () { /* the server stopped: keep the page as it is */ })
      .then(function () { window.setTimeout(poll, 2000); });
  }
  function reloadLive() {
    var live = document.querySelector("[data-reload]");
    if (live) {
      var seconds = parseInt(live.getAttribute("data-reload"), 10) || 5;
      window.setTimeout(function () { window.location.reload(); }, seconds * 1000);
    }
  }
  // How many of the page's figures rendered: "loaded/total" on <body>
  // (read by the browser test; a figure that failed to load counts as not).
  window.addEventListener("load", function () {
    var imgs = Array.prototype.slice.call(document.images);
    var loaded = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
    document.body.setAttribute("data-figures", loaded + "/" + imgs.length);
  });
  document.addEventListener("DOMContentLoaded", function () {
    window.setTimeout(poll, 2000);
    reloadLive();
  });
})();
