/* The lineage graph: Cytoscape over the positions the server computed (preset layout). */
(function () {
  "use strict";
  var box = document.getElementById("graph");
  var elements = JSON.parse(document.getElementById("graph-data").textContent);
  var css = window.assay.cssVar;

  /* Node widths from their labels, measured once here: Cytoscape's own `width: label` is
     deprecated and, in 3.35, left nodes unmeasured (invisible) until the style was set again. */
  var measure = document.createElement("canvas").getContext("2d");
  measure.font = "12px " + css("--font");
  elements.nodes.forEach(function (node) {
    node.data.w = Math.ceil(measure.measureText(node.data.label || "").width) + 18;
  });

  function style() {
    var status = {
      "fresh": css("--ok"), "stale": css("--warn"), "failed": css("--bad"), "never built": css("--idle"),
    };
    var rules = [
      { selector: "node", style: {
          "label": "data(label)", "color": css("--fg"), "font-size": 12, "font-family": css("--font"),
          "text-valign": "center", "text-halign": "center", "shape": "round-rectangle",
          "width": "data(w)", "height": 26, "padding": "8px", "background-color": css("--panel"),
          "border-width": 2, "border-color": css("--muted"),
      } },
      { selector: "node[kind = 'dataset']", style: { "border-color": css("--accent") } },
      { selector: "node[rank = 0]", style: { "border-style": "dashed", "border-color": css("--muted") } },
      { selector: "node[rank >= 5]", style: { "shape": "ellipse", "border-color": css("--info") } },
      { selector: "node[?compound]", style: {
          "text-valign": "top", "text-halign": "center", "font-weight": 600, "padding": "12px",
          "background-opacity": 0.35, "shape": "round-rectangle",
      } },
      { selector: "edge", style: {
          "width": 1.6, "curve-style": "bezier", "target-arrow-shape": "triangle",
          "line-color": css("--muted"), "target-arrow-color": css("--muted"), "arrow-scale": 0.9,
      } },
      { selector: "edge[type = 'INDIRECT']", style: { "line-style": "dashed", "opacity": 0.6 } },
      { selector: "node:selected", style: { "border-width": 4 } },
    ];
    Object.keys(status).forEach(function (state) {
      rules.push({ selector: "node[status = '" + state + "']", style: {
        "border-color": status[state], "background-color": css("--panel"),
      } });
    });
    return rules;
  }

  var cy = window.cytoscape({
    container: box,
    elements: elements,
    layout: { name: "preset", fit: true, padding: 30 },
    style: style(),
    minZoom: 0.1,
    maxZoom: 3,
  });
  /* A hand over datasets that open a page (Cytoscape styles have no cursor). */
  cy.on("mouseover", "node[url]", function () { box.style.cursor = "pointer"; });
  cy.on("mouseout", "node", function () { box.style.cursor = ""; });
  cy.on("tap", "node", function (event) {
    var url = event.target.data("url");
    if (url) window.location.href = url;
  });
  document.addEventListener("assay:theme", function () { cy.style(style()); });
  /* For tests and the console: the Cytoscape instance. */
  window.assayGraph = cy;
})();
