"""Promise dates quoted at a target on-time probability (forecasting.risk.promise)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from forecasting.errors import ConfigError, DataContractError
from forecasting.risk.memory import MAX_CACHED_DAYS
from forecasting.risk.model import AtRiskModel
from forecasting.risk.promise import (
    MAX_DAYS,
    CurveCalibration,
    PromiseQuotes,
    quote_promise,
)
from forecasting.synthetic import generate_orders
from ordercast.cli import main

MAX = 60  # candidate days: enough to see each line's curve cross the targets below


@pytest.fixture(scope="module")
def fitted() -> tuple[AtRiskModel, pd.DataFrame]:
    """A small model trained on synthetic history; 40 lines ordered after its training."""
    orders = generate_orders(sites=2, skus=6, days=150, seed=3).orders
    as_of = orders["order_date"].min() + pd.Timedelta(days=120)
    model = AtRiskModel(n_models=1, max_iter=30, lookahead_days=30).fit(orders, as_of=as_of)
    later = orders[orders["order_date"] >= as_of]
    # Lines of both sites, so the site's load and record move the quotes.
    new = later.groupby("site", observed=True).head(20).reset_index(drop=True)
    return model, new.drop(columns=["promised_date", "delivered_date", "ship_date"])


def targets_between(quotes: PromiseQuotes) -> list[float]:
    """Targets that land inside the curves (not all met on the first day, some met)."""
    curve = quotes.curve["p_on_time"]
    return [float(np.quantile(curve, q)) for q in (0.2, 0.5, 0.8)]


@pytest.fixture(scope="module")
def quoted(fitted: tuple[AtRiskModel, pd.DataFrame]) -> PromiseQuotes:
    model, lines = fitted
    return quote_promise(model, lines, 0.5, max_days=MAX)


def test_the_curve_is_non_decreasing_per_line(quoted: PromiseQuotes) -> None:
    for _, one in quoted.curve.groupby("line_id"):
        assert len(one) == MAX
        assert np.all(np.diff(one["p_on_time"].to_numpy()) >= 0)
        assert one["date"].is_monotonic_increasing


def test_the_quote_is_the_first_date_reaching_the_target(
    fitted: tuple[AtRiskModel, pd.DataFrame], quoted: PromiseQuotes
) -> None:
    model, lines = fitted
    met = 0
    for target in targets_between(quoted):
        quotes = quote_promise(model, lines, target, max_days=MAX)
        curves = dict(tuple(quotes.curve.groupby("line_id")))
        for row in quotes.quotes.to_dict("records"):
            curve = curves[row["line_id"]].set_index("date")["p_on_time"]
            if pd.isna(row["quoted_date"]):
                assert curve.max() < target
                assert f"reaches {target:.0%}" in row["note"]
                continue
            met += 1
            assert row["p_on_time"] >= target
            assert curve[row["quoted_date"]] == pytest.approx(row["p_on_time"])
            day_before = row["quoted_date"] - pd.Timedelta(days=1)
            if day_before > row["quoted_from"]:  # not the first candidate
                assert curve[day_before] < target
            assert row["reason_1"]  # the model's reason at the quoted date
    assert met > 0


def test_a_higher_target_never_quotes_an_earlier_date(
    fitted: tuple[AtRiskModel, pd.DataFrame], quoted: PromiseQuotes
) -> None:
    model, lines = fitted
    never = pd.Timestamp.max
    previous = None
    for target in sorted(targets_between(quoted)):
        dates = quote_promise(model, lines, target, max_days=MAX).quotes["quoted_date"]
        dates = dates.fillna(never)
        if previous is not None:
            assert (dates >= previous).all()
        previous = dates


def test_a_line_quotes_the_same_alone_and_in_a_batch(
    fitted: tuple[AtRiskModel, pd.DataFrame], quoted: PromiseQuotes
) -> None:
    model, lines = fitted
    target = targets_between(quoted)[1]
    together = quote_promise(model, lines, target, max_days=MAX)
    for position in (0, len(lines) - 1):
        alone = quote_promise(model, lines.iloc[[position]], target, max_days=MAX)
        mine = together.quotes.iloc[position]
        assert alone.quotes["quoted_date"].iloc[0] == mine["quoted_date"] or (
            pd.isna(alone.quotes["quoted_date"].iloc[0]) and pd.isna(mine["quoted_date"])
        )
        line_curve = together.curve[together.curve["line_id"] == mine["line_id"]]
        assert alone.curve["p_on_time"].tolist() == line_curve["p_on_time"].tolist()


def test_lines_quoted_from_many_days_come_back_in_order_as_each_alone(
    fitted: tuple[AtRiskModel, pd.DataFrame],
) -> None:
    model, lines = fitted
    first = lines["order_date"].min()
    spread = lines.head(MAX_CACHED_DAYS + 4).copy()
    # Days in reverse, so grouping the days must restore the lines' order.
    spread["order_date"] = [first + pd.Timedelta(days=20 - i) for i in range(len(spread))]
    together = quote_promise(model, spread, 0.6, max_days=15)
    assert together.quotes["line_id"].tolist() == spread["line_id"].tolist()
    assert together.curve["line_id"].drop_duplicates().tolist() == spread["line_id"].tolist()
    for position in (0, len(spread) - 1):
        alone = quote_promise(model, spread.iloc[[position]], 0.6, max_days=15)
        mine = together.quotes.iloc[position]
        assert alone.quotes["quoted_from"].iloc[0] == mine["quoted_from"]
        assert alone.quotes["p_on_time"].fillna(-1).iloc[0] == (
            -1 if pd.isna(mine["p_on_time"]) else mine["p_on_time"]
        )
        line_curve = together.curve[together.curve["line_id"] == mine["line_id"]]
        assert alone.curve["p_on_time"].tolist() == line_curve["p_on_time"].tolist()


def test_actions_say_what_would_change_the_quote(quoted: PromiseQuotes) -> None:
    actions = quoted.quotes["actions"]
    assert all(len(said) <= 3 for said in actions)
    said = [text for line in actions for text in line]
    assert said, "no line got an action"
    assert all("% on time" in text for text in said)


def test_as_of_after_the_order_date_quotes_from_as_of(
    fitted: tuple[AtRiskModel, pd.DataFrame],
) -> None:
    model, lines = fitted
    later = lines["order_date"].max() + pd.Timedelta(days=10)
    quotes = quote_promise(model, lines.head(3), 0.5, as_of=later, max_days=5)
    assert (quotes.quotes["quoted_from"] == later).all()
    assert quotes.curve["date"].min() == later + pd.Timedelta(days=1)


def test_a_line_ordered_before_the_models_memory_is_quoted_from_its_date(
    fitted: tuple[AtRiskModel, pd.DataFrame],
) -> None:
    model, lines = fitted
    old = lines.head(2).assign(order_date=pd.Timestamp("2000-01-03"))
    quotes = quote_promise(model, old, 0.5, max_days=5)
    assert (quotes.quotes["quoted_from"] == model.memory_.as_of).all()


@pytest.mark.parametrize("target", [0, 1, 1.2, -0.1, float("nan")])
def test_a_target_outside_zero_and_one_is_a_config_error(
    fitted: tuple[AtRiskModel, pd.DataFrame], target: float
) -> None:
    model, lines = fitted
    with pytest.raises(ConfigError, match="strictly between 0 and 1"):
        quote_promise(model, lines, target)


@pytest.mark.parametrize("max_days", [0, MAX_DAYS + 1])
def test_too_many_candidate_days_is_a_config_error(
    fitted: tuple[AtRiskModel, pd.DataFrame], max_days: int
) -> None:
    model, lines = fitted
    with pytest.raises(ConfigError, match=f"1 to {MAX_DAYS} days"):
        quote_promise(model, lines, 0.9, max_days=max_days)


@pytest.mark.parametrize("column", ["site", "order_date"])
def test_a_line_without_site_or_order_date_is_named(
    fitted: tuple[AtRiskModel, pd.DataFrame], column: str
) -> None:
    model, lines = fitted
    broken = lines.head(4).copy()
    broken.loc[2, column] = None
    with pytest.raises(DataContractError, match=f"row 3, column '{column}'"):
        quote_promise(model, broken, 0.9)
    with pytest.raises(DataContractError, match=f"column '{column}': column missing"):
        quote_promise(model, lines.drop(columns=[column]), 0.9)


def test_an_unfitted_model_is_a_config_error(fitted: tuple[AtRiskModel, pd.DataFrame]) -> None:
    with pytest.raises(ConfigError, match="fitted"):
        quote_promise(AtRiskModel(), fitted[1], 0.9)


def at_risk_only(model: AtRiskModel) -> AtRiskModel:
    """The model as pickled before delivery-time models existed: no such attribute."""
    old = copy.copy(model)
    del old.delivery_time_
    return old


def test_a_model_with_a_delivery_time_model_quotes_from_its_curve(
    fitted: tuple[AtRiskModel, pd.DataFrame], quoted: PromiseQuotes
) -> None:
    model, lines = fitted
    timing = model.delivery_time_
    assert timing is not None
    start = quoted.quotes["quoted_from"].to_numpy("datetime64[D]")
    ordered = pd.to_datetime(lines["order_date"]).to_numpy("datetime64[D]")
    waited = (start - ordered).astype(float)
    since_order = waited[:, None] + np.arange(1, MAX + 1)[None, :]
    expected = np.round(timing.p_delivered_within(lines, since_order), 4)
    assert quoted.curve["p_on_time"].to_numpy().reshape(len(lines), MAX) == pytest.approx(expected)
    # The at-risk model still gives the reasons at the quoted date.
    assert quoted.quotes["reason_1"].str.len().gt(0).all()


def test_a_model_without_a_delivery_time_model_quotes_from_the_at_risk_curve(
    fitted: tuple[AtRiskModel, pd.DataFrame],
) -> None:
    model, lines = fitted
    old = at_risk_only(model)
    fallback = quote_promise(old, lines.head(5), 0.5, max_days=10)
    also_none = copy.copy(model)
    also_none.delivery_time_ = None  # a history too short for one
    none = quote_promise(also_none, lines.head(5), 0.5, max_days=10)
    # A calibration asks for the at-risk curve; the identity leaves it as it is.
    identity = CurveCalibration((0.0, 1.0, 0.0, 0.0, 0.0))
    at_risk = quote_promise(model, lines.head(5), 0.5, max_days=10, calibration=identity)
    timing = quote_promise(model, lines.head(5), 0.5, max_days=10)
    assert fallback.curve["p_on_time"].tolist() == none.curve["p_on_time"].tolist()
    assert fallback.curve["p_on_time"].to_numpy() == pytest.approx(
        at_risk.curve["p_on_time"].to_numpy(), abs=2e-4
    )
    assert not np.allclose(fallback.curve["p_on_time"], timing.curve["p_on_time"], atol=0.01)


def test_a_model_fitted_without_a_delivery_time_model_scores_the_same(
    fitted: tuple[AtRiskModel, pd.DataFrame],
) -> None:
    # Where only p_late is read (the training's evaluation window, the walk-forward) the
    # delivery-time model is left out; p_late must not depend on it.
    model, _ = fitted
    orders = generate_orders(sites=2, skus=6, days=150, seed=3).orders
    day = model.trained_as_of_
    lean = clone(model).set_params(delivery_time=False).fit(orders, as_of=day)
    assert model.delivery_time_ is not None and lean.delivery_time_ is None
    pd.testing.assert_frame_equal(lean.score_lines(orders, day), model.score_lines(orders, day))


def test_a_calibration_maps_the_curve_before_the_target(
    fitted: tuple[AtRiskModel, pd.DataFrame],
) -> None:
    model, lines = fitted
    raw = quote_promise(at_risk_only(model), lines.head(5), 0.5, max_days=10)
    identity = CurveCalibration((0.0, 1.0, 0.0, 0.0, 0.0))
    same = quote_promise(model, lines.head(5), 0.5, max_days=10, calibration=identity)
    assert same.curve["p_on_time"].to_numpy() == pytest.approx(
        raw.curve["p_on_time"].to_numpy(), abs=2e-4
    )
    # A map that says nothing is delivered in time: no date reaches 0.5 any more.
    never = CurveCalibration((-50.0, 0.0, 0.0, 0.0, 0.0))
    mapped = quote_promise(model, lines.head(5), 0.5, max_days=10, calibration=never)
    assert mapped.quotes["quoted_date"].isna().all()
    # Days ahead enter: a map rising with them quotes later dates only.
    later = CurveCalibration((-3.0, 1.0, 1.5, 0.0, 0.0))
    shifted = quote_promise(model, lines.head(5), 0.5, max_days=10, calibration=later)
    never_quoted = pd.Timestamp.max
    assert (
        shifted.quotes["quoted_date"].fillna(never_quoted)
        >= raw.quotes["quoted_date"].fillna(never_quoted)
    ).all()
    with pytest.raises(ConfigError, match="5 finite coefficients"):
        CurveCalibration((0.0, 1.0))  # type: ignore[arg-type]


# ------------------------------------------------------------ ordercast risk promise


@pytest.fixture(scope="module")
def saved(
    fitted: tuple[AtRiskModel, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """The fitted model as a joblib file and the new lines as a CSV without promised dates."""
    model, lines = fitted
    folder = tmp_path_factory.mktemp("promise")
    joblib.dump(model, folder / "model.joblib")
    lines.head(6).to_csv(folder / "new.csv", index=False)
    return folder / "model.joblib", folder / "new.csv"


def run(saved: tuple[Path, Path], out: Path, *extra: str, source: Path | None = None) -> int:
    model, lines = saved
    argv = ["risk", "promise", str(source or lines), "--model", str(model), "--trust"]
    return main([*argv, "--out", str(out), *extra])


def test_the_command_writes_one_quote_per_line(
    saved: tuple[Path, Path], fitted: tuple[AtRiskModel, pd.DataFrame], tmp_path: Path
) -> None:
    out = tmp_path / "quotes.csv"
    assert (
        run(saved, out, "--target", "0.6", "--max-days", "30", "--curve", str(tmp_path / "c.csv"))
        == 0
    )
    quotes = pd.read_csv(out, parse_dates=["quoted_date"])
    expected = [
        "order_id", "line_id", "quoted_from", "quoted_date", "p_on_time", "target",
        "reason_1", "reason_2", "reason_3", "actions", "note",
    ]  # fmt: skip
    assert list(quotes.columns) == expected
    assert quotes["line_id"].tolist() == fitted[1]["line_id"].head(6).tolist()
    # The same quotes as the function gives the frame.
    direct = quote_promise(fitted[0], fitted[1].head(6), 0.6, max_days=30).quotes
    assert quotes["quoted_date"].tolist() == direct["quoted_date"].tolist()
    assert len(pd.read_csv(tmp_path / "c.csv")) == 6 * 30


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (("--target", "1.5"), "strictly between 0 and 1"),
        (("--target", "0.9", "--max-days", "400"), "1 to 366 days"),
    ],
)
def test_bad_options_exit_2_and_write_nothing(
    saved: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    extra: tuple[str, ...], says: str,
) -> None:  # fmt: skip
    out = tmp_path / "quotes.csv"
    assert run(saved, out, *extra) == 2
    assert says in capsys.readouterr().err
    assert not out.exists()


def test_a_line_without_a_site_exits_2_naming_it(
    saved: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = pd.read_csv(saved[1])
    broken.loc[1, "site"] = None
    source = tmp_path / "broken.csv"
    broken.to_csv(source, index=False)
    out = tmp_path / "quotes.csv"
    assert run(saved, out, "--target", "0.9", source=source) == 2
    err = capsys.readouterr().err
    assert "site" in err and "line 3" in err
    assert not out.exists()


def test_the_command_applies_a_calibration_file(
    saved: tuple[Path, Path], fitted: tuple[AtRiskModel, pd.DataFrame], tmp_path: Path
) -> None:
    never = tmp_path / "never.json"
    never.write_text(json.dumps({"coef": [-50, 0, 0, 0, 0], "chosen_on": "a test"}))
    out = tmp_path / "quotes.csv"
    assert run(saved, out, "--target", "0.6", "--max-days", "10", "--calibration", str(never)) == 0
    assert pd.read_csv(out)["quoted_date"].isna().all()
    assert pd.read_csv(out)["note"].str.contains("reaches 60%").all()


@pytest.mark.parametrize("text", ["not json", '{"coef": [1, 2]}', '{"coef": "abc"}', "[]"])
def test_an_unusable_calibration_file_exits_2(
    saved: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    broken = tmp_path / "calibration.json"
    broken.write_text(text)
    out = tmp_path / "quotes.csv"
    assert run(saved, out, "--target", "0.9", "--calibration", str(broken)) == 2
    assert "calibration" in capsys.readouterr().err
    assert not out.exists()
