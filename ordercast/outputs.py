"""Writing result files atomically: a reader never sees half a file, a failure leaves none."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow

from forecasting.errors import ConfigError, DataContractError


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Made with mode 0666 and the kernel applies the user's umask (0644 under the usual one),
    # as for any new file; mkstemp's private 0600 would hide results from a team's scheduler.
    temp = target.parent / f".{target.name}.{secrets.token_hex(6)}.part"
    os.close(os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        yield temp
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


FileKind = Literal["parquet", "csv", "csv.gz"]


def file_kind(path: str | Path) -> FileKind:
    """What :func:`write_frame` writes to ``path``, by its name; :class:`ConfigError` for a
    name it cannot write."""
    name = Path(path).name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv.gz", ".gz")):
        return "csv.gz"
    if name.endswith(".csv"):
        return "csv"
    raise ConfigError(f"output {path}: use a .csv, .csv.gz or .parquet file name")


def output_file(path: Path | None) -> Path | None:
    """The callback of an option naming a result file: a name :func:`write_frame` cannot
    write is refused as the command line is read, not after the work (a forecast of
    thousands of series ran to its end, then failed on ``--out forecast.xlsx``)."""
    if path is not None:
        file_kind(path)
    return path


def write_frame(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a frame as CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``), atomically."""
    target = Path(path)
    kind = file_kind(target)
    with atomic_path(target) as temp:
        if kind == "parquet":
            frame.to_parquet(temp, index=False)
        else:
            compression: Literal["gzip"] | None = "gzip" if kind == "csv.gz" else None
            frame.to_csv(
                temp, index=False, compression=compression, date_format=_date_format(frame)
            )
    return target


def _date_format(frame: pd.DataFrame) -> str | None:
    """Days as YYYY-MM-DD; None (pandas writes each column as its values need: date-only
    columns stay YYYY-MM-DD) where some date column has a time of day. One day format for
    all cut the hour off an hourly forecast: 24 rows a day, each dated the same day."""
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values) and (values.dt.normalize() != values).any():
            return None
    return "%Y-%m-%d"


def read_frame(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet result file (e.g. a series frame) written by :func:`write_frame`."""
    source = Path(path)
    if not source.is_file():
        raise ConfigError(f"file {source} does not exist")
    try:
        if source.name.lower().endswith((".parquet", ".pq")):
            frame = pd.read_parquet(source)
            # Arrow's allocator keeps the pages it decoded the file into after pandas has
            # its columns (#20: 50,000 weekly series, resident 628 -> 335 MB on release).
            pyarrow.default_memory_pool().release_unused()
            return frame
        return pd.read_csv(source, encoding="utf-8-sig")
    except pd.errors.EmptyDataError as exc:
        raise DataContractError.from_message(f"{source} is empty: no header, no rows") from exc
    except (UnicodeError, pd.errors.ParserError, ValueError, OSError) as exc:
        # pyarrow and pandas raise these for a file that is not what its name says
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        kind = "Parquet" if source.suffix in (".parquet", ".pq") else "CSV"
        raise DataContractError.from_message(
            f"cannot read {source} as {kind} ({first}); give a series frame as "
            "`ordercast series` writes it"
        ) from exc
