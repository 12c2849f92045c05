"""Planner adjustments: spread, re-added, quantiles moved, bad input named (issue #18)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.demand.adjustments import (
    Adjustment,
    active,
    apply_adjustments,
    check_adjustment,
)
from forecasting.demand.serving import DemandServingModel, SeriesPath
from forecasting.errors import AdjustmentError, UnknownSeriesError

DATES = pd.date_range("2025-01-05", periods=4, freq="W-SUN")
GRID = (0.1, 0.5, 0.9)
# Quantiles as fractions of the mean: a band of relative width 1.0 around it.
BAND = np.array([0.5, 1.0, 1.5])
BOTTOM = {
    "A|S1": [10.0, 20.0, 30.0, 40.0],
    "B|S1": [30.0, 20.0, 10.0, 0.0],
    "C|S1": [0.0, 10.0, 10.0, 10.0],
    "A|S2": [5.0, 5.0, 5.0, 5.0],
    "B|S2": [15.0, 0.0, 25.0, 35.0],
    "C|S2": [0.0, 0.0, 20.0, 50.0],
}
LEVELS = (("sku", "site"), ("sku",), ("site",), ())
WHEN = pd.Timestamp("2025-01-01")


def make_model(bottom: dict[str, list[float]] = BOTTOM) -> DemandServingModel:
    """A coherent served model: upper levels are exact sums of the bottom means."""
    sums: dict[str, dict[str, np.ndarray]] = {"sku,site": {}, "sku": {}, "site": {}, "total": {}}
    for sid, values in bottom.items():
        sku, site = sid.split("|")
        mean = np.array(values)
        sums["sku,site"][sid] = mean
        for level, key in (("sku", sku), ("site", site), ("total", "__total__")):
            sums[level][key] = sums[level].get(key, np.zeros(len(DATES))) + mean
    paths = {
        level: {
            sid: SeriesPath(
                ds=DATES.to_numpy(), model="ets", mean=m, quantiles=BAND[:, None] * m[None, :]
            )
            for sid, m in series.items()
        }
        for level, series in sums.items()
    }
    return DemandServingModel(
        freq="W-SUN", grid=GRID, levels=LEVELS, paths=paths, selection=pd.DataFrame()
    )


def adj(
    id: str = "a1",
    level: str = "sku,site",
    series_id: str = "A|S1",
    start: str = "2025-01-12",
    end: str | None = None,
    kind: str = "add",
    value: float = 10.0,
    author: str = "ana",
    minute: int = 0,
    **extra: object,
) -> Adjustment:
    return Adjustment(
        id=id,
        level=level,
        series_id=series_id,
        start=pd.Timestamp(start),
        end=pd.Timestamp(end or start),
        kind=kind,  # type: ignore[arg-type]
        value=value,
        author=author,
        reason=extra.pop("reason", "customer promo"),  # type: ignore[arg-type]
        created_at=WHEN + pd.Timedelta(minutes=minute),
        **extra,  # type: ignore[arg-type]
    )


def mean(model: DemandServingModel, level: str, sid: str) -> np.ndarray:
    return model.paths[level][sid].mean


def assert_coherent(model: DemandServingModel) -> None:
    """Every upper series equals the sum of its bottom series, in every period."""
    bottom = model.paths["sku,site"]
    for level, position in (("sku", 0), ("site", 1), ("total", None)):
        for sid, path in model.paths[level].items():
            parts = [
                p.mean
                for b, p in bottom.items()
                if position is None or b.split("|")[position] == sid
            ]
            np.testing.assert_allclose(path.mean, np.sum(parts, axis=0), rtol=1e-12, atol=1e-12)


def assert_quantiles_sane(model: DemandServingModel) -> None:
    for paths in model.paths.values():
        for path in paths.values():
            assert (path.quantiles >= 0).all()
            assert (np.diff(path.quantiles, axis=0) >= 0).all()


def test_no_adjustment_serves_the_statistical_forecast_bit_for_bit() -> None:
    model = make_model()
    out = apply_adjustments(model, [])
    for level, paths in model.paths.items():
        for sid, path in paths.items():
            assert out.model.paths[level][sid] is path
    assert out.applied.empty and out.orphaned.empty


def test_site_adjustment_spreads_in_proportion_and_the_total_moves_by_the_same() -> None:
    model = make_model()
    out = apply_adjustments(model, [adj(level="site", series_id="S1", value=60.0)]).model
    # Week 2 of site S1: A 20, B 20, C 10 (of 50) -> +24, +24, +12.
    assert mean(out, "sku,site", "A|S1")[1] == pytest.approx(44.0, rel=1e-12)
    assert mean(out, "sku,site", "B|S1")[1] == pytest.approx(44.0, rel=1e-12)
    assert mean(out, "sku,site", "C|S1")[1] == pytest.approx(22.0, rel=1e-12)
    np.testing.assert_allclose(mean(out, "site", "S1"), [40.0, 110.0, 50.0, 50.0], rtol=1e-12)
    np.testing.assert_allclose(
        mean(out, "total", "__total__") - mean(model, "total", "__total__"),
        [0.0, 60.0, 0.0, 0.0],
        rtol=1e-12,
        atol=1e-12,
    )
    np.testing.assert_array_equal(mean(out, "site", "S2"), mean(model, "site", "S2"))
    assert_coherent(out)


def test_planner_split_sends_the_change_where_the_planner_says() -> None:
    split = {"A|S1": 0.75, "C|S1": 0.25}
    a = adj(level="site", series_id="S1", value=100.0, split=split)
    check_adjustment(make_model(), a, [])
    out = apply_adjustments(make_model(), [a]).model
    np.testing.assert_allclose(mean(out, "sku,site", "A|S1"), [10, 95, 30, 40], rtol=1e-12)
    np.testing.assert_allclose(mean(out, "sku,site", "C|S1"), [0, 35, 10, 10], rtol=1e-12)
    np.testing.assert_array_equal(mean(out, "sku,site", "B|S1"), BOTTOM["B|S1"])
    assert_coherent(out)


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [("set", 50.0, 50.0), ("add", 5.0, 25.0), ("percent", -25.0, 15.0), ("percent", 100, 40.0)],
)
def test_set_add_and_percent_on_a_bottom_series(kind: str, value: float, expected: float) -> None:
    out = apply_adjustments(make_model(), [adj(kind=kind, value=value)]).model
    np.testing.assert_allclose(mean(out, "sku,site", "A|S1"), [10, expected, 30, 40])
    assert mean(out, "sku", "A")[1] == pytest.approx(expected + 5.0, rel=1e-12)
    assert_coherent(out)


def test_set_at_an_aggregate_lands_exactly_and_spreads_equally_over_zeros() -> None:
    # SKU C is zero everywhere in week 1: a set there has no proportion to follow.
    a = adj(level="sku", series_id="C", start="2025-01-05", kind="set", value=30.0)
    out = apply_adjustments(make_model(), [a]).model
    assert mean(out, "sku", "C")[0] == pytest.approx(30.0, rel=1e-12)
    assert mean(out, "sku,site", "C|S1")[0] == mean(out, "sku,site", "C|S2")[0] == 15.0
    assert_coherent(out)


def test_quantiles_keep_their_relative_width_and_a_set_moves_the_distribution() -> None:
    out = apply_adjustments(make_model(), [adj(kind="percent", value=50.0)]).model
    path = out.paths["sku,site"]["A|S1"]
    np.testing.assert_allclose(path.quantiles[:, 1], BAND * 30.0, rtol=1e-12)
    np.testing.assert_array_equal(path.quantiles[:, 0], BAND * 10.0)  # untouched period
    # C|S1 has a zero mean in week 1: its band is shifted, not scaled.
    zero = adj(series_id="C|S1", start="2025-01-05", kind="set", value=7.0)
    q = apply_adjustments(make_model(), [zero]).model.paths["sku,site"]["C|S1"].quantiles
    np.testing.assert_array_equal(q[:, 0], [7.0, 7.0, 7.0])
    assert_quantiles_sane(out)


def test_moved_quantiles_are_clipped_at_zero_and_sorted_even_from_a_crossed_band() -> None:
    model = make_model()
    served = model.paths["sku,site"]["B|S2"]
    crossed = served.quantiles.copy()
    crossed[:, 1] = [2.0, -4.0, 1.0]  # week 2 (mean 0): crossed and below zero
    model.paths["sku,site"]["B|S2"] = SeriesPath(  # type: ignore[index]
        ds=served.ds, model="ets", mean=served.mean, quantiles=crossed
    )
    out = apply_adjustments(model, [adj(series_id="B|S2", kind="add", value=2.0)]).model
    q = out.paths["sku,site"]["B|S2"].quantiles[:, 1]
    np.testing.assert_array_equal(q, [0.0, 3.0, 4.0])  # shifted by 2, clipped, sorted


def test_order_bottom_first_then_finest_to_coarsest_whatever_the_creation_time() -> None:
    # Created in reverse: the total first, then the site, the SKU, the bottom series.
    adjustments = [
        adj("t", level="total", series_id="__total__", kind="add", value=40.0, minute=0),
        adj("s", level="site", series_id="S1", kind="percent", value=100.0, minute=1),
        adj("k", level="sku", series_id="A", kind="add", value=25.0, minute=2),
        adj("b", series_id="A|S1", kind="set", value=50.0, minute=3),
    ]
    out = apply_adjustments(make_model(), adjustments)
    # Week 2. b: A|S1 20 -> 50. k: sku A = 50 + 5 = 55 -> 80, spread 50:5 over A|S1, A|S2.
    a1, a2 = 50 + 25 * 50 / 55, 5 + 25 * 5 / 55
    # s (sku before site; then site): S1 = a1 + 20 + 10 doubles.
    a1, b1, c1 = 2 * a1, 40.0, 20.0
    # t: +40 over the total in proportion to every bottom series.
    week = np.array([a1, b1, c1, a2, 0.0, 0.0])
    week = week + 40 * week / week.sum()
    got = [mean(out.model, "sku,site", s)[1] for s in ("A|S1", "B|S1", "C|S1", "A|S2", "B|S2")]
    np.testing.assert_allclose(got, week[:5], rtol=1e-12)
    assert list(out.applied.drop_duplicates("adjustment_id")["adjustment_id"]) == list("bkst")
    assert_coherent(out.model)


def test_two_upper_levels_of_the_same_depth_apply_in_the_models_level_order() -> None:
    sku = adj("k", level="sku", series_id="A", kind="add", value=10.0, minute=5)
    site = adj("s", level="site", series_id="S2", kind="percent", value=100.0, minute=0)
    out = apply_adjustments(make_model(), [site, sku]).model
    # sku first: A|S2 gets 10 * 5/25 = 2 -> 7, then the site doubling -> 14.
    assert mean(out, "sku,site", "A|S2")[1] == pytest.approx(14.0, rel=1e-12)


def test_revoking_restores_the_statistical_values_exactly() -> None:
    model = make_model()
    served = {
        lv: {s: (p.mean.copy(), p.quantiles.copy()) for s, p in ps.items()}
        for lv, ps in model.paths.items()
    }
    first = adj("a1", level="site", series_id="S1", kind="percent", value=33.3)
    second = adj("a2", level="sku", series_id="B", kind="add", value=-7.0, author="bo")
    both = apply_adjustments(model, [first, second]).model
    assert mean(both, "sku,site", "B|S2")[1] != 0.0 or mean(both, "sku", "B")[1] != 20.0
    without = apply_adjustments(model, [first]).model
    # a2 alone reached B|S2 (week 2): revoked, it is the statistical value again, exactly.
    np.testing.assert_array_equal(mean(without, "sku,site", "B|S2"), BOTTOM["B|S2"])
    np.testing.assert_array_equal(without.paths["site"]["S2"].quantiles, served["site"]["S2"][1])
    nothing = apply_adjustments(model, []).model
    for level, paths in served.items():
        for sid, (m, q) in paths.items():
            np.testing.assert_array_equal(mean(nothing, level, sid), m)
            np.testing.assert_array_equal(nothing.paths[level][sid].quantiles, q)
            np.testing.assert_array_equal(mean(model, level, sid), m)  # input untouched


def test_adjustments_of_a_series_gone_from_a_new_model_are_orphaned_not_raised() -> None:
    smaller = {k: v for k, v in BOTTOM.items() if k != "B|S2"}
    gone = adj("gone", series_id="B|S2")
    late = adj("late", start="2025-03-02")
    foreign = adj("foreign", level="channel", series_id="web")
    kept = adj("kept", level="sku", series_id="B", author="bo")
    out = apply_adjustments(make_model(smaller), [gone, late, foreign, kept])
    problems = dict(zip(out.orphaned["adjustment_id"], out.orphaned["problem"], strict=True))
    assert set(problems) == {"gone", "late", "foreign"}
    assert "'B|S2' is no longer in level 'sku,site'" in problems["gone"]
    assert "none of its periods" in problems["late"]
    assert "level 'channel'" in problems["foreign"]
    assert mean(out.model, "sku,site", "B|S1")[1] == pytest.approx(30.0, rel=1e-12)


def test_a_stored_adjustment_that_check_adjustment_would_refuse_is_orphaned() -> None:
    broken = [
        adj("kind", kind="multiply"),
        adj("nan", value=float("nan")),
        adj("split", level="site", series_id="S1", split={"A|S1": 0.0}),
        adj("neg", kind="add", value=-25.0),
    ]
    out = apply_adjustments(make_model(), broken)
    assert sorted(out.orphaned["adjustment_id"]) == ["kind", "nan", "neg", "split"]
    assert out.applied.empty
    assert_coherent(out.model)


def test_applied_frame_reports_statistical_and_adjusted_per_period_of_the_series() -> None:
    a = adj(level="site", series_id="S1", start="2025-01-12", end="2025-01-19", value=50.0)
    applied = apply_adjustments(make_model(), [a]).applied
    assert list(applied["ds"]) == list(DATES[1:3])
    np.testing.assert_allclose(applied["statistical"], [50.0, 50.0])
    np.testing.assert_allclose(applied["adjusted"], [100.0, 100.0], rtol=1e-12)
    assert set(applied["author"]) == {"ana"} and set(applied["level"]) == {"site"}


def test_touching_names_the_children_and_the_levels_above_but_not_the_siblings() -> None:
    out = apply_adjustments(make_model(), [adj("s1", level="site", series_id="S1")])
    for level, sid in [("site", "S1"), ("sku,site", "B|S1"), ("sku", "B"), ("total", "__total__")]:
        assert out.touching(level, sid) == ["s1"]
    assert out.touching("site", "S2") == [] and out.touching("sku,site", "A|S2") == []
    assert out.touching("sku", "A", ds=DATES[1]) == ["s1"]
    assert out.touching("sku", "A", ds=DATES[0]) == []
    points = out.points("total", "__total__")
    assert list(points["adjustments"]) == [[], ["s1"], [], []]
    with pytest.raises(UnknownSeriesError, match="'Z'"):
        out.touching("sku", "Z")


def test_active_drops_adjustments_that_ended_before_the_first_served_period() -> None:
    old, current = adj("old", start="2024-12-29"), adj("now", start="2025-01-05")
    assert [a.id for a in active([old, current], DATES[0])] == ["now"]


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        ({"series_id": "Z|S1"}, UnknownSeriesError, "series_id"),
        ({"level": "channel"}, AdjustmentError, "level"),
        ({"end": "2025-02-09"}, AdjustmentError, "end"),
        ({"start": "2024-12-29"}, AdjustmentError, "start"),
        ({"start": "2025-01-19", "end": "2025-01-12"}, AdjustmentError, "start"),
        ({"start": "2025-01-13", "end": "2025-01-14"}, AdjustmentError, "start"),
        ({"kind": "add", "value": -25.0}, AdjustmentError, "value"),
        ({"kind": "set", "value": -1.0}, AdjustmentError, "value"),
        ({"kind": "percent", "value": -100.5}, AdjustmentError, "value"),
        ({"kind": "multiply"}, AdjustmentError, "kind"),
        ({"value": float("nan")}, AdjustmentError, "value"),
        ({"reason": "  "}, AdjustmentError, "reason"),
        ({"author": ""}, AdjustmentError, "author"),
        ({"reason_code": "gut feeling"}, AdjustmentError, "reason_code"),
        ({"split": {"A|S1": 1.0}}, AdjustmentError, "split"),  # a bottom series
        ({"level": "site", "series_id": "S1", "split": {"A|S1": 0.5}}, AdjustmentError, "split"),
        ({"level": "site", "series_id": "S1", "split": {"A|S2": 1.0}}, AdjustmentError, "split"),
        (
            {"level": "site", "series_id": "S1", "value": -25.0, "split": {"C|S1": 1.0}},
            AdjustmentError,
            "value",
        ),
    ],
)
def test_bad_input_is_refused_with_a_message_naming_the_field(
    change: dict[str, object], error: type[Exception], field: str
) -> None:
    with pytest.raises(error, match=rf"^{field}: "):
        check_adjustment(make_model(), adj(**change), [])  # type: ignore[arg-type]


def test_overlap_is_refused_for_the_same_author_only_and_not_against_expired_ones() -> None:
    model = make_model()
    mine = adj("mine", start="2025-01-05", end="2025-01-19")
    new = adj("new", start="2025-01-19", end="2025-01-26")
    with pytest.raises(AdjustmentError, match=r"^start/end: .*adjustment mine"):
        check_adjustment(model, new, [mine])
    check_adjustment(model, adj("new", start="2025-01-19", author="bo"), [mine])
    check_adjustment(model, mine, [mine])  # an edit of itself
    check_adjustment(model, new, [adj("old", start="2024-12-29", end="2024-12-29")])


def test_a_cut_that_would_starve_a_later_adjustment_is_refused() -> None:
    model = make_model()
    # Stored: take 10 from site S1 in week 2, all of it from C|S1 (which has 10).
    stored = adj("cut", level="site", series_id="S1", value=-10.0, split={"C|S1": 1.0})
    check_adjustment(model, stored, [])
    # A new cut of C|S1 itself comes first in the order and leaves the site cut short.
    with pytest.raises(AdjustmentError, match=r"^value: adjustment cut would then no longer"):
        check_adjustment(model, adj("c", series_id="C|S1", value=-5.0, author="bo"), [stored])


ADJUSTABLE = (
    [("sku,site", sid) for sid in BOTTOM]
    + [("sku", s) for s in "ABC"]
    + [("site", "S1"), ("site", "S2"), ("total", "__total__")]
)


@st.composite
def adjustments(draw: st.DrawFn) -> list[Adjustment]:
    out = []
    for k in range(draw(st.integers(0, 8))):
        level, sid = draw(st.sampled_from(ADJUSTABLE))
        first = draw(st.integers(0, 3))
        last = draw(st.integers(first, 3))
        kind = draw(st.sampled_from(["set", "add", "percent"]))
        value = draw(st.floats(-100, 500) if kind != "set" else st.floats(0, 500))
        out.append(
            adj(
                f"a{k}",
                level=level,
                series_id=sid,
                start=str(DATES[first].date()),
                end=str(DATES[last].date()),
                kind=kind,
                value=value,
                minute=draw(st.integers(0, 5)),
            )
        )
    return out


@settings(max_examples=60, deadline=None)
@given(adjustments())
def test_any_adjustments_keep_levels_adding_up_and_quantiles_ordered(
    chosen: list[Adjustment],
) -> None:
    out = apply_adjustments(make_model(), chosen)
    assert_coherent(out.model)
    assert_quantiles_sane(out.model)
    for paths in out.model.paths.values():
        for path in paths.values():
            assert (path.mean >= 0).all()
    assert len(out.applied["adjustment_id"].unique()) + len(out.orphaned) == len(chosen)
