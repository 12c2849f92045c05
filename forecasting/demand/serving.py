"""What the service holds of a demand model: forecasts precomputed on a quantile grid.

Built once at training time from a fitted :class:`AutoForecaster` on a hierarchy
(``sku,site``, ``sku``, ``site``, ``total``, ...); answering a request is a dictionary
look-up and a numpy slice, with quantiles between grid points interpolated linearly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.errors import HorizonError, UnknownSeriesError
from forecasting.quantiles import quantile_column
from forecasting.series import KEY_SEPARATOR, TOTAL_ID, level_name


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

    def level_for(
        self, sku: str | None, site: str | None, channel: str | None, level: str | None
    ) -> tuple[str, tuple[str, ...]]:
        """The level a request addresses: explicit, or the keys it names."""
        if level is not None:
            for keys in self.levels:
                if level_name(keys) == level:
                    return level, keys
            known = ", ".join(level_name(k) for k in self.levels)
            raise UnknownSeriesError(f"unknown level '{level}'; levels: {known}")
        given = {"sku": sku, "site": site, "channel": channel}
        keys = tuple(k for k in ("sku", "site", "channel") if given[k] is not None)
        for candidate in self.levels:
            if set(candidate) == set(keys):
                return level_name(candidate), candidate
        known = ", ".join(level_name(k) for k in self.levels)
        raise UnknownSeriesError(f"no forecasts by {', '.join(keys) or 'total'}; levels: {known}")

    def forecast(
        self,
        sku: str | None = None,
        site: str | None = None,
        channel: str | None = None,
        level: str | None = None,
        horizon: int = 1,
        quantiles: Sequence[float] = (0.1, 0.5, 0.9),
    ) -> pd.DataFrame:
        """Forecast rows ``series_id, ds, model, mean, q..`` of one series.

        Raises :class:`UnknownSeriesError` naming the unknown SKU, site or channel and
        :class:`HorizonError` stating the longest horizon served.
        """
        if not 1 <= horizon <= self.max_horizon:
            raise HorizonError(
                f"horizon {horizon} is outside what this model serves: 1 to {self.max_horizon}"
            )
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
