"""The selection rule on hand-made scores: no models fitted."""

from __future__ import annotations

import numpy as np
import pytest

from forecasting.demand.backtest import ENSEMBLE, Windows
from forecasting.demand.base import SeriesForecast
from forecasting.demand.config import SelectionConfig
from forecasting.demand.registry import GLOBAL
from forecasting.demand.selection import (
    Choice,
    candidate_models,
    choose,
    ensemble_members,
    fallback_choice,
    global_competes,
)

RULE = SelectionConfig(margin=0.05, global_margin=0.3)
TWO_WINDOWS = Windows(cutoffs=(40, 47), horizon=7)


def test_the_best_model_alone_only_when_it_beats_the_ensemble_by_the_margin() -> None:
    scores = {"ets": 0.80, "naive": 1.0, "theta": 0.9, "drift": 1.2}
    members = ensemble_members(scores)
    assert members == ("ets", "theta", "naive")
    clear = choose({**scores, ENSEMBLE: 0.9}, members, RULE, global_competing=False)
    assert clear == Choice("ets", ("ets",), 0.80)
    close = choose({**scores, ENSEMBLE: 0.83}, members, RULE, global_competing=False)
    assert close == Choice(ENSEMBLE, members, 0.83)


def test_one_candidate_is_chosen_without_an_ensemble() -> None:
    assert choose({"naive": 2.0}, ("naive",), RULE, False) == Choice("naive", ("naive",), 2.0)


def test_ties_rank_by_name() -> None:
    assert ensemble_members({"b": 1.0, "a": 1.0, "c": 1.0, "d": 0.5}) == ("d", "b", "a")


def test_the_global_model_is_kept_unless_clearly_beaten() -> None:
    scores = {"ets": 0.75, GLOBAL: 1.0, "naive": 1.5, ENSEMBLE: 0.9}
    members = ensemble_members({k: v for k, v in scores.items() if k != ENSEMBLE})
    assert choose(scores, members, RULE, global_competing=True).model == GLOBAL
    assert choose({**scores, "ets": 0.6}, members, RULE, global_competing=True).model == "ets"
    # Not competing (e.g. an intermittent series): the scores alone decide.
    assert choose(scores, members, RULE, global_competing=False).model == "ets"


@pytest.mark.parametrize(
    ("values", "windows", "model", "reason"),
    [
        (np.zeros(30), TWO_WINDOWS, "naive", "no demand in the history"),
        (np.array([]), TWO_WINDOWS, "naive", "no demand in the history"),
        (np.full(30, 4.0), TWO_WINDOWS, "naive", "constant series"),
        (
            np.array([1.0, 3.0, 2.0]),
            Windows((), 7),
            "window_average",
            "too short to backtest a 7-period horizon (3 periods of history)",
        ),
        (
            np.array([1.0, 3.0]),
            Windows((), 7),
            "naive",
            "too short to backtest a 7-period horizon (2 periods of history)",
        ),
    ],
)
def test_series_the_backtest_cannot_judge_get_a_fallback(
    values: np.ndarray, windows: Windows, model: str, reason: str
) -> None:
    choice = fallback_choice(values, windows)
    assert choice is not None
    assert (choice.model, choice.members, choice.fallback) == (model, (model,), reason)
    assert np.isnan(choice.score)  # no backtest, no score


def test_a_series_with_history_and_windows_has_no_fallback() -> None:
    assert fallback_choice(np.arange(1.0, 60.0), TWO_WINDOWS) is None


def test_candidates_by_class_or_by_name() -> None:
    assert "ets" in candidate_models("smooth", None, skip_ets=False)
    assert "ets" not in candidate_models("smooth", None, skip_ets=True)
    assert candidate_models("smooth", ("ets",), skip_ets=True) == ("ets",)  # named: kept
    assert "sba" in candidate_models("intermittent", None, skip_ets=False)


def test_the_global_model_competes_only_where_it_covered_every_window() -> None:
    fc = SeriesForecast(np.ones(7))
    both = {40: fc, 47: fc}
    assert global_competes("smooth", both, True, TWO_WINDOWS)
    assert not global_competes("smooth", {47: fc}, True, TWO_WINDOWS)
    assert not global_competes("smooth", both, False, TWO_WINDOWS)
    assert not global_competes("smooth", None, True, TWO_WINDOWS)
    assert not global_competes("lumpy", both, True, TWO_WINDOWS)
    assert not global_competes("smooth", both, True, Windows((), 7))
