"""The model kinds as MLflow pyfunc models: what any MLflow user (and our API) loads.

``mlflow.pyfunc.load_model("models:/ordercast-demand@champion").predict(frame)`` works
in any Python with ordercast's libraries; the domain object lives inside the MLflow
artifact (joblib) and is exposed, after loading, as ``unwrap_python_model().core``.
"""

from __future__ import annotations

import joblib
import mlflow
import pandas as pd
from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException

from forecasting.errors import OrdercastError

CORE_ARTIFACT = "core"


def _blank(value: object) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


class DemandModel(mlflow.pyfunc.PythonModel):
    """Demand forecasts on request: one input row per series asked for."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.core = joblib.load(context.artifacts[CORE_ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:  # type: ignore[no-untyped-def]
        frames = []
        for position, row in enumerate(model_input.to_dict("records")):
            try:
                quantiles = tuple(
                    float(q) for q in str(_blank(row.get("quantiles")) or "0.1,0.5,0.9").split(",")
                )
                frame = self.core.forecast(
                    sku=_blank(row.get("sku")),
                    site=_blank(row.get("site")),
                    channel=_blank(row.get("channel")),
                    level=_blank(row.get("level")),
                    horizon=int(row.get("horizon") or self.core.max_horizon),
                    quantiles=quantiles,
                )
            except (OrdercastError, ValueError, TypeError) as exc:
                raise MlflowException(
                    f"input row {position}: {exc}", error_code=INVALID_PARAMETER_VALUE
                ) from exc
            frames.append(frame.assign(request=position))
        return pd.concat(frames, ignore_index=True)


class RiskModel(mlflow.pyfunc.PythonModel):
    """Late-delivery risk: input rows are order lines (contract columns) plus ``as_of``."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.core = joblib.load(context.artifacts[CORE_ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:  # type: ignore[no-untyped-def]
        from forecasting.contract import validate_orders

        if "as_of" not in model_input.columns:
            raise MlflowException("input needs an as_of column", INVALID_PARAMETER_VALUE)
        as_of = pd.Timestamp(model_input["as_of"].iloc[0])
        report = validate_orders(model_input.drop(columns="as_of"), row_offset=1, row_unit="row")
        if not report.ok:
            raise MlflowException(str(report.issues[0]), INVALID_PARAMETER_VALUE)
        try:
            return self.core.score_lines(report.frame, as_of)
        except OrdercastError as exc:
            raise MlflowException(str(exc), INVALID_PARAMETER_VALUE) from exc


class CapacityModel(mlflow.pyfunc.PythonModel):
    """Capacity outlook: input rows ``site`` (empty for all), ``horizon``, ``scenario`` (JSON)."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.core = joblib.load(context.artifacts[CORE_ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:  # type: ignore[no-untyped-def]
        import json

        frames = []
        for position, row in enumerate(model_input.to_dict("records")):
            try:
                site = _blank(row.get("site"))
                scenario = json.loads(_blank(row.get("scenario")) or "{}")
                frames.append(
                    self.core.predict(
                        int(row.get("horizon") or 14), [site] if site else None, scenario
                    )
                )
            except (OrdercastError, ValueError, TypeError) as exc:
                raise MlflowException(
                    f"input row {position}: {exc}", error_code=INVALID_PARAMETER_VALUE
                ) from exc
        return pd.concat(frames, ignore_index=True)
