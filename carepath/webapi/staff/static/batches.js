// A running batch's page follows its progress: every few seconds it asks for the counters
// and shows them, until the batch is no longer running. Without this script, reload.
(function () {
  "use strict";
  var script = document.getElementById("batch-script");
  if (!script || !window.fetch) { return; }
  var url = script.getAttribute("data-url");
  var every = 1000 * (Number(script.getAttribute("data-every")) || 2);
  var states = JSON.parse(script.getAttribute("data-states") || "{}");
  function show(body) {
    ["done", "skipped", "failed"].forEach(function (name) {
      document.getElementById("batch-" + name).textContent = body[name];
    });
    document.getElementById("batch-progress").value = body.done + body.skipped + body.failed;
    document.getElementById("batch-state").textContent = states[body.state] || body.state;
    document.getElementById("batch").setAttribute("data-state", body.state);
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (body) { show(body); }
        if (!body || body.state === "running") { window.setTimeout(poll, every); }
      })
      .catch(function () { window.setTimeout(poll, every); });
  }
  window.setTimeout(poll, every);
})();
