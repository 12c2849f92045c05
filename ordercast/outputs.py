"""Writing result files atomically: a reader never sees half a file, a failure leaves none."""

from __future__ import annotations

import contextlib
import gzip
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Literal, cast

import pandas as pd
import pyarrow
import pyarrow.parquet as pq

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
    with frame_writer(path) as writer:
        writer.write(frame)
    return Path(path)


class FrameWriter:
    """Appends frames of the same columns to one open CSV, gzip CSV or Parquet file: a
    result written part by part (#20: a panel forecast a chunk of series at a time) never
    holds in memory more than the part it writes."""

    def __init__(self, handle: IO[bytes], kind: FileKind) -> None:
        self._handle = handle
        self._kind = kind
        self._parquet: pq.ParquetWriter | None = None
        self._schema: pyarrow.Schema | None = None
        self._header_written = False
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        """Append ``frame``; the first frame's columns are the file's."""
        if self._kind == "parquet":
            self._write_parquet(frame)
        else:
            text = frame.to_csv(
                index=False, header=not self._header_written, date_format=_date_format(frame)
            )
            self._handle.write(text.encode("utf-8"))
            self._header_written = True
        self.rows += len(frame)

    def _write_parquet(self, frame: pd.DataFrame) -> None:
        table = pyarrow.Table.from_pandas(frame, preserve_index=False)
        if self._parquet is None:
            # A column with no value in the first part (no series fell back) would be
            # typed null and refuse the text of a later part: such columns are text.
            fields = [
                f.with_type(pyarrow.string()) if pyarrow.types.is_null(f.type) else f
                for f in table.schema
            ]
            self._schema = pyarrow.schema(fields, metadata=table.schema.metadata)
            self._parquet = pq.ParquetWriter(self._handle, self._schema)
        assert self._schema is not None
        if table.schema.names != self._schema.names:
            raise ValueError(f"a part with columns {table.schema.names} after {self._schema.names}")
        self._parquet.write_table(table.cast(self._schema))

    def abandon(self) -> None:
        """Let go of a file that will not be kept (its content no longer matters)."""
        if self._parquet is not None:
            with contextlib.suppress(Exception):
                self._parquet.close()
            self._parquet = None

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        elif self._kind == "parquet":  # nothing written: an empty file with no columns
            pq.write_table(pyarrow.table({}), self._handle)


@contextlib.contextmanager
def frame_writer(path: str | Path) -> Iterator[FrameWriter]:
    """A :class:`FrameWriter` on a temporary file renamed to ``path`` when the block
    succeeds; an error in the block leaves no file (nor half of one)."""
    kind = file_kind(path)
    with atomic_path(path) as temp, open(temp, "wb") as raw:
        handle = cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="wb")) if kind == "csv.gz" else raw
        writer = FrameWriter(handle, kind)
        try:
            yield writer
            writer.close()
        except BaseException:
            writer.abandon()
            raise
        finally:
            if handle is not raw:
                handle.close()


def _date_format(frame: pd.DataFrame) -> str | None:
    """Days as YYYY-MM-DD; None (pandas writes each column as its values need: date-only
    columns stay YYYY-MM-DD) where some date column has a time of day. One day format for
    all cut the hour off an hourly forecast: 24 rows a day, each dated the same day."""
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values) and (values.dt.normalize() != values).any():
            return None
    return "%Y-%m-%d"


def is_parquet(path: str | Path) -> bool:
    """Whether :func:`read_frame` reads ``path`` as Parquet (else as CSV), by its name."""
    return Path(path).name.lower().endswith((".parquet", ".pq"))


def read_frame(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet result file (e.g. a series frame) written by :func:`write_frame`."""
    source = Path(path)
    if not source.is_file():
        raise ConfigError(f"file {source} does not exist")
    try:
        if is_parquet(source):
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
        kind = "Parquet" if is_parquet(source) else "CSV"
        raise DataContractError.from_message(
            f"cannot read {source} as {kind} ({first}); give a series frame as "
            "`ordercast series` writes it"
        ) from exc
