"""What-if capacity scenarios: one typed schema, read alike from every way in.

The API's request body, a pyfunc request row's JSON and the CLI's ``--scenario`` YAML are
all read into :class:`CapacityScenario`, so a scenario means one thing wherever it comes
from: numbers are finite and bounded, dates are ISO dates (one or a list), sites are
exact names (one or a list) that the model must know.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

from forecasting.errors import ConfigError, UnknownSeriesError

EARLIEST, LATEST = date(1900, 1, 1), date(2199, 12, 31)
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DAY_PATTERN = r"^(19|20|21)\d{2}-\d{2}-\d{2}$"  # the days the schema documents


def _iso_day(value: object) -> object:
    # Only "YYYY-MM-DD" text (or a YAML date): pydantic would also read numbers as epoch
    # seconds and "2025-02-10T08:00" as a moment, neither of which names a day.
    if isinstance(value, datetime):
        raise ValueError("expected a day as YYYY-MM-DD, not a date and time")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DAY.match(value):
        return value
    raise ValueError(f"expected a date as YYYY-MM-DD, e.g. 2025-02-10, not {value!r:.40}")


def _in_range(value: date) -> date:
    # pandas holds days as datetime64[ns], which ends in 2262.
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"date outside {EARLIEST} to {LATEST}")
    return value


def _one_or_many(value: object) -> object:
    # "closures": "2025-02-10" and "sites": "SITE-1" mean a list of one, not characters.
    return value if isinstance(value, list | tuple) else [value]


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


ScenarioDay = Annotated[
    date,
    BeforeValidator(_iso_day),
    AfterValidator(_in_range),
    Field(json_schema_extra={"format": "date", "pattern": _DAY_PATTERN}),
]
# strict: JSON numbers only (not true/false, not "1.2"); finite: NaN and Infinity refused.
Finite = Annotated[float, Field(strict=True, allow_inf_nan=False)]
SiteName = Annotated[str, Field(strict=True, min_length=1, max_length=200)]
MAX_DAYS = 3660  # ten years of dated entries is more than any outlook serves
# One ISO date or a list of them, each once.
ScenarioDays = Annotated[
    list[ScenarioDay],
    BeforeValidator(_one_or_many),
    AfterValidator(_unique),
    Field(max_length=MAX_DAYS),
]


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WEEKDAY_NAMES = {
    **{name.lower(): name for name in WEEKDAYS},
    **{
        full: short
        for full, short in zip(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
            WEEKDAYS,
            strict=True,
        )
    },
}


def _weekday(value: object) -> object:
    # "Sat", "sat" or "Saturday"; not 5 (is Monday 0 or 1?) nor "Sa".
    if isinstance(value, str) and value.strip().lower() in _WEEKDAY_NAMES:
        return _WEEKDAY_NAMES[value.strip().lower()]
    raise ValueError(f"expected a weekday, one of {', '.join(WEEKDAYS)}, not {value!r:.40}")


Weekday = Annotated[
    str, BeforeValidator(_weekday), Field(json_schema_extra={"enum": list(WEEKDAYS)})
]


def _dated_units_schema(schema: dict[str, Any]) -> None:
    # pydantic files the values under the key pattern (patternProperties), which leaves
    # other keys unconstrained in JSON Schema; say instead: every key a day, every value units.
    values = next(iter(schema.pop("patternProperties", {}).values()), {"type": "number"})
    schema["propertyNames"] = {"format": "date", "pattern": _DAY_PATTERN}
    schema["additionalProperties"] = values


class ExtraShift(BaseModel):
    """An extra shift: ``hours`` of work at ``units_per_hour`` on chosen weekdays and/or
    dates (neither: every open day), adding ``hours * units_per_hour`` to each such day's
    capacity (also on a day the site is otherwise closed: a Saturday shift opens the
    Saturday)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {"hours": 8, "units_per_hour": 60, "weekdays": ["Sat"]},
                {"hours": 4, "units_per_hour": 50, "dates": ["2025-02-12", "2025-02-13"]},
            ]
        },
    )
    hours: Annotated[Finite, Field(gt=0, le=24)] = Field(
        description="Hours the shift works on each of its days, more than 0 and at most 24."
    )
    units_per_hour: Annotated[Finite, Field(gt=0, le=1e7)] = Field(
        description="Work the shift handles per hour, in the model's measure (units, lines "
        "or orders per hour)."
    )
    weekdays: Annotated[
        list[Weekday], BeforeValidator(_one_or_many), AfterValidator(_unique), Field(max_length=7)
    ] = Field(
        default_factory=list,
        description='Weekdays the shift works every week of the outlook: "Mon" .. "Sun" (or '
        "the full name), one or a list.",
    )
    dates: ScenarioDays = Field(
        default_factory=list,
        description='Days the shift works: one ISO date ("2025-02-15") or a list of them.',
    )

    @property
    def units(self) -> float:
        """Capacity the shift adds on each of its days: hours * units_per_hour."""
        return self.hours * self.units_per_hour

    def works_on(self, days: pd.DatetimeIndex, open_days: np.ndarray) -> np.ndarray:
        """Whether the shift works on each of ``days`` (a boolean array); with neither
        weekdays nor dates, on the ``open_days`` (a boolean array over ``days``)."""
        if not self.weekdays and not self.dates:
            return np.asarray(open_days, dtype=bool)
        on_weekday = np.isin(days.dayofweek, [WEEKDAYS.index(d) for d in self.weekdays])
        on_date = days.isin(pd.DatetimeIndex([pd.Timestamp(d) for d in self.dates]))
        return np.asarray(on_weekday | on_date, dtype=bool)


Units = Annotated[Finite, Field(ge=-1e9, le=1e9)]
DatedUnits = Annotated[
    dict[ScenarioDay, Units], Field(max_length=MAX_DAYS, json_schema_extra=_dated_units_schema)
]
_UNITS, _DATED = TypeAdapter(Units), TypeAdapter(DatedUnits)


def _number_or_dated(value: object, _: ValidatorFunctionWrapHandler) -> float | dict[date, float]:
    # Dispatch on the JSON type, so an error names the field's own path (extra_units.<day>)
    # rather than the union's member types.
    if isinstance(value, Mapping):
        return _DATED.validate_python(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _UNITS.validate_python(value)
    raise ValueError(
        'expected units by ISO date, e.g. {"2025-02-12": 500}, or a number of units for '
        f"every open day, e.g. 500; not {value!r:.40}"
    )


def _one_shift_or_many(value: object) -> object:
    # One shift (a mapping) means a list of one.
    return [value] if isinstance(value, Mapping) else value


class CapacityScenario(BaseModel):
    """A what-if change to the planned capacity of the outlook's days.

    Capacity is first scaled (``capacity_factor`` or ``capacity_change_pct``, and
    ``overtime_pct`` on open days), then the ``extra_units`` are added (on their days, or
    on every open day for a plain number), then each ``extra_shift``'s hours x units per
    hour on its weekdays and dates, then the ``closures`` set to zero; only at ``sites``
    when given (default: every site forecast). An *open day* is one with planned capacity
    above zero. Days outside the outlook are left alone. Capacity is in the model's measure
    (units, lines or orders) per day.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {"capacity_factor": 1.2},
                {"capacity_change_pct": -25, "sites": "SITE-2"},
                {"closures": "2025-02-10", "sites": ["SITE-1", "SITE-2"]},
                {
                    "closures": ["2025-02-10", "2025-02-11"],
                    "extra_units": {"2025-02-12": 500},
                    "sites": ["SITE-1"],
                },
                {"extra_shift": {"hours": 8, "units_per_hour": 60, "weekdays": ["Sat"]}},
                {"overtime_pct": 10, "extra_units": 200, "sites": "SITE-1"},
            ]
        },
    )
    capacity_factor: Annotated[Finite, Field(ge=0, le=10)] | None = Field(
        None,
        description="Multiply every day's capacity: 1.2 is a fifth more, 0.5 half, 0 closed. "
        "From 0 to 10; give this or capacity_change_pct, not both.",
        examples=[1.2],
    )
    capacity_change_pct: Annotated[Finite, Field(ge=-100, le=900)] | None = Field(
        None,
        description="Change every day's capacity by this percentage: -25 is a quarter less, "
        "50 half as much again. From -100 (closed) to 900; give this or capacity_factor.",
        examples=[-25],
    )
    overtime_pct: Annotated[Finite, Field(ge=0, le=100)] | None = Field(
        None,
        description="Overtime on every open day (planned capacity above zero), as a "
        "percentage of that day's capacity: 10 is a tenth more. From 0 to 100; applied on "
        "top of capacity_factor or capacity_change_pct.",
        examples=[10],
    )
    extra_units: Annotated[Units | DatedUnits, WrapValidator(_number_or_dated)] = Field(
        default_factory=dict,
        description="Capacity added (negative: taken away) by ISO date, e.g. "
        '{"2025-02-12": 500}; or a plain number, e.g. 500: that much on every open day of '
        "the outlook (a day with planned capacity above zero). A day may not end below zero.",
        examples=[{"2025-02-12": 500}, 200],
    )
    extra_shift: Annotated[
        list[ExtraShift], BeforeValidator(_one_shift_or_many), Field(max_length=20)
    ] = Field(
        default_factory=list,
        description="Extra shifts: hours x units_per_hour added on their weekdays and/or "
        'dates (neither: every open day), e.g. {"hours": 8, "units_per_hour": 60, '
        '"weekdays": ["Sat"]}; one shift or a list of them.',
    )
    closures: ScenarioDays = Field(
        default_factory=list,
        description='Days with no capacity: one ISO date ("2025-02-10") or a list of them.',
    )
    sites: (
        Annotated[
            list[SiteName],
            BeforeValidator(_one_or_many),
            AfterValidator(_unique),
            Field(min_length=1, max_length=500),
        ]
        | None
    ) = Field(
        None,
        description="Apply the scenario only at these sites: one exact site name or a list; "
        "each must be a site the model knows and one the request forecasts. Default: every "
        "site forecast.",
    )

    @property
    def factor(self) -> float:
        """What every day's capacity is multiplied by (1.0: unchanged).

        Raises :class:`ConfigError` when both capacity_factor and capacity_change_pct are
        given. Checked here, where the two meet, rather than by the schema: JSON Schema
        cannot say "not both" in a way request generators and clients honour.
        """
        if self.capacity_factor is not None and self.capacity_change_pct is not None:
            raise ConfigError(
                "scenario: give capacity_factor or capacity_change_pct, not both "
                "(a factor of 1.2 is a change of 20%)"
            )
        if self.capacity_factor is not None:
            return self.capacity_factor
        if self.capacity_change_pct is not None:
            return 1 + self.capacity_change_pct / 100
        return 1.0

    def extra_on(self, days: pd.DatetimeIndex, open_days: np.ndarray) -> np.ndarray:
        """Capacity the scenario adds on each of ``days`` (``open_days``: which have planned
        capacity above zero): the extra units, then the extra shifts."""
        extra = np.zeros(len(days))
        if isinstance(self.extra_units, dict):
            for day, units in self.extra_units.items():
                extra[days == pd.Timestamp(day)] += units
        else:
            extra[open_days] += self.extra_units
        for shift in self.extra_shift:
            extra[shift.works_on(days, open_days)] += shift.units
        return extra

    def applies_to(self, site: str) -> bool:
        """Whether the scenario changes ``site`` (an exact name match)."""
        return self.sites is None or site in self.sites

    def as_mapping(self) -> dict[str, Any]:
        """The fields given, as JSON-able values (ISO dates, lists): what a capacity core's
        ``predict`` receives as its ``scenario``."""
        return self.model_dump(mode="json", exclude_defaults=True)


def parse_scenario(
    scenario: Mapping[str, Any] | CapacityScenario | None, source: str | None = None
) -> CapacityScenario | None:
    """``scenario`` checked against :class:`CapacityScenario` (None or empty: no scenario);
    ``source`` (e.g. the file it came from) starts any error message.

    Raises :class:`ConfigError` naming each bad field (``scenario.capacity_change_pct:
    Input should be a finite number``) and the fields there are.
    """
    if scenario is None or isinstance(scenario, CapacityScenario):
        return scenario
    head = f"{source}: " if source else ""
    fields = ", ".join(CapacityScenario.model_fields)
    if not isinstance(scenario, Mapping):
        raise ConfigError(
            f"{head}a scenario is a mapping of its fields ({fields}), e.g. "
            f"{{'capacity_factor': 1.2}}, not a {type(scenario).__name__}"
        )
    if not scenario:
        return None
    try:
        return CapacityScenario.model_validate(dict(scenario))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(['scenario', *map(str, error['loc'])])}: {error['msg']}"
            for error in exc.errors()[:20]
        )
        raise ConfigError(f"{head}invalid scenario: {problems} (its fields: {fields})") from exc


def check_scenario(
    scenario: CapacityScenario | None, known: Sequence[str], asked: Sequence[str] | None
) -> None:
    """Refuse a scenario that scales capacity two ways (:class:`ConfigError`), or names a
    site the model does not know (:class:`UnknownSeriesError`) or one the request does not
    forecast (:class:`ConfigError`): either would leave the outlook silently unchanged.
    ``asked`` None means every site is forecast."""
    if scenario is None:
        return
    scenario.factor  # noqa: B018  # raises for capacity_factor with capacity_change_pct
    if scenario.sites is None:
        return
    unknown = [site for site in scenario.sites if site not in known]
    if unknown:
        names = ", ".join(f"'{site}'" for site in unknown)
        raise UnknownSeriesError(
            f"unknown site {names} in scenario.sites (names must match exactly); "
            f"the model's sites: {', '.join(known)}"
        )
    if asked is not None:
        missing = [site for site in scenario.sites if site not in asked]
        if missing:
            raise ConfigError(
                f"scenario.sites names {', '.join(missing)}, which the request does not "
                f"forecast ({', '.join(asked)}): add it to sites or leave it out of the scenario"
            )


def apply_scenario(
    capacity: np.ndarray,
    days: pd.DatetimeIndex,
    site: str,
    scenario: Mapping[str, Any] | CapacityScenario | None,
) -> np.ndarray:
    """``site``'s capacity on ``days`` under ``scenario`` (a copy; unchanged when the
    scenario is None or leaves the site out).

    Raises :class:`ConfigError` for an invalid scenario, or one that leaves a day below
    zero (naming the site and the day).
    """
    parsed = parse_scenario(scenario)
    if parsed is None or not parsed.applies_to(site):
        return capacity
    open_days = np.asarray(capacity, dtype=float) > 0
    out = capacity.astype(float) * parsed.factor
    if parsed.overtime_pct:
        out[open_days] *= 1 + parsed.overtime_pct / 100
    out += parsed.extra_on(days, open_days)
    for day in parsed.closures:
        out[days == pd.Timestamp(day)] = 0.0
    negative = np.flatnonzero(out < 0)
    if negative.size:
        first = negative[0]
        raise ConfigError(
            f"the scenario's extra_units leave {site} with {out[first]:g} capacity on "
            f"{days[first]:%Y-%m-%d}: take away no more than the day has"
        )
    return out
