// Shared helpers for the planner's pages: the colour-blind-safe Okabe-Ito palette, ISO
// dates in UTC, numbers with thousands separators, table cells, JSON posts with the CSRF
// token, and a registry of drawn charts (window.ordercast.charts) that the browser tests read.
"use strict";
(function () {
  const palette = {
    black: "#000000",
    orange: "#E69F00",
    sky: "#56B4E9",
    green: "#009E73",
    yellow: "#F0E442",
    blue: "#0072B2",
    vermillion: "#D55E00",
    purple: "#CC79A7",
  };
  const numbers = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

  function isoDate(seconds) {
    return seconds == null ? "–" : new Date(seconds * 1000).toISOString().slice(0, 10);
  }

  function number(value) {
    return value == null || !Number.isFinite(value) ? "–" : numbers.format(value);
  }

  function epochSeconds(isoDay) {
    return Date.parse(isoDay + "T00:00:00Z") / 1000;
  }

  // A new cell at the end of table row `row` holding `text`; a numeric one is right-aligned
  // (class "n").
  function cell(row, text, numeric) {
    const td = row.insertCell();
    td.textContent = text;
    if (numeric) {
      td.className = "n";
    }
  }

  // POST `body` as JSON to `path` with the CSRF `token` in the X-CSRF-Token header (the
  // session's check for a page's action); resolves to the fetch Response.
  function postJson(path, token, body) {
    return fetch(path, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRF-Token": token,
      },
      body: JSON.stringify(body),
    });
  }

  // A time-series chart in `element`: `series` are uPlot series options after the x axis,
  // `data` the uPlot columns (x in epoch seconds). Redrawing the same element replaces it.
  // `xLabel` names what a date on the x axis stands for (default: a period's end).
  function timeChart(element, name, yLabel, series, data, bands, xLabel) {
    const registry = window.ordercast.charts;
    if (registry[name]) {
      registry[name].destroy();
    }
    const width = Math.max(320, element.clientWidth || 800);
    const opts = {
      width: width,
      height: 360,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      scales: { x: { time: true } },
      series: [{ label: "Period", value: (u, v) => isoDate(v) }].concat(
        series.map((s) => Object.assign({ value: (u, v) => number(v), points: { show: false } }, s))
      ),
      bands: bands || [],
      // The legend names the lines; values are in the table view beside the chart.
      legend: { live: false },
      axes: [
        // 90 px between dates: an ISO date is ~70 px wide, so labels never overlap.
        { label: xLabel || "Period end (ISO date)", space: 90, values: (u, splits) => splits.map(isoDate) },
        { label: yLabel, size: 70, values: (u, splits) => splits.map(number) },
      ],
    };
    const chart = new uPlot(opts, data, element);
    registry[name] = chart;
    return chart;
  }

  window.ordercast = window.ordercast || { charts: {} };
  window.ordercast.palette = palette;
  window.ordercast.isoDate = isoDate;
  window.ordercast.number = number;
  window.ordercast.epochSeconds = epochSeconds;
  window.ordercast.timeChart = timeChart;
  window.ordercast.cell = cell;
  window.ordercast.postJson = postJson;
})();
