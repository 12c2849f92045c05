"""Order lines -> the long series frame (``series_id``, ``ds``, ``y`` + key columns).

Vectorised: periods are found by ``searchsorted`` against the period labels and the
sums by ``numpy.bincount`` over (series, period) codes, so 10 million lines take seconds.

Period labels follow pandas' resample convention: the day for ``D``, the hour for
``h``, the period *start* for ``MS``, ``QS``, ``YS``, and the period *end* for ``W``
(a week ending Sunday), ``W-MON`` (ending Monday), ``ME``, ``QE``, ``YE``. Aliases
pandas 2.2 deprecated (``Q``, ``M``, ``Y``, ``A``, ``H``, ``T``...) are read as their
current names (``QE-DEC``, ``ME``, ``YE-DEC``, ``h``, ``min``): see :func:`canonical_freq`.
Every series spans the same periods, from the first to the last period with an order
at any key, with zeros where it had none.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from forecasting.errors import ConfigError

TOTAL_ID = "__total__"
KEY_SEPARATOR = "|"
Measure = Literal["quantity", "lines", "orders"]
_RIGHT_LABELLED = {"W", "ME", "QE", "YE", "BME", "BQE", "BYE", "SME"}
# A last period missing at most this share of its days is kept: a quarter whose export
# stopped a day early is 99% there, and dropping it would throw away the newest quarter;
# a week missing a day (14%) still reads as a slump and is dropped.
PARTIAL_TOLERANCE = 0.05


def canonical_freq(freq: str) -> str:
    """The pandas alias of ``freq`` as pandas 2.2+ names it: 'Q' -> 'QE-DEC', 'M' -> 'ME',
    'W' -> 'W-SUN', 'H' -> 'h'. Raises :class:`ConfigError` for an unknown alias.

    Read once at the edge, so no later ``date_range`` or ``to_offset`` on the old name
    warns (a FutureWarning per call) or changes meaning when pandas drops the alias.
    """
    try:
        with warnings.catch_warnings():
            # The deprecated spelling is exactly what this function translates.
            warnings.simplefilter("ignore", FutureWarning)
            offset = to_offset(freq)
    except ValueError as exc:
        raise ConfigError(
            f"unknown frequency '{freq}'; use a pandas alias such as D, W, W-MON, MS, ME, QE, h"
        ) from exc
    return str(offset.freqstr)


def series_id_for(keys: Mapping[str, object], by: Sequence[str]) -> str:
    """The ``series_id`` of one key combination: values joined by '|' in ``by`` order."""
    if not by:
        return TOTAL_ID
    return KEY_SEPARATOR.join(str(keys[k]) for k in by)


def keys_from_series_id(series_id: str, by: Sequence[str]) -> dict[str, str]:
    """Inverse of :func:`series_id_for`."""
    if not by:
        return {}
    parts = series_id.split(KEY_SEPARATOR)
    if len(parts) != len(by):
        raise ConfigError(f"series_id '{series_id}' does not have the keys {list(by)}")
    return dict(zip(by, parts, strict=True))


def level_name(by: Sequence[str]) -> str:
    """'sku,site' for ('sku', 'site'); 'total' for no keys."""
    return ",".join(by) if by else "total"


def period_labels(dates: pd.Series, freq: str) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """The period labels spanning ``dates`` and each date's position among them."""
    offset = to_offset(canonical_freq(freq))
    values = pd.DatetimeIndex(dates)
    first, last = values.min(), values.max()
    rule = offset.rule_code.split("-")[0]
    right = rule in _RIGHT_LABELLED
    if right:
        labels = pd.date_range(first.normalize(), last.normalize() + offset, freq=offset)
        labels = labels[: int(labels.searchsorted(last, side="left")) + 1]
        position = np.searchsorted(labels.values, values.values, side="left")
    else:
        start = pd.Timestamp(offset.rollback(first)) if hasattr(offset, "rollback") else first
        start = start.floor(offset.freqstr) if offset.freqstr in {"h", "min", "s"} else start
        start = pd.Timestamp(start).normalize() if rule not in {"h", "min", "s"} else start
        labels = pd.date_range(start, last, freq=offset)
        position = np.searchsorted(labels.values, values.values, side="right") - 1
    return labels, position


def build_series(
    orders: pd.DataFrame,
    by: Sequence[str] = ("sku", "site"),
    freq: str = "D",
    date_col: str = "order_date",
    measure: Measure = "quantity",
    start: str | date | None = None,
    end: str | date | None = None,
) -> pd.DataFrame:
    """Aggregate order lines to one regular series per key combination.

    Parameters
    ----------
    orders: canonical order lines (see ``forecasting.contract``).
    by: key columns; empty for the total (``series_id`` ``"__total__"``).
    freq: any pandas offset alias.
    date_col: the date that places a line in a period; lines without it are left out
        (e.g. unshipped lines for ``ship_date``).
    measure: ``quantity`` (units), ``lines`` (order lines) or ``orders`` (distinct orders).
    start, end: optional bounds on the dates used (inclusive).

    Returns
    -------
    Long frame ``series_id``, ``ds``, ``y`` (float) and the key columns, sorted by
    ``series_id, ds``.
    """
    keys = list(by)
    missing = [k for k in [*keys, date_col] if k not in orders.columns]
    if missing:
        raise ConfigError(
            f"cannot build series: no column(s) {missing}; available: {', '.join(orders.columns)}"
        )
    if measure not in ("quantity", "lines", "orders"):
        raise ConfigError(f"measure must be quantity, lines or orders, not '{measure}'")
    dates = pd.to_datetime(orders[date_col])
    mask = dates.notna().to_numpy()
    if start is not None:
        mask &= (dates >= pd.Timestamp(start)).to_numpy()
    if end is not None:
        mask &= (dates <= pd.Timestamp(end)).to_numpy()
    if not mask.any():
        raise ConfigError(f"no order lines with a {date_col} in the requested range")
    extra = {"quantity": ["quantity"], "orders": ["order_id"], "lines": []}[measure]
    needed = list(dict.fromkeys([*keys, *extra]))
    used = orders[needed] if mask.all() else orders.loc[mask, needed]
    labels, period = period_labels(dates[mask] if not mask.all() else dates, freq)

    if keys:
        codes, uniques = _key_codes(used, keys)
        series_ids = uniques[keys].agg(KEY_SEPARATOR.join, axis=1).to_numpy(dtype=object)
    else:
        codes = np.zeros(len(used), dtype=np.int64)
        uniques = pd.DataFrame(index=[0])
        series_ids = np.array([TOTAL_ID], dtype=object)
    # Number the series in series_id order, so the output needs no sort of its own.
    rank = np.empty(len(series_ids), dtype=np.int64)
    by_id = np.argsort(series_ids, kind="stable")
    rank[by_id] = np.arange(len(series_ids))
    codes = rank[codes]
    series_ids, uniques = series_ids[by_id], uniques.iloc[by_id].reset_index(drop=True)

    n_periods = len(labels)
    cell = codes * n_periods + period
    size = len(series_ids) * n_periods
    if measure == "quantity":
        y = np.bincount(cell, weights=used["quantity"].to_numpy(float), minlength=size)
    elif measure == "lines":
        y = np.bincount(cell, minlength=size).astype(float)
    else:
        order_codes = pd.factorize(used["order_id"])[0].astype(np.int64)
        width = int(order_codes.max()) + 1
        distinct = np.unique(cell * width + order_codes) // width
        y = np.bincount(distinct, minlength=size).astype(float)

    frame = pd.DataFrame(
        {
            "series_id": np.repeat(series_ids, n_periods),
            "ds": np.tile(labels.values, len(series_ids)),
            "y": y,
        }
    )
    for key in keys:
        frame[key] = np.repeat(uniques[key].to_numpy(dtype=object), n_periods)
    return frame


def _key_codes(frame: pd.DataFrame, keys: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """One integer per distinct key combination present, and those combinations as text."""
    parts = []
    for key in keys:
        codes, uniques = pd.factorize(frame[key], sort=True)
        if (codes < 0).any():
            raise ConfigError(f"column '{key}' has missing values; every line needs a {key}")
        parts.append((codes, pd.Index(uniques).astype(str)))
    shape = tuple(len(u) for _, u in parts)
    flat = np.ravel_multi_index(tuple(c for c, _ in parts), shape)
    # Keep only the combinations that occur; a lookup table avoids sorting every line.
    present = np.flatnonzero(np.bincount(flat, minlength=int(np.prod(shape))))
    lookup = np.full(int(np.prod(shape)), -1, dtype=np.int64)
    lookup[present] = np.arange(len(present))
    unravelled = np.unravel_index(present, shape)
    combinations = pd.DataFrame(
        {k: np.asarray(u)[idx] for k, (_, u), idx in zip(keys, parts, unravelled, strict=True)}
    )
    return lookup[flat], combinations


def build_hierarchy(
    orders: pd.DataFrame,
    levels: Sequence[Sequence[str]] = (("sku", "site"), ("sku",), ("site",), ()),
    freq: str = "D",
    date_col: str = "order_date",
    measure: Measure = "quantity",
) -> pd.DataFrame:
    """Series at several aggregation levels in one long frame, with a ``level`` column.

    All levels share the same periods, so every upper series is exactly the sum of the
    bottom series below it. Key columns absent at a level are empty (None).
    """
    frames = []
    all_keys = sorted({k for level in levels for k in level})
    for level in levels:
        frame = build_series(orders, by=level, freq=freq, date_col=date_col, measure=measure)
        frame["level"] = level_name(level)
        for key in all_keys:
            if key not in frame.columns:
                frame[key] = None
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def prefix_levels(hierarchy: pd.DataFrame) -> pd.DataFrame:
    """Series ids prefixed with their level (``sku,site:SKU-1|S1``, ``total:total``), so
    a key value that appears at two levels (a site named like a SKU) names two series."""
    out = hierarchy.copy()
    out["series_id"] = out["level"].astype(str) + ":" + out["series_id"].astype(str)
    return out


def drop_partial_last_period(
    series: pd.DataFrame, freq: str, last_date: pd.Timestamp
) -> pd.DataFrame:
    """The series without their last period when the data miss more than
    :data:`PARTIAL_TOLERANCE` of its days.

    A history that stops on a Tuesday holds two days of the last week: read as a whole
    week it looks like a slump that every model would carry into the forecast. A last
    quarter (or month, year) missing only a day or so is kept as it is: its total counts
    the days present, a shortfall of at most 5%, where dropping it would lose the newest
    period. Daily and finer periods are always whole.
    """
    if series.empty:
        return series
    last_label = pd.Timestamp(series["ds"].max())
    start, end = _period_days(last_label, freq)
    missing = (end - pd.Timestamp(last_date).normalize()).days
    if not _too_partial(start, end, missing):
        return series
    return series[series["ds"] < last_label].reset_index(drop=True)


def drop_partial_first_period(
    series: pd.DataFrame, freq: str, first_date: pd.Timestamp
) -> pd.DataFrame:
    """The series without their first period when the data start more than
    :data:`PARTIAL_TOLERANCE` of its days into it (as :func:`drop_partial_last_period`
    does at the other end).

    An export that starts on the 15th holds half of its first month: read as a whole
    month it is a slump at the start of every series, which a trend or a level fitted
    from the start carries forward.
    """
    if series.empty:
        return series
    first_label = pd.Timestamp(series["ds"].min())
    start, end = _period_days(first_label, freq)
    missing = (pd.Timestamp(first_date).normalize() - start).days
    if not _too_partial(start, end, missing):
        return series
    return series[series["ds"] > first_label].reset_index(drop=True)


def _period_days(label: pd.Timestamp, freq: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The first and last day of the period ``label`` names (labels of week, month,
    quarter and year ends name the period they end)."""
    offset = to_offset(canonical_freq(freq))
    if offset.rule_code.split("-")[0] in _RIGHT_LABELLED:
        return pd.Timestamp(label - offset).normalize() + pd.Timedelta(days=1), label.normalize()
    return label.normalize(), pd.Timestamp(label + offset).normalize() - pd.Timedelta(days=1)


def _too_partial(start: pd.Timestamp, end: pd.Timestamp, missing_days: int) -> bool:
    days = (end - start).days + 1
    return days > 1 and missing_days > PARTIAL_TOLERANCE * days
