"""Reading a series file a chunk of series at a time.

A panel of 100,000 weekly series held whole made the forecast's driver grow with the
series count (#20: 2.7 GB at 100,000). Read in chunks of whole series, the driver holds one
chunk, its fit and its forecast at a time, whatever the panel's size. Each chunk is every
row of its series, so a series is never split; chunks follow the series' sorted ids, the
order a whole-panel forecast writes them in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.compute as pc
import pyarrow.parquet as pq

from forecasting.errors import ConfigError, DataContractError
from ordercast.outputs import is_parquet

# Rows of a file decoded at once while a chunk's rows are picked out of it.
ROWS_PER_READ = 1_000_000


@dataclass(frozen=True)
class SeriesIndex:
    """What is known of a series file before reading its rows: its columns and its
    distinct series ids, in the order the forecast writes them (sorted as text)."""

    path: Path
    columns: tuple[str, ...]
    ids: np.ndarray

    def chunk_count(self, size: int) -> int:
        return -(-len(self.ids) // size)

    def chunks(self, size: int) -> Iterator[np.ndarray]:
        """The ids in chunks of at most ``size``, all of about the same size: a last chunk
        of a few series would have too few for a global model or a class default."""
        yield from np.array_split(self.ids, self.chunk_count(size))


def series_index(path: Path) -> SeriesIndex | None:
    """The file's columns and distinct series ids, reading only its ``series_id`` column;
    None when the file has no such column, an empty id, or cannot be read so: the whole
    file is then read, and checked, as before."""
    try:
        if is_parquet(path):
            columns = tuple(pq.ParquetFile(path).schema_arrow.names)
            if "series_id" not in columns:
                return None
            values = _parquet_ids(path)
            if values is None:
                return None
        else:
            columns = tuple(pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns)
            if "series_id" not in columns:
                return None
            seen = []
            for part in _csv_parts(path, ["series_id"]):
                if part["series_id"].isna().any():
                    return None
                seen.append(part["series_id"].unique())
            values = pd.unique(np.concatenate(seen)) if seen else np.array([], dtype=object)
    except (OSError, ValueError, pd.errors.ParserError, pyarrow.ArrowException):
        return None
    text = pd.Series(values).astype(str).to_numpy()
    return SeriesIndex(path, columns, values[np.argsort(text, kind="stable")])


def _batches(path: Path, columns: list[str] | None = None) -> Iterator[pyarrow.RecordBatch]:
    """The file's rows a batch at a time: reading it whole, even filtered, decodes every
    row first (at 50,000 series a chunk's read held the whole panel for a moment)."""
    yield from pq.ParquetFile(path).iter_batches(batch_size=ROWS_PER_READ, columns=columns)


def _decoded(column: pyarrow.Array) -> pyarrow.Array:
    """``column``'s values, decoded when it is stored dictionary-encoded (a category)."""
    if pyarrow.types.is_dictionary(column.type):
        return column.dictionary_decode()
    return column


def _parquet_ids(path: Path) -> np.ndarray | None:
    """The distinct series ids of a Parquet file; None when one is empty."""
    seen: list[pyarrow.Array] = []
    for batch in _batches(path, ["series_id"]):
        column = batch.column(0)
        if column.null_count:
            return None
        seen.append(pc.unique(_decoded(column)))
    if not seen:
        return np.array([], dtype=object)
    values = pc.unique(pyarrow.concat_arrays(seen)).to_numpy(zero_copy_only=False)
    pyarrow.default_memory_pool().release_unused()
    return values


def _parquet_rows(path: Path, ids: Sequence[object] | np.ndarray) -> pd.DataFrame:
    """Every row of the series ``ids`` in a Parquet file, one batch in memory at a time."""
    schema = pq.ParquetFile(path).schema_arrow
    id_type = schema.field("series_id").type
    if pyarrow.types.is_dictionary(id_type):
        id_type = id_type.value_type
    wanted = pyarrow.array(list(ids), type=id_type)
    parts = []
    for batch in _batches(path):
        parts.append(batch.filter(pc.is_in(_decoded(batch.column("series_id")), value_set=wanted)))
    frame = pyarrow.Table.from_batches(parts, schema=schema).to_pandas()
    del parts
    pyarrow.default_memory_pool().release_unused()
    return frame


def read_chunk(index: SeriesIndex, ids: Sequence[object] | np.ndarray) -> pd.DataFrame:
    """Every row of the series ``ids`` in the file, as :func:`read_frame` would give them."""
    if is_parquet(index.path):
        return _parquet_rows(index.path, ids)
    wanted = set(map(str, ids))
    return pd.concat(part[part["series_id"].isin(wanted)] for part in _csv_parts(index.path))


def _csv_parts(path: Path, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
    """A CSV file's rows (its ``columns``), ``ROWS_PER_READ`` at a time, ids as text."""
    yield from pd.read_csv(
        path,
        usecols=columns,
        dtype={"series_id": str},
        encoding="utf-8-sig",
        chunksize=ROWS_PER_READ,
    )


@contextlib.contextmanager
def rows_named_in_file(check_whole: Callable[[], object]) -> Iterator[None]:
    """Around the forecast of a file's chunks: a chunk's data error names the row as it is
    in the chunk, so the whole file is checked (``check_whole``) to raise the same error
    with the file's row; an error the whole file does not repeat is raised as it is."""
    try:
        yield
    except (ConfigError, DataContractError):
        check_whole()
        raise
