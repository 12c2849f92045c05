"""Result files written part by part (ordercast.outputs.frame_writer): the parts read back
as one frame, in CSV, gzip CSV and Parquet; a failure part-way leaves no file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ordercast.outputs import frame_writer, read_frame


def _part(ids: list[str], fallback: str | None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "series_id": ids,
            "ds": pd.to_datetime(["2024-01-07"] * len(ids)),
            "fallback": [fallback] * len(ids),
            "mean": [1.5] * len(ids),
        }
    )


@pytest.mark.parametrize("name", ["f.csv", "f.csv.gz", "f.parquet"])
def test_parts_read_back_as_one_frame(tmp_path: Path, name: str) -> None:
    # The first part has no fallback at all: Parquet would type that column null and
    # refuse the second part's text.
    parts = [_part(["a", "b"], None), _part([], None), _part(["c"], "too short")]
    target = tmp_path / name
    with frame_writer(target) as writer:
        for part in parts:
            writer.write(part)
    assert writer.rows == 3
    back = read_frame(target)
    assert list(back.columns) == ["series_id", "ds", "fallback", "mean"]
    assert list(back["series_id"]) == ["a", "b", "c"]
    assert back["fallback"].isna().tolist() == [True, True, False]
    assert back["fallback"].iloc[2] == "too short"
    assert str(pd.Timestamp(back["ds"].iloc[0]).date()) == "2024-01-07"


@pytest.mark.parametrize("name", ["f.csv", "f.parquet"])
def test_an_empty_result_still_has_its_columns(tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    with frame_writer(target) as writer:
        writer.write(_part([], None))
    assert list(read_frame(target).columns) == ["series_id", "ds", "fallback", "mean"]


def test_a_failure_after_some_parts_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "f.parquet"
    with pytest.raises(RuntimeError), frame_writer(target) as writer:
        writer.write(_part(["a"], None))
        raise RuntimeError("the second chunk failed")
    assert list(tmp_path.iterdir()) == []
