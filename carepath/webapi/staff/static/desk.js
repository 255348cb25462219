// 建档登记: her ID card read by the desk PC's reader service fills the registration form. The
// page asks the service the hospital configured (id_reader_url: a GET answering the card as
// JSON), hands the answer to the server, which maps the vendor's JSON to the form's fields and
// checks the number (POST /staff/desk/card: one table per vendor format, staff/id_card.py), then
// fills the form. Nothing is registered until the nurse submits; the server checks it all again.
(function () {
  "use strict";
  var box = document.getElementById("card-reader");
  var button = document.getElementById("read-card");
  if (!box || !button) return;
  var status = document.getElementById("card-status");
  var form = document.getElementById("register-form");

  function say(text, bad) {
    status.textContent = text;
    status.className = bad ? "error" : "";
  }

  function fill(fields) {
    Object.keys(fields).forEach(function (name) {
      var field = form.elements.namedItem(name);
      if (field && "value" in field) field.value = fields[name];
    });
    var idType = document.getElementById("id_type");
    idType.dispatchEvent(new Event("change"));  // registration.js checks the number and shows her birth date
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    say("正在读取身份证…");
    window.fetch(box.getAttribute("data-reader-url"), { cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("reader " + response.status);
        return response.json();
      })
      .catch(function () {
        throw new Error("reader");
      })
      .then(function (card) {
        return window.carepath.fetch(box.getAttribute("data-map-url"), {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(card)
        }).then(function (response) {
          return response.json().then(function (body) { return { ok: response.ok, body: body }; });
        });
      })
      .then(function (answer) {
        if (!answer.ok) { say(answer.body.problem || "无法识别读卡器返回的内容，请手动填写", true); return; }
        fill(answer.body.fields);
        var problem = answer.body.problems && answer.body.problems.id_number;
        if (problem) say("已读取，但" + problem, true);
        else say("已读取身份证，请核对姓名和证件号码后继续填写");
      })
      .catch(function () {
        say("无法连接身份证阅读器：请确认阅读器已连接、读卡服务已启动，再放好身份证重试；也可以手动填写", true);
      })
      .then(function () { button.disabled = false; });
  });
})();
