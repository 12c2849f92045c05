"""The automatic pipeline's options, grouped by the step they steer (frozen, so shareable).

:class:`~forecasting.demand.auto.AutoForecaster` takes one of each; the defaults are the
settings measured on M4 Hourly and Weekly (``benchmarks/m4.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from forecasting.errors import ConfigError

GLOBAL_MODES = ("auto", "on", "off")


@dataclass(frozen=True)
class BacktestConfig:
    """Rolling-origin backtest of each series: ``n_windows`` windows of the horizon's
    length, back to back at the end of the history."""

    n_windows: int = 3


@dataclass(frozen=True)
class SelectionConfig:
    """How a series' backtest scores choose its model.

    ``margin``: relative improvement the best single model needs over the equal-weight
    ensemble of the best three to be chosen alone (a guard against overfitting the
    choice to a few windows). ``global_margin``: relative improvement another model
    needs over the global model to replace it: the global model learnt from every
    series, so a few windows of one series are a weak verdict against it. 0.3 had the
    least validation OWA of 0-0.7 on M4 Hourly and Weekly alike in an inner validation on
    their training files only, each series' last horizon held out
    (``benchmarks/global_margin_dev.py``).

    ``class_defaults``, ``min_windows`` and ``evidence_margin``: a series of a class with
    a default gets it unless its backtest is strong evidence for another model
    (:func:`forecasting.demand.selection.with_evidence`).
    """

    margin: float = 0.05
    global_margin: float = 0.3
    # Robust default per demand class: the members of its equal-weight combination (a
    # class without one, smooth and erratic, keeps the rule above), and the evidence the
    # backtest needs to replace it: at least ``min_windows`` windows (None: never), a mean
    # score ``evidence_margin`` lower and a lower score in every window. Chosen by
    # benchmarks/intermittent_dev.py on development data only: the SCMS item and item x
    # country monthly panels without their test year, validated on the 12 months before
    # it, and the synthetic intermittent and lumpy weekly SKU x site panels of seed 1
    # (the benchmark's are seed 2), validated likewise. Of 92 defaults (1-3 of tsb,
    # adida, imapa, sba, window_average, naive, ets, theta) x evidence (1, 2, 3 windows
    # or never; margin 0-30%), never overriding won for every default, and
    # imapa+window_average+naive tied the best (mean ratio to each panel's best rule
    # 1.0301 vs 1.0296 for imapa+naive+theta, which needs a theta fit). Overriding on 3
    # windows with a 30% margin doubled the SCMS item MASE (0.535 -> 1.071): the backtest
    # scores quantiles on 2-3 windows of mostly zeros, which says little about the mean
    # to come. Smooth and erratic: 27 development series only, left as chosen on M4.
    # Since the alive weighing (below) the fixed default is IMAPA alone, the pooled
    # choice's own default: naive's part in the old one was to forecast the zeros after
    # demand ends, which the weighing now does for every member.
    class_defaults: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("intermittent", ("imapa",)),
        ("lumpy", ("imapa",)),
    )
    min_windows: int | None = None
    evidence_margin: float = 0.3
    # The class default per panel (#20): each class's combination is chosen again at fit
    # time from ``pooled_candidates`` (None: keep ``class_defaults``) by a backtest pooled
    # over the class's series (at least ``min_pooled_series`` of them, at most
    # ``max_pooled_series`` spread over the panel): the candidate of least mean ratio to
    # the best candidate's pooled MASE and RMSSE of the mean forecast, kept only when that
    # is ``pooled_margin`` lower than the fixed default's. Chosen on development data only
    # (benchmarks/intermittent_dev.py --pooled, the data named above): pairs of imapa,
    # adida, tsb, sba, window_average, naive (and each alone), per class, on the 3 windows,
    # with a 2% margin, brought the mean over the four development panels of the worse
    # of the MASE and RMSSE ratios to the best peer from 1.029 (fixed default) to 1.018
    # (1.013, 1.020, 1.011, 1.029 per panel); the last window only did worse (1.023-1.040),
    # a 5% margin too (1.025-1.029), triples or both classes pooled together no better
    # (1.018-1.026). No variant reached the best peer on every development panel.
    # ``min_pooled_series`` (10) and ``max_pooled_series`` (500, to bound the driver's
    # work on large panels) are guards, not tuned.
    #
    # ``alive_priors``: each candidate is also tried weighed by the chance its series are
    # still ordered at all (forecasting.demand.obsolescence), at each of these priors,
    # and enters the choice at the one whose pooled backtest forecasts the windows' total
    # demand best (unweighed when none comes closer; empty: never weighed). Chosen on the
    # same development data (benchmarks/intermittent_dev.py --alive). A prior chosen by
    # pooled RMSSE instead (d76fb2e) scored better per series (mean of the worse ratios to
    # the best peer 0.984) by cutting whole classes by half: the development forecasts of
    # the intermittent and lumpy series were 71%, 64% and 59% below their demand on SCMS
    # item, item x country and synthetic lumpy, where unweighed IMAPA was -40%, +8% and
    # 0%. Chosen by volume: -40%, +0.5%, -0.1% and -4%, with mean ratio 1.020 with naive
    # among the candidates (1.026 without; priors 0.1-0.99 no different).
    #
    # ``alive_tolerance``: the class's prior is first estimated by maximum likelihood from
    # the comebacks in its histories (forecasting.demand.obsolescence.estimate_prior, every
    # whole percent or 1: items do not die), and kept for a candidate when its pooled
    # backtest volume error is within this of the best prior of ``alive_priors`` (None:
    # volume alone). Chosen on the same data (--alive, "ml within" rows): 10% gave mean
    # ratio 1.012 with volume errors -44%, +0.5%, -0.1% and -0.4% (the estimate alone:
    # 1.003 but -21% on item x country; within 2% or 5%: 1.021-1.026).
    pooled_candidates: tuple[tuple[str, ...], ...] | None = (
        ("imapa",), ("adida",), ("tsb",), ("sba",), ("window_average",), ("naive",),
        ("imapa", "adida"), ("imapa", "tsb"), ("imapa", "sba"), ("imapa", "window_average"),
        ("imapa", "naive"), ("adida", "tsb"), ("adida", "sba"), ("adida", "window_average"),
        ("adida", "naive"), ("tsb", "sba"), ("tsb", "window_average"), ("tsb", "naive"),
        ("sba", "window_average"), ("sba", "naive"), ("window_average", "naive"),
    )  # fmt: skip
    alive_priors: tuple[float, ...] = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99)
    alive_tolerance: float | None = 0.1
    pooled_margin: float = 0.02
    min_pooled_series: int = 10
    max_pooled_series: int = 500

    def __post_init__(self) -> None:
        # Imported here: the models' modules load scikit-learn, which a command's --help
        # must not (tests/test_cli_help.py).
        from forecasting.demand.obsolescence import is_whole_percent

        if self.alive_tolerance is not None and not self.alive_tolerance >= 0:
            raise ConfigError(
                f"alive_tolerance {self.alive_tolerance}: a share of the demand, 0 or more "
                "(or none to weigh by the backtest volume alone)"
            )
        wrong = [p for p in self.alive_priors if not is_whole_percent(p)]
        if wrong:
            raise ConfigError(
                f"alive_priors {wrong}: each is a whole percent between 0.01 and 0.99 (the "
                "prior chance a series still has demand after its last order)"
            )


@dataclass(frozen=True)
class GlobalModelConfig:
    """The global gradient-boosting model trained across all series.

    ``mode``: ``"auto"`` (on with at least 20 long-enough series when the model list is
    ``"auto"`` or names ``global_gbm``), ``"on"`` or ``"off"``. ``params``: keyword
    arguments of :func:`forecasting.demand.global_model.global_forecasts` (``max_iter``,
    ...). ``seasons``: every seasonal period it uses (default by frequency, e.g. 24 and
    168 for hourly data). ``holidays``: a country code (``"US"``, ``"DE"``...) whose public
    holidays it counts in each period; None leaves holidays out.
    """

    mode: str = "auto"
    params: Mapping[str, Any] | None = None
    seasons: tuple[int, ...] | None = None
    holidays: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in GLOBAL_MODES:
            raise ConfigError(f"global_model must be auto, on or off, not '{self.mode}'")
        if self.holidays is not None:
            # Checked here, not when the model trains: where it stays off (few or short
            # series), an unknown code was accepted without a word. Imported here: the
            # holidays package is needed only when a country is named.
            from forecasting.demand.calendar_features import check_country

            # frozen: the canonical code ("us" -> "US") is set through object.__setattr__
            object.__setattr__(self, "holidays", check_country(self.holidays))


@dataclass(frozen=True)
class ParallelConfig:
    """Where per-series work runs: ``n_jobs`` joblib workers (-1 = all cores), or the
    Dask cluster of ``dask_client`` (a ``dask.distributed.Client``) when given."""

    n_jobs: int = -1
    dask_client: object | None = None

    def __post_init__(self) -> None:
        if self.n_jobs == 0:
            raise ConfigError("n_jobs 0 runs nothing: use 1 or more workers, or -1 for all cores")
