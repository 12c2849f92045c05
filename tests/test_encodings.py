"""Files in other encodings are read as declared or refused with their line, never altered."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from forecasting.errors import ConfigError, DataContractError
from forecasting.loaders import load_mapping, load_orders
from ordercast.cli import main

HEADER = "order_id,line_id,sku,site,order_date,promised_date,delivered_date,quantity\n"
ROWS = (
    "o1,l1,SKÜ-1,A,2024-01-02,2024-01-05,2024-01-04,3\no1,l2,SKÖ-1,A,2024-01-02,2024-01-06,,1.5\n"
)


def _latin1(tmp_path: Path, name: str = "orders.csv") -> Path:
    path = tmp_path / name
    data = (HEADER + ROWS).encode("latin-1")
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


@pytest.mark.parametrize("name", ["orders.csv", "orders.csv.gz"])
def test_undeclared_latin1_is_refused_with_its_line(tmp_path: Path, name: str) -> None:
    path = _latin1(tmp_path, name)
    with pytest.raises(DataContractError, match=r"not UTF-8 text \(line 2: byte dc") as caught:
        load_orders(path)
    assert "encoding: cp1252" in str(caught.value)


def test_declared_encoding_keeps_distinct_skus(tmp_path: Path) -> None:
    path = _latin1(tmp_path)
    mapping = tmp_path / "map.yaml"
    mapping.write_text("encoding: latin-1\n")
    orders = load_orders(path, mapping)
    assert sorted(orders["sku"]) == ["SKÖ-1", "SKÜ-1"]


def test_utf8_with_a_byte_order_mark_reads(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes((HEADER + ROWS).encode("utf-8-sig"))
    orders = load_orders(path)
    assert "order_id" in orders.columns
    assert sorted(orders["sku"]) == ["SKÖ-1", "SKÜ-1"]


def test_cli_says_what_to_declare_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["validate", str(_latin1(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert "encoding:" in err and "Traceback" not in err


def test_unknown_encoding_in_a_mapping_is_a_config_error(tmp_path: Path) -> None:
    mapping = tmp_path / "map.yaml"
    mapping.write_text("encoding: klingon-8\n")
    with pytest.raises(ConfigError, match="unknown encoding 'klingon-8'"):
        load_mapping(mapping)


def test_binary_mapping_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    mapping = tmp_path / "map.yaml"
    mapping.write_bytes(b"\xff\xfe\x00\x81binary")
    orders = tmp_path / "orders.csv"
    orders.write_text(HEADER)
    assert main(["validate", str(orders), "--mapping", str(mapping)]) == 2
    assert "not a text file in UTF-8" in capsys.readouterr().err
