"""Column mappings: how a user's export becomes the canonical order-line table.

A mapping is a small YAML file (see ``configs/mappings/scms.yaml`` and the README)
parsed into :class:`ColumnMapping`; :func:`apply_mapping` is pure: raw frame in,
canonical frame and the problems found out.
"""

from __future__ import annotations

import codecs
import re
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from forecasting.contract import (
    CANONICAL_COLUMNS,
    DATE_COLUMNS,
    not_a_date_message,
    parse_dates,
)
from forecasting.errors import ConfigError, ContractIssue


class DateFallback(BaseModel):
    """Fill a missing date from another canonical date plus an offset in days."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_column: str = Field(alias="from")
    days: int = 0


class DerivedColumn(BaseModel):
    """A column computed after mapping.

    ``late``: delivered after promised + ``tolerance_days`` (missing while undelivered);
    ``days_between``: whole days from ``start`` to ``end``.
    """

    model_config = ConfigDict(extra="forbid")
    kind: Literal["late", "days_between"]
    tolerance_days: int = 0
    start: str | None = None
    end: str | None = None


class SqlSource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    table: str | None = None
    query: str | None = None


class ColumnMapping(BaseModel):
    """What a mapping file may say. Every key is optional; the empty mapping is the identity."""

    model_config = ConfigDict(extra="forbid")

    name: str = "identity"
    description: str = ""
    columns: dict[str, str | list[str]] = Field(default_factory=dict)
    date_formats: list[str] = Field(default_factory=list)
    missing_values: list[str] = Field(default_factory=list)
    date_range: dict[Literal["min", "max"], date] = Field(default_factory=dict)
    constants: dict[str, str | int | float] = Field(default_factory=dict)
    fallbacks: dict[str, DateFallback] = Field(default_factory=dict)
    derived: dict[str, DerivedColumn] = Field(default_factory=dict)
    numeric_attributes: list[str] = Field(default_factory=list)
    attribute_names: Literal["keep", "snake_case"] = "keep"
    invalid_rows: Literal["error", "drop"] = "error"
    sql: SqlSource = Field(default_factory=SqlSource)
    # Text encoding of a CSV export (``latin-1``, ``cp1252``, ``utf-16`` ...); UTF-8 when unset.
    encoding: str | None = None

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return codecs.lookup(value).name
        except LookupError as exc:
            raise ValueError(
                f"unknown encoding '{value}'; use a Python codec name such as utf-8, "
                "latin-1, cp1252 or utf-16"
            ) from exc

    @field_validator("columns", "constants")
    @classmethod
    def _canonical_targets(cls, value: dict) -> dict:
        unknown = sorted(set(value) - set(CANONICAL_COLUMNS))
        if unknown:
            raise ValueError(
                f"unknown canonical column(s) {unknown}; map to one of {list(CANONICAL_COLUMNS)}"
            )
        return value

    @field_validator("fallbacks")
    @classmethod
    def _date_fallbacks(cls, value: dict[str, DateFallback]) -> dict[str, DateFallback]:
        for target, rule in value.items():
            if target not in DATE_COLUMNS or rule.from_column not in DATE_COLUMNS:
                raise ValueError(
                    f"fallback {target} <- {rule.from_column}: both must be date columns "
                    f"({', '.join(DATE_COLUMNS)})"
                )
        return value

    @classmethod
    def from_dict(cls, raw: object, *, source: str = "mapping") -> ColumnMapping:
        """Parse a loaded YAML document, raising :class:`ConfigError` naming each bad field."""
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: a mapping file must be a YAML dictionary")
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(f"{source}: invalid mapping: {problems}") from exc


def snake_case(name: str) -> str:
    """'Weight (Kilograms)' -> 'weight_kilograms', 'PO / SO #' -> 'po_so'."""
    text = re.sub(r"[^0-9a-zA-Z]+", "_", str(name)).strip("_").lower()
    return text or "column"


def apply_mapping(
    raw: pd.DataFrame,
    mapping: ColumnMapping,
    *,
    row_offset: int = 2,
    row_unit: str = "line",
) -> tuple[pd.DataFrame, list[ContractIssue]]:
    """Rename, parse and complete a raw export; returns the mapped frame and problems found.

    Canonical date columns come back parsed (unparseable values are reported, with the
    row and the raw text). Columns not used by the mapping are kept as attributes.
    Does not modify ``raw``.
    """
    missing_tokens = set(mapping.missing_values)
    data = raw.copy()
    if missing_tokens:
        data = data.mask(data.isin(missing_tokens))

    out = pd.DataFrame(index=data.index)
    used: set[str] = set()
    for target, sources in mapping.columns.items():
        names = [sources] if isinstance(sources, str) else list(sources)
        absent = [n for n in names if n not in data.columns]
        if absent:
            present = ", ".join(map(str, data.columns))
            raise ConfigError(
                f"mapping '{mapping.name}' maps {target} from column(s) {absent} that the data "
                f"does not have. Columns present: {present}"
            )
        values = data[names[0]]
        for name in names[1:]:
            values = values.where(values.notna() & (values.astype("string") != ""), data[name])
        if target in DATE_COLUMNS and len(names) > 1:
            values = _first_parseable_date(data, names, mapping)
        out[target] = values
        used.update(names)
    for target in CANONICAL_COLUMNS:
        if target not in out.columns and target in data.columns:
            out[target] = data[target]
            used.add(target)
    for target, value in mapping.constants.items():
        out[target] = value

    issues: list[ContractIssue] = []
    for column in DATE_COLUMNS:
        if column not in out.columns:
            continue
        parsed, bad = parse_dates(out[column], tuple(mapping.date_formats))
        issues.extend(
            ContractIssue(
                row=pos + row_offset,
                column=column,
                message=not_a_date_message(text, tuple(mapping.date_formats)),
                unit=row_unit,
                position=pos,
            )
            for pos, text in bad
        )
        if mapping.date_range:
            low = pd.Timestamp(mapping.date_range.get("min", date.min))
            high = pd.Timestamp(mapping.date_range.get("max", date(2262, 1, 1)))
            parsed = parsed.where((parsed >= low) & (parsed <= high))
        out[column] = parsed
    for target, rule in mapping.fallbacks.items():
        source = out.get(rule.from_column)
        if source is None:
            continue
        current = out.get(target, pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]"))
        filled = current.isna() & source.notna()
        out[target] = current.where(~filled, source + pd.Timedelta(days=rule.days))
        out[f"{target}_imputed"] = filled

    for name in data.columns:
        if name in used or name in out.columns:
            continue
        attribute = snake_case(name) if mapping.attribute_names == "snake_case" else str(name)
        if attribute in out.columns:
            attribute = f"{attribute}_raw"
        out[attribute] = data[name]
    for name in mapping.numeric_attributes:
        if name in out.columns:
            out[name] = pd.to_numeric(out[name], errors="coerce")
    return out.reset_index(drop=True), issues


def add_derived_columns(frame: pd.DataFrame, mapping: ColumnMapping) -> pd.DataFrame:
    """Add the mapping's derived columns to a validated canonical frame (returns a copy)."""
    out = frame.copy()
    for name, rule in mapping.derived.items():
        if rule.kind == "late":
            due = out["promised_date"] + pd.Timedelta(days=rule.tolerance_days)
            late = (out["delivered_date"] > due).astype("boolean")
            out[name] = late.mask(out["delivered_date"].isna())
        else:
            start, end = rule.start or "order_date", rule.end or "promised_date"
            for column in (start, end):
                if column not in out.columns:
                    raise ConfigError(f"derived column {name}: no column '{column}' in the data")
            out[name] = (out[end] - out[start]).dt.days.astype("Float64")
    return out


def _first_parseable_date(
    data: pd.DataFrame, names: list[str], mapping: ColumnMapping
) -> pd.Series:
    """For a date fed by several source columns, the first that parses (and is in range) wins."""
    result = pd.Series(pd.NaT, index=data.index, dtype="datetime64[ns]")
    first_text = pd.Series(np.nan, index=data.index, dtype=object)
    for name in names:
        parsed, _ = parse_dates(data[name], tuple(mapping.date_formats))
        if mapping.date_range:
            low = pd.Timestamp(mapping.date_range.get("min", date.min))
            high = pd.Timestamp(mapping.date_range.get("max", date(2262, 1, 1)))
            parsed = parsed.where((parsed >= low) & (parsed <= high))
        result = result.fillna(parsed)
        first_text = first_text.where(first_text.notna(), data[name])
    # Where none parsed, keep the first raw text so the caller reports it.
    return result.astype(object).where(result.notna(), first_text)
