"""A new user's first hour, as #22 tells it: their own export (order + line numbers, no line
id, odd column names), a mapping, validate, ingest, train, keys, serve, and every endpoint,
all from a fresh folder with a config file of their own. Real processes throughout: the
`ordercast` command and `ordercast serve` under uvicorn."""

from __future__ import annotations

import csv
import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
import yaml

from forecasting.synthetic import generate_orders

ORDERCAST = str(Path(sys.executable).parent / "ordercast")
FOREIGN = {  # the export's names for the contract's columns
    "sku": "Item No",
    "site": "Warehouse",
    "channel": "Sales Channel",
    "order_date": "Ordered On",
    "promised_date": "Promise Date",
    "ship_date": "Shipped On",
    "delivered_date": "Delivered On",
    "quantity": "Qty Ordered",
}
MAPPING = {
    "name": "our-erp",
    "columns": {
        **{contract: foreign for contract, foreign in FOREIGN.items()},
        "order_id": "OrderNo",
        "line_id": {"join": ["OrderNo", "LineNo"]},
    },
    "date_formats": ["%d/%m/%Y"],
}


def _export(folder: Path) -> tuple[Path, pd.DataFrame]:
    """An ERP-shaped export: lines keyed by order number + line number within the order."""
    orders = generate_orders(sites=2, skus=6, days=160, seed=5).orders
    export = orders.drop(columns=["line_id"]).rename(columns=FOREIGN)
    export = export.rename(columns={"order_id": "OrderNo", "carrier": "Carrier Name"})
    export.insert(1, "LineNo", export.groupby("OrderNo").cumcount() + 1)
    for column in ("Ordered On", "Promise Date", "Shipped On", "Delivered On"):
        export[column] = pd.to_datetime(export[column]).dt.strftime("%d/%m/%Y")
    path = folder / "erp-export.csv"
    export.to_csv(path, index=False)
    return path, orders


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture()
def workspace(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A fresh folder with the user's config; the environment names nothing of ours, so
    every command must find the store, the registry and the keys through the config."""
    home = tmp_path / "acme"
    home.mkdir()
    config = {
        "mlflow": {"tracking_uri": f"sqlite:///{home / 'registry' / 'mlflow.db'}"},
        "database": {"url": f"sqlite:///{home / 'orders.db'}"},
        "api": {"keys_file": str(home / "api-keys.json")},
        "demand": {"horizon": 6, "n_windows": 2},
    }
    (home / "ordercast.yaml").write_text(yaml.safe_dump(config))
    (home / "map.yaml").write_text(yaml.safe_dump(MAPPING, sort_keys=False))
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("ORDERCAST_", "MLFLOW_"))
    }
    env["ORDERCAST_CONFIG"] = str(home / "ordercast.yaml")
    (home / "registry").mkdir()
    yield home, env


def _run(home: Path, env: dict[str, str], *args: str, ok: tuple[int, ...] = (0,)) -> str:
    done = subprocess.run(
        [ORDERCAST, *args], cwd=home, env=env, capture_output=True, text=True, timeout=1200
    )
    assert done.returncode in ok, f"ordercast {' '.join(args)}: {done.returncode}\n{done.stderr}"
    return done.stdout + done.stderr


@pytest.mark.timeout(1500)  # three trainings and a server, on a machine that may be busy
def test_a_new_user_from_export_to_every_endpoint(
    workspace: tuple[Path, dict[str, str]],
) -> None:
    home, env = workspace
    export, truth = _export(home)
    before = {path.name for path in home.iterdir()}

    # The mapping builds the line id from order + line number: the export validates clean.
    said = _run(home, env, "validate", export.name, "--mapping", "map.yaml")
    assert "0 error" in said or "valid" in said.lower(), said
    _run(home, env, "ingest", export.name, "--mapping", "map.yaml")
    _run(home, env, "train", "all", ok=(0, 3))
    listed = _run(home, env, "models", "list")
    assert "demand" in listed and "lower is better" in listed  # scores carry their direction

    # A scoring command finds the registry the config names, from this folder.
    scored = home / "scored.csv"
    as_of = str(truth["order_date"].max().date())
    _run(
        home,
        env,
        "risk",
        "score",
        export.name,
        "--mapping",
        "map.yaml",
        "--as-of",
        as_of,
        "--model",
        "models:/ordercast-risk@champion",
        "--out",
        scored.name,
    )
    assert pd.read_csv(scored)["scored"].any()

    said = _run(home, env, "keys", "create", "anna", "--role", "admin")
    key = said.split(": ", 1)[1].split()[0]
    port = _free_port()
    server = subprocess.Popen(
        [ORDERCAST, "serve", "--port", str(port)],
        cwd=home,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base, server)
        with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=60) as api:
            _every_endpoint(api, truth, as_of)
    finally:
        server.terminate()
        server.wait(timeout=30)

    # Nothing written into the user's folder but what they asked for.
    left = {path.name for path in home.iterdir()} - before
    assert left <= {"scored.csv", "orders.db", "api-keys.json", "registry"}, left


def _wait_ready(base: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stderr.read() if server.stderr else ""
        try:
            if httpx.get(f"{base}/ready", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise AssertionError("the API was not ready within 300 s")


def _every_endpoint(api: httpx.Client, truth: pd.DataFrame, as_of: str) -> None:
    assert api.get("/health").status_code == 200
    assert api.get("/v1/models").status_code == 200
    sku, site = truth["sku"].iloc[0], truth["site"].iloc[0]
    one = api.post("/v1/forecasts/demand", json={"sku": sku, "site": site, "horizon": 4})
    assert one.status_code == 200, one.text
    assert [set(point) >= {"ds", "mean"} for point in one.json()["points"]] == [True] * 4
    outside = api.post(
        "/v1/forecasts/demand",
        json={"sku": sku, "site": site, "horizon": 4, "quantiles": [0.001]},
    )
    assert outside.status_code == 422 and "0.05" in outside.text  # the grid, named

    batch = api.post("/v1/forecasts/demand/batch", json={"select": {"site": site}, "horizon": 4})
    assert batch.status_code == 200, batch.text
    as_csv = api.post(
        "/v1/forecasts/demand/batch",
        json={"select": {"site": site}, "horizon": 4},
        headers={"Accept": "text/csv"},
    )
    assert as_csv.status_code == 200, as_csv.text
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert {row["sku"] for row in rows} == set(truth.loc[truth["site"] == site, "sku"])

    capacity = api.post("/v1/forecasts/capacity", json={"sites": [site], "horizon": 7})
    assert capacity.status_code == 200, capacity.text

    open_lines = truth[truth["delivered_date"].isna()].head(20)
    lines = [
        {
            "order_id": row.order_id,
            "line_id": row.line_id,
            "sku": row.sku,
            "site": row.site,
            "order_date": str(row.order_date.date()),
            "promised_date": str(row.promised_date.date()),
            "quantity": float(row.quantity),
            "carrier": row.carrier,
            "product_family": row.product_family,
            "promotion": bool(row.promotion),
        }
        for row in open_lines.itertuples()
    ]
    risk = api.post("/v1/orders/at-risk", json={"as_of": as_of, "orders": lines})
    assert risk.status_code == 200, risk.text
    assert len(risk.json()["lines"]) == len(lines)

    pushed = api.post("/v1/orders", json={"lines": lines[:3]})
    assert pushed.status_code == 200, pushed.text
    accuracy = api.get("/v1/accuracy")
    assert accuracy.status_code in (200, 404), accuracy.text  # 404: nothing to score yet
    assert api.post("/v1/admin/reload").status_code == 200
    docs = api.get("/docs")
    assert docs.status_code == 200 and "cdn" not in docs.text.lower()
