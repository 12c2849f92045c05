"""Database URLs reach the loaders intact from every command that reads order history."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine

from ordercast.cli import main
from ordercast.settings import DataSettings

ROWS = pd.DataFrame(
    {
        "order_id": ["o1", "o1", "o2"],
        "line_id": ["l1", "l2", "l3"],
        "sku": ["SKU-1", "SKU-2", "SKU-1"],
        "site": ["A", "A", "B"],
        "order_date": ["2024-01-02", "2024-01-02", "2024-01-04"],
        "promised_date": ["2024-01-05", "2024-01-06", "2024-01-08"],
        "delivered_date": ["2024-01-04", None, "2024-01-09"],
        "quantity": [3.0, 1.5, 10.0],
    }
)


@pytest.fixture()
def sqlite_url(tmp_path: Path) -> str:
    """An absolute sqlite://// URL: the form a Path would fold to 'sqlite:/...'."""
    engine = create_engine(f"sqlite:///{tmp_path / 'orders.db'}")
    ROWS.to_sql("orders", engine, index=False)
    engine.dispose()
    return f"sqlite:///{tmp_path / 'orders.db'}"


def test_validate_reads_a_sqlite_url(sqlite_url: str, capsys: pytest.CaptureFixture) -> None:
    assert sqlite_url.startswith("sqlite:////")
    assert main(["validate", sqlite_url]) == 0
    assert "valid — 3 order lines, 2 SKUs, 2 sites" in capsys.readouterr().out


def test_series_reads_a_sqlite_url(sqlite_url: str, tmp_path: Path) -> None:
    out = tmp_path / "series.csv"
    assert main(["series", sqlite_url, "--by", "sku", "--freq", "D", "--out", str(out)]) == 0
    assert set(pd.read_csv(out)["series_id"]) == {"SKU-1", "SKU-2"}


def test_an_unreachable_database_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    assert main(["validate", url]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_the_configured_data_path_keeps_a_url() -> None:
    url = "sqlite:////data/orders.db"
    assert DataSettings(path=url).path == url
