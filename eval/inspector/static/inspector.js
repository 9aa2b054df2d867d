// swe-search inspect: filter and sort the overview's table. Plain DOM; reads text, never writes HTML.
(function () {
  "use strict";
  var table = document.getElementById("instances");
  if (!table) return;
  var body = table.tBodies[0];
  var filter = document.getElementById("filter");
  var grade = document.getElementById("status-filter");
  var shown = document.getElementById("shown");

  function apply() {
    var words = (filter.value || "").toLowerCase().split(/\s+/).filter(Boolean);
    var want = grade.value;
    var count = 0;
    Array.prototype.forEach.call(body.rows, function (row) {
      var text = row.textContent.toLowerCase();
      var ok = words.every(function (w) { return text.indexOf(w) >= 0; }) &&
        (!want || row.getAttribute("data-resolved") === want);
      row.hidden = !ok;
      if (ok) count += 1;
    });
    shown.textContent = count + " instance(s)";
  }
  filter.addEventListener("input", apply);
  grade.addEventListener("change", apply);

  function key(cell, numeric) {
    if (!numeric) return cell.textContent.trim().toLowerCase();
    var v = cell.getAttribute("data-v");
    if (v === null) v = cell.textContent.replace(/[^0-9.eE+-]/g, "");
    var n = parseFloat(v);
    return isNaN(n) ? -Infinity : n;
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
    th.addEventListener("click", function () {
      var numeric = th.getAttribute("data-sort") === "num";
      var asc = !th.classList.contains("asc");
      Array.prototype.forEach.call(th.parentNode.cells, function (c) { c.classList.remove("asc", "desc"); });
      th.classList.add(asc ? "asc" : "desc");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a.cells[col], numeric), y = key(b.cells[col], numeric);
        return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
})();
