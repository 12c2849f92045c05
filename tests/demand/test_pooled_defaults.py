"""The class default chosen per panel by a backtest pooled over the class's series (#20)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.demand.auto import AutoForecaster
from forecasting.demand.classify import classify, demand_classes
from forecasting.demand.config import GlobalModelConfig, ParallelConfig, SelectionConfig
from forecasting.demand.obsolescence import alive_probability, parse_alive_name
from forecasting.demand.selection import (
    PooledSeries,
    error_scales,
    pooled_choice,
    pooled_scores,
    pooled_series,
)

DEFAULT = ("imapa",)
# The default candidates without naive, whose zeros after demand ends would otherwise win
# the stopped panel below before any weighing is needed.
RATE_CANDIDATES = tuple(c for c in SelectionConfig().pooled_candidates or () if "naive" not in c)


def _panel(values: dict[str, np.ndarray]) -> pd.DataFrame:
    return pd.concat(
        pd.DataFrame(
            {"series_id": sid, "ds": pd.date_range("2012-01-01", periods=len(y), freq="MS"), "y": y}
        )
        for sid, y in values.items()
    )


def _fit(frame: pd.DataFrame, **selection: object) -> AutoForecaster:
    return AutoForecaster(
        horizon=12,
        season_length=12,
        freq="MS",
        selection=SelectionConfig(**selection),  # type: ignore[arg-type]
        global_model=GlobalModelConfig(mode="off"),
        parallel=ParallelConfig(n_jobs=1),
    ).fit(frame)


def _stopped(rng: np.random.Generator) -> np.ndarray:
    """Intermittent demand for 60 months, then one unit once in the next 47 and none in
    the last: each backtest window is (nearly) all zeros, which the last value forecasts."""
    active = np.where(rng.random(60) < 0.4, rng.integers(3, 7, 60), 0)
    quiet = np.zeros(48)
    quiet[rng.integers(0, 47)] = 1.0
    return np.r_[active, quiet].astype(float)


def _steady(rng: np.random.Generator) -> np.ndarray:
    """The same demand process throughout: a rate method forecasts it, the last value not."""
    return np.where(rng.random(108) < 0.4, rng.integers(3, 7, 108), 0).astype(float)


def test_the_pooled_choice_follows_what_the_panel_favours() -> None:
    rng = np.random.default_rng(11)
    stopped_values = {f"s{i}": _stopped(rng) for i in range(30)}
    stopped = _fit(_panel(stopped_values), pooled_candidates=RATE_CANDIDATES)
    steady = _fit(_panel({f"s{i}": _steady(rng) for i in range(30)}))

    pooled = stopped.class_defaults_[stopped.class_defaults_["series"] > 0]
    assert not pooled.empty
    # Demand that ended: every member weighed by the chance the series is still alive.
    assert all(parse_alive_name(m) is not None for ms in pooled["members"] for m in ms)
    assert all(parse_alive_name(m) is not None for m in stopped.selection_["model"])
    # The choice and the data that made it are recorded.
    assert any(
        "_alive" in note and "from the pooled backtest of" in note for note in stopped.notes_
    )
    assert pooled["source"].str.startswith("pooled backtest of").all()
    # Weighed, the forecast of a series quiet for years is a small part of its old rate.
    weighed = stopped.predict().groupby("series_id")["mean"].first()
    again = _panel({f"s{i}": _stopped(np.random.default_rng(11)) for i in range(30)})
    plain = _fit(again, pooled_candidates=RATE_CANDIDATES, alive_priors=())
    unweighed = plain.predict().groupby("series_id")["mean"].first()
    assert (weighed < 0.5 * unweighed).all()
    # With the default candidates the last value, zero, may forecast them instead: as small.
    default = _fit(again).predict().groupby("series_id")["mean"].first()
    assert (default < 0.5 * unweighed).all()
    # The selection says why: each series' chance of still being ordered, as its history
    # and the chosen prior give it.
    for row in stopped.selection_.itertuples():
        prior = parse_alive_name(row.members.split(",")[0])[1]  # type: ignore[index]
        y = stopped_values[row.series_id]
        assert row.alive == pytest.approx(alive_probability(y, prior))
        assert row.alive < 0.5

    chosen = steady.class_defaults_[steady.class_defaults_["series"] > 0]
    assert not chosen.empty
    assert all(parse_alive_name(m) is None for ms in chosen["members"] for m in ms)
    assert steady.selection_["alive"].isna().all()
    forecast = steady.predict()
    assert np.isfinite(forecast["mean"]).all() and (forecast["mean"] >= 0).all()


def test_few_series_keep_the_fixed_default_and_say_so() -> None:
    rng = np.random.default_rng(4)
    model = _fit(_panel({f"s{i}": _stopped(rng) for i in range(5)}))
    assert (model.class_defaults_["source"] == "fixed default").all()
    assert set(model.selection_["members"]) == {",".join(DEFAULT)}
    assert any("fewer than 10" in note for note in model.notes_)
    # Switched off: the fixed defaults, whatever the panel.
    many = _panel({f"s{i}": _stopped(rng) for i in range(30)})
    off = _fit(many, pooled_candidates=None)
    assert set(off.selection_["members"]) == {",".join(DEFAULT)}


def test_a_few_smooth_series_in_an_intermittent_panel_borrow_its_default_without_ets() -> None:
    rng = np.random.default_rng(7)
    values = {f"s{i}": _stopped(rng) for i in range(24)}
    for i in range(3):  # demand every month: smooth
        values[f"smooth{i}"] = 20 + rng.normal(0, 2, 108).round()
    model = AutoForecaster(
        horizon=12, season_length=12, freq="MS", parallel=ParallelConfig(n_jobs=1)
    ).fit(_panel(values))
    rows = model.class_defaults_.set_index("demand_class")
    assert rows.loc["smooth", "source"].startswith("pooled backtest of")
    assert "intermittent" in rows.loc["smooth", "source"] or "lumpy" in rows.loc["smooth", "source"]
    smooth = model.selection_[model.selection_["demand_class"] == "smooth"]
    assert len(smooth) == 3
    assert "ets" not in set(model.backtest_["model"])
    assert model.global_ is None


def test_pooled_scores_and_choice_on_known_errors() -> None:
    actual = np.array([[0.0, 2.0, 0.0, 2.0]])
    series = [
        PooledSeries(
            actuals=actual,
            means={"good": np.array([[0.5, 1.5, 0.5, 1.5]]), "bad": np.array([[3.0] * 4])},
            mase_scales=np.array([1.0]),
            rmsse_scales=np.array([4.0]),
        )
    ]
    frame = pooled_scores(series, [("good",), ("bad",), ("good", "bad")])
    good, _, both = frame.itertuples(index=False)
    assert good.mase == pytest.approx(0.5)
    assert good.rmsse == pytest.approx(np.sqrt(0.25 / 4))
    # The combination's mean is (1.75, 2.25, 1.75, 2.25): errors 1.75, 0.25, 1.75, 0.25.
    assert both.mase == pytest.approx(1.0)
    assert list(frame["series"]) == [1, 1, 1]
    assert pooled_choice(frame, ("bad",), margin=0.02) == ("good",)
    # Within the margin the default stays.
    close = pd.DataFrame(
        {"members": [("a",), ("b",)], "mase": [1.0, 1.01], "rmsse": [1.0, 1.01], "series": 5}
    )
    assert pooled_choice(close, ("b",), margin=0.02) == ("b",)
    assert pooled_choice(close, ("b",), margin=0.0) == ("a",)


def test_pooled_series_plans_windows_as_the_pipeline_and_skips_what_it_cannot_judge() -> None:
    rng = np.random.default_rng(2)
    y = _steady(rng)
    made = pooled_series(y, ("naive", "imapa"), 12, 3, 12)
    assert made is not None
    assert made.actuals.shape == (3, 12) and made.means["naive"].shape == (3, 12)
    np.testing.assert_array_equal(made.actuals[-1], y[-12:])
    np.testing.assert_array_equal(made.means["naive"][-1], np.full(12, y[-13]))
    assert pooled_series(np.zeros(60), ("naive",), 12, 3, 12) is None  # no demand
    assert pooled_series(y[:15], ("naive",), 12, 3, 12) is None  # too short to backtest
    assert error_scales(np.full(10, 3.0), 4) == (0.0, 0.0)


def test_vectorised_classes_match_the_per_series_ones() -> None:
    rng = np.random.default_rng(9)
    values = {
        f"s{i}": np.where(rng.random(40) < rng.uniform(0, 1), rng.gamma(1 + i % 3, 5, 40), 0)
        for i in range(200)
    }
    values["none"] = np.zeros(10)
    values["one"] = np.r_[np.zeros(9), 4.0]
    frame = _panel(values)
    expected = classify(frame).set_index("series_id")["demand_class"]
    pd.testing.assert_series_equal(demand_classes(frame), expected, check_names=False)
