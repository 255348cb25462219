/* Her forms: what HTML attributes cannot say. A choice marked exclusive (都没有) clears the
   others and the others clear it; a required group of boxes needs one ticked; one submit.
   The form posts without this script and the server checks everything again. */
(function () {
  "use strict";
  var form = document.getElementById("her-form");
  if (!form) return;
  form.addEventListener("change", function (event) {
    var box = event.target;
    if (box.type !== "checkbox" || !box.checked) return;
    var group = form.querySelectorAll('input[type=checkbox][name="' + box.name + '"]');
    for (var i = 0; i < group.length; i++) {
      var other = group[i];
      if (other === box) continue;
      if (box.hasAttribute("data-exclusive") || other.hasAttribute("data-exclusive")) other.checked = false;
    }
    var field = box.closest(".item-field");
    var note = field && field.querySelector(".js-error");
    if (note) note.remove();
  });
  form.addEventListener("submit", function (event) {
    var first = null;
    var fields = form.querySelectorAll('.item-field[data-type=multiple][data-required]');
    for (var i = 0; i < fields.length; i++) {
      var field = fields[i];
      if (field.querySelector("input:checked")) continue;
      if (!field.querySelector(".js-error")) {
        var note = document.createElement("p");
        note.className = "error field-error js-error";
        note.setAttribute("role", "alert");
        note.textContent = "请至少选择一项";
        field.appendChild(note);
      }
      first = first || field;
    }
    if (first) {
      event.preventDefault();
      first.scrollIntoView({block: "center"});
      return;
    }
    if (form.getAttribute("data-sent")) { event.preventDefault(); return; }
    form.setAttribute("data-sent", "1");
    var button = document.getElementById("form-submit");
    if (button) button.textContent = "正在提交…";
  });
})();
