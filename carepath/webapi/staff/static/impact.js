// The review page's cohort impact: fetched on a click (it reads every enrolled pregnancy),
// written into the page with textContent only.
(function () {
  "use strict";
  const form = document.getElementById("cohort-form");
  if (!form) return;
  const labels = document.getElementById("cohort-labels").dataset;
  const status = document.getElementById("cohort-status");
  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = String(text);
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }
  function render(report) {
    const result = document.getElementById("cohort-result");
    const affected = (c) => report[c].affected_patients;
    document.getElementById("cohort-summary").textContent =
      report.patients + " " + labels.summary + " · " + report.weeks + "w · " +
      labels.migrate + ": " + affected("migrate") + " " + labels.affected + " · " +
      labels.pin + ": " + affected("pin") + " " + labels.affected;
    const body = document.querySelector("#cohort-table tbody");
    body.replaceChildren();
    for (const choice of ["migrate", "pin"]) {
      for (const a of report[choice].by_action) {
        const row = document.createElement("tr");
        row.dataset.choice = choice;
        cell(row, a.pathway + "/" + a.rule + " " + a.action);
        cell(row, labels[choice]);
        cell(row, a.patients_gaining, "num gain");
        cell(row, a.patients_losing, "num lose");
        cell(row, a.patients_moved, "num");
        body.appendChild(row);
      }
    }
    const weekly = document.querySelector("#cohort-weekly tbody");
    weekly.replaceChildren();
    for (const [name, stats] of [["before", report.messages_per_patient_week_before],
      ["migrate", report.migrate.messages_per_patient_week], ["pin", report.pin.messages_per_patient_week]]) {
      const row = document.createElement("tr");
      row.dataset.choice = name;
      cell(row, labels[name]);
      cell(row, stats.mean, "num");
      cell(row, stats.p95, "num");
      cell(row, stats.max, "num");
      weekly.appendChild(row);
    }
    const list = document.getElementById("cohort-affected");
    list.replaceChildren();
    for (const one of report.affected) {
      const item = document.createElement("li");
      const details = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = one.id + (one.ga ? " · " + one.ga : "");
      details.appendChild(summary);
      for (const choice of ["migrate", "pin"]) {
        for (const a of one[choice]) {
          const line = document.createElement("div");
          line.textContent = labels[choice] + ": " + a.pathway + "/" + a.rule + " " + a.action +
            " +" + a.added + " −" + a.removed + " ↔" + a.moved;
          details.appendChild(line);
        }
      }
      item.appendChild(details);
      list.appendChild(item);
    }
    result.hidden = false;
    status.textContent = report.seconds + " " + labels.seconds;
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = labels.running;
    const url = form.dataset.url + "?weeks=" + encodeURIComponent(document.getElementById("cohort-weeks").value);
    try {
      const response = await fetch(url, { headers: { Accept: "application/json", "X-Requested-With": "fetch" } });
      const body = await response.json();
      if (!response.ok) throw new Error(body.detail || body.title || response.status);
      render(body);
    } catch (error) {
      status.textContent = labels.failed + " " + error.message;
    }
  });
})();
