/* The livret's level charts: one small uPlot per competency, from the page's JSON
   (<script type="application/json" id="record-data">). The history table beside each
   chart says the same in words: without this script, nothing is lost. */
(function () {
  "use strict";

  var DAY_S = 86400;
  var LEVELS = { 1: "1 non maîtrisé", 2: "2 insuff.", 3: "3 maîtrisé", 4: "4 bien maîtrisé" };
  var HEIGHT = 150;

  function readData() {
    var node = document.getElementById("record-data");
    if (!node) return null;
    try {
      return JSON.parse(node.textContent || "{}");
    } catch (error) {
      return null;
    }
  }

  function frenchDate(seconds) {
    var moment = new Date(seconds * 1000);
    return moment.toLocaleDateString("fr-FR", { day: "2-digit", month: "2-digit", year: "2-digit" });
  }

  /* The time span shown: the levels' own, at least a fortnight, a little margin around. */
  function span(xs) {
    var low = Math.min.apply(null, xs);
    var high = Math.max.apply(null, xs);
    var pad = Math.max((high - low) * 0.06, DAY_S);
    if (high - low < 14 * DAY_S) {
      var middle = (low + high) / 2;
      return [middle - 7 * DAY_S - pad, middle + 7 * DAY_S + pad];
    }
    return [low - pad, high + pad];
  }

  /* A few dates under the chart, as many as its width holds (one per ~110 px). */
  function dateSplits(range, width) {
    var count = Math.max(2, Math.min(6, Math.floor(width / 110)));
    var step = (range[1] - range[0]) / count;
    var splits = [];
    for (var i = 0; i <= count; i += 1) splits.push(range[0] + step * (i + 0.5));
    return splits.filter(function (value) {
      return value < range[1];
    });
  }

  function options(width, range) {
    return {
      width: width,
      height: HEIGHT,
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { size: 10 } },
      scales: {
        x: { time: true, range: range },
        y: { range: [0.5, 4.5] },
      },
      axes: [
        {
          stroke: "#4a5866",
          grid: { stroke: "#e6ebf0" },
          splits: function (u) {
            return dateSplits(range, u.bbox.width / (window.devicePixelRatio || 1));
          },
          values: function (u, splits) {
            return splits.map(frenchDate);
          },
        },
        {
          stroke: "#4a5866",
          size: 118,
          grid: { stroke: "#e6ebf0" },
          splits: function () {
            return [1, 2, 3, 4];
          },
          values: function (u, splits) {
            return splits.map(function (value) {
              return LEVELS[value] || "";
            });
          },
        },
      ],
      series: [
        {},
        {
          label: "Niveau",
          stroke: "#1d4f91",
          width: 2,
          paths: uPlot.paths.stepped({ align: 1 }),
          points: { show: true, size: 9, fill: "#1d4f91" },
        },
      ],
    };
  }

  function draw() {
    var data = readData();
    if (!data || !data.charts || typeof window.uPlot !== "function") return;
    var charts = [];
    document.querySelectorAll(".rec-chart[data-competency]").forEach(function (element) {
      var points = data.charts[element.getAttribute("data-competency")] || [];
      if (!points.length) return;
      var xs = points.map(function (point) {
        return point[0];
      });
      var ys = points.map(function (point) {
        return point[1];
      });
      var width = Math.max(element.clientWidth, 240);
      var chart = new uPlot(options(width, span(xs)), [xs, ys], element);
      charts.push({ chart: chart, element: element });
    });
    var pending = null;
    window.addEventListener("resize", function () {
      if (pending) window.clearTimeout(pending);
      pending = window.setTimeout(function () {
        charts.forEach(function (item) {
          item.chart.setSize({ width: Math.max(item.element.clientWidth, 240), height: HEIGHT });
        });
      }, 150);
    });
    document.body.setAttribute("data-charts", String(charts.length));
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
