"""Which bottom series sit under each series of a served demand hierarchy, built once.

The bottom level is the one with every key (``sku,site``); each other level's series
is the sum of the bottom series whose keys it shares. :func:`hierarchy_index` reads
that from the series ids (key values joined by ``|`` in their level's key order) and
keeps, per upper level, a sparse 0/1 aggregation matrix, so re-adding every level
after a change is one sparse product per level. Used by planner adjustments.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from forecasting.demand.serving import DemandServingModel, SeriesPath
from forecasting.errors import ConfigError, UnknownSeriesError
from forecasting.series import KEY_SEPARATOR, TOTAL_ID, level_name

# Spreading a cut can leave -1e-17 where a value went to zero: noise, not a negative.
NOISE = 1e-9


@dataclass(frozen=True)
class HierarchyIndex:
    """The served hierarchy as index arrays (positions refer to ``bottom_ids``)."""

    bottom: str  # bottom level name
    order: tuple[str, ...]  # level names, bottom first, then finest to coarsest
    dates: pd.DatetimeIndex  # the served periods, shared by every series
    bottom_ids: list[str]
    children: dict[str, dict[str, np.ndarray]]  # level -> series id -> bottom positions
    aggregation: dict[str, tuple[list[str], sp.csr_matrix]]  # upper level -> (ids, C)

    @property
    def span(self) -> str:
        """'served periods 2025-01-05–2025-01-26', as messages quote it."""
        return f"served periods {self.dates[0].date()}–{self.dates[-1].date()}"

    def rows(self, level: str, series_id: str) -> np.ndarray:
        """Bottom positions under ``series_id`` of ``level``; raises for unknown ones."""
        if level not in self.children:
            raise ConfigError(f"unknown level '{level}': the levels are {', '.join(self.order)}")
        rows = self.children[level].get(series_id)
        if rows is None:
            raise UnknownSeriesError(f"unknown series '{series_id}' in level '{level}'")
        return rows

    def bottom_means(self, model: DemandServingModel) -> np.ndarray:
        """The bottom series' means as one (series x period) float matrix."""
        paths = model.paths[self.bottom]
        return np.stack([np.asarray(paths[i].mean, dtype=float) for i in self.bottom_ids])

    def spread(
        self,
        bottom: np.ndarray,
        rows: np.ndarray,
        cols: np.ndarray,
        change: np.ndarray,
        weights: np.ndarray | None = None,
    ) -> str | None:
        """Add ``change`` (per period of ``cols``) to the bottom series ``rows`` of
        ``bottom`` in place: in the shares ``weights`` (one per row, summing to 1), else
        in proportion to their current values (negatives as zero), else equally.

        Changes nothing and returns the problem when a changed value would go negative.
        """
        block = bottom[np.ix_(rows, cols)]
        if weights is None:
            positive = np.clip(block, 0, None)
            total = positive.sum(axis=0)
            equal = np.full_like(block, 1 / len(rows))
            shares = np.divide(positive, total, out=equal, where=total > 0)
        else:
            shares = np.broadcast_to(weights[:, None], block.shape)
        moved = block + shares * change
        changed = moved != block
        tiny = NOISE * max(1.0, float(np.abs(block).max()), float(np.abs(change).max()))
        moved[changed & (moved < 0) & (moved > -tiny)] = 0.0
        bad = np.argwhere(changed & (moved < 0))
        if len(bad):
            r, c = bad[0]
            return (
                f"would make series '{self.bottom_ids[rows[r]]}' negative in "
                f"{self.dates[cols[c]].date()} ({moved[r, c]:.6g}): cut less, or give a "
                "split that takes the cut from series that have it"
            )
        bottom[np.ix_(rows, cols)] = moved
        return None

    def rebuild(
        self, model: DemandServingModel, statistical: np.ndarray, bottom: np.ndarray
    ) -> DemandServingModel:
        """``model`` with bottom means ``bottom`` and every upper level re-added from them
        where some bottom value differs from ``statistical``; untouched cells keep their
        served mean and quantiles exactly. Quantiles move by :func:`move_quantiles`."""
        changed = bottom != statistical
        paths: dict[str, Mapping[str, SeriesPath]] = dict(model.paths)
        paths[self.bottom] = _repath(model.paths[self.bottom], self.bottom_ids, bottom, changed)
        reached = changed.astype(float)
        for name, (ids, aggregation) in self.aggregation.items():
            touched = (aggregation @ reached) > 0
            paths[name] = _repath(model.paths[name], ids, aggregation @ bottom, touched)
        return dataclasses.replace(model, paths=paths)


def hierarchy_index(model: DemandServingModel) -> HierarchyIndex:
    """Index ``model``'s levels; raises :class:`ConfigError` when a level has a key the
    bottom level lacks (it is then not an aggregate of it)."""
    bottom_keys = max(model.levels, key=len)
    bottom = level_name(bottom_keys)
    bottom_ids = list(model.paths[bottom])
    parts = [i.split(KEY_SEPARATOR) for i in bottom_ids]
    first = model.paths[bottom][bottom_ids[0]]
    children = {bottom: {i: np.array([k]) for k, i in enumerate(bottom_ids)}}
    aggregation: dict[str, tuple[list[str], sp.csr_matrix]] = {}
    for keys in model.levels:
        name = level_name(keys)
        if name == bottom:
            continue
        if not set(keys) <= set(bottom_keys):
            raise ConfigError(
                f"level '{name}' has keys the bottom level '{bottom}' lacks: it does not "
                "add up from it, so adjustments cannot be spread"
            )
        at = [bottom_keys.index(k) for k in keys]
        labels = [KEY_SEPARATOR.join(p[i] for i in at) if keys else TOTAL_ID for p in parts]
        codes, uniques = pd.factorize(np.array(labels, dtype=object))
        ids = [str(u) for u in uniques]
        by_parent = np.argsort(codes, kind="stable")
        bounds = np.cumsum(np.bincount(codes, minlength=len(ids)))[:-1]
        children[name] = dict(zip(ids, np.split(by_parent, bounds), strict=True))
        matrix = sp.csr_matrix(
            (np.ones(len(codes)), (codes, np.arange(len(codes)))), shape=(len(ids), len(codes))
        )
        aggregation[name] = (ids, matrix)
    order = tuple(level_name(k) for k in sorted(model.levels, key=len, reverse=True))
    return HierarchyIndex(
        bottom=bottom,
        order=order,
        dates=pd.DatetimeIndex(first.ds),
        bottom_ids=bottom_ids,
        children=children,
        aggregation=aggregation,
    )


def move_quantiles(
    quantiles: np.ndarray, statistical: np.ndarray, adjusted: np.ndarray
) -> np.ndarray:
    """Quantiles (series x grid x period) moved from ``statistical`` to ``adjusted`` means
    (series x period): scaled by adjusted/statistical where the statistical mean is > 0
    (relative width kept), shifted by the difference elsewhere; clipped at 0, sorted."""
    positive = statistical > 0
    ratio = np.divide(adjusted, statistical, out=np.ones_like(adjusted), where=positive)
    moved = np.where(
        positive[:, None, :],
        quantiles * ratio[:, None, :],
        quantiles + (adjusted - statistical)[:, None, :],
    )
    return np.sort(np.clip(moved, 0.0, None), axis=1)


def _repath(
    paths: Mapping[str, SeriesPath], ids: list[str], means: np.ndarray, changed: np.ndarray
) -> dict[str, SeriesPath]:
    out = dict(paths)
    rows = [r for r in np.flatnonzero(changed.any(axis=1)) if ids[r] in paths]
    if not rows:
        return out
    old = [paths[ids[r]] for r in rows]
    served = np.stack([np.asarray(p.mean, dtype=float) for p in old])
    quantiles = np.stack([np.asarray(p.quantiles, dtype=float) for p in old])
    mask = changed[rows]
    mean = np.where(mask, means[rows], served)
    moved = np.where(mask[:, None, :], move_quantiles(quantiles, served, mean), quantiles)
    for k, p in enumerate(old):
        out[ids[rows[k]]] = SeriesPath(ds=p.ds, model=p.model, mean=mean[k], quantiles=moved[k])
    return out
