"""Promise dates quoted at a target on-time probability, with reasons a planner can act on.

For a new line (its attributes, site and order date; no promised date yet) every
candidate promised date ``d = start + k`` (``k = 1 .. max_days``; ``start`` is the
quoting moment, the line's order date or ``as_of`` if later) is scored by the at-risk
model in one vectorised call: each line is replicated once per candidate with
``promised_date = d``, so the lead time, the time left, the promised weekday and the
site's backlog projected to ``d`` (the capacity outlook) all move with ``d``.

``P(on time if promised d) = 1 - p_late(d)``, made non-decreasing in ``d`` by a running
maximum: a line delivered in time for a promise ``d`` is in time for any later promise,
so a later date cannot be less likely kept than an earlier one. The quote is the
earliest candidate whose probability reaches the target (the running maximum first
reaches it where the raw curve first does).

Where the model carries a delivery-time model (``delivery_time_``, fitted with it: see
:mod:`forecasting.risk.delivery_time`) and no :class:`CurveCalibration` is given, the
curve is that model's instead: ``P(on time if promised d) = P(delivered within
d - order date days)``. The at-risk model learnt p_late from feasible promises and
hardly moves with ``d``; the delivery-time model knows how long a line takes. The
reasons stay the at-risk model's at the quoted date, and the alternatives (another
shipment mode, carrier or site) are measured on the curve quoted from. A model pickled
before delivery-time models existed (or fitted on too short a history for one) quotes
from the at-risk curve as before.

A quote depends on the line and the model's memory only: the features are computed with
an empty batch history (records, site load and open work come from what the model
remembers), so one line quoted alone or among a thousand gets the same date, and a
line's own candidates never count as its site's open work.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.errors import ConfigError, ContractIssue, DataContractError
from forecasting.risk.actions import CHANGEABLE, MAX_ALTERNATIVES, SHIFT_DAYS
from forecasting.risk.delivery_time import DeliveryTimeModel
from forecasting.risk.line_status import unknown_site_reason
from forecasting.risk.model import AtRiskModel

DEFAULT_MAX_DAYS = 180
# A year and a day: every weekday of every season once; beyond it the model has never
# seen such lead times and a request's candidate rows grow without use.
MAX_DAYS = 366
REQUIRED = ("line_id", "site", "order_date", "quantity")
# How far a "promise later / earlier instead" action looks, and the attributes whose
# other values are tried at the quoted date ("by Air: 93% on time"), each with at most
# MAX_ALTERNATIVES values: the at-risk actions' own (forecasting.risk.actions).
ALTERNATIVE_COLUMNS = CHANGEABLE
# An alternative is worth saying only if it moves the probability by at least this much.
MIN_GAIN = 0.01
QUOTE_COLUMNS = [
    "order_id",
    "line_id",
    "quoted_from",
    "quoted_date",
    "p_on_time",
    "target",
    "reason_1",
    "reason_2",
    "reason_3",
    "actions",
    "note",
]
CURVE_COLUMNS = ["line_id", "date", "p_on_time"]


@dataclass(frozen=True)
class CurveCalibration:
    """P(delivered by d) from the model's P(on time if promised d) and the days ahead
    ``k`` of ``d``: ``sigmoid(c0 + c1 logit(p) + c2 log k + c3 (log k)^2 + c4 logit(p) log k)``,
    fitted on a replay of past quotes (benchmarks/promise.py).

    Why the days ahead enter: the at-risk model learnt p_late from promises planners set,
    which were feasible; asked about a promise a day after ordering it answers much as it
    does for a promise months out, while nothing is delivered in a day. ``coef``
    ``(0, 1, 0, 0, 0)`` is the identity.
    """

    coef: tuple[float, float, float, float, float]

    def __post_init__(self) -> None:
        if len(self.coef) != 5 or not np.all(np.isfinite(self.coef)):
            raise ConfigError(f"a curve calibration has 5 finite coefficients, not {self.coef!r}")

    @staticmethod
    def terms(p: np.ndarray, days: np.ndarray) -> np.ndarray:
        """The four terms (columns) the coefficients after ``c0`` multiply."""
        clipped = np.clip(p, 1e-6, 1 - 1e-6)
        logit = np.log(clipped / (1 - clipped))
        ahead = np.log(np.maximum(days, 1).astype(float))
        return np.stack([logit, ahead, ahead**2, logit * ahead], axis=-1)

    def __call__(self, p: np.ndarray, days: np.ndarray) -> np.ndarray:
        z = self.coef[0] + self.terms(p, days) @ np.asarray(self.coef[1:])
        return np.asarray(1 / (1 + np.exp(-z)))


def parse_calibration(data: object) -> CurveCalibration:
    """A :class:`CurveCalibration` from its JSON form, ``{"coef": [c0, c1, c2, c3, c4]}``
    (what benchmarks/promise.py writes); :class:`ConfigError` for anything else."""
    coef = data.get("coef") if isinstance(data, dict) else None
    if not isinstance(coef, list) or not all(
        isinstance(c, int | float) and not isinstance(c, bool) for c in coef
    ):
        raise ConfigError(f'a curve calibration is {{"coef": [five numbers]}}, not {data!r:.80}')
    return CurveCalibration(tuple(float(c) for c in coef))  # type: ignore[arg-type]  # length checked by the class


@dataclass(frozen=True)
class PromiseQuotes:
    """``quotes``: one row per line, in the order given (:data:`QUOTE_COLUMNS`;
    ``quoted_date`` NaT and ``note`` saying why when no candidate reaches the target;
    ``actions`` a list of phrases). ``curve``: the long frame ``line_id, date, p_on_time``
    of every candidate (non-decreasing in ``date`` per line)."""

    quotes: pd.DataFrame
    curve: pd.DataFrame = field(repr=False)


def check_target(target: float) -> float:
    """``target`` as a float; :class:`ConfigError` unless strictly between 0 and 1."""
    value = float(target)
    if not 0 < value < 1:  # NaN fails too
        raise ConfigError(
            f"target on-time probability {target!r} is not strictly between 0 and 1, e.g. 0.9"
        )
    return value


def check_max_days(max_days: int) -> int:
    """``max_days`` as an int; :class:`ConfigError` unless 1 to :data:`MAX_DAYS`."""
    if isinstance(max_days, bool) or int(max_days) != max_days or not 1 <= max_days <= MAX_DAYS:
        raise ConfigError(
            f"max_days {max_days!r}: candidate promise dates run 1 to {MAX_DAYS} days ahead"
        )
    return int(max_days)


def check_lines(lines: pd.DataFrame) -> None:
    """Raise :class:`DataContractError` naming the first row (1-based) and column of a
    line that cannot be quoted: a missing column, an empty order date or site, a repeated
    line id."""
    missing = [c for c in REQUIRED if c not in lines.columns]
    if missing:
        raise DataContractError(
            [
                ContractIssue(None, column, "column missing: every line to quote needs it")
                for column in missing
            ]
        )
    issues = []
    for column in ("line_id", "site", "order_date", "quantity"):
        empty = lines[column].isna().to_numpy(bool)
        if column in ("line_id", "site"):
            empty |= lines[column].astype(str).str.strip().eq("").to_numpy(bool)
        if empty.any():
            first = int(np.flatnonzero(empty)[0])
            issues.append(
                ContractIssue(first + 1, column, f"{column} is empty", "row", position=first)
            )
    repeated = lines["line_id"].astype(str).duplicated().to_numpy(bool)
    if repeated.any():
        first = int(np.flatnonzero(repeated)[0])
        line_id = lines["line_id"].iloc[first]
        issues.append(
            ContractIssue(first + 1, "line_id", f"duplicate line_id '{line_id}'", "row", first)
        )
    if issues:
        raise DataContractError(issues)


def quote_promise(
    model: AtRiskModel,
    lines: pd.DataFrame,
    target: float,
    as_of: pd.Timestamp | str | None = None,
    max_days: int = DEFAULT_MAX_DAYS,
    calibration: CurveCalibration | None = None,
) -> PromiseQuotes:
    """The earliest promised date of each line whose on-time probability reaches
    ``target``, with its probability, the whole curve, reasons and actions.

    ``lines``: new order lines (``line_id, site, order_date, quantity`` and any attributes
    the model uses; a ``promised_date`` is ignored). ``as_of``: quote as of this day
    (default: each line at its order date; a line ordered earlier is quoted from
    ``as_of``, and from the day the model's memory stands at, if later). Candidates run 1
    to ``max_days`` days after that moment. ``calibration`` maps the model's probability
    and the days ahead to the on-time rate observed in a replay (:class:`CurveCalibration`;
    applied before the curve is made non-decreasing and the target compared). Without a
    calibration, a model carrying a delivery-time model (``delivery_time_``) is quoted
    from that model's curve (see the module docstring), others from the at-risk curve.

    Raises :class:`ConfigError` for a target outside (0, 1), ``max_days`` outside 1 to
    :data:`MAX_DAYS` or an unfitted model; :class:`DataContractError` for a line that
    cannot be quoted (:func:`check_lines`).
    """
    target = check_target(target)
    max_days = check_max_days(max_days)
    if not hasattr(model, "space_"):
        raise ConfigError("quoting promise dates needs a fitted AtRiskModel: call fit first")
    if model.memory_ is None:
        raise ConfigError(
            "this at-risk model remembers no history: its quotes would depend on the other "
            "lines of the request; quote with a model as fit or with_history leave it"
        )
    check_lines(lines)
    base = _base_lines(lines, as_of, model.memory_.as_of)
    known = model.known_sites() or frozenset()
    unknown = ~base["site"].astype(str).isin(known).to_numpy(bool)
    if base.empty or unknown.all():
        empty = PromiseQuotes(
            pd.DataFrame(columns=QUOTE_COLUMNS), pd.DataFrame(columns=CURVE_COLUMNS)
        )
        return empty if base.empty else _unquoted(base, unknown, target, known, empty)
    quoted = _quote(model, base[~unknown], target, max_days, calibration)
    return _unquoted(base, unknown, target, known, quoted) if unknown.any() else quoted


def _unquoted(
    base: pd.DataFrame,
    unknown: np.ndarray,
    target: float,
    known: frozenset[str],
    quoted: PromiseQuotes,
) -> PromiseQuotes:
    """``quoted`` (the quotes of the lines not ``unknown``) with a row, in the order of
    ``base``, for each line at a site the model has no history of: no date, a note why.
    The model would have quoted it as a quiet site's line, on nothing."""
    lines = base[unknown]
    refused = pd.DataFrame(
        {
            "order_id": lines["order_id"].to_numpy(),
            "line_id": lines["line_id"].to_numpy(),
            "quoted_from": lines["quoted_from"].to_numpy(),
            "quoted_date": pd.NaT,
            "p_on_time": np.nan,
            "target": target,
            "reason_1": None,
            "reason_2": None,
            "reason_3": None,
            "actions": [[] for _ in range(len(lines))],
            "note": [unknown_site_reason(str(site), known) for site in lines["site"]],
        },
        index=np.flatnonzero(unknown),
    )
    answered = quoted.quotes.set_axis(np.flatnonzero(~unknown))
    parts = [part for part in (answered, refused) if not part.empty]
    quotes = pd.concat(parts).sort_index().reset_index(drop=True)
    return PromiseQuotes(quotes[QUOTE_COLUMNS], quoted.curve)


def _quote(
    model: AtRiskModel,
    base: pd.DataFrame,
    target: float,
    max_days: int,
    calibration: CurveCalibration | None,
) -> PromiseQuotes:
    """:func:`quote_promise` of the prepared lines ``base`` (:func:`_base_lines`)."""
    base = base.reset_index(drop=True)
    n = len(base)
    start = base["quoted_from"].to_numpy("datetime64[ns]")
    steps = np.arange(1, max_days + 1)
    rows = np.repeat(np.arange(n), max_days)
    dates = start[rows] + np.tile(steps, n).astype("timedelta64[D]")
    candidates = _with(base, rows, promised=dates)
    timing = delivery_time_of(model) if calibration is None else None
    if timing is not None:
        since_order = _days_since_order(candidates).reshape(n, max_days)
        p_on_time = timing.p_delivered_within(base, since_order)
    else:
        p_late = model.predict_proba_frame(_features(model, candidates)).reshape(n, max_days)
        p_on_time = _on_time(1.0 - p_late, np.broadcast_to(steps, p_late.shape), calibration)
    # Rounded before the target is compared: the probability reported is the one compared.
    curve = np.round(np.maximum.accumulate(p_on_time, axis=1), 4)
    reached = curve >= target
    quoted = np.asarray(reached.any(axis=1), dtype=bool)
    # The quoted candidate, or for a line with none the best one (its reasons say why).
    pick = np.where(quoted, reached.argmax(axis=1), curve.argmax(axis=1))
    picked = np.arange(n) * max_days + pick
    reasons = _reasons(model, candidates.iloc[picked].reset_index(drop=True))
    pick_dates = dates[picked]
    p_pick = curve[np.arange(n), pick]
    actions = _shift_actions(curve, pick, dates.reshape(n, max_days), quoted)
    # The two alternatives that help most, then the date trade-off: three actions at most.
    alternatives = _alternative_actions(model, base, pick_dates, p_pick, calibration, timing)
    for i, said in enumerate(alternatives):
        best = [text for _, text in sorted(said, reverse=True)[:2]]
        actions[i] = [*best, *actions[i]][:3]
    note = [
        ""
        if ok
        else f"no promise date within {max_days} days reaches {target:.0%} on time: the best "
        f"is {p:.0%} if promised {pd.Timestamp(d):%Y-%m-%d}"
        for ok, p, d in zip(quoted, p_pick, pick_dates, strict=True)
    ]
    quotes = pd.DataFrame(
        {
            "order_id": base["order_id"].to_numpy(),
            "line_id": base["line_id"].to_numpy(),
            "quoted_from": start,
            "quoted_date": np.where(quoted, pick_dates, np.datetime64("NaT")),
            "p_on_time": np.where(quoted, p_pick, np.nan),
            "target": target,
            "reason_1": reasons["reason_1"].to_numpy(),
            "reason_2": reasons["reason_2"].to_numpy(),
            "reason_3": reasons["reason_3"].to_numpy(),
            "actions": actions,
            "note": note,
        }
    )
    curve_frame = pd.DataFrame(
        {
            "line_id": base["line_id"].to_numpy()[rows],
            "date": dates,
            "p_on_time": curve.ravel(),
        }
    )
    return PromiseQuotes(quotes, curve_frame)


def delivery_time_of(model: AtRiskModel) -> DeliveryTimeModel | None:
    """The model's delivery-time model, or None: a model pickled before it existed has no
    such attribute, one fitted on a short history holds None."""
    timing = getattr(model, "delivery_time_", None)
    return timing if isinstance(timing, DeliveryTimeModel) else None


def _days_since_order(frame: pd.DataFrame) -> np.ndarray:
    """Days from each row's order date to its promised date."""
    return (frame["promised_date"] - frame["order_date"]).dt.days.to_numpy(float)


def _base_lines(
    lines: pd.DataFrame, as_of: pd.Timestamp | str | None, known: pd.Timestamp
) -> pd.DataFrame:
    """The lines as the model reads them, unpromised and undelivered, each with the moment
    it is quoted from: its order date, ``as_of`` or the date the model's memory ``known``
    stands at, whichever is latest (a promise is made going forward from what the model
    knows, not from a day it knows only in hindsight)."""
    base = lines.reset_index(drop=True).copy()
    base["order_date"] = pd.to_datetime(base["order_date"]).dt.normalize()
    if "order_id" not in base.columns:
        base["order_id"] = base["line_id"]
    start = np.maximum(
        base["order_date"].to_numpy("datetime64[ns]"),
        pd.Timestamp(known).normalize().to_datetime64(),
    )
    if as_of is not None:
        start = np.maximum(start, pd.Timestamp(as_of).normalize().to_datetime64())
    base["quoted_from"] = start
    for column in ("promised_date", "delivered_date", "ship_date"):
        base[column] = pd.NaT
    return base


def _with(base: pd.DataFrame, rows: np.ndarray, promised: np.ndarray) -> pd.DataFrame:
    """Rows ``rows`` of ``base`` promised on ``promised``."""
    out = base.iloc[rows].reset_index(drop=True)
    out["promised_date"] = pd.to_datetime(promised)
    return out


def _features(model: AtRiskModel, candidates: pd.DataFrame) -> pd.DataFrame:
    """Features of each candidate row at its quoting moment, from the model's memory only.

    The batch history is empty on purpose: the candidates are hypothetical promises of
    one line, not the site's open work, and another line of the request must not move
    this one's quote.
    """
    snaps = pd.DataFrame({"row": candidates.index, "moment": candidates["quoted_from"]})
    return model.space_.frame(candidates, snaps, candidates.iloc[0:0], model.memory_)


def _reasons(model: AtRiskModel, picked: pd.DataFrame) -> pd.DataFrame:
    """The model's reasons (``reason_1..3``) for each line at its quoted (or best) date,
    scored as the API scores a line: from the model's memory alone."""
    snaps = pd.DataFrame({"row": picked.index, "moment": picked["quoted_from"]})
    # score_lines checks its as_of against the lines' order dates; with snapshots given and
    # no batch history, each line is scored at its own moment whatever as_of is.
    after_all = picked["quoted_from"].max() + pd.Timedelta(days=1)
    return model.score_lines(picked, after_all, snapshots=snaps, batch_history=False)


def _on_time(p: np.ndarray, days: np.ndarray, calibration: CurveCalibration | None) -> np.ndarray:
    return p if calibration is None else calibration(p, days)


def _shift_actions(
    curve: np.ndarray, pick: np.ndarray, dates: np.ndarray, quoted: np.ndarray
) -> list[list[str]]:
    """Per line, the probability of promising :data:`SHIFT_DAYS` later (and earlier, for a
    quoted line) than the quoted or best date, where those dates are candidates."""
    n, days = curve.shape
    out: list[list[str]] = [[] for _ in range(n)]
    for i in range(n):
        later, earlier = pick[i] + SHIFT_DAYS, pick[i] - SHIFT_DAYS
        if quoted[i] and later < days and curve[i, later] > curve[i, pick[i]]:
            out[i].append(
                f"promising {SHIFT_DAYS} days later, on {pd.Timestamp(dates[i, later]):%Y-%m-%d}: "
                f"{curve[i, later]:.0%} on time"
            )
        if quoted[i] and earlier >= 0:
            out[i].append(
                f"promising {SHIFT_DAYS} days earlier, on "
                f"{pd.Timestamp(dates[i, earlier]):%Y-%m-%d}: {curve[i, earlier]:.0%} on time"
            )
    return out


def _alternative_actions(
    model: AtRiskModel,
    base: pd.DataFrame,
    dates: np.ndarray,
    p_now: np.ndarray,
    calibration: CurveCalibration | None,
    timing: DeliveryTimeModel | None = None,
) -> list[list[tuple[float, str]]]:
    """Per line, the best other value of each :data:`ALTERNATIVE_COLUMNS` attribute the
    model knows (shipment mode, carrier, site), with its on-time probability at the same
    date, when it is at least :data:`MIN_GAIN` better: (gain, phrase) pairs. Every line,
    attribute and value in one prediction, of the delivery-time model ``timing`` when the
    quote comes from its curve."""
    n = len(base)
    out: list[list[tuple[float, str]]] = [[] for _ in range(n)]
    tried: list[tuple[str, str, list[str]]] = [
        (column, wording, model.space_.categorical.get(column, [])[:MAX_ALTERNATIVES])
        for column, wording in ALTERNATIVE_COLUMNS.items()
        if column in base.columns
    ]
    tried = [(column, wording, values) for column, wording, values in tried if len(values) > 1]
    if not tried:
        return out
    blocks = []
    for column, _, values in tried:
        block = _with(
            base, np.tile(np.arange(n), len(values)), promised=np.tile(dates, len(values))
        )
        block[column] = np.repeat(np.asarray(values, dtype=object), n)
        blocks.append(block)
    frame = pd.concat(blocks, ignore_index=True)
    if timing is not None:
        p_all = timing.p_delivered_within(frame, _days_since_order(frame)[:, None])[:, 0]
    else:
        ahead = (frame["promised_date"] - frame["quoted_from"]).dt.days.to_numpy()
        p_late = model.predict_proba_frame(_features(model, frame))
        p_all = _on_time(1.0 - p_late, ahead, calibration)
    offset = 0
    for column, wording, values in tried:
        p = p_all[offset : offset + n * len(values)].reshape(len(values), n)
        offset += n * len(values)
        own = base[column].astype(str).to_numpy()
        p = np.where(np.asarray(values, dtype=object)[:, None] == own[None, :], -np.inf, p)
        best = p.argmax(axis=0)
        for i in range(n):
            gain = p[best[i], i] - p_now[i]
            if gain >= MIN_GAIN:
                said = (
                    f"{wording.format(v=values[best[i]])}: {p[best[i], i]:.0%} on time if "
                    f"promised {pd.Timestamp(dates[i]):%Y-%m-%d}"
                )
                out[i].append((float(gain), said))
    return out
