"""A result file name the command cannot write is refused as the command line is read,
before any work: a forecast used to run to its end and then fail on ``--out x.xlsx``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ordercast.cli import main

# Each command with one of its result-file options named wrongly; every input is missing
# too, so a command that read its input first would fail on that instead (generate reads
# none: for it only the message is checked here; the forecast test below shows the order).
COMMANDS = {
    "generate": ["generate", "--out", "{bad}"],
    "series": ["series", "{missing}", "--by", "sku", "--freq", "W", "--out", "{bad}"],
    "validate --report": ["validate", "{missing}", "--report", "{bad}"],
    "forecast": ["forecast", "{missing}", "--horizon", "2", "--out", "{bad}"],
    "forecast --selection-out": [
        "forecast",
        "{missing}",
        "--horizon",
        "2",
        "--out",
        "{good}",
        "--selection-out",
        "{bad}",
    ],
    "backtest": ["backtest", "{missing}", "--horizon", "2", "--out", "{bad}"],
    "risk score": ["risk", "score", "{missing}", "--out", "{bad}"],
    "risk evaluate": [
        "risk",
        "evaluate",
        "{missing}",
        "--split-date",
        "2024-01-01",
        "--out",
        "{bad}",
    ],
    "risk promise": ["risk", "promise", "{missing}", "--out", "{bad}"],
    "risk promise --curve": ["risk", "promise", "{missing}", "--out", "{good}", "--curve", "{bad}"],
    "capacity forecast": ["capacity", "forecast", "{missing}", "--out", "{bad}"],
    "capacity plan": ["capacity", "plan", "{missing}", "--out", "{bad}"],
    "accuracy": ["accuracy", "--out", "{bad}"],
    "adjustments export": ["adjustments", "export", "--out", "{bad}"],
}


@pytest.mark.parametrize("name", COMMANDS)
def test_a_result_name_that_cannot_be_written_is_refused_first(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "result.xlsx"
    places = {"bad": bad, "good": tmp_path / "ok.csv", "missing": tmp_path / "missing.csv"}
    args = [part.format(**places) for part in COMMANDS[name]]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"output {bad}: use a .csv, .csv.gz or .parquet file name" in err, err
    assert not bad.exists()


def test_the_forecast_does_not_run_before_the_refusal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    series = tmp_path / "series.csv"
    ds = pd.date_range("2024-01-01", periods=60, freq="D")
    pd.DataFrame({"series_id": "a", "ds": ds, "y": np.arange(60.0)}).to_csv(series, index=False)
    args = ["forecast", str(series), "--horizon", "3", "--out", str(tmp_path / "f.txt")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "use a .csv, .csv.gz or .parquet file name" in err
    assert "forecasting 1 series" not in err
