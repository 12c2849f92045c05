"""The smallest extra capacity that keeps a site's shortfall risk under a target.

For a site and the next ``days`` days, :func:`recommend_capacity` finds the fewest units
per open day (added on every day with planned capacity above zero, the scenario
``{"extra_units": x, "sites": [site]}``) for which ``p_shortfall`` is below ``target`` on
every open day (after ``grace_days``, if any), by asking the model itself: its
``predict`` under that scenario.

Why a bisection works: the model simulates the same arrival paths on every call, and on
each path more capacity never leaves more work waiting, so the work available on a day
does not grow while its capacity does; each day's ``p_shortfall`` (the share of paths
with more work than capacity) therefore falls, or stays, as ``x`` grows. The search
doubles ``x`` until the target is met, then halves the interval until it is narrower
than the tolerance, keeping ``x`` at its upper end: ``x`` meets the target and
``x - tolerance`` does not.

Closed days (no planned capacity) are not judged: on them any work waiting counts as a
shortfall, which capacity added on the open days cannot remove.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forecasting.capacity.compare import first_shortfall_free_day
from forecasting.cores import CapacityCore
from forecasting.errors import ConfigError, HorizonError, UnknownSeriesError

DEFAULT_TARGET = 0.2
LIMIT = 1e9  # the most a scenario may add on a day (CapacityScenario's bound)


@dataclass(frozen=True)
class ShiftSize:
    """One extra shift: ``hours`` at ``units_per_hour`` (in the model's measure)."""

    hours: float
    units_per_hour: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.hours) and 0 < self.hours <= 24):
            raise ConfigError(f"shift hours must be more than 0 and at most 24, not {self.hours}")
        if not (math.isfinite(self.units_per_hour) and self.units_per_hour > 0):
            raise ConfigError(f"units per hour must be more than 0, not {self.units_per_hour}")

    @property
    def units(self) -> float:
        """Capacity one shift adds on a day."""
        return self.hours * self.units_per_hour


@dataclass(frozen=True)
class Recommendation:
    """What one site needs over the next ``days`` days.

    ``extra_units_per_day`` (None when even :data:`LIMIT` would not do) is added on every
    open day; ``open_days`` counts those judged (after the first ``grace_days`` days);
    ``shifts_per_day`` is that in shifts of the given size (fractional; None without a
    shift size). ``max_p_shortfall_plan`` and ``max_p_shortfall`` are the highest
    ``p_shortfall`` on a judged open day without and with it; ``first_shortfall_plan`` the
    first judged open day with ``p_shortfall >= target`` in the plan (None: none).
    ``tolerance``: ``extra_units_per_day - tolerance`` would not meet the target;
    ``binding_days`` the judged days it would leave short (what sets the amount).
    """

    site: str
    days: int
    target: float
    extra_units_per_day: float | None
    tolerance: float
    open_days: int
    max_p_shortfall_plan: float
    max_p_shortfall: float
    first_shortfall_plan: pd.Timestamp | None
    first_shortfall_free_plan: pd.Timestamp | None
    grace_days: int = 0
    binding_days: tuple[pd.Timestamp, ...] = ()
    shift: ShiftSize | None = None

    @property
    def shifts_per_day(self) -> float | None:
        if self.shift is None or self.extra_units_per_day is None:
            return None
        return self.extra_units_per_day / self.shift.units

    @property
    def scenario(self) -> dict[str, Any] | None:
        """The what-if that re-runs the recommendation (``days`` as the horizon)."""
        if self.extra_units_per_day is None:
            return None
        return {"extra_units": self.extra_units_per_day, "sites": [self.site]}


def check_target(target: float) -> float:
    """``target`` if strictly between 0 and 1; :class:`ConfigError` otherwise."""
    if not (isinstance(target, int | float) and 0 < target < 1):  # NaN fails too
        raise ConfigError(f"target {target} must be a probability strictly between 0 and 1")
    return float(target)


def max_open_day_shortfall(outlook: pd.DataFrame, open_days: np.ndarray) -> float:
    """The highest ``p_shortfall`` among ``open_days`` (a mask over the outlook's rows);
    0 when no day is open."""
    values = outlook["p_shortfall"].to_numpy(float)[open_days]
    return float(values.max()) if values.size else 0.0


def recommend_capacity(
    core: CapacityCore,
    sites: Sequence[str],
    days: int,
    target: float = DEFAULT_TARGET,
    shift: ShiftSize | None = None,
    tolerance: float | None = None,
    grace_days: int = 0,
) -> list[Recommendation]:
    """One :class:`Recommendation` per site (in the order given, each once).

    ``tolerance`` (units per day; default 1% of the site's mean planned capacity on its
    open days, at least 0.01) is how close the search comes to the smallest amount. The
    first ``grace_days`` days are not judged (the backlog waiting today cannot all ship
    tomorrow: with 0, a large backlog makes the first day decide the answer). A site
    whose plan already meets the target gets 0.

    Raises :class:`ConfigError` for a target outside (0, 1), a tolerance not above 0 or
    ``grace_days`` outside 0 to ``days - 1``,
    :class:`HorizonError` for ``days`` outside 1 to the model's ``max_horizon`` and
    :class:`UnknownSeriesError` for a site the model does not know.
    """
    check_target(target)
    if not 1 <= days <= core.max_horizon:
        error = HorizonError(
            f"days {days} is outside what this model serves: 1 to {core.max_horizon}"
        )
        error.max_horizon = core.max_horizon  # type: ignore[attr-defined]  # the API's 422 body
        raise error
    if tolerance is not None and not (math.isfinite(tolerance) and tolerance > 0):
        raise ConfigError(f"tolerance must be a number above 0, not {tolerance}")
    if not 0 <= grace_days < days:
        raise ConfigError(
            f"grace days {grace_days} must be from 0 to {days - 1} (fewer than the days planned)"
        )
    known = list(core.sites_)
    chosen = list(dict.fromkeys(sites)) or known
    unknown = [site for site in chosen if site not in known]
    if unknown:
        raise UnknownSeriesError(
            f"unknown site {', '.join(repr(s) for s in unknown)}; the model's sites: "
            f"{', '.join(known)}"
        )
    return [_recommend(core, site, days, target, shift, tolerance, grace_days) for site in chosen]


def _recommend(
    core: CapacityCore,
    site: str,
    days: int,
    target: float,
    shift: ShiftSize | None,
    tolerance: float | None,
    grace_days: int,
) -> Recommendation:
    plan = core.predict(days, sites=[site])
    capacity = plan["capacity"].to_numpy(float)
    open_days = capacity > 0
    judged = open_days & (np.arange(len(capacity)) >= grace_days)
    typical = float(capacity[open_days].mean()) if open_days.any() else 0.0
    step = tolerance if tolerance is not None else max(0.01 * typical, 0.01)
    p = plan["p_shortfall"].to_numpy(float)
    risky = np.flatnonzero(judged & (p >= target))
    first = pd.Timestamp(plan["ds"].iloc[risky[0]]) if risky.size else None
    base = max_open_day_shortfall(plan, judged)

    def outlook_with(extra: float) -> pd.DataFrame:
        return core.predict(days, sites=[site], scenario={"extra_units": extra, "sites": [site]})

    def worst(extra: float) -> float:
        return max_open_day_shortfall(outlook_with(extra), judged)

    found: float | None = 0.0
    reached = base
    binding: list[pd.Timestamp] = []
    if base >= target:
        lo, hi = 0.0, max(typical, step)
        reached = worst(hi)
        while reached >= target and hi < LIMIT:
            lo, hi = hi, min(hi * 2, LIMIT)
            reached = worst(hi)
        if reached >= target:
            found = None
        else:
            while hi - lo > step:
                mid = (lo + hi) / 2
                at_mid = worst(mid)
                if at_mid < target:
                    hi, reached = mid, at_mid
                else:
                    lo = mid
            found = hi
            # The days a tolerance less still leaves short: what sets the amount.
            below = outlook_with(lo)["p_shortfall"].to_numpy(float)
            binding = [pd.Timestamp(d) for d in plan["ds"][judged & (below >= target)]]
    return Recommendation(
        site=site,
        days=days,
        target=target,
        extra_units_per_day=found,
        tolerance=step,
        open_days=int(judged.sum()),
        grace_days=grace_days,
        max_p_shortfall_plan=base,
        max_p_shortfall=reached,
        first_shortfall_plan=first,
        first_shortfall_free_plan=first_shortfall_free_day(plan["ds"], p, capacity, target),
        binding_days=tuple(binding),
        shift=shift,
    )
