"""Column mappings: how a user's export becomes the canonical order-line table.

A mapping is a small YAML file (see ``configs/mappings/scms.yaml`` and the README)
parsed into :class:`ColumnMapping`; :func:`apply_mapping` is pure: raw frame in,
canonical frame and the problems found out.
"""

from __future__ import annotations

import codecs
import difflib
import re
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from forecasting.contract import (
    CANONICAL_COLUMNS,
    DATE_COLUMNS,
    ID_COLUMNS,
    _as_text,
    not_a_date_message,
)
from forecasting.errors import ConfigError, ContractIssue
from forecasting.parsing import parse_dates


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


KEY_SEPARATOR = "-"
_KEY_FORMS = ("join", "number_within")
_COLUMN_FORMS = (
    "write a column name (line_id: ID), a list whose first non-missing value wins "
    "(order_date: [PO Date, Quote Date]), {join: [OrderNo, LineNo]} to join columns "
    "(SO123-4) or {number_within: OrderNo} to number the lines of each order in file order "
    "(SO123-1, SO123-2)"
)


class KeyRule(BaseModel):
    """An id column built from several source columns, for exports with no single id column.

    ``join``: the values of the columns joined with ``separator`` ("SO123" + "4" -> "SO123-4").
    ``number_within``: the values of the columns joined, then the line's number within that
    group in file order ("SO123-1", "SO123-2", ...). Exactly one of the two is set.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    join: list[str] | None = None
    number_within: list[str] | None = None
    separator: str = KEY_SEPARATOR

    @model_validator(mode="after")
    def _one_form(self) -> KeyRule:
        # A mapping file gets the fuller messages of _key_rule; this guards rules built in code.
        if (self.join is None) == (self.number_within is None):
            raise ValueError("set exactly one of join and number_within")
        if self.join is not None and len(self.join) < 2:
            raise ValueError("join needs two or more columns")
        if self.number_within is not None and not self.number_within:
            raise ValueError("number_within needs a column")
        if not self.separator:
            raise ValueError("separator must be non-empty")
        return self

    @property
    def sources(self) -> list[str]:
        return list(self.join or self.number_within or [])

    def describe(self) -> str:
        """The rule as written in YAML, for messages: ``{join: [OrderNo, LineNo]}``."""
        form = "join" if self.join else "number_within"
        names = self.sources
        shown = names[0] if form == "number_within" and len(names) == 1 else f"[{', '.join(names)}]"
        extra = "" if self.separator == KEY_SEPARATOR else f", separator: '{self.separator}'"
        return f"{{{form}: {shown}{extra}}}"


def _column_source(target: str, source: object) -> str | list[str] | KeyRule:
    """One ``columns`` entry as written in YAML -> a name, a list of names or a :class:`KeyRule`;
    raises ``ValueError`` naming the entry and the forms it may take."""
    if isinstance(source, str):
        if not source.strip():
            raise ValueError(f"{target}: the column name is empty; {_COLUMN_FORMS}")
        return source
    if isinstance(source, list):
        if not source:
            raise ValueError(f"{target}: [] names no column; {_COLUMN_FORMS}")
        return _names(target, source, "the list")
    if isinstance(source, dict):
        return _key_rule(target, source)
    raise ValueError(f"{target}: {source!r} is not a column; {_COLUMN_FORMS}")


def _names(target: str, names: list[object], where: str) -> list[str]:
    bad = [n for n in names if not isinstance(n, str) or not n.strip()]
    if bad:
        raise ValueError(
            f"{target}: {where} holds {bad!r}, not column names; write the export's column "
            f"names as text, e.g. {target}: {{join: [OrderNo, LineNo]}}"
        )
    return [str(n) for n in names]


def _key_rule(target: str, raw: dict) -> KeyRule:
    written = f"{target}: {{{', '.join(f'{key}: ...' for key in raw)}}}"
    unknown = [str(k) for k in raw if k not in (*_KEY_FORMS, "separator")]
    if unknown:
        guesses = difflib.get_close_matches(unknown[0], _KEY_FORMS, n=1)
        guess = f" (did you mean '{guesses[0]}'?)" if guesses else ""
        raise ValueError(
            f"{written}: unknown key(s) {unknown}{guess}; {_COLUMN_FORMS}, optionally with "
            f"separator: '{KEY_SEPARATOR}'"
        )
    forms = [k for k in _KEY_FORMS if k in raw]
    if len(forms) != 1:
        raise ValueError(
            f"{written}: say either join or number_within (exactly one of them); {_COLUMN_FORMS}"
        )
    form = forms[0]
    value = raw[form]
    separator = raw.get("separator", KEY_SEPARATOR)
    if not isinstance(separator, str) or not separator:
        raise ValueError(
            f"{written}: separator {separator!r} must be non-empty text such as '-' or '/' "
            "(without one, SO1 + 23 and SO12 + 3 would give the same id)"
        )
    if form == "join":
        if not isinstance(value, list) or len(value) < 2:
            raise ValueError(
                f"{target}: join needs a list of two or more columns, got {value!r}; write "
                f"{target}: {{join: [OrderNo, LineNo]}} (for one column, write "
                f"{target}: OrderNo)"
            )
        return KeyRule(join=_names(target, value, "join"), separator=separator)
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names:
        raise ValueError(
            f"{target}: number_within needs the column (or list of columns) that identifies "
            f"the order, got {value!r}; write {target}: {{number_within: OrderNo}}"
        )
    return KeyRule(number_within=_names(target, names, "number_within"), separator=separator)


class SqlSource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    table: str | None = None
    query: str | None = None


class ColumnMapping(BaseModel):
    """What a mapping file may say. Every key is optional; the empty mapping is the identity."""

    model_config = ConfigDict(extra="forbid")

    name: str = "identity"
    description: str = ""
    columns: dict[str, str | list[str] | KeyRule] = Field(default_factory=dict)
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

    @field_validator("columns", mode="before")
    @classmethod
    def _column_forms(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value  # pydantic says what a dictionary should look like
        return {target: _column_source(str(target), source) for target, source in value.items()}

    @field_validator("columns")
    @classmethod
    def _keys_build_ids(cls, value: dict) -> dict:
        for target, source in value.items():
            # Unknown targets are left to _canonical_targets, which lists the known ones.
            if isinstance(source, KeyRule) and target in set(CANONICAL_COLUMNS) - set(ID_COLUMNS):
                raise ValueError(
                    f"{target}: {source.describe()} builds a text id, and {target} is not an "
                    f"id; use join or number_within for one of {list(ID_COLUMNS)}, and map "
                    f"{target} from one column (or a list: the first non-missing wins)"
                )
        return value

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
    issues: list[ContractIssue] = []
    used: set[str] = set()
    for target, sources in mapping.columns.items():
        names = sources.sources if isinstance(sources, KeyRule) else _as_list(sources)
        absent = [n for n in names if n not in data.columns]
        if absent:
            raise ConfigError(_absent_columns_message(mapping.name, target, sources, absent, data))
        used.update(names)
        if isinstance(sources, KeyRule):
            out[target], key_issues = build_key(
                data, target, sources, row_offset=row_offset, row_unit=row_unit
            )
            issues.extend(key_issues)
            continue
        values = data[names[0]]
        for name in names[1:]:
            values = values.where(values.notna() & (values.astype("string") != ""), data[name])
        if target in DATE_COLUMNS and len(names) > 1:
            values = _first_parseable_date(data, names, mapping)
        out[target] = values
    for target in CANONICAL_COLUMNS:
        if target not in out.columns and target in data.columns:
            out[target] = data[target]
            used.add(target)
    for target, value in mapping.constants.items():
        out[target] = value

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


def build_key(
    data: pd.DataFrame,
    target: str,
    rule: KeyRule,
    *,
    row_offset: int = 2,
    row_unit: str = "line",
) -> tuple[pd.Series, list[ContractIssue]]:
    """The ``target`` id of every row of ``data`` built by ``rule``, and an issue for each row
    where a part is missing (its id is then missing too). Parts are read as text, as ids are
    (``4.0`` -> ``"4"``); ``number_within`` counts from 1 in the order of ``data``."""
    parts = pd.DataFrame({name: _as_text(data[name]) for name in rule.sources}, index=data.index)
    gaps = parts.isna()
    complete = ~gaps.any(axis=1)
    # The string dtype keeps a missing part missing through the concatenation.
    key = parts[rule.sources[0]].astype("string")
    for name in rule.sources[1:]:
        key = key + rule.separator + parts[name].astype("string")
    if rule.number_within:
        number = parts[complete].groupby(rule.sources, sort=False).cumcount() + 1
        key[complete] = key[complete] + rule.separator + number.astype("string")
    how = "joining" if rule.join else "numbering the lines within"
    issues = []
    missing = gaps.to_numpy()
    for pos in np.flatnonzero(~complete.to_numpy()):
        empty = [name for name, gap in zip(rule.sources, missing[pos], strict=True) if gap]
        issues.append(
            ContractIssue(
                row=int(pos) + row_offset,
                column=target,
                message=(
                    f"{target} is built by {how} {', '.join(rule.sources)} "
                    f"({target}: {rule.describe()}), but {', '.join(empty)} is empty here; "
                    "fill it in, every part of the id needs a value"
                ),
                unit=row_unit,
                position=int(pos),
            )
        )
    return key.astype(object).mask(key.isna(), None), issues


def _as_list(sources: str | list[str]) -> list[str]:
    return [sources] if isinstance(sources, str) else list(sources)


def _absent_columns_message(
    name: str,
    target: str,
    sources: str | list[str] | KeyRule,
    absent: list[str],
    data: pd.DataFrame,
) -> str:
    present = [str(c) for c in data.columns]
    written = f" {sources.describe()}" if isinstance(sources, KeyRule) else ""
    guesses = []
    for missing in absent:
        by_case = [c for c in present if c.strip().lower() == missing.strip().lower()]
        close = by_case or difflib.get_close_matches(missing, present, n=1, cutoff=0.6)
        if close:
            guesses.append(f"'{close[0]}' for '{missing}'")
    hint = f" Did you mean {', '.join(guesses)}?" if guesses else ""
    who = (
        "the mapping" if name == ColumnMapping.model_fields["name"].default else f"mapping '{name}'"
    )
    return (
        f"{who} maps {target}{written} from column(s) {absent} that the data "
        f"does not have.{hint} Write the names exactly as in the export's header. "
        f"Columns present: {', '.join(present)}"
    )


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
