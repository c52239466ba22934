// Evaluated in a loaded page (tests/cdp.py): returns the layout faults a reader would
// see, as a list of strings; an empty list is a clean page.
//  - "page scrolls sideways": the document is wider than the window;
//  - "overflow": an element's box sticks out of its table cell (or a cell out of its
//    scroll container's content, which is allowed: the container scrolls);
//  - "clipped": text cut off by an ancestor that hides overflow (not a scroll box);
//  - "overlap": two pieces of visible text whose boxes intersect.
(function () {
  "use strict";
  var faults = [];
  var TOL = 1.5;
  function label(el) {
    var s = el.tagName.toLowerCase();
    if (el.id) { s += "#" + el.id; }
    if (el.className && typeof el.className === "string") { s += "." + el.className.trim().split(/\s+/).join("."); }
    return s;
  }
  function visible(el) {
    for (var e = el, child = null; e && e.nodeType === 1; child = e, e = e.parentElement) {
      // the body of a closed <details> is not rendered, only its summary
      if (e !== el && e.tagName === "DETAILS" && !e.open && child.tagName !== "SUMMARY") { return false; }
      var cs = getComputedStyle(e);
      if (cs.display === "none" || cs.visibility === "hidden" || cs.opacity === "0") { return false; }
      if (e.classList && e.classList.contains("sr-only")) { return false; }
    }
    return true;
  }
  function scrolls(cs) { return cs.overflowX === "auto" || cs.overflowX === "scroll"; }
  if (document.documentElement.scrollWidth > window.innerWidth + 1) {
    faults.push("page scrolls sideways: " + document.documentElement.scrollWidth + " px in a " + window.innerWidth + " px window");
  }
  // boxes sticking out of their cell
  document.querySelectorAll("td, th").forEach(function (cell) {
    if (!visible(cell)) { return; }
    var r = cell.getBoundingClientRect();
    cell.querySelectorAll("*").forEach(function (el) {
      if (!visible(el) || el.closest("td, th") !== cell) { return; }
      var b = el.getBoundingClientRect();
      if (b.width === 0 || b.height === 0) { return; }
      if (b.left < r.left - TOL || b.right > r.right + TOL) {
        faults.push("overflow: " + label(el) + " (" + Math.round(b.left) + "-" + Math.round(b.right) + ") out of " + label(cell) + " (" + Math.round(r.left) + "-" + Math.round(r.right) + ") text " + JSON.stringify((el.textContent || "").trim().slice(0, 40)));
      }
    });
  });
  // text boxes: HTML text nodes (one box per line) and SVG text elements
  var boxes = [];
  var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  var range = document.createRange();
  for (var n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.nodeValue.trim()) { continue; }
    var el = n.parentElement;
    if (!el || el.closest("title, script, style, svg") && !el.closest("svg text") || !visible(el)) { continue; }
    range.selectNodeContents(n);
    var rects = range.getClientRects();
    for (var i = 0; i < rects.length; i++) {
      var q = rects[i];
      if (q.width < 1 || q.height < 1) { continue; }
      boxes.push({ el: el, node: n, r: q, text: n.nodeValue.trim().slice(0, 30) });
    }
  }
  // clipped text: cut by an ancestor hiding its overflow
  boxes.forEach(function (b) {
    for (var e = b.el; e && e !== document.body; e = e.parentElement) {
      var cs = getComputedStyle(e);
      if (cs.overflowX === "visible" && cs.overflowY === "visible") { continue; }
      if (scrolls(cs)) { break; }
      var c = e.getBoundingClientRect();
      if (b.r.right > c.right + TOL || b.r.left < c.left - TOL || b.r.bottom > c.bottom + TOL || b.r.top < c.top - TOL) {
        faults.push("clipped: " + JSON.stringify(b.text) + " in " + label(e));
        break;
      }
    }
  });
  // overlapping text: a sweep over boxes sorted by top
  boxes.sort(function (a, b) { return a.r.top - b.r.top; });
  for (var a = 0; a < boxes.length; a++) {
    var A = boxes[a];
    for (var b = a + 1; b < boxes.length && boxes[b].r.top < A.r.bottom; b++) {
      var B = boxes[b];
      if (A.node === B.node) { continue; }
      var w = Math.min(A.r.right, B.r.right) - Math.max(A.r.left, B.r.left);
      var h = Math.min(A.r.bottom, B.r.bottom) - Math.max(A.r.top, B.r.top);
      if (w > 2 && h > 3) {
        faults.push("overlap: " + JSON.stringify(A.text) + " (" + label(A.el) + ") and " + JSON.stringify(B.text) + " (" + label(B.el) + ")");
      }
    }
  }
  return faults.slice(0, 50);
})()
