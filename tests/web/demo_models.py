"""Small real models on a demo-like history, registered as the training commands register
them, for the browser tests that open the pages on the demo models (#19).

The history is ``forecasting.synthetic.generate_orders`` (the generator ``ordercast
generate`` and ``make demo`` use) at a small size: 3 sites, 30 SKUs, a year. The capacity
model is the ``CapacityForecaster`` ``ordercast train capacity`` fits (fewer simulated
paths), the at-risk model the real ``AtRiskModel`` with small settings; both are logged with
the training code's own ``log_capacity_model`` / ``log_risk_model`` (the production
pyfuncs) and served through the production registry loader. The demand model is
the one ``ordercast train demand`` builds, with fewer candidate models.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from forecasting.accuracy import series_actuals
from forecasting.capacity import CapacityForecaster
from forecasting.demand.serving import DemandServingModel, build_serving_model
from forecasting.risk.features import open_at
from forecasting.risk.model import AtRiskModel
from forecasting.synthetic import generate_orders
from ordercast.settings import Settings
from store.database import OrderStore
from store.publications import publish_forecasts
from tests.api.registry import RealRegistry
from training import registry, tracking
from training.model_logging import log_capacity_model, log_risk_model
from training.pipelines import demand as demand_pipeline
from training.pipelines.demand import hierarchy_series
from training.pipelines.risk import input_example

DEMO_END = pd.Timestamp("2023-12-31")  # a Sunday: the demand pyfunc's weeks start after it
DEMO_DAYS = 365
DEMAND_MODELS = ["seasonal_naive", "ets", "window_average"]
CAPACITY_PATHS = 200  # `ordercast train capacity` simulates 500; 200 draw the same band shape
# Accuracy over time: one lag-1 publication a week over the last weeks of the history, each
# off by a known share, so WAPE per publication is that share.
PUBLISHED_ERRORS = (0.05, 0.10, 0.15, 0.20, 0.25)


def demo_orders() -> pd.DataFrame:
    """The demo-like history: about 32,000 lines over 2023, open lines at its end."""
    start = DEMO_END - pd.Timedelta(days=DEMO_DAYS - 1)
    orders = generate_orders(sites=3, skus=30, days=DEMO_DAYS, start=start, seed=11).orders
    # As a file or the order store gives them to training: text, not pandas categories
    # (the at-risk pyfunc's signature, inferred from its example, wants strings).
    text = orders.select_dtypes("category").columns
    return orders.astype({column: object for column in text})


def fit_demand(settings: Settings, orders: pd.DataFrame) -> DemandServingModel:
    """The demand model ``ordercast train demand`` builds (hierarchy series, automatic
    selection, MinT reconciliation, the serving model of its forecasts), with the candidate
    models cut to three and one backtest window: ~10 s instead of minutes. No holiday
    calendar: only the global model reads one, and it is not among the three (training
    would warn that the calendar goes unused)."""
    cut = {"models": DEMAND_MODELS, "n_windows": 1, "n_jobs": 1, "holidays": None}
    settings = settings.model_copy(update={"demand": settings.demand.model_copy(update=cut)})
    series = hierarchy_series(settings, orders, DEMO_END)
    model = demand_pipeline.fit(settings, series)
    return build_serving_model(
        demand_pipeline.coherent_forecasts(settings, model, series),
        model.selection_,
        settings.demand.levels,
        model.freq_,
        settings.demand.quantiles,
        trained_until=pd.Timestamp(orders["order_date"].max()),
    )


def fit_capacity(orders: pd.DataFrame) -> CapacityForecaster:
    return CapacityForecaster(n_paths=CAPACITY_PATHS, random_state=0).fit(orders, DEMO_END)


def fit_risk(orders: pd.DataFrame) -> AtRiskModel:
    # One booster of 40 rounds looking 30 days ahead: ~20 s on 2 busy cores, a model with
    # every part the production one has (memory, calibration, delivery times, reasons).
    model = AtRiskModel(n_models=1, max_iter=40, lookahead_days=30, random_state=0)
    return model.fit(orders, as_of=DEMO_END)


class DemoRegistry(RealRegistry):
    """tests/api's registry, with trained capacity and at-risk models logged as
    ``ordercast train`` logs them."""

    def register_demand_model(self, core: DemandServingModel) -> str:
        """Log ``core`` with ``ordercast train demand``'s own ``log_demand_model``."""
        return self._log("demand", core)

    def register_trained(
        self, kind: str, core: CapacityForecaster | AtRiskModel, orders: pd.DataFrame
    ) -> str:
        name = registry.model_name(kind)
        experiment = tracking.experiment_id(self.client, self.settings, kind)
        last = f"{orders['order_date'].max():%Y-%m-%d}"
        tags = {"data.rows": str(len(orders)), "data.last_date": last}
        with (
            tempfile.TemporaryDirectory() as folder,
            tracking.recorded_run(self.client, experiment, f"demo {kind}", tags) as run,
        ):
            run.log_metrics({"score": 0.1})
            workdir = Path(folder)
            if isinstance(core, CapacityForecaster):
                version = log_capacity_model(run, core, workdir, name)
            else:
                open_now = orders[open_at(orders, DEMO_END)]["line_id"].head(3)
                example = input_example(orders, open_now, DEMO_END)
                version = log_risk_model(run, core, example, workdir, name)
            for tag, value in {**tags, "run": run.run_id}.items():
                self.client.set_model_version_tag(name, version, tag, value)
        return version


def publish_known_errors(store: OrderStore, orders: pd.DataFrame, freq: str) -> list[str]:
    """One lag-1 publication per week for the weeks before the history's last, every
    sku-site series forecast ``1 + error`` times what happened (interval 0.7-1.3 times the
    forecast, so every actual falls inside). Returns the origins, ISO."""
    actuals = series_actuals(orders, levels=[["sku", "site"]], freq=freq)
    weeks = sorted(actuals["ds"].unique())[-len(PUBLISHED_ERRORS) - 1 : -1]
    origins = []
    for period, error in zip(weeks, PUBLISHED_ERRORS, strict=True):
        said = actuals[actuals["ds"] == period]
        mean = said["y"] * (1 + error)
        forecasts = pd.DataFrame(
            {
                "level": "sku,site",
                "series_id": said["series_id"],
                "ds": said["ds"],
                "lag": 1,
                "model": "ets",
                "mean": mean,
                "q10": 0.7 * mean,
                "q50": mean,
                "q90": 1.3 * mean,
            }
        )
        expectations = pd.DataFrame(
            [{"level": "sku,site", "lag": 1, "wape": 0.12, "mase": 0.9, "coverage80": 0.8}]
        )
        origin = pd.Timestamp(period) - pd.Timedelta(weeks=1)
        publish_forecasts(
            store,
            kind="refresh",
            model_name="ordercast-demand",
            model_version="1",
            parent_version=None,
            origin=origin,
            freq=freq,
            forecasts=forecasts,
            expectations=expectations,
        )
        origins.append(f"{origin:%Y-%m-%d}")
    return origins
