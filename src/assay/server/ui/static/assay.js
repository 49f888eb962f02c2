/* assay web UI: theme toggle, Vega-Lite charts, sortable tables. No framework, no network
   access beyond this server: the chart libraries are vendored under /static/vendor/. */
(function () {
  "use strict";

  var VEGA = [
    "/static/vendor/vega/vega.min.js",
    "/static/vendor/vega-lite/vega-lite.min.js",
    "/static/vendor/vega-embed/vega-embed.min.js",
  ];

  /* Handles for tests and page scripts: the vega-embed results, in page order. */
  window.assayCharts = [];
  window.assayChartsRendered = false;

  function theme() {
    return document.documentElement.dataset.theme === "dark" ? "dark" : "light";
  }

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  var loaded = {};
  /* Load a script once; resolves when it has run. Scripts added together download in
     parallel and run in the order added (async = false). */
  function loadScript(src) {
    if (!loaded[src]) {
      loaded[src] = new Promise(function (resolve, reject) {
        var tag = document.createElement("script");
        tag.src = src;
        tag.async = false;
        tag.onload = resolve;
        tag.onerror = function () { reject(new Error("could not load " + src)); };
        document.head.appendChild(tag);
      });
    }
    return loaded[src];
  }

  function loadAll(sources) {
    return Promise.all(sources.map(loadScript));
  }

  /* Colours from the page's CSS variables, so charts follow the theme. */
  function chartConfig() {
    var fg = cssVar("--fg"), muted = cssVar("--muted"), grid = cssVar("--grid");
    return {
      background: null,
      font: cssVar("--font"),
      view: { stroke: null },
      title: { color: fg, subtitleColor: muted, anchor: "start", fontSize: 13, fontWeight: 600 },
      axis: {
        labelColor: muted, titleColor: fg, gridColor: grid, domainColor: grid,
        tickColor: grid, labelFontSize: 11, titleFontSize: 11,
      },
      legend: { labelColor: fg, titleColor: fg, labelFontSize: 11, titleFontSize: 11 },
      range: { category: ["#4c8bd6", "#e0843c", "#3fa66a", "#d45a5a", "#9a6fd1", "#c9a227", "#3fb5b5", "#d46fa8"] },
      line: { strokeWidth: 2 },
      point: { filled: true, size: 36 },
    };
  }

  /* A performance.measure entry (DevTools, benchmarks/ui_page_load.py) from `start`. */
  function measure(name, start) {
    try { performance.measure(name, { start: start, end: performance.now() }); } catch (e) {}
  }

  function drawCharts() {
    var boxes = document.querySelectorAll(".chart[data-vega]");
    if (!boxes.length) {
      window.assayChartsRenderedAt = performance.now();
      window.assayChartsRendered = true;
      return Promise.resolve([]);
    }
    var began = performance.now();
    return loadAll(VEGA).then(function () {
      measure("assay:vega-scripts", began);
      window.assayCharts.forEach(function (result) { result.finalize(); });
      var options = {
        actions: false,
        renderer: "svg",
        config: chartConfig(),
        tooltip: { theme: theme() },
      };
      return Promise.all(Array.prototype.map.call(boxes, function (box, index) {
        var start = performance.now();
        return window.vegaEmbed(box, JSON.parse(box.dataset.vega), options).then(function (result) {
          measure("assay:chart " + index, start);
          return result;
        });
      }));
    }).then(function (results) {
      measure("assay:charts", began);
      window.assayCharts = results;
      /* When the page was ready to read, for benchmarks/ui_page_load.py. */
      window.assayChartsRenderedAt = performance.now();
      window.assayChartsRendered = true;
      return results;
    }).catch(function (error) {
      console.error("assay: a chart could not be drawn:", error);
      throw error;
    });
  }

  function toggleTheme() {
    var next = theme() === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    try { localStorage.setItem("assay-theme", next); } catch (e) {}
    window.assayChartsRendered = false;
    window.assayChartsReady = drawCharts();
    document.dispatchEvent(new CustomEvent("assay:theme", { detail: { theme: next } }));
  }

  /* Click a header of a table.sortable to sort by that column (numbers as numbers). */
  function sortable(table) {
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(heads, function (head, index) {
      head.addEventListener("click", function () {
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var ascending = head.dataset.sort !== "asc";
        Array.prototype.forEach.call(heads, function (h) { delete h.dataset.sort; });
        head.dataset.sort = ascending ? "asc" : "desc";
        rows.sort(function (a, b) {
          var x = cellKey(a.cells[index]), y = cellKey(b.cells[index]);
          var order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  }

  function cellKey(cell) {
    if (!cell) return "";
    var raw = cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent.trim();
    var number = Number(raw.replace(/,/g, ""));
    return raw !== "" && !isNaN(number) ? number : raw;
  }

  window.assay = { loadScript: loadScript, theme: theme, cssVar: cssVar, drawCharts: drawCharts };

  function start() {
    var button = document.getElementById("theme-toggle");
    if (button) button.addEventListener("click", toggleTheme);
    document.querySelectorAll("table.sortable").forEach(sortable);
    window.assayChartsReady = drawCharts();
  }

  /* assay.js comes after the page's content in <body> (base.html): what it works on is
     parsed already, so start now rather than at DOMContentLoaded. */
  start();
})();
