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
  // A form submits once: a second tap on a slow phone connection does nothing.
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (f.method && f.method.toLowerCase() === "post") {
      if (f.dataset.submitted) { e.preventDefault(); return; }
      f.dataset.submitted = "1";
      setTimeout(function () { delete f.dataset.submitted; }, 8000);
    }
  });
})();
