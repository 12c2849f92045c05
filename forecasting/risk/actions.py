"""What would change an at-risk line's score, where the model can compute it.

A reason says what pushes a line up; a planner also wants to know what to do about it.
For each line in the high band the line is scored again as it would be with a later
promise (``SHIFT_DAYS`` later: what agreeing a new date with the customer buys) and with
each other value of the attributes a planner can change (shipment mode, carrier, site:
:data:`CHANGEABLE`), at the same moment and from the
same memory; the change that lowers p_late most, if by at least ``MIN_GAIN``, is said
("by Air: p_late 0.12", "promised 7 days later, on 2025-03-14: p_late 0.20"). One
prediction covers every line and every alternative.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forecasting.risk.memory import HistoryMemory

if TYPE_CHECKING:  # the model imports this module to say what would change a score
    from forecasting.risk.model import AtRiskModel

SHIFT_DAYS = 7
MIN_GAIN = 0.02
# Values tried per attribute (the most common in training): bounded work.
MAX_ALTERNATIVES = 4
# Attributes a planner can change on an open line (or a quote: forecasting.risk.promise),
# and how to say the change.
CHANGEABLE = {"shipment_mode": "by {v}", "carrier": "with carrier {v}", "site": "from site {v}"}


def best_actions(
    model: AtRiskModel,
    lines: pd.DataFrame,
    moments: pd.Series,
    which: np.ndarray,
    context: tuple[pd.DataFrame, HistoryMemory | None] | None = None,
) -> np.ndarray:
    """Per line of ``lines`` (scored at ``moments``), the change that lowers its p_late
    most, in words; "" where none is computed (``which`` False) or none helps. The line
    as it is and every change are scored alike: against ``context`` (history and memory,
    as the line's own score was), else the model's memory alone."""
    out = np.full(len(lines), "", dtype=object)
    rows = np.flatnonzero(which)
    if len(rows) == 0:
        return out
    base = lines.iloc[rows].reset_index(drop=True)
    at = pd.to_datetime(moments.iloc[rows]).reset_index(drop=True)
    # (how to say it, the lines changed so, the attribute changed: None for the promise)
    variants: list[tuple[str, pd.DataFrame, str | None]] = [("as it is", base, None)]
    later = base.copy()
    later["promised_date"] = later["promised_date"] + pd.Timedelta(days=SHIFT_DAYS)
    variants.append(("promised {d} days later, on {date}", later, None))
    for column, wording in CHANGEABLE.items():
        values = model.space_.categorical.get(column, [])[:MAX_ALTERNATIVES]
        if column not in base.columns or len(values) < 2:
            continue
        for value in values:
            changed = base.copy()
            changed[column] = value
            variants.append((wording.format(v=value), changed, column))
    frame = pd.concat([v for _, v, _ in variants], ignore_index=True)
    snaps = pd.DataFrame({"row": frame.index, "moment": pd.concat([at] * len(variants)).to_numpy()})
    history, memory = context or (frame.iloc[0:0], model.memory_)
    features = model.space_.frame(frame, snaps, history, memory)
    p = model.predict_proba_frame(features).reshape(len(variants), len(base))
    own, p = p[0], p[1:]
    for k, (_, variant, attribute) in enumerate(variants[1:]):
        if attribute is not None:  # the line's own value is no change
            same = (
                variant[attribute].astype(str).to_numpy() == base[attribute].astype(str).to_numpy()
            )
            p[k, same] = np.inf
    best = p.argmin(axis=0)
    for i, k in enumerate(best):
        if own[i] - p[k, i] < MIN_GAIN:
            continue
        wording = variants[k + 1][0]
        if k == 0:
            wording = wording.format(
                d=SHIFT_DAYS, date=f"{later['promised_date'].iloc[i]:%Y-%m-%d}"
            )
        out[rows[i]] = f"{wording}: p_late {p[k, i]:.2f} instead of {own[i]:.2f}"
    return out
