"""`ordercast forecast --chunk-series N` forecasts a panel N series at a time and writes the
forecast as the chunks finish (#20: the driver's memory flat whatever the panel's size).

Real files and the real command: the output is held to a whole-panel run of the same
command, which chunks must not change where nothing is learnt across series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ordercast.cli import main
from ordercast.series_chunks import read_chunk, series_index

LOCAL = ["--models", "naive,seasonal_naive,window_average", "--windows", "1", "--n-jobs", "1"]


def _panel(n: int = 45, weeks: int = 40, seed: int = 3) -> pd.DataFrame:
    """``n`` weekly series with ids that sort differently as text and as numbers, rows
    shuffled, a few series shorter than the others."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        length = weeks - (i % 4) * 5
        ds = pd.date_range("2023-01-01", periods=length, freq="W-SUN")
        rows.append(
            pd.DataFrame(
                {"series_id": f"sku{i}", "ds": ds, "y": rng.poisson(3 + i % 7, length) * 1.0}
            )
        )
    return pd.concat(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _forecast(series: Path, out: Path, *extra: str) -> int:
    return main(["forecast", str(series), "--horizon", "4", "--out", str(out), *LOCAL, *extra])


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_chunks_give_the_whole_panels_forecast_in_its_order(tmp_path: Path, suffix: str) -> None:
    series = tmp_path / f"series{suffix}"
    frame = _panel()
    if suffix == ".csv":
        frame.to_csv(series, index=False)
    else:
        frame.to_parquet(series, index=False)

    assert _forecast(series, tmp_path / "whole.parquet", "--chunk-series", "0") == 0
    assert (
        _forecast(
            series,
            tmp_path / "chunked.parquet",
            "--chunk-series",
            "10",
            "--selection-out",
            str(tmp_path / "selection.csv.gz"),
        )
        == 0
    )

    whole = pd.read_parquet(tmp_path / "whole.parquet")
    chunked = pd.read_parquet(tmp_path / "chunked.parquet")
    pd.testing.assert_frame_equal(chunked, whole)
    assert chunked["series_id"].nunique() == 45
    selection = pd.read_csv(tmp_path / "selection.csv.gz")
    assert sorted(selection["series_id"]) == sorted(frame["series_id"].unique())


@pytest.mark.parametrize("ids", ["text", "category", "numbers"])
def test_the_chunks_are_every_row_of_whole_series_in_text_order(tmp_path: Path, ids: str) -> None:
    series = tmp_path / "series.parquet"
    frame = _panel(n=23)
    if ids == "category":  # stored dictionary-encoded
        frame["series_id"] = frame["series_id"].astype("category")
    elif ids == "numbers":
        frame["series_id"] = frame["series_id"].str.removeprefix("sku").astype(int)
    frame.to_parquet(series, index=False)
    index = series_index(series)
    assert index is not None
    assert list(index.ids) == sorted(frame["series_id"].unique(), key=str)
    chunks = list(index.chunks(10))
    # 23 series at most 10 at a time: three chunks of about the same size, not 10, 10, 3
    assert [len(c) for c in chunks] == [8, 8, 7]
    for ids in chunks:
        part = read_chunk(index, ids)
        expected = frame[frame["series_id"].isin(ids)]
        assert len(part) == len(expected)
        assert set(part["series_id"]) == set(ids)


def test_a_file_with_an_empty_series_id_is_read_whole(tmp_path: Path) -> None:
    """No chunk could hold an empty id's rows: the whole file is read and checked instead."""
    series = tmp_path / "series.csv"
    frame = _panel(n=5)
    frame.loc[3, "series_id"] = None
    frame.to_csv(series, index=False)
    assert series_index(series) is None


@pytest.mark.parametrize(
    ("written", "bad", "options", "message"),
    [
        ("%Y-%m-%d", "31/12/2023", (), "ds '31/12/2023' is not an ISO date"),
        # With --date-format the dates are read as each chunk is: still the file's row.
        (
            "%d/%m/%Y",
            "2023-12-31",
            ("--date-format", "%d/%m/%Y"),
            "ds '2023-12-31' is not a date in the form %d/%m/%Y",
        ),
    ],
    ids=["iso", "date-format"],
)
def test_a_bad_date_in_a_later_chunk_is_named_as_in_the_file_and_nothing_is_written(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    written: str,
    bad: str,
    options: tuple[str, ...],
    message: str,
) -> None:
    series = tmp_path / "series.csv"
    frame = _panel()
    # the last series as text: in the last chunk, after others were written
    row = int(np.flatnonzero(frame["series_id"].to_numpy() == "sku9")[0])
    frame["ds"] = frame["ds"].dt.strftime(written)
    frame.loc[row, "ds"] = bad
    frame.to_csv(series, index=False)
    out = tmp_path / "forecast.csv"

    assert _forecast(series, out, "--chunk-series", "10", *options) != 0

    err = capsys.readouterr().err
    assert f"row {row + 1}: {message}" in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [series]


def test_a_hierarchy_is_forecast_whole(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Reconciliation needs every level at once: a level column turns chunks off."""
    series = tmp_path / "series.csv"
    panel = _panel(n=12)
    panel.assign(level="sku", sku=panel["series_id"]).to_csv(series, index=False)
    assert _forecast(series, tmp_path / "f.csv", "--chunk-series", "5", "--reconcile", "none") == 0
    err = capsys.readouterr().err
    assert "read whole, not in chunks" in err
    assert "chunk 1 of" not in err
