// The demand page: series picker, chart, table view, adjustment form and history.
"use strict";
(function () {
  const oc = window.ordercast;
  const cell = oc.cell;
  const chartBox = document.getElementById("demand-chart");
  const unit = chartBox.dataset.unit;
  let state = JSON.parse(document.getElementById("demand-data").textContent);

  function draw(chart) {
    const x = chart.ds.map(oc.epochSeconds);
    const p = oc.palette;
    oc.timeChart(
      chartBox,
      "demand",
      "Units per " + unit,
      [
        { label: "Actual", stroke: p.black, width: 2 },
        { label: "Statistical", stroke: p.blue, width: 2, dash: [6, 4] },
        { label: "Adjusted (plan)", stroke: p.vermillion, width: 2 },
        { label: "P10", stroke: p.sky, width: 1 },
        { label: "P90", stroke: p.sky, width: 1 },
        { label: "Published 1 ahead", stroke: p.green, width: 2, dash: [2, 3] },
      ],
      [x, chart.actual, chart.statistical, chart.adjusted, chart.p10, chart.p90, chart.published],
      [{ series: [5, 4], fill: "rgba(86, 180, 233, 0.25)" }]
    );
  }

  function fillTable(chart) {
    const body = document.querySelector("#chart-table tbody");
    body.replaceChildren();
    chart.ds.forEach((day, i) => {
      const row = body.insertRow();
      cell(row, day, false);
      [chart.actual, chart.statistical, chart.adjusted, chart.p10, chart.p90, chart.published].forEach((col) =>
        cell(row, oc.number(col[i]), true)
      );
    });
  }

  const KINDS = { set: "set to", add: "add", percent: "change by %" };

  // Forecast value added in WAPE points (positive: the adjustment helped).
  function valueAdded(a) {
    if (!a.fva_known) {
      return "computing…";
    }
    if (a.fva === null) {
      return "no actuals yet";
    }
    const points = 100 * a.fva;
    return (points > 0 ? "+" : "") + oc.number(points);
  }

  const canRevoke = document.getElementById("history").dataset.canRevoke === "yes";

  function csrfToken() {
    const field = document.querySelector("#adjust-form input[name=csrf]");
    return field ? field.value : "";
  }

  // Re-read the series (chart, table, history) from the server and draw it again.
  async function reload() {
    const fresh = await fetch("/web/demand/data?" + seriesQuery(state.chart), {
      headers: { Accept: "application/json" },
    });
    state = await fresh.json();
    show();
  }

  // Revoking is audited, not erased: the row stays in the history as "revoked".
  async function revoke(id, button) {
    const status = document.getElementById("adjust-status");
    button.disabled = true;
    const response = await fetch("/web/demand/adjustments/" + encodeURIComponent(id) + "/revoke", {
      method: "POST",
      headers: { Accept: "application/json", "X-CSRF-Token": csrfToken() },
    });
    const answer = await response.json();
    if (!response.ok) {
      status.className = "problem";
      status.textContent = "Not revoked: " + (answer.message || response.statusText);
      button.disabled = false;
      return;
    }
    await reload();
    status.className = "";
    status.textContent = "Revoked: adjustment " + id.slice(0, 8) + ".";
  }

  function fillHistory(history) {
    const body = document.querySelector("#history tbody");
    body.replaceChildren();
    if (!history.length) {
      const row = body.insertRow();
      const td = row.insertCell();
      td.colSpan = canRevoke ? 9 : 8;
      td.textContent = "No adjustment of this series yet.";
      return;
    }
    history.forEach((a) => {
      const row = body.insertRow();
      cell(row, a.created_at, false);
      cell(row, a.author, false);
      cell(row, KINDS[a.kind] || a.kind, false);
      cell(row, oc.number(a.value), true);
      cell(row, a.start === a.end ? a.start : a.start + " to " + a.end, false);
      cell(row, a.reason + (a.reason_code ? " (" + a.reason_code + ")" : ""), false);
      cell(row, a.status, false);
      cell(row, valueAdded(a), true);
      if (canRevoke) {
        const td = row.insertCell();
        if (a.status === "active") {
          const button = document.createElement("button");
          button.type = "button";
          button.className = "revoke";
          button.textContent = "Revoke";
          button.addEventListener("click", () => revoke(a.id, button));
          td.appendChild(button);
        }
      }
    });
  }

  function show() {
    draw(state.chart);
    fillTable(state.chart);
    fillHistory(state.history);
  }

  function seriesQuery(chart) {
    return (
      "level=" + encodeURIComponent(chart.level) + "&series=" + encodeURIComponent(chart.series_id)
    );
  }

  // Picker: the server searches (at most 50 matches); typing waits 120 ms between requests.
  const search = document.getElementById("series-search");
  const matches = document.getElementById("series-matches");
  let timer = null;
  let asked = 0;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const mine = ++asked;
      const q = search.value.trim();
      if (!q) {
        matches.replaceChildren();
        return;
      }
      const response = await fetch("/web/demand/series?q=" + encodeURIComponent(q), {
        headers: { Accept: "application/json" },
      });
      if (!response.ok || mine !== asked) {
        return;
      }
      const found = (await response.json()).matches;
      matches.replaceChildren(
        ...found.map((m) => {
          const li = document.createElement("li");
          const a = document.createElement("a");
          a.href = "/web/demand?" + seriesQuery({ level: m.level, series_id: m.series });
          a.textContent = m.label + " [" + m.level + "]";
          li.appendChild(a);
          return li;
        })
      );
      if (!found.length) {
        const li = document.createElement("li");
        li.textContent = "No series matches.";
        matches.appendChild(li);
      }
    }, 120);
  });
  search.addEventListener("keydown", (event) => {
    const first = matches.querySelector("a");
    if (event.key === "Enter" && first) {
      event.preventDefault();
      window.location.href = first.href;
    }
  });

  // Adjustment form: posts to the adjustments logic, then redraws from the fresh data.
  const form = document.getElementById("adjust-form");
  if (form) {
    const status = document.getElementById("adjust-status");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const fields = new FormData(form);
      const body = {
        level: fields.get("level"),
        series: fields.get("series"),
        start: fields.get("start"),
        end: fields.get("end") || null,
        kind: fields.get("kind"),
        value: Number(fields.get("value")),
        reason: fields.get("reason"),
        reason_code: fields.get("reason_code") || null,
      };
      status.textContent = "Applying…";
      const response = await oc.postJson("/web/demand/adjustments", fields.get("csrf"), body);
      const answer = await response.json();
      if (response.status !== 201) {
        status.textContent = "Not applied: " + (answer.message || response.statusText);
        status.className = "problem";
        return;
      }
      await reload();
      status.className = "";
      status.textContent = "Applied: adjustment " + answer.adjustment.id.slice(0, 8) + ".";
    });
  }

  window.addEventListener("resize", () => {
    const chart = oc.charts.demand;
    if (chart) {
      chart.setSize({ width: Math.max(320, chartBox.clientWidth), height: 360 });
    }
  });

  show();
})();
