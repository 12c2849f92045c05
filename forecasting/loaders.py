"""Read order history from CSV (plain or gzip), Parquet or any SQLAlchemy database URL.

:func:`load_orders` is the one way in: read raw -> map (``forecasting.mapping``) ->
validate (``forecasting.contract``) -> the canonical frame. Reading is the only side
effect here; nothing is ever written.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import yaml

from forecasting.contract import ValidationReport, validate_orders
from forecasting.errors import ConfigError, DataContractError
from forecasting.mapping import ColumnMapping, add_derived_columns, apply_mapping
from forecasting.redaction import redact

logger = logging.getLogger(__name__)

CSV_SUFFIXES = (".csv", ".csv.gz", ".gz", ".txt", ".tsv", ".csv.bz2", ".csv.zip")
PARQUET_SUFFIXES = (".parquet", ".pq")


def load_mapping(mapping: ColumnMapping | str | Path | None) -> ColumnMapping:
    """A :class:`ColumnMapping` from a YAML path, an existing mapping, or ``None`` (identity)."""
    if mapping is None:
        return ColumnMapping()
    if isinstance(mapping, ColumnMapping):
        return mapping
    path = Path(mapping)
    if not path.is_file():
        raise ConfigError(f"mapping file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not a text file in UTF-8 (byte {exc.object[exc.start]:#04x} at offset "
            f"{exc.start}); a mapping is a YAML file"
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return ColumnMapping.from_dict(raw, source=str(path))


def is_database_url(source: str | Path) -> bool:
    return "://" in str(source)


def read_raw(
    source: str | Path, mapping: ColumnMapping | None = None
) -> tuple[pd.DataFrame, int, str]:
    """Read a source as it is; returns the frame, the row offset and the row unit for messages.

    CSV is read as text (so a non-numeric quantity is reported, not silently turned into
    NaN); Parquet and SQL keep their types.
    """
    mapping = mapping or ColumnMapping()
    if is_database_url(source):
        return _read_sql(str(source), mapping), 1, "row"
    path = Path(source)
    if not path.exists():
        raise ConfigError(f"data file {path} does not exist")
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        try:
            return pd.read_parquet(path), 1, "row"
        except Exception as exc:  # pyarrow raises many types for a corrupt file
            raise DataContractError.from_message(f"cannot read {path} as Parquet: {exc}") from exc
    if name.endswith(CSV_SUFFIXES) or "." not in name:
        sep = "\t" if ".tsv" in name else ","
        # Strict decoding: a byte that is not in the file's encoding is refused with its line,
        # never replaced (two SKUs 'SKÜ-1' and 'SKÖ-1' must not become one 'SK?-1').
        encoding = mapping.encoding or "utf-8-sig"
        try:
            frame = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                sep=sep,
                encoding=encoding,
                encoding_errors="strict",
            )
        except UnicodeError as exc:
            raise DataContractError.from_message(_encoding_problem(path, encoding)) from exc
        except (pd.errors.ParserError, EOFError, OSError) as exc:
            raise DataContractError.from_message(f"cannot read {path} as CSV: {exc}") from exc
        except pd.errors.EmptyDataError as exc:
            raise DataContractError.from_message(f"{path} is empty: no header, no rows") from exc
        return frame, 2, "line"
    raise ConfigError(
        f"don't know how to read {path}: use .csv, .csv.gz, .parquet or a database URL "
        "such as sqlite:///orders.db"
    )


def _encoding_problem(path: Path, encoding: str) -> str:
    """Where ``path`` stops being ``encoding`` (line and byte), and what to declare instead."""
    import gzip

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as handle:
        data = handle.read()
    try:
        data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        bad = data[exc.start : exc.start + 1]
        where = f"line {line}: byte {bad.hex()} is not {exc.encoding}"
    except UnicodeError as exc:
        where = str(exc)
    else:  # pandas read it in pieces and failed at a seam; the whole file decodes
        where = f"it did not decode as {encoding}"
    guess = "latin-1"
    try:
        data.decode("cp1252")
        guess = "cp1252"
    except UnicodeDecodeError:
        pass
    named = "UTF-8" if encoding.replace("-sig", "") in ("utf-8", "utf_8") else encoding
    return (
        f"{path} is not {named} text ({where}); nothing was read. Declare the file's encoding "
        f"in the mapping, e.g. 'encoding: {guess}' (Windows exports are often cp1252), or "
        "save the export as UTF-8"
    )


def _first_line(exc: Exception) -> str:
    """A driver's message without SQLAlchemy's appended statement and help link."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return redact(text[0] if text else type(exc).__name__)


def _read_sql(url: str, mapping: ColumnMapping) -> pd.DataFrame:
    from sqlalchemy import create_engine, inspect, text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        engine = create_engine(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError / NoSuchModuleError
        raise ConfigError(f"not a usable database URL '{redact(url)}': {redact(exc)}") from exc
    try:
        with engine.connect() as connection:
            if mapping.sql.query:
                return pd.read_sql_query(text(mapping.sql.query), connection)
            table = mapping.sql.table or "orders"
            tables = inspect(connection).get_table_names()
            if table not in tables:
                known = ", ".join(tables) or "none"
                raise ConfigError(
                    f"database {redact(url)} has no table '{table}' (tables: {known}); "
                    "set sql.table or sql.query in the mapping"
                )
            return pd.read_sql_table(table, connection)
    except SQLAlchemyError as exc:
        raise ConfigError(f"cannot read from {redact(url)}: {_first_line(exc)}") from exc
    finally:
        engine.dispose()


def check_orders(
    source: str | Path, mapping: ColumnMapping | str | Path | None = None
) -> ValidationReport:
    """Read, map and validate; returns the report (never raises for bad rows)."""
    resolved = load_mapping(mapping)
    raw, row_offset, row_unit = read_raw(source, resolved)
    return check_frame(raw, resolved, source=str(source), row_offset=row_offset, row_unit=row_unit)


def check_frame(
    raw: pd.DataFrame,
    mapping: ColumnMapping,
    *,
    source: str | None = None,
    row_offset: int = 1,
    row_unit: str = "row",
) -> ValidationReport:
    """Map and validate a raw frame already read (:func:`read_raw`, or records pushed over
    HTTP); returns the report, every mapping and contract issue included."""
    resolved = mapping
    mapped, mapping_issues = apply_mapping(raw, resolved, row_offset=row_offset, row_unit=row_unit)
    report = validate_orders(
        mapped,
        source=source,
        row_offset=row_offset,
        row_unit=row_unit,
        date_formats=resolved.date_formats,
    )
    if mapping_issues:
        seen = {(i.position, i.column) for i in mapping_issues}
        report.issues = mapping_issues + [
            i for i in report.issues if (i.position, i.column) not in seen
        ]
        report.issues.sort(key=lambda i: (-1 if i.position is None else i.position, i.column or ""))
    return report


def load_orders_with_issues(
    source: str | Path, mapping: ColumnMapping | str | Path | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The canonical, validated order-line frame of ``source`` and the issues of the rows
    dropped from it (``row``, ``column``, ``message``; empty when nothing was dropped).

    Raises :class:`DataContractError` listing every problem, unless the mapping says
    ``invalid_rows: drop``: then invalid rows are dropped and counted in a warning.
    """
    resolved = load_mapping(mapping)
    report = check_orders(source, resolved)
    frame = report.frame
    if not report.ok:
        whole_table = [i for i in report.issues if i.position is None]
        if resolved.invalid_rows == "error" or whole_table:
            raise DataContractError(report.issues, source=str(source))
        bad = report.invalid_rows
        logger.warning(
            "%s: dropped %d of %d rows that break the contract (mapping '%s' says "
            "invalid_rows: drop); first: %s",
            source,
            len(bad),
            len(frame),
            resolved.name,
            report.issues[0],
        )
        frame = frame.drop(index=frame.index[bad]).reset_index(drop=True)
        if frame.empty:
            raise DataContractError(report.issues, source=str(source))
    return add_derived_columns(frame, resolved), report.summary()


def load_orders(
    source: str | Path, mapping: ColumnMapping | str | Path | None = None
) -> pd.DataFrame:
    """The canonical, validated order-line frame of ``source`` (see
    :func:`load_orders_with_issues`)."""
    return load_orders_with_issues(source, mapping)[0]
