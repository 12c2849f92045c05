"""Benchmark: is the demo's p_late calibrated on the open book a planner sees?

The demo champion is trained on the demo history (``ordercast generate`` defaults) as of
its last order date; it scores every line open then, from its memory alone, as the API
does. The generator ran its queue on past the end (``SyntheticHistory.open_outcomes``),
so each open line's real outcome is known: ECE, ROC-AUC, Brier and the calibration table
of the open book, for each ``calibrate_on`` setting of the model.

Development dates come first: the same, trained and scored as of an earlier day whose
open lines' outcomes are in the history (120 days before the end: a calm late summer;
365 days before: last year's winter peak, the season the end falls in). The setting was
chosen there; the end is reported once.

    .venv/bin/python benchmarks/risk_open_book.py [--back 365,120] [--settings open_book,snapshots]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from forecasting.queries import answer_risk
from forecasting.risk.evaluate import calibration_table, risk_metrics
from forecasting.risk.memory import as_known_at
from forecasting.risk.model import AtRiskModel
from forecasting.synthetic import generate_orders

TARGET_ECE = 0.05


def open_book_scores(
    model: AtRiskModel, orders: pd.DataFrame, as_of: pd.Timestamp, arrives: pd.Series
) -> tuple[np.ndarray, np.ndarray]:
    """(late 0/1, p_late) of every line open at ``as_of`` as known then; ``arrives`` gives
    each line's real delivery date (NaT: not within the simulation: late)."""
    book = as_known_at(orders, as_of + pd.Timedelta(days=1))
    book = book[book["delivered_date"].isna() | (book["delivered_date"] >= as_of)]
    book = book.assign(delivered_date=pd.Series(pd.NaT, index=book.index, dtype="datetime64[ns]"))
    answer = answer_risk(model, book, as_of, batch_history=False)
    answer = answer[answer["scored"]]
    delivered = arrives.reindex(answer["line_id"]).to_numpy("datetime64[ns]")
    late = (delivered > answer["promised_date"].to_numpy("datetime64[ns]")) | np.isnat(delivered)
    return late.astype(int), answer["p_late"].to_numpy(float)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--back", default="365,120", help="Development days before the end")
    parser.add_argument("--settings", default="open_book,snapshots", help="calibrate_on values")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    synthetic = generate_orders()
    orders = synthetic.orders
    end = orders["order_date"].max()
    # Delivered in the history, or (open at the end) when the queue run on delivers it.
    arrives = pd.concat(
        [
            orders.set_index("line_id")["delivered_date"].dropna(),
            synthetic.open_outcomes.set_index("line_id")["delivered_date"],
        ]
    )
    dates = [
        (f"development (end - {d} days)", end - pd.Timedelta(days=int(d)))
        for d in args.back.split(",")
    ]
    rows = []
    for label, as_of in [*dates, ("the demo's end (reported once)", end)]:
        for setting in args.settings.split(","):
            started = time.perf_counter()
            model = AtRiskModel(calibrate_on=setting).fit(orders, as_of=as_of)
            seconds = time.perf_counter() - started
            late, p = open_book_scores(model, orders, as_of, arrives)
            metrics = risk_metrics(late, p, model.base_rate_)
            rows.append(
                {
                    "period": label,
                    "as_of": f"{as_of:%Y-%m-%d}",
                    "calibrate_on": setting,
                    **metrics,
                    "fit_s": seconds,
                }
            )
            print(pd.DataFrame(rows[-1:]).round(4).to_string(index=False), flush=True)
            if as_of == end and setting == "open_book":
                print(calibration_table(late, p).round(3).to_string(index=False))
    table = pd.DataFrame(rows)
    print("\nOpen book scored from the memory alone; late = delivered after the promise")
    print(table.round(4).to_string(index=False))
    final = table[(table["as_of"] == f"{end:%Y-%m-%d}") & (table["calibrate_on"] == "open_book")]
    if len(final):
        ece = float(final["ece"].iloc[0])
        verdict = "PASS" if ece <= TARGET_ECE else "FAIL"
        print(
            f"\ndemo end, open_book calibration: ECE {ece:.4f} (target <= {TARGET_ECE}): {verdict}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
