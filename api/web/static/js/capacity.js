// The capacity page: the plan's band of work available against capacity, likely shortfall days
// marked, the backlog left each day below it, a table view, and a what-if scenario drawn
// beside the plan.
"use strict";
(function () {
  const oc = window.ordercast;
  const cell = oc.cell;
  const state = JSON.parse(document.getElementById("capacity-data").textContent);
  const compare = document.getElementById("compare");
  const planBox = document.getElementById("capacity-chart");
  const scenarioBox = document.getElementById("capacity-whatif-chart");
  const planBacklogBox = document.getElementById("capacity-backlog-chart");
  const scenarioBacklogBox = document.getElementById("capacity-whatif-backlog-chart");
  let scenario = null;

  function columns(days) {
    const x = days.map((d) => oc.epochSeconds(d.ds));
    const pick = (name) => days.map((d) => d[name]);
    // Shortfall marks sit on the capacity line, on likely days only (null elsewhere).
    const marks = days.map((d) => (d.p_shortfall >= state.likely ? d.capacity : null));
    return [
      x,
      pick("available_p10"),
      pick("available_p50"),
      pick("available_p90"),
      pick("capacity"),
      marks,
    ];
  }

  const DAY = "Day (ISO date)";

  // The backlog left at each day's end (P10–P90 band and median): what the plan carries.
  function drawBacklog(element, name, days) {
    const p = oc.palette;
    const pick = (column) => days.map((d) => d[column]);
    oc.timeChart(
      element,
      name,
      "Units waiting at day end",
      [
        { label: "Backlog P10", stroke: p.orange, width: 1 },
        { label: "Backlog P50", stroke: p.vermillion, width: 2 },
        { label: "Backlog P90", stroke: p.orange, width: 1 },
      ],
      [
        days.map((d) => oc.epochSeconds(d.ds)),
        pick("backlog_p10"),
        pick("backlog_p50"),
        pick("backlog_p90"),
      ],
      [{ series: [3, 1], fill: "rgba(230, 159, 0, 0.2)" }],
      DAY
    );
  }

  function draw(element, name, days) {
    const p = oc.palette;
    oc.timeChart(
      element,
      name,
      "Units per day",
      [
        { label: "Available P10", stroke: p.sky, width: 1 },
        { label: "Available P50", stroke: p.blue, width: 2 },
        { label: "Available P90", stroke: p.sky, width: 1 },
        { label: "Capacity", stroke: p.black, width: 2, dash: [6, 4] },
        {
          label: "Likely shortfall",
          stroke: p.vermillion,
          width: 0,
          paths: () => null,
          points: { show: true, size: 9, fill: p.vermillion, stroke: p.vermillion },
        },
      ],
      columns(days),
      [{ series: [3, 1], fill: "rgba(86, 180, 233, 0.25)" }],
      DAY
    );
  }

  function percent(value) {
    return value == null ? "–" : oc.number(100 * value) + " %";
  }

  function fillTable(days) {
    const body = document.querySelector("#chart-table tbody");
    body.replaceChildren();
    days.forEach((d) => {
      const row = body.insertRow();
      const short = d.p_shortfall >= state.likely;
      if (short) {
        row.className = "short";
      }
      cell(row, d.ds + (short ? " (likely shortfall)" : ""), false);
      cell(row, oc.number(d.arrivals_p50), true);
      cell(row, oc.number(d.available_p10), true);
      cell(row, oc.number(d.available_p50), true);
      cell(row, oc.number(d.available_p90), true);
      cell(row, oc.number(d.capacity), true);
      cell(row, percent(d.load_ratio), true);
      cell(row, percent(d.p_shortfall), true);
      cell(row, oc.number(d.backlog_p50), true);
      cell(row, oc.number(d.backlog_days), true);
      cell(row, oc.number(d.expected_delay_days), true);
    });
  }

  function fillCompare(summary) {
    const table = document.getElementById("compare-table");
    const body = table.querySelector("tbody");
    body.replaceChildren();
    [
      ["Plan", summary.plan],
      ["What-if", summary.scenario],
    ].forEach(([label, s]) => {
      const row = body.insertRow();
      cell(row, label, false);
      cell(row, oc.number(s.shortfall_days.length), true);
      cell(row, oc.number(s.backlog_end), true);
      cell(row, oc.number(s.max_delay), true);
      cell(row, oc.number(s.capacity), true);
    });
    table.hidden = false;
  }

  function drawAll() {
    // Every chart goes first: a box sized by a chart still drawn at the old width would
    // keep the page that wide (the plan's two charts share one box).
    ["capacity", "capacity-backlog", "capacity-whatif", "capacity-whatif-backlog"].forEach(
      (name) => {
        if (oc.charts[name]) {
          oc.charts[name].destroy();
          delete oc.charts[name];
        }
      }
    );
    draw(planBox, "capacity", state.plan.days);
    drawBacklog(planBacklogBox, "capacity-backlog", state.plan.days);
    if (scenario) {
      draw(scenarioBox, "capacity-whatif", scenario.days);
      drawBacklog(scenarioBacklogBox, "capacity-whatif-backlog", scenario.days);
    }
  }

  function closures(text) {
    const days = text
      .split(",")
      .map((d) => d.trim())
      .filter((d) => d);
    const bad = days.find((d) => !/^\d{4}-\d{2}-\d{2}$/.test(d));
    if (bad) {
      throw new Error("closed days are ISO dates (YYYY-MM-DD), not '" + bad + "'");
    }
    return days;
  }

  const form = document.getElementById("what-if-form");
  const status = document.getElementById("what-if-status");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = new FormData(form);
    const body = { site: fields.get("site"), horizon: Number(fields.get("horizon")) };
    try {
      const pct = fields.get("capacity_change_pct");
      if (pct !== "") {
        body.capacity_change_pct = Number(pct);
      }
      const units = fields.get("extra_units");
      if (units !== "" && fields.get("extra_day")) {
        body.extra_units = { [fields.get("extra_day")]: Number(units) };
      }
      const overtime = fields.get("overtime_pct");
      if (overtime !== "") {
        body.overtime_pct = Number(overtime);
      }
      const hours = fields.get("shift_hours");
      const rate = fields.get("shift_rate");
      if (hours !== "" || rate !== "") {
        if (hours === "" || rate === "") {
          throw new Error("an extra shift needs both its hours and its units per hour");
        }
        body.extra_shift = { hours: Number(hours), units_per_hour: Number(rate) };
        if (fields.get("shift_weekday")) {
          body.extra_shift.weekdays = [fields.get("shift_weekday")];
        }
      }
      body.closures = closures(fields.get("closures") || "");
    } catch (problem) {
      status.textContent = problem.message;
      status.className = "problem";
      return;
    }
    status.className = "";
    status.textContent = "Simulating…";
    const response = await oc.postJson("/web/capacity/what-if", fields.get("csrf"), body);
    const answer = await response.json();
    if (!response.ok) {
      status.textContent = "Not simulated: " + (answer.message || response.statusText);
      status.className = "problem";
      return;
    }
    scenario = answer.scenario;
    compare.classList.add("side");
    document.getElementById("scenario-box").hidden = false;
    document.getElementById("scenario-caption").textContent =
      state.site + " with " + JSON.stringify(answer.scenario_fields) + ", units per day.";
    drawAll();
    fillCompare(answer.summary);
    status.textContent = "Drawn beside the plan.";
  });

  window.addEventListener("resize", () => {
    [
      ["capacity", planBox],
      ["capacity-whatif", scenarioBox],
      ["capacity-backlog", planBacklogBox],
      ["capacity-whatif-backlog", scenarioBacklogBox],
    ].forEach(([name, box]) => {
      const chart = oc.charts[name];
      if (chart) {
        chart.setSize({ width: Math.max(320, box.clientWidth), height: 360 });
      }
    });
  });

  drawAll();
  fillTable(state.plan.days);
})();
