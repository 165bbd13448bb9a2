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
  // A choice that changes what the form offers (the supplier whose stock is listed) reloads
  // the form with it; the page still works without this, by typing lines.
  document.addEventListener("change", function (e) {
    var name = e.target.getAttribute && e.target.getAttribute("data-reload");
    if (!name) return;
    var u = new URL(window.location.href);
    u.searchParams.set(name, e.target.value);
    window.location.assign(u.toString());
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
  // Each field's message goes beside its input, which is marked; the first one gets the focus.
  var first = null;
  document.querySelectorAll(".err[data-field]").forEach(function (msg) {
    var section = msg.closest("section, main") || document;
    var input = section.querySelector('[name="' + msg.getAttribute("data-field").replace(/"/g, "") + '"]');
    if (!input || input.type === "hidden") return;
    input.setAttribute("aria-invalid", "true");
    var label = input.closest("label") || input.parentNode;
    if (!label.querySelector(".err")) label.appendChild(msg); else msg.remove();
    if (!first) first = input;
  });
  if (first) first.focus();
  // On a phone a long page (an order, an exception) folds its later sections to their
  // headings; a tap opens one. What needs action (a section marked data-keep: a work list's
  // rows to act on), what has errors, and the linked section stay open.
  if (window.matchMedia && window.matchMedia("(max-width: 640px)").matches && !document.querySelector("[data-nofold]")) {
    var sections = Array.prototype.slice.call(document.querySelectorAll("main > section.card, main > div > section.card"))
      .filter(function (s) { return s.querySelector(":scope > h2"); });
    if (sections.length > 3) {
      sections.forEach(function (s, i) {
        var h = s.querySelector(":scope > h2");
        h.classList.add("fold-head");
        h.setAttribute("role", "button");
        h.setAttribute("tabindex", "0");
        var keep = i === 0 || s.id === "answer" || s.id === "decide" || s.hasAttribute("data-keep") || s.querySelector(".alert, .err") ||
          (window.location.hash && s.id === window.location.hash.slice(1));
        if (!keep) s.classList.add("folded");
        var toggle = function () { s.classList.toggle("folded"); };
        h.addEventListener("click", toggle);
        h.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(); } });
      });
    }
  }
  // A row of tabs wider than the screen shows the current one.
  var tab = document.querySelector(".tabs a.active");
  if (tab && tab.parentNode.scrollWidth > tab.parentNode.clientWidth) {
    tab.parentNode.scrollLeft = tab.offsetLeft - (tab.parentNode.clientWidth - tab.offsetWidth) / 2;
  }
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
