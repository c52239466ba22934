// Keeps a status page current on a wall display without a full reload: every
// data-refresh seconds it fetches the same address and swaps, in place, each element
// marked data-live (matched by id) and the header's catalogue state. No framework.
// Without JavaScript the page simply stays as rendered (reload it by hand).
(function () {
  "use strict";
  var seconds = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
  if (!(seconds > 0) || !window.fetch || !window.DOMParser) { return; }
  var state = document.getElementById("refresh-state");
  var swaps = 0;

  function say(text, failed) {
    if (!state) { return; }
    state.textContent = text;
    state.className = failed ? "refresh-failed" : "";
  }

  function swap(fresh, id) {
    var old = document.getElementById(id);
    var neu = fresh.getElementById(id);
    if (!old || !neu) { return; }
    // keep the grid's own horizontal scroll where the reader left it
    var scrolled = old.querySelector(".table-wrap");
    var left = scrolled ? scrolled.scrollLeft : 0;
    old.replaceWith(document.importNode(neu, true));
    var again = document.getElementById(id);
    var wrap = again && again.querySelector(".table-wrap");
    if (wrap) { wrap.scrollLeft = left; }
  }

  function update() {
    if (document.hidden) { return schedule(); }
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, Math.min(seconds, 30) * 1000) : null;
    fetch(location.href, { cache: "no-store", credentials: "same-origin", signal: controller ? controller.signal : undefined })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.text();
      })
      .then(function (text) {
        var fresh = new DOMParser().parseFromString(text, "text/html");
        var ids = ["catalogue-state", "rendered", "counts"];
        document.querySelectorAll("[data-live]").forEach(function (el) { if (el.id) { ids.push(el.id); } });
        ids.forEach(function (id) { swap(fresh, id); });
        swaps += 1;
        document.body.setAttribute("data-refreshes", String(swaps));
        say("updated " + new Date().toLocaleTimeString() + ", every " + seconds + " s", false);
      })
      .catch(function (err) {
        say("update failed (" + (err && err.name === "AbortError" ? "timed out" : (err && err.message) || "network") + "), retrying in " + seconds + " s", true);
      })
      .then(function () {
        if (timer) { clearTimeout(timer); }
        schedule();
      });
  }

  function schedule() { setTimeout(update, seconds * 1000); }

  schedule();
})();
