"""The model kinds as MLflow pyfunc models: what any MLflow user (and our API) loads.

``mlflow.pyfunc.load_model("models:/ordercast-demand@champion").predict(frame)`` works
in any Python with ordercast's libraries; the domain object lives inside the MLflow
artifact (joblib) and is exposed, after loading, as ``unwrap_python_model().core``.

``predict`` only reads its request frame into the queries of :mod:`forecasting.queries`
and answers them there, as the API's routes do: the two ways of asking cannot drift.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import joblib
import pandas as pd
from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException
from mlflow.pyfunc import PythonModel, PythonModelContext

from forecasting.contract import validate_orders
from forecasting.cores import CapacityCore, DemandCore, RiskCore
from forecasting.demand.adjustments import AdjustedForecast, Adjustment, apply_adjustments
from forecasting.demand.serving import DemandServingModel
from forecasting.errors import OrdercastError
from forecasting.queries import (
    DEFAULT_QUANTILES,
    CapacityQuery,
    DemandQuery,
    answer_capacity,
    answer_demand,
    answer_risk,
)
from training.serving import fits_kind

CORE_ARTIFACT = "core"
DEFAULT_CAPACITY_HORIZON = 14  # days, when a capacity request row leaves horizon empty

Row = Mapping[Hashable, Any]  # one record of a request frame


def _load_core(context: PythonModelContext, kind: str) -> Any:
    """The core artifact, checked against ``kind``'s protocol: an artifact of another kind
    fails at load, not at the first request."""
    core = joblib.load(context.artifacts[CORE_ARTIFACT])
    if not fits_kind(kind, core):
        raise TypeError(f"the core artifact holds a {type(core).__name__}, not a {kind} model")
    return core


def _blank(value: object) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


def _whole(value: object) -> int | None:
    text = _blank(value)
    return None if text is None else int(float(text))


def _per_row(
    model_input: pd.DataFrame, answer: Callable[[Row], pd.DataFrame], numbered: bool
) -> pd.DataFrame:
    """``answer`` for each input row, concatenated (with the row's position in a
    ``request`` column when ``numbered``); a bad row raises MLflow's
    INVALID_PARAMETER_VALUE naming its position."""
    frames = []
    for position, row in enumerate(model_input.to_dict("records")):
        try:
            frame = answer(row)
            frames.append(frame.assign(request=position) if numbered else frame)
        except (OrdercastError, ValueError, TypeError) as exc:
            raise MlflowException(
                f"input row {position}: {exc}", error_code=INVALID_PARAMETER_VALUE
            ) from exc
    return pd.concat(frames, ignore_index=True)


def demand_query(row: Row) -> DemandQuery:
    """A demand request row: ``sku``, ``site``, ``channel``, ``level`` (blank = not given),
    ``horizon`` (blank = the longest served), ``quantiles`` ("0.1,0.5,0.9")."""
    quantiles = _blank(row.get("quantiles"))
    return DemandQuery(
        sku=_blank(row.get("sku")),
        site=_blank(row.get("site")),
        channel=_blank(row.get("channel")),
        level=_blank(row.get("level")),
        horizon=_whole(row.get("horizon")),
        quantiles=DEFAULT_QUANTILES if quantiles is None else _levels(quantiles),
    )


def _levels(text: str) -> tuple[float, ...]:
    return tuple(float(part) for part in text.split(",") if part.strip())


def capacity_query(row: Row) -> CapacityQuery:
    """A capacity request row: ``site`` (blank = every site), ``horizon`` in days (blank =
    14), ``scenario`` (a JSON object, blank = the planned capacity)."""
    site = _blank(row.get("site"))
    scenario = json.loads(_blank(row.get("scenario")) or "{}")
    if not isinstance(scenario, dict):
        raise ValueError('scenario must be a JSON object, e.g. {"capacity_factor": 1.2}')
    horizon = _whole(row.get("horizon"))
    return CapacityQuery(
        horizon=DEFAULT_CAPACITY_HORIZON if horizon is None else horizon,
        sites=[site] if site else None,
        scenario=scenario,
    )


def planned(core: DemandCore, adjustments_json: str) -> AdjustedForecast:
    """``core`` with the adjustments in ``adjustments_json`` (the records the API lists)
    applied, as the service applies them to its champion."""
    records = json.loads(adjustments_json)
    if not isinstance(records, list):
        raise ValueError("give a JSON list of adjustments, as GET .../adjustments answers")
    adjustments = [Adjustment.from_record(record) for record in records]
    if not isinstance(core, DemandServingModel):
        raise ValueError("this demand model cannot be adjusted")
    return apply_adjustments(core, adjustments)


class DemandModel(PythonModel):
    """Demand forecasts on request: one input row per series asked for (see
    :func:`demand_query`); output rows carry the input row's position in ``request``."""

    core: DemandCore

    def load_context(self, context: PythonModelContext) -> None:
        self.core = _load_core(context, "demand")

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        """With ``params={"adjustments": JSON}`` (the list GET
        /v1/forecasts/demand/adjustments answers), the plan as the service serves it: mean
        and quantiles adjusted, ``statistical`` the model's mean, ``adjustments`` the ids."""
        text = (params or {}).get("adjustments") or ""
        if not text:
            return _per_row(
                model_input, lambda row: answer_demand(self.core, demand_query(row)).frame, True
            )
        try:
            plan = planned(self.core, text)
        except (OrdercastError, ValueError, TypeError, KeyError) as exc:
            raise MlflowException(
                f"params.adjustments: {exc}", error_code=INVALID_PARAMETER_VALUE
            ) from exc

        def answer(row: Row) -> pd.DataFrame:
            query = demand_query(row)
            statistical = answer_demand(self.core, query)
            frame = answer_demand(plan.model, query).frame
            series_id = str(frame["series_id"].iloc[0])
            frame.insert(
                list(frame.columns).index("mean"), "statistical", statistical.frame["mean"]
            )
            frame["adjustments"] = [
                " ".join(plan.touching(statistical.level, series_id, pd.Timestamp(ds)))
                for ds in frame["ds"]
            ]
            return frame

        return _per_row(model_input, answer, True)


class CapacityModel(PythonModel):
    """Capacity outlook: one input row per request (see :func:`capacity_query`), answered
    one after the other."""

    core: CapacityCore

    def load_context(self, context: PythonModelContext) -> None:
        self.core = _load_core(context, "capacity")

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return _per_row(
            model_input, lambda row: answer_capacity(self.core, capacity_query(row)), False
        )


class RiskModel(PythonModel):
    """Late-delivery risk: input rows are order lines (contract columns) plus ``as_of``
    (the first row's is used)."""

    core: RiskCore

    def load_context(self, context: PythonModelContext) -> None:
        self.core = _load_core(context, "risk")

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        if "as_of" not in model_input.columns or model_input.empty:
            raise MlflowException(
                "input needs order lines and an as_of column", INVALID_PARAMETER_VALUE
            )
        as_of = pd.Timestamp(model_input["as_of"].iloc[0])
        # Lines whose dates break the contract's order are answered as unscored with the
        # reason (answer_risk), as over HTTP; any other problem refuses the batch.
        report = validate_orders(
            model_input.drop(columns="as_of"), row_offset=1, row_unit="row", date_order=False
        )
        if not report.ok:
            raise MlflowException(str(report.issues[0]), INVALID_PARAMETER_VALUE)
        try:
            return answer_risk(self.core, report.frame, as_of, batch_history=False)
        except OrdercastError as exc:
            raise MlflowException(str(exc), INVALID_PARAMETER_VALUE) from exc
