// The models page: accuracy over time, and (admin keys) promote / roll back buttons.
"use strict";
(function () {
  const oc = window.ordercast;
  const p = oc.palette;

  const data = document.getElementById("accuracy-data");
  const box = document.getElementById("accuracy-chart");
  if (data && box) {
    const history = JSON.parse(data.textContent);
    const pct = (values) => values.map((v) => (v == null ? null : 100 * v));
    oc.timeChart(
      box,
      "accuracy",
      "Percent (%)",
      [
        { label: "WAPE", stroke: p.vermillion, width: 2, points: { show: true } },
        { label: "Expected WAPE (backtest)", stroke: p.black, width: 1, dash: [6, 4] },
        { label: "P10–P90 coverage", stroke: p.blue, width: 2, dash: [2, 3] },
      ],
      [
        history.origin.map(oc.epochSeconds),
        pct(history.wape),
        pct(history.expected_wape),
        pct(history.coverage80),
      ]
    );
  }

  const csrf = document.getElementById("csrf");
  const status = document.getElementById("action-status");
  if (!csrf) {
    return;
  }

  async function post(path, body, what) {
    if (!window.confirm(what + "? The service will serve it at once.")) {
      return;
    }
    status.className = "";
    status.textContent = what + "…";
    const response = await oc.postJson(path, csrf.value, body);
    const answer = await response.json();
    if (!response.ok) {
      status.className = "problem";
      status.textContent = "Not done: " + (answer.message || response.statusText);
      return;
    }
    // Reload to show the registry as it is now, with the message kept for the reader.
    window.sessionStorage.setItem("models-message", answer.message);
    window.location.reload();
  }

  document.querySelectorAll("button.promote").forEach((button) =>
    button.addEventListener("click", () =>
      post(
        "/web/models/promote",
        { kind: button.dataset.kind, version: button.dataset.version },
        "Promote " + button.dataset.kind + " v" + button.dataset.version
      )
    )
  );
  document.querySelectorAll("button.rollback").forEach((button) =>
    button.addEventListener("click", () =>
      post(
        "/web/models/rollback",
        { kind: button.dataset.kind },
        "Roll " + button.dataset.kind + " back"
      )
    )
  );
  const message = window.sessionStorage.getItem("models-message");
  if (message) {
    window.sessionStorage.removeItem("models-message");
    status.textContent = message;
  }
})();
