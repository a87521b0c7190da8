/* The zone editor: a click on the map adds a point ("x y" in site metres) to the outline's textarea, and
   the outline typed or clicked is drawn on the map as it grows. The textarea stays the form's one source
   of truth, so a keyboard user types the same lines the clicks write. */
(function () {
  "use strict";
  var map = document.getElementById("zone-map");
  var area = document.getElementById("polygon");
  if (!map || !area || map.getAttribute("data-draw") !== "polygon") return;
  var draft = document.getElementById("zone-draft");
  var dots = document.getElementById("zone-draft-points");
  var status = document.getElementById("draft-status");
  var height = parseFloat(map.getAttribute("data-height"));
  var width = parseFloat(map.getAttribute("data-width"));
  var svgNS = "http://www.w3.org/2000/svg";

  function points() {
    var found = [];
    area.value.split(/\r?\n/).forEach(function (line) {
      var parts = line.replace(/[,;]/g, " ").trim().split(/\s+/);
      if (parts.length !== 2) return;
      var x = parseFloat(parts[0]), y = parseFloat(parts[1]);
      if (isFinite(x) && isFinite(y)) found.push([x, y]);
    });
    return found;
  }

  function redraw() {
    var found = points();
    draft.setAttribute("points", found.map(function (p) { return p[0] + "," + (height - p[1]); }).join(" "));
    while (dots.firstChild) dots.removeChild(dots.firstChild);
    found.forEach(function (p) {
      var dot = document.createElementNS(svgNS, "circle");
      dot.setAttribute("cx", p[0]);
      dot.setAttribute("cy", height - p[1]);
      dot.setAttribute("r", 14);
      dot.setAttribute("class", "zone-draft-point");
      dots.appendChild(dot);
    });
    map.setAttribute("data-points", String(found.length));
    return found.length;
  }

  function announce(count) {
    if (status) status.textContent = (status.getAttribute("data-text") || "{n}").replace("{n}", count);
  }

  function lines() {
    return area.value.split(/\r?\n/).filter(function (line) { return line.trim() !== ""; });
  }

  map.addEventListener("click", function (event) {
    var matrix = map.getScreenCTM();
    if (!matrix) return;
    var at = map.createSVGPoint();
    at.x = event.clientX;
    at.y = event.clientY;
    var local = at.matrixTransform(matrix.inverse());
    var x = Math.min(Math.max(local.x, 0), width), y = Math.min(Math.max(height - local.y, 0), height);
    var kept = lines();
    kept.push(x.toFixed(1) + " " + y.toFixed(1));
    area.value = kept.join("\n");
    announce(redraw());
  });
  area.addEventListener("input", redraw);

  var tools = document.querySelector(".draw-tools");
  if (tools) tools.hidden = false;
  var undo = document.getElementById("draft-undo");
  var clear = document.getElementById("draft-clear");
  if (undo) undo.addEventListener("click", function () {
    var kept = lines();
    kept.pop();
    area.value = kept.join("\n");
    announce(redraw());
  });
  if (clear) clear.addEventListener("click", function () {
    area.value = "";
    announce(redraw());
  });
  map.classList.add("drawing");
  redraw();
})();
