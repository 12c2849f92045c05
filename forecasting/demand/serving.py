"""What the service holds of a demand model: forecasts precomputed on a quantile grid.

Built once at training time from a fitted :class:`AutoForecaster` on a hierarchy
(``sku,site``, ``sku``, ``site``, ``total``, ...); answering a request is a dictionary
look-up and a numpy slice, with quantiles between grid points interpolated linearly.
A quantile outside the grid is refused: the nearest grid quantile under its label
would claim a tail the model never estimated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from forecasting.errors import ConfigError, HorizonError, UnknownSeriesError
from forecasting.quantiles import quantile_column
from forecasting.series import KEY_SEPARATOR, TOTAL_ID, level_name

# A level within this of a grid end counts as on the grid (requests are rounded to 4
# decimals; a grid read from YAML may carry float noise).
GRID_TOLERANCE = 1e-9


def grid_text(grid: Sequence[float]) -> str:
    """'0.05–0.95': the span of a quantile grid, as messages and docs quote it."""
    return f"{min(grid):g}–{max(grid):g}"


@dataclass(frozen=True)
class SeriesPath:
    """Precomputed forecast of one series: dates, model, mean and grid quantiles (q x h)."""

    ds: np.ndarray
    model: str
    mean: np.ndarray
    quantiles: np.ndarray


@dataclass(frozen=True)
class DemandServingModel:
    """Precomputed demand forecasts for every series of every level, ready to serve."""

    freq: str
    grid: tuple[float, ...]
    levels: tuple[tuple[str, ...], ...]
    paths: Mapping[str, Mapping[str, SeriesPath]]  # level name -> series id -> path
    selection: pd.DataFrame = field(repr=False)
    trained_until: pd.Timestamp | None = None

    @property
    def max_horizon(self) -> int:
        first = next(iter(next(iter(self.paths.values())).values()))
        return len(first.mean)

    @property
    def level_names(self) -> tuple[str, ...]:
        """The roll-up levels served, by name: ``("sku,site", "sku", "site", "total")``."""
        return tuple(level_name(k) for k in self.levels)

    def level_for(
        self, sku: str | None, site: str | None, channel: str | None, level: str | None
    ) -> tuple[str, tuple[str, ...]]:
        """The level a request addresses: explicit, or the keys it names.

        Raises :class:`ConfigError` naming the levels served when the model has no such
        level, or no level by the keys given (a ``channel`` for a model without one).
        """
        known = ", ".join(f"'{name}'" for name in self.level_names)
        if level is not None:
            for keys in self.levels:
                if level_name(keys) == level:
                    return level, keys
            raise ConfigError(f"unknown level '{level}': this demand model's levels are {known}")
        given = {"sku": sku, "site": site, "channel": channel}
        keys = tuple(k for k in ("sku", "site", "channel") if given[k] is not None)
        for candidate in self.levels:
            if set(candidate) == set(keys):
                return level_name(candidate), candidate
        served = {k for candidate in self.levels for k in candidate}
        absent = [k for k in keys if k not in served]
        if absent:
            raise ConfigError(
                f"this demand model has no forecasts by {', '.join(absent)} (none of its "
                f"levels has it): its levels are {known}; drop {', '.join(absent)} from the "
                "request"
            )
        raise ConfigError(
            f"this demand model has no level by {', '.join(keys) or 'nothing (the total)'}: "
            f"its levels are {known}"
        )

    def check_quantiles(self, quantiles: Sequence[float]) -> None:
        """Raise :class:`ConfigError` for a quantile level outside the trained grid."""
        low, high = min(self.grid), max(self.grid)
        for q in sorted(quantiles):
            if q < low - GRID_TOLERANCE or q > high + GRID_TOLERANCE:
                raise ConfigError(
                    f"quantile {q:g} is outside the trained grid {grid_text(self.grid)}; ask "
                    f"for quantiles in [{low:g}, {high:g}]"
                )

    def fallback_of(self, level: str, series_id: str) -> str | None:
        """Why the series got a rule-based model at training (None: chosen by backtest)."""
        return self._fallbacks.get(f"{level}:{series_id}")

    @cached_property
    def _fallbacks(self) -> dict[str, str]:
        # Built on first use, not stored: models pickled before this existed answer too.
        return {str(sid): str(reason) for sid, reason in _given(self.selection, "fallback").items()}

    def alive_of(self, level: str, series_id: str) -> float | None:
        """The chance the series is still ordered at all, where its model was weighed by
        it at training (:mod:`forecasting.demand.obsolescence`); None where it was not."""
        return self._alive.get(f"{level}:{series_id}")

    @cached_property
    def _alive(self) -> dict[str, float]:
        return alive_chances(self.selection)

    def forecast(
        self,
        sku: str | None = None,
        site: str | None = None,
        channel: str | None = None,
        level: str | None = None,
        horizon: int = 1,
        quantiles: Sequence[float] = (0.1, 0.5, 0.9),
    ) -> pd.DataFrame:
        """Forecast rows ``series_id, ds, model, fallback, alive, mean, q..`` of one series
        (``fallback``: why its model is a rule-based one, empty when chosen by backtest;
        ``alive``: :meth:`alive_of`, NaN where it is None).

        Raises :class:`UnknownSeriesError` naming the unknown SKU, site or channel,
        :class:`HorizonError` stating the longest horizon served and :class:`ConfigError`
        for a quantile outside the trained grid or a level the model does not have.
        """
        if not 1 <= horizon <= self.max_horizon:
            raise HorizonError(
                f"horizon {horizon} is outside what this model serves: 1 to {self.max_horizon}"
            )
        self.check_quantiles(quantiles)
        name, keys = self.level_for(sku, site, channel, level)
        values = {"sku": sku, "site": site, "channel": channel}
        series_id = KEY_SEPARATOR.join(str(values[k]) for k in keys) if keys else TOTAL_ID
        path = self.paths[name].get(series_id)
        if path is None:
            raise UnknownSeriesError(self._unknown_message(name, keys, values))
        out = {
            "series_id": series_id,
            "ds": path.ds[:horizon],
            "model": path.model,
            "fallback": self.fallback_of(name, series_id),
            "alive": _nan_for_none(self.alive_of(name, series_id)),
            "mean": path.mean[:horizon],
        }
        for q in sorted(quantiles):
            out[quantile_column(q)] = self._quantile(path, q)[:horizon]
        frame = pd.DataFrame(out)
        for key in keys:
            frame[key] = values[key]
        return frame

    def to_frame(self, quantiles: Sequence[float] = (0.1, 0.5, 0.9)) -> pd.DataFrame:
        """Every served forecast as one long frame: ``level, series_id`` (as
        ``<level>:<id>``), ``ds, lag`` (1 = the first period forecast), ``model, mean`` and
        a column per quantile: what is published for accuracy tracking."""
        columns: dict[str, list[np.ndarray]] = {
            name: [] for name in ("level", "series_id", "ds", "lag", "model", "mean")
        }
        levels = sorted(quantiles)
        bands: list[list[np.ndarray]] = [[] for _ in levels]
        for level, paths in self.paths.items():
            for series_id, path in paths.items():
                h = len(path.mean)
                columns["level"].append(np.full(h, level, dtype=object))
                columns["series_id"].append(np.full(h, f"{level}:{series_id}", dtype=object))
                columns["ds"].append(np.asarray(path.ds))
                columns["lag"].append(np.arange(1, h + 1))
                columns["model"].append(np.full(h, path.model, dtype=object))
                columns["mean"].append(path.mean)
                for band, q in zip(bands, levels, strict=True):
                    band.append(self._quantile(path, q))
        out = pd.DataFrame({name: np.concatenate(parts) for name, parts in columns.items()})
        for band, q in zip(bands, levels, strict=True):
            out[quantile_column(q)] = np.concatenate(band)
        return out

    def _quantile(self, path: SeriesPath, q: float) -> np.ndarray:
        grid = np.asarray(self.grid)
        if q <= grid[0]:
            return path.quantiles[0]
        if q >= grid[-1]:
            return path.quantiles[-1]
        upper = int(np.searchsorted(grid, q))
        lower = upper - 1
        weight = (q - grid[lower]) / (grid[upper] - grid[lower])
        return (1 - weight) * path.quantiles[lower] + weight * path.quantiles[upper]

    def _unknown_message(self, level: str, keys: tuple[str, ...], values: dict) -> str:
        known: dict[str, set[str]] = {k: set() for k in keys}
        for series_id in self.paths[level]:
            for key, part in zip(keys, series_id.split(KEY_SEPARATOR), strict=False):
                known[key].add(part)
        for key in keys:
            if values[key] not in known[key]:
                return f"unknown {key} '{values[key]}': the demand model has no history for it"
        combo = ", ".join(f"{k} '{values[k]}'" for k in keys)
        return f"no demand history for {combo} together"


def alive_chances(selection: pd.DataFrame) -> dict[str, float]:
    """Each series' chance of still being ordered, from a selection frame
    (:attr:`forecasting.demand.auto.AutoForecaster.selection_`), for the series whose model
    is weighed by it; empty for frames from before the column existed."""
    chance = pd.to_numeric(_given(selection, "alive"), errors="coerce").dropna()
    return {str(sid): float(value) for sid, value in chance.items()}


def _given(selection: pd.DataFrame, column: str) -> pd.Series:
    """A selection frame's non-missing values of ``column`` by series id (none without
    the column)."""
    if column not in selection.columns:
        return pd.Series(dtype=object)
    rows = selection[selection[column].notna()]
    return pd.Series(rows[column].to_numpy(), index=rows["series_id"].astype(str).to_numpy())


def _nan_for_none(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def build_serving_model(
    forecasts: pd.DataFrame,
    selection: pd.DataFrame,
    levels: Sequence[Sequence[str]],
    freq: str,
    grid: Sequence[float],
    trained_until: pd.Timestamp | None = None,
) -> DemandServingModel:
    """Index a forecast frame whose ``series_id`` is ``<level>:<series id>`` for serving."""
    columns = [quantile_column(q) for q in grid]
    paths: dict[str, dict[str, SeriesPath]] = {level_name(k): {} for k in levels}
    for full_id, group in forecasts.groupby("series_id", sort=False):
        level, _, series_id = str(full_id).partition(":")
        paths[level][series_id] = SeriesPath(
            ds=group["ds"].to_numpy(),
            model=str(group["model"].iloc[0]),
            mean=group["mean"].to_numpy(float),
            quantiles=group[columns].to_numpy(float).T.copy(),
        )
    return DemandServingModel(
        freq=freq,
        grid=tuple(grid),
        levels=tuple(tuple(k) for k in levels),
        paths=paths,
        selection=selection,
        trained_until=trained_until,
    )
