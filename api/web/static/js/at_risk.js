// The at-risk page: lines of the current view per promised week, by risk band.
"use strict";
(function () {
  const oc = window.ordercast;
  const data = JSON.parse(document.getElementById("at-risk-data").textContent);
  const box = document.getElementById("at-risk-chart");
  const p = oc.palette;

  function draw() {
    oc.timeChart(
      box,
      "at-risk",
      "Lines per week",
      [
        { label: "Overdue", stroke: p.black, width: 2 },
        { label: "High risk", stroke: p.vermillion, width: 2 },
        { label: "Medium risk", stroke: p.orange, width: 2, dash: [6, 4] },
        { label: "Low risk", stroke: p.green, width: 2, dash: [2, 3] },
      ],
      [data.weeks.map(oc.epochSeconds), data.overdue, data.high, data.medium, data.low],
      [],
      "Promised week, starting Monday (ISO date)"
    );
  }

  window.addEventListener("resize", () => {
    const chart = oc.charts["at-risk"];
    if (chart) {
      chart.setSize({ width: Math.max(320, box.clientWidth), height: 360 });
    }
  });
  draw();
})();
