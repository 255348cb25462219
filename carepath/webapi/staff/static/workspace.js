// The workspace list keeps itself current: every 15 s it asks /staff/work/stamp for a
// fingerprint of the list; when it changed, it fetches the rows again and swaps them in, and
// says so when an urgent task arrived. Without this script the page works (reload, links).
(function () {
  "use strict";
  var script = document.getElementById("workspace-script");
  if (!script || !window.fetch) { return; }
  var EVERY = 1000 * (Number(script.getAttribute("data-every")) || 15);
  var stampUrl = script.getAttribute("data-stamp-url");
  var rowsUrl = script.getAttribute("data-rows-url");
  function rows() { return document.getElementById("work-rows"); }
  function urgentIds(root) {
    var ids = {};
    root.querySelectorAll('[data-priority="urgent"]').forEach(function (el) { ids[el.getAttribute("data-task")] = true; });
    return ids;
  }
  function refresh() {
    return fetch(rowsUrl, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var before = urgentIds(rows());
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var fresh = holder.querySelector("#work-rows");
        if (!fresh) { return; }
        var arrived = Object.keys(urgentIds(fresh)).some(function (id) { return !before[id]; });
        rows().replaceWith(fresh);
        if (arrived) { document.getElementById("new-urgent").hidden = false; }
      });
  }
  function poll() {
    fetch(stampUrl, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (body && body.stamp !== rows().getAttribute("data-stamp")) { return refresh(); }
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ })
      .then(function () { window.setTimeout(poll, EVERY); });
  }
  window.setTimeout(poll, EVERY);
}());
