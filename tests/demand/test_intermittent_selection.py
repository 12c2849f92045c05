"""IMAPA by hand, and the class default kept unless the backtest is strong evidence (#20)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.demand.auto import AutoForecaster
from forecasting.demand.config import BacktestConfig, GlobalModelConfig, SelectionConfig
from forecasting.demand.intermittent import IMAPA, imapa_path, mean_interval, optimized_ses
from forecasting.demand.selection import (
    COMBINATION,
    Choice,
    class_default,
    default_choice,
    with_evidence,
)

Y = np.array([0, 0, 3, 0, 0, 6, 0, 1, 0, 0, 4, 0], dtype=float)


def test_imapa_matches_a_hand_computation() -> None:
    # Demands at periods 3, 6, 8 and 11: intervals 3, 3, 2, 3, mean 2.75 -> levels 1, 2, 3.
    assert mean_interval(Y) == pytest.approx(2.75)
    # SES with alpha 0.1 started at the first value, on the totals of each level
    # (buckets cut from the end), divided by the level:
    # level 1: 0,0,3,0,0,6,0,1,0,0,4,0 -> 0.8607007467
    # level 2: 0,3,6,1,0,4 -> 1.11523 / 2
    # level 3: 3,6,1,4 -> 3.163 / 3
    by_level = [0.8607007467, 1.11523 / 2, 3.163 / 3]
    assert imapa_path(Y, alpha=0.1)[-1] == pytest.approx(np.mean(by_level), rel=1e-9)
    model = IMAPA(alpha=0.1)
    forecast = model.predict_series(model.fit_series(Y), 4, [0.1, 0.5, 0.9])
    np.testing.assert_allclose(forecast.mean, np.mean(by_level))


def test_imapa_on_one_bucket_per_level_and_without_demand() -> None:
    # Demand every period: one level, SES on the series itself.
    y = np.array([2.0, 4.0, 2.0, 4.0])
    # SES, alpha 0.2, from 2: 2 -> 2.4 -> 2.32 -> 2.656.
    assert imapa_path(y, alpha=0.2)[-1] == pytest.approx(2.656)
    np.testing.assert_array_equal(imapa_path(np.zeros(6)), np.zeros(7))


def test_optimized_ses_picks_the_alpha_of_least_squared_error() -> None:
    # A level shift: the faster alpha (0.3, the upper bound) follows it best.
    y = np.r_[np.zeros(10), np.full(10, 10.0)]
    fitted, forecast = optimized_ses(y)
    level = 0.0
    for value in y:
        level += 0.3 * (value - level)
    assert forecast == pytest.approx(level)
    assert np.isnan(fitted[0])


RULE = SelectionConfig(min_windows=3, evidence_margin=0.2)
DEFAULT = default_choice(("imapa", "tsb"), {COMBINATION: 1.0})
CONTENDER = Choice("sba", ("sba",), 0.5)


@pytest.mark.parametrize(
    ("contender_scores", "chosen"),
    [
        ([0.5, 0.6, 0.4], "sba"),  # three windows, 50% lower, lower in each: strong
        ([0.5, 0.6], COMBINATION),  # two windows only: weak
        ([0.5, 0.6, 1.1], COMBINATION),  # worse in one window: weak
        ([0.85, 0.9, 0.85], COMBINATION),  # lower in each but by less than 20%: weak
    ],
)
def test_the_class_default_stays_unless_the_evidence_is_strong(
    contender_scores: list[float], chosen: str
) -> None:
    default_scores = np.ones(len(contender_scores))
    scores = {"sba": np.array(contender_scores), COMBINATION: default_scores}
    assert with_evidence(CONTENDER, DEFAULT, scores, RULE).model == chosen


def test_the_default_of_a_class_and_its_name() -> None:
    assert class_default("smooth", SelectionConfig(class_defaults=())) is None
    assert (
        class_default("lumpy", SelectionConfig()) == dict(SelectionConfig().class_defaults)["lumpy"]
    )
    assert default_choice(("imapa",), {"imapa": 0.7}) == Choice("imapa", ("imapa",), 0.7)
    assert Choice(COMBINATION, ("imapa", "tsb"), 1.0) == DEFAULT


def _panel(values: dict[str, np.ndarray]) -> pd.DataFrame:
    return pd.concat(
        pd.DataFrame(
            {"series_id": sid, "ds": pd.date_range("2015-01-01", periods=len(y), freq="MS"), "y": y}
        )
        for sid, y in values.items()
    )


def test_the_pipeline_keeps_the_default_on_weak_evidence_and_follows_strong_evidence() -> None:
    rng = np.random.default_rng(3)
    noisy = np.where(rng.random(60) < 0.3, rng.integers(1, 9, 60), 0).astype(float)
    # Demand only in the history's first half: every window is zero, and the model that
    # forecasts least (here window_average, over the last zero windows) is best in each.
    stopped = np.r_[np.where(rng.random(24) < 0.5, rng.integers(1, 9, 24), 0), np.zeros(48)]
    frame = _panel({"noisy": noisy, "stopped": stopped.astype(float)})
    default = ("imapa", "tsb")
    rule = SelectionConfig(
        class_defaults=(("intermittent", default), ("lumpy", default)),
        min_windows=3,
        evidence_margin=0.2,
    )
    model = AutoForecaster(
        horizon=6,
        season_length=12,
        freq="MS",
        backtest=BacktestConfig(n_windows=3),
        selection=rule,
        global_model=GlobalModelConfig(mode="off"),
    ).fit(frame)
    chosen = model.selection_.set_index("series_id")
    assert set(chosen["demand_class"]) <= {"intermittent", "lumpy"}
    assert chosen.loc["noisy", "model"] == COMBINATION
    assert chosen.loc["noisy", "members"] == "imapa,tsb"
    assert chosen.loc["stopped", "model"] != COMBINATION
    # One window is never strong evidence: the default throughout.
    few = AutoForecaster(
        horizon=6,
        season_length=12,
        freq="MS",
        backtest=BacktestConfig(n_windows=1),
        selection=rule,
        global_model=GlobalModelConfig(mode="off"),
    ).fit(frame)
    assert set(few.selection_["model"]) == {COMBINATION}
    forecast = few.predict()
    assert np.isfinite(forecast["mean"]).all() and (forecast["mean"] >= 0).all()


def test_by_default_an_intermittent_series_gets_its_class_default_and_backtests_only_it() -> None:
    rng = np.random.default_rng(5)
    y = np.where(rng.random(60) < 0.3, rng.integers(1, 9, 60), 0).astype(float)
    model = AutoForecaster(horizon=6, season_length=12, freq="MS").fit(_panel({"part": y}))
    default = class_default(model.selection_["demand_class"].iloc[0], SelectionConfig())
    assert default is not None
    # One member (IMAPA): the model is its name; several would make a combination.
    expected = default[0] if len(default) == 1 else COMBINATION
    assert model.selection_["model"].iloc[0] == expected
    assert model.selection_["members"].iloc[0] == ",".join(default)
    assert set(model.backtest_["model"]) == {*default, expected}
    assert model.backtest_["window"].nunique() == 3
