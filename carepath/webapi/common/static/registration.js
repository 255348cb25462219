// The registration form (her page, h5/register.html, and the registration desk's, desk/desk.html):
// the checks a nurse would make as she types (the server makes them again: this is help, not the
// gate). GB 11643 check character, birth date, age and sex from the ID number, the guardian's
// part under 14, one dating method at a time, "none of these" alone. A keyboard-wedge ID card
// reader types the number and presses Enter: the Enter checks the number instead of submitting
// a half-filled form, and 18 characters typed are checked at once.
(function () {
  "use strict";
  var form = document.getElementById("register-form");
  if (!form) return;
  var GB_TYPES = ["resident", "hk_macau_tw_residence", "foreign_permanent"];
  var WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  var CHECKS = "10X98765432";
  var idType = document.getElementById("id_type");
  var idNumber = document.getElementById("id_number");
  var idCheck = document.getElementById("id_number-check");
  var derived = document.getElementById("id-derived");
  var birthField = document.getElementById("birth-date-field");
  var birthDate = document.getElementById("birth_date");
  var guardian = document.getElementById("guardian");
  var phone = document.getElementById("phone");
  var phoneCheck = document.getElementById("phone-check");

  function show(el, text) { el.textContent = text; el.hidden = !text; }

  // The birth date an 18-character number carries, or a reason it is not a valid number.
  function checkGb(value) {
    if (value.length === 15 && /^[0-9]+$/.test(value)) return { error: "这是15位的第一代身份证号码，请填写18位号码" };
    if (value.length !== 18) return { error: "证件号码应为18位" };
    if (!/^[0-9]{17}[0-9X]$/.test(value)) return { error: "证件号码应为17位数字加1位数字或X" };
    var y = +value.slice(6, 10), m = +value.slice(10, 12), d = +value.slice(12, 14);
    var born = new Date(y, m - 1, d);
    if (born.getFullYear() !== y || born.getMonth() !== m - 1 || born.getDate() !== d || y < 1900) {
      return { error: "证件号码第7至14位不是有效的出生日期" };
    }
    if (born > new Date()) return { error: "证件号码中的出生日期晚于今天" };
    var sum = 0;
    for (var i = 0; i < 17; i++) sum += +value.charAt(i) * WEIGHTS[i];
    if (CHECKS.charAt(sum % 11) !== value.charAt(17)) return { error: "证件号码校验位不正确，请核对号码是否输错" };
    if (+value.charAt(16) % 2 === 1) return { error: "证件号码显示为男性，请填写孕妇本人的证件号码" };
    return { born: born };
  }

  function ageOn(born, today) {
    var age = today.getFullYear() - born.getFullYear();
    if (today.getMonth() < born.getMonth() || (today.getMonth() === born.getMonth() && today.getDate() < born.getDate())) age--;
    return age;
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function showAge(born, fromNumber) {
    if (!born) { show(derived, ""); return; }
    var age = ageOn(born, new Date());
    show(derived, "出生日期：" + born.getFullYear() + "年" + (born.getMonth() + 1) + "月" + born.getDate() + "日，" + age + "岁" + (fromNumber ? "，女" : ""));
    // the number carries her birth date: the form's birth date says the same (one truth)
    if (fromNumber) birthDate.value = born.getFullYear() + "-" + pad(born.getMonth() + 1) + "-" + pad(born.getDate());
    if (age < 14) guardian.hidden = false;
  }

  function onId() {
    var gb = GB_TYPES.indexOf(idType.value) >= 0;
    birthField.hidden = gb;
    var value = idNumber.value.replace(/\s+/g, "").toUpperCase();
    if (!gb) {
      show(idCheck, "");
      showAge(birthDate.value ? new Date(birthDate.value + "T00:00:00") : null);
      return;
    }
    if (!value) { show(idCheck, ""); show(derived, ""); return; }
    var result = checkGb(value);
    show(idCheck, result.error || "");
    showAge(result.born || null, true);
  }

  function onPhone() {
    var value = phone.value.replace(/[\s-]/g, "").replace(/^\+?86(?=1\d{10}$)/, "");
    show(phoneCheck, value && !/^1[3-9][0-9]{9}$/.test(value) ? "请填写11位中国大陆手机号码（1开头）" : "");
  }

  function onMethod() {
    var chosen = form.querySelector("input[name=dating_method]:checked");
    var blocks = form.querySelectorAll("[data-method]");
    for (var i = 0; i < blocks.length; i++) {
      blocks[i].hidden = !chosen || blocks[i].getAttribute("data-method") !== chosen.value;
    }
  }

  // A choice marked exclusive ("none of these") is chosen alone.
  form.addEventListener("change", function (event) {
    var box = event.target;
    if (box.type !== "checkbox" || !box.checked || box.name.indexOf("screen.") !== 0) return;
    var others = form.querySelectorAll("input[type=checkbox][name='" + box.name + "']");
    for (var i = 0; i < others.length; i++) {
      if (others[i] === box) continue;
      if (box.hasAttribute("data-exclusive") || others[i].hasAttribute("data-exclusive")) others[i].checked = false;
    }
  });

  idType.addEventListener("change", onId);
  idNumber.addEventListener("blur", onId);
  idNumber.addEventListener("input", function () {
    if (idNumber.value.replace(/\s+/g, "").length >= 18) onId();
  });
  idNumber.addEventListener("keydown", function (event) {
    if (event.key !== "Enter") return;
    event.preventDefault();  // a wedge reader's Enter: check the number, do not submit
    onId();
  });
  birthDate.addEventListener("change", onId);
  phone.addEventListener("blur", onPhone);
  var methods = form.querySelectorAll("input[name=dating_method]");
  for (var i = 0; i < methods.length; i++) methods[i].addEventListener("change", onMethod);
  form.addEventListener("submit", function () {
    var button = document.getElementById("register-submit");
    setTimeout(function () { button.disabled = true; button.textContent = "正在提交…"; }, 0);
  });
  onMethod();
  if (idNumber.value) onId();
  var firstError = document.querySelector("[aria-invalid=true]");
  if (firstError && firstError.focus) firstError.focus();
})();
