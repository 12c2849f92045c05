"""``ordercast accuracy`` over a real SQLite order store: the table, drift and exit codes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ordercast.cli import main
from tests.accuracy.stores import config, fill, store_url


@pytest.fixture(autouse=True)
def _store_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # ORDERCAST_DATABASE_URL beats the config file, and the suite sets it for every test.
    monkeypatch.setenv("ORDERCAST_DATABASE_URL", store_url(tmp_path))


@pytest.fixture()
def filled(tmp_path: Path) -> str:
    url = store_url(tmp_path)
    fill(url)
    return url


def test_prints_observed_next_to_expected_by_lag(
    filled: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["accuracy", "--config", str(config(tmp_path, filled))]) == 0
    out = capsys.readouterr().out
    assert "8 of 9 published forecasts at lags 1, 2, 3 have an actual" in out
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line[:5].strip()}
    # lag 1: WAPE 4/29, expected (0.1*13 + 0.3*16)/29, bias 2/29, coverage 3/4
    assert lines["1"][:4] == ["1", "4", f"{100 * 4 / 29:.1f}%", f"{100 * 6.1 / 29:.1f}%"]
    assert lines["1"][4] == f"{100 * 2 / 29:.1f}%"
    assert lines["1"][7] == "75.0%"
    # lag 2: WAPE 13/30, bias -3/30, coverage 1/4
    assert lines["2"][2] == f"{100 * 13 / 30:.1f}%" and lines["2"][4] == "-10.0%"
    assert "3" not in lines  # its only target period is not complete
    assert "lag 2: WAPE" in out and "too few to judge (fewer than 64 forecasts)" in out


def test_check_exits_5_on_drift_naming_the_lag(
    filled: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    cfg = config(tmp_path, filled, drift_periods=2, drift_min_rows=2)
    assert main(["accuracy", "--check", "--config", str(cfg)]) == 5
    out = capsys.readouterr().out
    assert (
        f"lag 2: WAPE {100 * 13 / 30:.1f}% vs expected 20.0% (threshold 25.0%), n=4: DRIFT" in out
    )
    assert "lag 1: WAPE 12.5% vs expected 30.0% (threshold 37.5%), n=2: ok" in out
    assert "drift at lag 2" in out
    # without --check the same report exits 0; with a wider margin --check exits 0
    assert main(["accuracy", "--config", str(cfg)]) == 0
    wide = config(tmp_path, filled, drift_periods=2, drift_min_rows=2, drift_margin=1.5)
    assert main(["accuracy", "--check", "--config", str(wide)]) == 0


def test_by_level_model_site_and_out_file(filled: str, tmp_path: Path) -> None:
    out = tmp_path / "accuracy.csv"
    cfg = str(config(tmp_path, filled))
    assert main(["accuracy", "--by", "level,model,site", "--out", str(out), "--config", cfg]) == 0
    table = pd.read_csv(out)
    assert table[["level", "model", "site", "n"]].values.tolist() == [
        ["sku,site", "croston", "S2", 4],
        ["sku,site", "ets", "S1", 4],
    ]
    assert table.set_index("model").loc["ets", "wape"] == pytest.approx(8 / 45)


def test_since_keeps_later_target_periods(filled: str, tmp_path: Path) -> None:
    out = tmp_path / "since.csv"
    cfg = str(config(tmp_path, filled))
    assert main(["accuracy", "--since", "2024-02-05", "--out", str(out), "--config", cfg]) == 0
    # w6 (2024-02-11) only: publication 2's lag-2 rows
    assert pd.read_csv(out)[["lag", "n"]].values.tolist() == [[2, 2]]


def test_nothing_published_is_exit_2_with_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    url = store_url(tmp_path)
    fill(url, publications=False)
    assert main(["accuracy", "--check", "--config", str(config(tmp_path, url))]) == 2
    err = capsys.readouterr().err
    assert "nothing has been published yet" in err and "ordercast train demand" in err


def test_unknown_dimension_and_bad_date_are_exit_2(
    filled: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    cfg = str(config(tmp_path, filled))
    assert main(["accuracy", "--by", "lag,sku", "--config", cfg]) == 2
    assert "unknown accuracy dimension(s) 'sku'" in capsys.readouterr().err
    assert main(["accuracy", "--since", "last week", "--config", cfg]) == 2
    assert "--since 'last week' is not a date" in capsys.readouterr().err


def test_no_complete_period_yet_is_an_empty_table_not_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    url = store_url(tmp_path)
    fill(url, orders=False)
    assert main(["accuracy", "--check", "--config", str(config(tmp_path, url))]) == 0
    out = capsys.readouterr().out
    assert "0 of 9 published forecasts" in out
    assert "no published forecast has reached a complete period yet" in out


def test_series_the_settings_do_not_build_are_reported(
    filled: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    cfg = tmp_path / "site-level.yaml"
    cfg.write_text("demand: {freq: W-SUN, levels: [[site]]}\naccuracy: {lags: [1, 2, 3]}\n")
    assert main(["accuracy", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "0 of 9 published forecasts" in out
    assert "warning: 2 published series match no series built from the order store" in out
