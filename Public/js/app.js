// Subcon: the little script the pages need. Everything works without it; it only adds comfort.
(function () {
  "use strict";
  document.addEventListener("click", function (e) {
    if (e.target.closest("[data-print]")) { window.print(); return; }
    var t = e.target.closest("[data-toggle]");
    if (!t) return;
    var el = document.getElementById(t.getAttribute("data-toggle"));
    if (el) el.classList.toggle("open");
  });
  // One area of the menu open at a time; a tap elsewhere closes it.
  document.addEventListener("click", function (e) {
    document.querySelectorAll(".nav details[open]").forEach(function (d) {
      if (!d.contains(e.target)) d.removeAttribute("open");
    });
  });
  // A filter that applies itself when chosen (the CSP allows no inline handlers).
  document.addEventListener("change", function (e) {
    if (e.target.matches && e.target.matches("[data-autosubmit]") && e.target.form) e.target.form.submit();
  });
  // A form submits once: a second tap on a slow phone connection does nothing.
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (f.method && f.method.toLowerCase() === "post") {
      if (f.dataset.submitted) { e.preventDefault(); return; }
      f.dataset.submitted = "1";
      setTimeout(function () { delete f.dataset.submitted; }, 8000);
    }
  });
  // Live updates: an element with data-live names an event stream; when something happens
  // there the page reloads itself — unless the person is typing into a form on it.
  var live = document.querySelector("[data-live]");
  if (live && window.EventSource) {
    var source = new EventSource(live.getAttribute("data-live"));
    var reload = function () {
      var a = document.activeElement;
      if (a && (a.tagName === "INPUT" || a.tagName === "TEXTAREA" || a.tagName === "SELECT")) { live.classList.add("stale"); return; }
      window.location.reload();
    };
    ["progress", "promise"].forEach(function (k) { source.addEventListener(k, reload); });
  }
})();
