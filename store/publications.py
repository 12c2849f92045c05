"""Every published forecast, kept: what a training or a refresh served, with the backtest's
expectation of its accuracy per level and lag, so accuracy can be tracked as actuals arrive.

Frames in and out are long (one row per series and period), dates as ``datetime64[ns]``,
quantile columns named by :func:`forecasting.quantiles.quantile_column`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from forecasting.errors import ConfigError
from forecasting.quantiles import quantile_column
from store.database import OrderStore, inserted_id
from store.frames import datetimes, read_frame
from store.schema import forecast_expectations, publications, published_forecasts

KINDS = ("train", "refresh")
# The stored quantiles: the 80% interval and the median.
QUANTILES = {"p10": quantile_column(0.1), "p50": quantile_column(0.5), "p90": quantile_column(0.9)}
FORECAST_COLUMNS = ("level", "series_id", "ds", "lag", "model", "mean")
EXPECTATION_COLUMNS = ("level", "lag", "wape", "mase", "coverage80")
CHUNK = 5_000


def publish_forecasts(
    store: OrderStore,
    *,
    kind: str,
    model_name: str,
    model_version: str,
    parent_version: str | None,
    origin: pd.Timestamp,
    freq: str,
    forecasts: pd.DataFrame,
    expectations: pd.DataFrame,
) -> int:
    """Keep one publication: its forecasts (``level, series_id, ds, lag, model, mean`` and
    the ``q10, q50, q90`` columns when present) and its expectations (``level, lag, wape,
    mase, coverage80``), in one transaction. ``origin`` is the last actual period, ``lag``
    1 the first forecast period. Returns the publication id; raises :class:`ConfigError`
    naming what is missing or repeated."""
    if kind not in KINDS:
        raise ConfigError(f"publication kind '{kind}' is not one of {', '.join(KINDS)}")
    _require(forecasts, FORECAST_COLUMNS, "forecasts")
    _require(expectations, EXPECTATION_COLUMNS, "expectations")
    repeated = forecasts.duplicated(["series_id", "ds"])
    if repeated.any():
        first = forecasts[repeated].iloc[0]
        period = f"{pd.Timestamp(first['ds']):%Y-%m-%d}"
        raise ConfigError(
            f"forecasts: series {first['series_id']} has period {period} twice; publish one "
            "forecast per series and period"
        )
    published = {
        "kind": kind,
        "model_name": model_name,
        "model_version": str(model_version),
        "parent_version": None if parent_version is None else str(parent_version),
        "origin": pd.Timestamp(origin).date(),
        "freq": freq,
        "published_at": datetime.now(UTC),
    }
    with store.writing() as connection:
        publication_id = inserted_id(connection, publications.insert().values(**published))
        rows = _forecast_rows(forecasts, publication_id)
        for start in range(0, len(rows), CHUNK):
            connection.execute(published_forecasts.insert(), rows[start : start + CHUNK])
        expected = _expectation_rows(expectations, publication_id)
        if expected:
            connection.execute(forecast_expectations.insert(), expected)
    return publication_id


def read_publications(store: OrderStore) -> pd.DataFrame:
    """``id, kind, model_name, model_version, parent_version, origin, freq, published_at``,
    oldest first."""
    query = sa.select(publications).order_by(publications.c.id)
    frame = read_frame(store, query, [c.name for c in publications.columns])
    frame["origin"] = datetimes(frame["origin"])
    return frame.astype({"id": "int64"})


def read_published_forecasts(
    store: OrderStore,
    since: pd.Timestamp | None = None,
    publication_ids: Sequence[int] | None = None,
    lags: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Published forecasts with their publication: ``publication_id, kind, model_version,
    origin, level, series_id, ds, lag, model, mean, q10, q50, q90``; only periods ``ds`` on
    or after ``since``, only ``publication_ids`` and only ``lags`` when given."""
    f, p = published_forecasts.c, publications.c
    query = sa.select(
        f.publication_id,
        p.kind,
        p.model_version,
        p.origin,
        f.level,
        f.series_id,
        f.ds,
        f.lag,
        f.model,
        f.mean,
        *(f[stored].label(column) for stored, column in QUANTILES.items()),
    ).join(publications, f.publication_id == p.id)
    if since is not None:
        query = query.where(f.ds >= pd.Timestamp(since).date())
    if publication_ids is not None:
        query = query.where(f.publication_id.in_([int(i) for i in publication_ids]))
    if lags is not None:
        query = query.where(f.lag.in_([int(lag) for lag in lags]))
    query = query.order_by(f.publication_id, f.series_id, f.ds)
    names = [
        "publication_id",
        "kind",
        "model_version",
        "origin",
        "level",
        "series_id",
        "ds",
        "lag",
        "model",
        "mean",
        *QUANTILES.values(),
    ]
    frame = read_frame(store, query, names)
    for column in ("origin", "ds"):
        frame[column] = datetimes(frame[column])
    floats = {c: "float64" for c in ("mean", *QUANTILES.values())}
    return frame.astype({"publication_id": "int64", "lag": "int64", **floats})


def read_expectations(
    store: OrderStore, publication_ids: Sequence[int] | None = None
) -> pd.DataFrame:
    """The backtest's expectation per publication, level and lag: ``publication_id, level,
    lag, wape, mase, coverage80``."""
    e = forecast_expectations.c
    query = sa.select(forecast_expectations)
    if publication_ids is not None:
        query = query.where(e.publication_id.in_([int(i) for i in publication_ids]))
    query = query.order_by(e.publication_id, e.level, e.lag)
    frame = read_frame(store, query, [c.name for c in forecast_expectations.columns])
    floats = {c: "float64" for c in ("wape", "mase", "coverage80")}
    return frame.astype({"publication_id": "int64", "lag": "int64", **floats})


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError(
            f"{what} lack column(s) {', '.join(missing)}; they have {', '.join(map(str, frame))}"
        )


def _forecast_rows(forecasts: pd.DataFrame, publication_id: int) -> list[dict[str, Any]]:
    n = len(forecasts)
    columns: dict[str, list[Any]] = {
        "publication_id": [publication_id] * n,
        "level": forecasts["level"].astype(str).tolist(),
        "series_id": forecasts["series_id"].astype(str).tolist(),
        "ds": [d.date() for d in pd.to_datetime(forecasts["ds"])],
        "lag": [int(v) for v in forecasts["lag"]],
        "model": forecasts["model"].astype(str).tolist(),
        "mean": _numbers(forecasts["mean"]),
    }
    for stored, column in QUANTILES.items():
        columns[stored] = _numbers(forecasts[column]) if column in forecasts else [None] * n
    keys = list(columns)
    return [dict(zip(keys, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _expectation_rows(expectations: pd.DataFrame, publication_id: int) -> list[dict[str, Any]]:
    columns: dict[str, list[Any]] = {
        "publication_id": [publication_id] * len(expectations),
        "level": expectations["level"].astype(str).tolist(),
        "lag": [int(v) for v in expectations["lag"]],
        **{c: _numbers(expectations[c]) for c in ("wape", "mase", "coverage80")},
    }
    keys = list(columns)
    return [dict(zip(keys, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _numbers(values: pd.Series) -> list[float | None]:
    return [_number(v) for v in pd.to_numeric(values).astype("float64").tolist()]


def _number(value: object) -> float | None:
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None
