// carepath staff UI: a fetch() that sends the CSRF token and asks for JSON answers
// (problem+json on errors: login-required, session-expired, permission-denied, csrf-failed).
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  window.carepath = {
    csrfToken: meta ? meta.content : "",
    fetch: function (url, options) {
      options = options || {};
      var headers = new Headers(options.headers || {});
      headers.set("X-CSRFToken", window.carepath.csrfToken);
      headers.set("X-Requested-With", "fetch");
      if (!headers.has("Accept")) { headers.set("Accept", "application/json"); }
      options.headers = headers;
      options.credentials = "same-origin";
      return window.fetch(url, options);
    }
  };
})();
