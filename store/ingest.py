"""Order lines into the store: read, map and validate as the loaders do, then upsert by
``line_id`` in one transaction per batch.

A line seen again with other values is updated, an identical one is left alone, so the same
file twice changes nothing. Rows that break the contract are recorded in ``rejected_rows``
with their messages and raw values: with the mapping's ``invalid_rows: drop`` the good rows
land beside them; with ``error`` (the default) the whole batch is refused and only the
refused batch and its rejected rows are written, so an operator can see why.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Connection

from forecasting.contract import ValidationReport
from forecasting.errors import ConfigError, ContractIssue
from forecasting.loaders import check_frame, is_database_url, load_mapping, read_raw
from forecasting.mapping import ColumnMapping, add_derived_columns
from forecasting.redaction import redact
from store.database import OrderStore, inserted_id
from store.lines import encode_lines, json_values
from store.schema import ingest_batches, rejected_rows
from store.upsert import Progress, write_lines

logger = logging.getLogger(__name__)

COMMANDS = ("ingest", "api")
FIRST_REJECTED = 10


@dataclass(frozen=True)
class IngestSummary:
    """What one batch did; ``refused`` means nothing of it landed (see ``first_rejected``)."""

    batch_id: int | None
    source: str
    checksum: str
    rows_read: int
    new: int
    updated: int
    unchanged: int
    rejected: int
    first_rejected: tuple[tuple[int | None, str | None, str], ...]  # (line, column, message)
    refused: bool

    @property
    def changed(self) -> bool:
        return bool(self.new or self.updated)

    def describe(self) -> str:
        """A few lines a person reads: the counts, and the first rejected rows."""
        head = f"{self.source}: {self.rows_read:,} lines read"
        if self.refused:
            text = (
                f"{head}: refused, nothing landed: {self.rejected:,} line(s) break the contract "
                "and the mapping says invalid_rows: error (fix them, or set invalid_rows: drop "
                "in the mapping to land the good lines)"
            )
        elif not (self.new or self.updated or self.rejected):
            text = f"{head}: nothing changed (already ingested)"
        else:
            text = (
                f"{head}: {self.new:,} new, {self.updated:,} updated, "
                f"{self.unchanged:,} unchanged, {self.rejected:,} rejected"
            )
        if self.batch_id is not None:
            text += f" [batch {self.batch_id}]"
        if self.first_rejected:
            shown = "\n".join(
                f"  - {ContractIssue(line, column, message)}"
                for line, column, message in self.first_rejected
            )
            more = self.rejected - len({line for line, _, _ in self.first_rejected})
            text += f"\nfirst rejected:\n{shown}"
            if more > 0:
                text += f"\n  ... and more: {self.rejected:,} rejected lines in all"
        return text


def ingest_source(
    store: OrderStore,
    source: str | Path,
    mapping: ColumnMapping | str | Path | None = None,
    command: str = "ingest",
    *,
    progress: Progress | None = None,
) -> IngestSummary:
    """Ingest a CSV/Parquet file or a database URL (read as :mod:`forecasting.loaders` reads
    it). ``progress(done, total)`` is called as lines are written. Raises
    :class:`ConfigError` / :class:`DataContractError` for an unreadable source or mapping."""
    resolved = load_mapping(mapping)
    raw, row_offset, row_unit = read_raw(source, resolved)
    name = redact(source)
    checksum = _frame_checksum(raw) if is_database_url(source) else _file_checksum(Path(source))
    report = check_frame(raw, resolved, source=name, row_offset=row_offset, row_unit=row_unit)
    return _ingest(store, raw, report, resolved, name, checksum, command, progress)


def ingest_records(
    store: OrderStore,
    records: Sequence[Mapping[str, object]],
    source: str = "api",
    mapping: ColumnMapping | str | Path | None = None,
    *,
    command: str = "api",
    progress: Progress | None = None,
) -> IngestSummary:
    """Ingest order lines given as records (field name -> value, dates as YYYY-MM-DD text);
    rejected rows are reported by record number, from 1."""
    resolved = load_mapping(mapping)
    raw = pd.DataFrame.from_records([dict(r) for r in records])
    canonical = json.dumps(list(map(dict, records)), sort_keys=True, default=str)
    checksum = hashlib.sha256(canonical.encode()).hexdigest()
    report = check_frame(raw, resolved, source=source, row_offset=1, row_unit="record")
    return _ingest(store, raw, report, resolved, source, checksum, command, progress)


def _ingest(
    store: OrderStore,
    raw: pd.DataFrame,
    report: ValidationReport,
    mapping: ColumnMapping,
    source: str,
    checksum: str,
    command: str,
    progress: Progress | None,
) -> IngestSummary:
    if command not in COMMANDS:
        raise ConfigError(f"command '{command}' is not one of {', '.join(COMMANDS)}")
    raw = raw.reset_index(drop=True)
    issues = report.issues
    bad = report.invalid_rows
    whole_table = any(i.position is None for i in issues)
    first = tuple((i.row, i.column, i.message) for i in issues[:FIRST_REJECTED])
    started = datetime.now(UTC)
    batch = {"source": source, "checksum": checksum, "command": command, "rows_read": len(raw)}
    if whole_table or (issues and mapping.invalid_rows == "error"):
        rejected = len(raw) if whole_table else len(bad)
        with store.writing() as connection:
            batch_id = _insert_batch(connection, batch, started, "refused", rejected=rejected)
            _insert_rejected(connection, batch_id, issues, raw)
        logger.warning("%s: batch %d refused: %s", source, batch_id, issues[0])
        return IngestSummary(batch_id, source, checksum, len(raw), 0, 0, 0, rejected, first, True)

    good = report.frame.drop(index=report.frame.index[bad]).reset_index(drop=True)
    rows = encode_lines(add_derived_columns(good, mapping)) if len(good) else []
    with store.writing() as connection:
        batch_id = _insert_batch(connection, batch, started, "running")
        logger.info(
            "%s: batch %d: comparing and writing %s lines", source, batch_id, f"{len(rows):,}"
        )
        counts = write_lines(connection, rows, batch_id, started, progress)
        _insert_rejected(connection, batch_id, issues, raw)
        connection.execute(
            ingest_batches.update()
            .where(ingest_batches.c.id == batch_id)
            .values(
                status="done",
                finished_at=datetime.now(UTC),
                new=counts.new,
                updated=counts.updated,
                unchanged=counts.unchanged,
                rejected=len(bad),
            )
        )
    summary = IngestSummary(
        batch_id,
        source,
        checksum,
        len(raw),
        counts.new,
        counts.updated,
        counts.unchanged,
        len(bad),
        first,
        False,
    )
    logger.debug("%s", summary.describe().splitlines()[0])
    return summary


def _insert_batch(
    connection: Connection,
    batch: dict[str, object],
    started: datetime,
    status: str,
    rejected: int = 0,
) -> int:
    values = {**batch, "started_at": started, "status": status, "rejected": rejected}
    if status == "refused":
        values["finished_at"] = datetime.now(UTC)
    return inserted_id(connection, ingest_batches.insert().values(**values))


def _insert_rejected(
    connection: Connection, batch_id: int, issues: list[ContractIssue], raw: pd.DataFrame
) -> None:
    if not issues:
        return
    positions = sorted({i.position for i in issues if i.position is not None})
    picked = raw.iloc[positions]
    raws = dict(zip(positions, _raw_rows(picked), strict=True))
    connection.execute(
        rejected_rows.insert(),
        [
            {
                "batch_id": batch_id,
                "line": issue.row,
                "column": issue.column,
                "message": issue.message,
                "raw": raws.get(issue.position) if issue.position is not None else None,
            }
            for issue in issues
        ],
    )


def _raw_rows(frame: pd.DataFrame) -> list[dict[str, object]]:
    names = [str(c) for c in frame.columns]
    values = [json_values(frame[c]) for c in frame.columns]
    return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]


def _file_checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _frame_checksum(frame: pd.DataFrame) -> str:
    text = frame.to_json(orient="records", date_format="iso") or ""
    return hashlib.sha256(text.encode()).hexdigest()
