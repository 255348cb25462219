// The preview page: a click on a timeline mark or a list row shows that item's messages.
// Every text is already in the page (rendered and escaped by the server); this only toggles
// which one is visible, and never writes HTML.
(function () {
  "use strict";
  const panel = document.getElementById("message-panel");
  if (!panel) return;
  function show(index) {
    const view = document.getElementById("message-" + index);
    if (!view) return;
    panel.querySelectorAll(".message-view").forEach((el) => { el.hidden = el !== view; });
    document.getElementById("message-none").hidden = true;
    document.querySelectorAll("[data-index].selected").forEach((el) => el.classList.remove("selected"));
    document.querySelectorAll('[data-index="' + index + '"]').forEach((el) => el.classList.add("selected"));
  }
  document.addEventListener("click", (event) => {
    const target = event.target.closest("#timeline .mark, #preview-items tr[data-index]");
    if (target) show(Number(target.getAttribute("data-index")));
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    const row = event.target.closest && event.target.closest("#preview-items tr[data-index]");
    if (row) show(Number(row.getAttribute("data-index")));
  });
})();
