"""POST /v1/orders/at-risk takes attribute fields (carrier, product_family, promotion ...)
as `ordercast risk score` takes a file's other columns: same lines, same scores; and
bounded, every over-limit request a 422 naming the field and the limit."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.model_store import LoadedModel, Served
from api.routes.orders import (
    CONTRACT_FIELDS,
    MAX_ATTRIBUTE_NAME,
    MAX_ATTRIBUTE_TEXT,
    MAX_LINE_FIELDS,
    OrderLine,
    orders_frame,
)
from forecasting.contract import CANONICAL_COLUMNS
from forecasting.risk.features import open_at
from forecasting.risk.model import AtRiskModel
from forecasting.synthetic import generate_orders
from ordercast.cli import main
from tests.api.conftest import settings_with
from tests.api.fakes import order_lines

AT_RISK = "/v1/orders/at-risk"
AS_OF = "2024-03-04"
ATTRIBUTES = ("carrier", "product_family", "promotion", "weight_kg")


def post(client: TestClient, lines: list[dict[str, Any]]) -> Any:
    return client.post(AT_RISK, json={"as_of": AS_OF, "orders": lines})


# ------------------------------------------------------------------ bounds (fake model)


def test_attribute_fields_are_accepted(client: TestClient) -> None:
    lines = order_lines(3)
    lines[0] |= {"carrier": "parcelco", "product_family": "garden", "promotion": True}
    lines[1] |= {"carrier": None, "weight_kg": 2.5, "pallets": 3}
    response = post(client, lines)
    assert response.status_code == 200, response.text
    assert [line["scored"] for line in response.json()["lines"]] == [True, True, True]


@pytest.mark.parametrize(
    ("attribute", "value", "says"),
    [
        ("carrier", "x" * (MAX_ATTRIBUTE_TEXT + 1), f"the limit is {MAX_ATTRIBUTE_TEXT}"),
        ("carrier", {"name": "parcelco"}, "text, a number, true/false or null"),
        ("carrier", ["parcelco"], "text, a number, true/false or null"),
        ("weight_kg", 1e16, "outside -1e15 to 1e15"),
    ],
)
def test_an_attribute_value_over_the_limits_is_422_naming_the_field(
    client: TestClient, attribute: str, value: object, says: str
) -> None:
    lines = order_lines(2)
    lines[1][attribute] = value
    response = post(client, lines)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_request"
    assert [d["field"] for d in body["details"]] == [f"orders.1.{attribute}"]
    assert says in body["details"][0]["problem"]
    assert f"orders.1.{attribute}" in body["message"]


def test_text_at_the_limit_is_accepted(client: TestClient) -> None:
    line = order_lines(1)[0] | {"carrier": "x" * MAX_ATTRIBUTE_TEXT}
    assert post(client, [line]).status_code == 200


def test_too_many_fields_is_422_naming_the_limit_and_the_first_field_over_it(
    client: TestClient,
) -> None:
    line = order_lines(1)[0]  # 7 contract fields
    allowed = MAX_LINE_FIELDS - len(line)
    fine = line | {f"attr_{i:02d}": i for i in range(allowed)}
    assert post(client, [fine]).status_code == 200
    over = line | {f"attr_{i:02d}": i for i in range(allowed + 1)}
    response = post(client, [fine, over])
    assert response.status_code == 422, response.text
    detail = response.json()["details"][0]
    assert detail["field"] == "orders.1"
    assert f"at most {MAX_LINE_FIELDS} fields" in detail["problem"]
    assert f"'attr_{allowed:02d}'" in detail["problem"]


@pytest.mark.parametrize("name", ["x" * (MAX_ATTRIBUTE_NAME + 1), "tab\there"])
def test_an_unusable_attribute_name_is_422(client: TestClient, name: str) -> None:
    line = order_lines(1)[0] | {name: "a"}
    response = post(client, [line])
    assert response.status_code == 422, response.text
    detail = response.json()["details"][0]
    assert detail["field"] == "orders.0"
    assert f"1 to {MAX_ATTRIBUTE_NAME} characters" in detail["problem"]


def test_the_openapi_document_states_the_limits(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["OrderLine"]
    assert schema["maxProperties"] == MAX_LINE_FIELDS
    assert schema["propertyNames"]["maxLength"] == MAX_ATTRIBUTE_NAME
    text = next(s for s in schema["additionalProperties"]["anyOf"] if s["type"] == "string")
    assert text["maxLength"] == MAX_ATTRIBUTE_TEXT
    assert f"at most {MAX_LINE_FIELDS} fields per line" in schema["description"]
    assert len(OrderLine.model_fields) == CONTRACT_FIELDS  # the count the limits are told in


def test_attributes_become_columns_as_sent_missing_as_nan() -> None:
    lines = [OrderLine.model_validate(line) for line in order_lines(3)]
    lines[0] = OrderLine.model_validate(order_lines(1)[0] | {"carrier": "a", "promotion": True})
    lines[2] = OrderLine.model_validate(order_lines(1)[0] | {"promotion": None, "weight": 1.5})
    frame = orders_frame(lines)
    assert list(frame.columns)[-3:] == ["carrier", "promotion", "weight"]
    assert frame["carrier"].tolist()[0] == "a"
    assert frame["promotion"].tolist()[0] is True
    assert frame["weight"].tolist()[2] == 1.5
    assert frame[["carrier", "promotion", "weight"]].isna().sum().tolist() == [2, 2, 2]


# --------------------------------------------- same scores as the CLI (a trained model)


class OneModel:
    """A Loader serving one fitted at-risk model as the champion."""

    def __init__(self, model: AtRiskModel) -> None:
        self.model = model

    def __call__(self, kind: str, served: Served | None) -> Served:
        return served or LoadedModel(kind, "1", self.model)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, str]:
    """A model trained on synthetic history with carrier, product_family, promotion and
    weight_kg, saved as joblib; the lines open at its training date; that date."""
    orders = generate_orders(sites=2, skus=6, days=150, seed=3).orders
    assert set(ATTRIBUTES) <= set(orders.columns)
    as_of = orders["order_date"].min() + pd.Timedelta(days=120)
    model = AtRiskModel(delivery_time=False, n_models=1, max_iter=30, lookahead_days=30).fit(
        orders, as_of=as_of
    )
    path = tmp_path_factory.mktemp("risk-model") / "model.joblib"
    joblib.dump(model, path)
    open_lines = orders[open_at(orders, as_of)].head(150).reset_index(drop=True)
    return path, open_lines, f"{as_of:%Y-%m-%d}"


@pytest.fixture(scope="module")
def served(trained: tuple[Path, pd.DataFrame, str]) -> Iterator[TestClient]:
    model = joblib.load(trained[0])
    app = create_app(settings_with(), loader=OneModel(model), kinds=("risk",), poll=False)
    with TestClient(app) as test_client:
        yield test_client


def cli_scores(source: Path, model: Path, as_of: str, out: Path) -> pd.DataFrame:
    argv = ["risk", "score", str(source), "--as-of", as_of, "--out", str(out)]
    assert main([*argv, "--model", str(model), "--trust"]) == 0
    return pd.read_csv(out)


def api_scores(client: TestClient, lines: list[dict[str, Any]], as_of: str) -> pd.DataFrame:
    response = client.post(AT_RISK, json={"as_of": as_of, "orders": lines})
    assert response.status_code == 200, response.text
    return pd.DataFrame(response.json()["lines"])


def json_lines(frame: pd.DataFrame, attributes: bool = True) -> list[dict[str, Any]]:
    """``frame``'s rows as request lines: contract fields (empty ones left out), dates as
    text, and the other columns' values as they are in ``frame``."""
    keep = [c for c in frame.columns if attributes or c in CANONICAL_COLUMNS]
    lines = []
    for row in frame[keep].to_dict("records"):
        line: dict[str, Any] = {}
        for name, value in row.items():
            if isinstance(value, pd.Timestamp):
                value = f"{value:%Y-%m-%d}"
            elif isinstance(value, np.generic):
                value = value.item()
            missing = value is None or (isinstance(value, float) and math.isnan(value))
            if name in ("quantity", "unit_price") and isinstance(value, str):
                value = float(value)
            if missing or value == "":
                if name in CANONICAL_COLUMNS:
                    continue  # an empty contract field is left out, as a client would
                value = None
            line[name] = value
        lines.append(line)
    return lines


@pytest.mark.slow
def test_attributes_score_as_the_cli_scores_the_same_csv(
    trained: tuple[Path, pd.DataFrame, str], served: TestClient, tmp_path: Path
) -> None:
    model, open_lines, as_of = trained
    source = tmp_path / "open.csv"
    open_lines.to_csv(source, index=False)
    cli = cli_scores(source, model, as_of, tmp_path / "cli.csv")
    # The CSV's cells as the JSON values: text, as the CLI reads them.
    as_text = pd.read_csv(source, dtype=str, keep_default_na=False)
    lines = json_lines(as_text)
    assert {"carrier", "product_family", "promotion"} <= set(lines[0])
    api = api_scores(served, lines, as_of)

    assert api["line_id"].tolist() == cli["line_id"].tolist()
    assert api["scored"].tolist() == cli["scored"].tolist()
    assert api["scored"].sum() >= 100
    assert api["p_late"].to_numpy(float) == pytest.approx(cli["p_late"].to_numpy(float))
    assert api["risk_band"].tolist() == cli["risk_band"].tolist()
    for reason in ("reason_1", "reason_2", "reason_3"):  # empty: null in JSON, NaN in CSV
        assert api[reason].fillna("").tolist() == cli[reason].fillna("").tolist()

    # The attributes count: without them the same lines score otherwise.
    bare = api_scores(served, json_lines(as_text, attributes=False), as_of)
    assert not np.allclose(bare["p_late"].to_numpy(float), api["p_late"].to_numpy(float))


@pytest.mark.slow
def test_typed_attributes_score_as_the_cli_scores_the_same_parquet(
    trained: tuple[Path, pd.DataFrame, str], served: TestClient, tmp_path: Path
) -> None:
    model, open_lines, as_of = trained
    source = tmp_path / "open.parquet"
    open_lines.to_parquet(source, index=False)
    cli = cli_scores(source, model, as_of, tmp_path / "cli.csv")
    # JSON true/false and numbers, as the Parquet file types them.
    lines = json_lines(open_lines)
    assert isinstance(lines[0]["promotion"], bool)
    assert isinstance(lines[0]["weight_kg"], float)
    api = api_scores(served, lines, as_of)

    assert api["line_id"].tolist() == cli["line_id"].tolist()
    assert api["p_late"].to_numpy(float) == pytest.approx(cli["p_late"].to_numpy(float))
