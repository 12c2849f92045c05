"""The chance an intermittent series is still alive, and models weighed by it (#20)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forecasting.demand.backtest import forecast_values
from forecasting.demand.config import SelectionConfig
from forecasting.demand.obsolescence import (
    EVERY_PERCENT,
    alive_name,
    alive_probability,
    comebacks,
    estimate_prior,
    parse_alive_name,
)
from forecasting.demand.registry import make_model, parse_model_list
from forecasting.demand.selection import (
    PooledSeries,
    alive_choice,
    pooled_scores,
    pooled_series,
    pooled_volume_error,
)
from forecasting.errors import ConfigError

LEVELS = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)


def _intermittent(rng: np.random.Generator, n: int, share: float = 0.4) -> np.ndarray:
    return np.where(rng.random(n) < share, rng.integers(1, 9, n), 0).astype(float)


def test_the_chance_falls_with_the_run_of_zeros_as_the_formula_says() -> None:
    y = np.array([0, 4, 0, 0, 2, 0, 0, 0, 0, 0], dtype=float)  # 2 demands in 10, run of 5
    p, run, prior = 0.2, 5, 0.9
    expected = prior * (1 - p) ** run / (prior * (1 - p) ** run + 1 - prior)
    assert alive_probability(y, prior) == pytest.approx(expected)
    # Demand in the last period: nothing read beyond the prior.
    assert alive_probability(np.r_[y, 3.0], prior) == pytest.approx(prior)
    assert alive_probability(np.zeros(8), prior) == 0.0
    # Missing periods count as periods without demand.
    assert alive_probability(np.r_[y[:-1], np.nan], prior) == pytest.approx(expected)


@given(
    values=st.lists(st.sampled_from([0.0, 0.0, 1.0, 3.5]), min_size=1, max_size=60),
    prior=st.floats(0.01, 0.99),
)
def test_the_chance_is_at_most_the_prior_and_only_falls_as_zeros_follow(
    values: list[float], prior: float
) -> None:
    y = np.array(values)
    alive = alive_probability(y, prior)
    assert 0.0 <= alive <= prior + 1e-12
    longer = alive_probability(np.r_[y, 0.0], prior)
    assert longer <= alive + 1e-12


def test_names_round_trip_and_unknown_ones_are_refused() -> None:
    assert alive_name("imapa", 0.9) == "imapa_alive90"
    assert parse_alive_name("imapa_alive90") == ("imapa", 0.9)
    assert parse_alive_name("window_average_alive5") == ("window_average", 0.05)
    assert parse_alive_name("imapa") is None and parse_alive_name("imapa_alive0") is None
    assert parse_model_list("tsb_alive95,ets") == ("tsb_alive95", "ets")
    with pytest.raises(ConfigError, match="unknown model"):
        parse_model_list("nothing_alive50")
    with pytest.raises(ConfigError, match="unknown model"):
        make_model("imapa_alive100")
    with pytest.raises(ValueError, match="whole percent"):
        alive_name("imapa", 0.955)


def test_a_weighed_forecast_is_the_mixture_of_the_model_and_zero() -> None:
    rng = np.random.default_rng(3)
    y = np.r_[_intermittent(rng, 48), np.zeros(6)]
    base, weighed = make_model("tsb", 1), make_model("tsb_alive80", 1)
    alive = alive_probability(y, 0.8)
    assert 0.0 < alive < 0.8
    got = weighed.predict_series(weighed.fit_series(y), 6, LEVELS)
    plain = base.predict_series(base.fit_series(y), 6, LEVELS)
    np.testing.assert_allclose(got.mean, alive * plain.mean)
    assert got.quantiles is not None
    for level, row in zip(LEVELS, got.quantiles, strict=True):
        if level <= 1 - alive:
            np.testing.assert_array_equal(row, 0.0)
        else:
            # The mixture's CDF at the base's quantile of the mapped level is the level:
            # (1 - alive) + alive * mapped = level.
            mapped = (level - (1 - alive)) / alive
            inner = base.predict_series(base.fit_series(y), 6, (mapped,)).quantiles
            assert inner is not None
            np.testing.assert_allclose(row, inner[0])
    assert np.all(np.diff(got.quantiles, axis=0) >= 0)


def test_pooled_weighing_needs_no_refit_and_matches_one() -> None:
    rng = np.random.default_rng(5)
    y = np.r_[_intermittent(rng, 60), np.zeros(20), _intermittent(rng, 16, 0.1)]
    made = pooled_series(y, ("imapa",), 12, 3, 12)
    assert made is not None
    scores = pooled_scores([made], [("imapa_alive50",)])
    cutoffs = [len(y) - 12 * k for k in (3, 2, 1)]
    refit = np.array([forecast_values("imapa_alive50", y[:c], 12, 12, ()).mean for c in cutoffs])
    actual = np.array([y[c : c + 12] for c in cutoffs])
    mase = np.mean(np.abs(actual - refit), axis=1) / made.mase_scales
    assert scores["mase"].iloc[0] == pytest.approx(float(np.mean(mase)))


def _stopped_pool(rng: np.random.Generator) -> list[PooledSeries]:
    """Twenty series that stop for good after 50 periods, as the pooled backtest sees them."""
    made = [
        pooled_series(np.r_[_intermittent(rng, 50), np.zeros(46)], ("imapa",), 12, 3, 12)
        for _ in range(20)
    ]
    return [s for s in made if s is not None]


def test_the_prior_is_chosen_by_the_pooled_volume() -> None:
    rng = np.random.default_rng(8)
    # Series that stop for good: a prior below 1 forecasts their future better.
    stopped = _stopped_pool(rng)
    chosen = alive_choice(stopped, ("imapa",), (0.5, 0.9))
    assert chosen == ("imapa_alive50",)
    assert pooled_volume_error(stopped, chosen) < pooled_volume_error(stopped, ("imapa",))
    # Series whose demand goes on: weighing only takes demand away, so none is chosen.
    steady = [
        pooled_series(
            np.r_[np.zeros(2), np.full(94, 3.0) + rng.integers(0, 2, 94)], ("imapa",), 12, 3, 12
        )
        for _ in range(20)
    ]
    assert alive_choice([s for s in steady if s is not None], ("imapa",), (0.5, 0.9)) == ("imapa",)


def test_a_class_that_still_sells_keeps_its_volume() -> None:
    # Lumpy series that go on selling at their rate. A prior shrinks every forecast (one
    # that just sold is cut to the prior), and the pooled RMSSE over windows of mostly
    # zeros rewards that: the rule of d76fb2e halved them. The volume keeps them whole.
    rng = np.random.default_rng(3)
    made = [
        pooled_series(
            np.where(rng.random(96) < 0.15, rng.integers(1, 40, 96), 0).astype(float),
            ("imapa",),
            12,
            3,
            12,
        )
        for _ in range(40)
    ]
    going = [s for s in made if s is not None]
    options = [("imapa",), ("imapa_alive50",)]
    rmsse = pooled_scores(going, options)["rmsse"].to_numpy()
    assert rmsse[1] < rmsse[0]  # the trap
    assert alive_choice(going, ("imapa",), (0.5, 0.8, 0.9)) == ("imapa",)
    actuals = np.concatenate([s.actuals for s in going])
    means = np.concatenate([s.means["imapa"] for s in going])
    assert pooled_volume_error(going, ("imapa",)) == pytest.approx(
        abs(means.sum() - actuals.sum()) / actuals.sum()
    )
    assert pooled_volume_error(going, ("imapa_alive50",)) > 0.4


def test_priors_outside_whole_percents_are_refused_where_configured() -> None:
    with pytest.raises(ConfigError, match=r"alive_priors \[1.0, 0.955\]"):
        SelectionConfig(alive_priors=(0.5, 1.0, 0.955))
    assert SelectionConfig(alive_priors=(0.07, 0.99)).alive_priors == (0.07, 0.99)


def test_comebacks_read_every_cutoff_of_a_history() -> None:
    y = np.array([0, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], dtype=float)
    events = comebacks(y, horizon=3, min_train=2)
    # Cutoff 2: history [0, 1], run 0, share 1/2, demand (2) within the next 3.
    assert events.runs[:3].tolist() == [0.0, 1.0, 2.0]
    assert events.shares[0] == pytest.approx(0.5)
    assert events.came_back.tolist() == [True, True, True] + [False] * 9
    assert len(events.runs) == len(y) - 3 - 2 + 1


def test_the_prior_estimate_tells_dying_items_from_quiet_ones() -> None:
    rng = np.random.default_rng(12)
    # Half of the items stop for good at a random point; the rest sell on.
    dying = [
        np.r_[_intermittent(rng, int(n)), np.zeros(120 - int(n))] for n in rng.integers(30, 100, 40)
    ]
    steady = [_intermittent(rng, 120) for _ in range(40)]
    # The prior is the chance a series is alive at its last demand, read at every cutoff:
    # before an item dies it is alive at each, so even all-dying items give a high prior.
    all_dying = estimate_prior([comebacks(y, 12, 12) for y in dying], EVERY_PERCENT)
    half = estimate_prior([comebacks(y, 12, 12) for y in (*dying, *steady)], EVERY_PERCENT)
    none = estimate_prior([comebacks(y, 12, 12) for y in steady], EVERY_PERCENT)
    assert all_dying is not None and half is not None
    assert all_dying < half < 1.0
    assert none == 1.0
    assert estimate_prior([comebacks(np.zeros(30), 12, 12)], EVERY_PERCENT) is None


def test_the_estimate_is_kept_only_where_the_backtest_volume_allows() -> None:
    stopped = _stopped_pool(np.random.default_rng(8))
    # An estimate that items do not die, against windows without any demand: far off in
    # volume, so the prior the volume favours is taken instead; a loose tolerance keeps it.
    assert alive_choice(stopped, ("imapa",), (0.5, 0.9), 1.0, 0.1) == ("imapa_alive50",)
    assert alive_choice(stopped, ("imapa",), (0.5, 0.9), 1.0, 1e6) == ("imapa",)
    assert alive_choice(stopped, ("imapa",), (0.5, 0.9), 0.3, 1e6) == ("imapa_alive30",)


def test_a_negative_tolerance_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"alive_tolerance -0\.1"):
        SelectionConfig(alive_tolerance=-0.1)
    assert SelectionConfig(alive_tolerance=None).alive_tolerance is None
