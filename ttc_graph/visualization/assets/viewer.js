// ttc-graph search-tree viewer: tooltips, details panel, zoom, hiding pruned branches.
// The SVG tree is already in the page; this only adds behaviour. All text is set
// with textContent, never parsed as HTML: step text is model output.
(function () {
  "use strict";
  var trace = JSON.parse(document.getElementById("trace-data").textContent);
  var byId = {};
  trace.nodes.forEach(function (n) { byId[n.id] = n; });
  var svg = document.getElementById("tree");
  var box = document.getElementById("tree-box");
  var details = document.getElementById("details");
  var tooltip = document.getElementById("tooltip");
  var nodes = Array.prototype.slice.call(svg.querySelectorAll("g.node"));
  var selected = null;

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function scoreText(score) {
    return score === null ? "none" : score.toFixed(3);
  }

  function pathTo(id) {
    var out = [];
    for (var n = byId[id]; n; n = n.parent === null ? null : byId[n.parent]) out.unshift(n);
    return out;
  }

  function show(id) {
    var node = byId[id];
    details.textContent = "";
    details.setAttribute("data-id", id);
    var isRoot = node.parent === null;
    details.appendChild(el("h2", "", isRoot ? "Question (root)" : "Step " + id));
    var dl = el("dl");
    [["status", node.status], ["score", scoreText(node.score)], ["iteration", String(node.iteration)],
     ["group", String(node.group)], ["chosen path", node.chosen ? "yes" : "no"],
     ["resampled", node.copies > 1 ? "×" + node.copies : "—"]].forEach(function (kv) {
      dl.appendChild(el("dt", "", kv[0]));
      dl.appendChild(el("dd", "field-" + kv[0].replace(" ", "-"), kv[1]));
    });
    details.appendChild(dl);
    details.appendChild(el("div", "label", isRoot ? "question" : "this step"));
    details.appendChild(el("pre", "step-text", node.text));
    if (!isRoot) {
      details.appendChild(el("div", "label", "solution so far"));
      var pre = el("pre", "path-text");
      pathTo(id).slice(1).forEach(function (step) {
        var span = el("span", "path-step" + (step.id === id ? " current" : ""), step.text);
        span.title = "step " + step.id + " · score " + scoreText(step.score);
        pre.appendChild(span);
      });
      details.appendChild(pre);
    }
  }

  function select(g) {
    if (selected) selected.classList.remove("selected");
    selected = g;
    g.classList.add("selected");
    show(g.getAttribute("data-id"));
  }

  function moveTooltip(ev) {
    var pad = 14;
    var x = ev.clientX + pad, y = ev.clientY + pad;
    if (x + tooltip.offsetWidth > window.innerWidth) x = ev.clientX - tooltip.offsetWidth - pad;
    if (y + tooltip.offsetHeight > window.innerHeight) y = ev.clientY - tooltip.offsetHeight - pad;
    tooltip.style.left = Math.max(0, x) + "px";
    tooltip.style.top = Math.max(0, y) + "px";
  }

  nodes.forEach(function (g) {
    var node = byId[g.getAttribute("data-id")];
    // The native <title> tooltip is the no-script fallback; the richer one replaces it.
    var title = g.querySelector("title");
    if (title) title.remove();
    g.addEventListener("mouseenter", function (ev) {
      var text = node.text.length > 600 ? node.text.slice(0, 600) + "…" : node.text;
      tooltip.textContent = node.id + " · " + node.status + " · score " + scoreText(node.score) + "\n" + text;
      tooltip.hidden = false;
      moveTooltip(ev);
    });
    g.addEventListener("mousemove", moveTooltip);
    g.addEventListener("mouseleave", function () { tooltip.hidden = true; });
    g.addEventListener("click", function () { select(g); });
    g.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); select(g); }
    });
  });

  document.getElementById("hide-faded").addEventListener("change", function (ev) {
    box.classList.toggle("hide-faded", ev.target.checked);
  });

  var zoom = 1;
  var baseW = parseFloat(svg.getAttribute("data-width"));
  var baseH = parseFloat(svg.getAttribute("data-height"));
  function setZoom(z) {
    zoom = Math.min(4, Math.max(0.2, z));
    svg.setAttribute("width", String(baseW * zoom));
    svg.setAttribute("height", String(baseH * zoom));
    document.getElementById("zoom-reset").textContent = Math.round(zoom * 100) + "%";
  }
  document.getElementById("zoom-in").addEventListener("click", function () { setZoom(zoom * 1.25); });
  document.getElementById("zoom-out").addEventListener("click", function () { setZoom(zoom / 1.25); });
  document.getElementById("zoom-reset").addEventListener("click", function () { setZoom(1); });

  // Open on the end of the chosen path (nodes are listed parents first), so the
  // panel starts with the winning solution.
  var chosen = nodes.filter(function (g) { return g.classList.contains("chosen"); });
  if (chosen.length) select(chosen[chosen.length - 1]);
  document.body.setAttribute("data-ready", "true");
})();
