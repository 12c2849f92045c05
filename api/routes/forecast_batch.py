"""Demand forecasts for many series in one call: ``POST /v1/forecasts/demand/batch``.

Each series is answered by the single endpoint's own function (``demand_body``), so a
batch gives, series by series, exactly the body ``POST /v1/forecasts/demand`` gives; the
batch body splices those bodies together, and the CSV form reads them back into rows.
Batch answers are not put in the response cache: one can be megabytes, and the cache
bounds entries, not bytes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol, runtime_checkable

from fastapi import APIRouter, Header, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.deps import AdjustmentsDep, DemandModel, ReadRole
from api.routes.forecasts import (
    ERRORS,
    DemandRequest,
    DemandResponse,
    Key,
    Real,
    Whole,
    demand_body,
)
from forecasting.cores import DemandCore
from forecasting.errors import ConfigError, UnknownSeriesError
from forecasting.quantiles import quantile_column
from forecasting.series import KEY_SEPARATOR, TOTAL_ID, level_name

router = APIRouter(prefix="/v1/forecasts", tags=["forecasts"])

MAX_BATCH_SERIES = 1_000
# Series x periods: 1,000 series of two years' weeks, and the body stays tens of megabytes.
MAX_BATCH_POINTS = 150_000
KEY_FIELDS = ("sku", "site", "channel")
LevelName = Annotated[str, Field(min_length=1, max_length=100)]


class SeriesKeys(BaseModel):
    """One series, named as the single demand endpoint names it."""

    model_config = ConfigDict(extra="forbid")
    sku: Key | None = Field(None, description="SKU; omit for site or total roll-ups")
    site: Key | None = Field(None, description="Fulfilling site")
    channel: Key | None = Field(None, description="Channel, when the model has it")
    level: LevelName | None = Field(None, description="Roll-up level by name, e.g. 'total'")


class SeriesSelector(BaseModel):
    """Every series of one level whose keys match the values given."""

    model_config = ConfigDict(extra="forbid")
    level: LevelName | None = Field(
        None,
        description="Level to list, e.g. 'sku,site' or 'sku'; default: the most detailed "
        "level keyed by every key given (so {'site': 'SITE-1'} lists that site's SKUs "
        "at 'sku,site')",
    )
    sku: Key | None = Field(None, description="Only series of this SKU")
    site: Key | None = Field(None, description="Only series of this site")
    channel: Key | None = Field(None, description="Only series of this channel")


class DemandBatchRequest(BaseModel):
    """Many series (``series``, or ``select`` to list them), one horizon and quantile levels."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"select": {"site": "SITE-1"}, "horizon": 8, "quantiles": [0.1, 0.5, 0.9]},
                {
                    "series": [
                        {"sku": "SKU-00001", "site": "SITE-1"},
                        {"sku": "SKU-00002", "site": "SITE-1"},
                        {"level": "total"},
                    ],
                    "horizon": 4,
                },
                {"select": {"level": "site"}, "horizon": 13},
            ]
        },
    )
    series: list[SeriesKeys] | None = Field(
        None,
        min_length=1,
        max_length=MAX_BATCH_SERIES,
        description=f"Series by keys, as the single endpoint takes them (at most "
        f"{MAX_BATCH_SERIES:,}; a series named twice is answered once). Give this or `select`.",
    )
    select: SeriesSelector | None = Field(
        None,
        description=f"Every series of a level matching some keys (at most "
        f"{MAX_BATCH_SERIES:,} may match). Give this or `series`.",
    )
    # As DemandRequest declares them; each series is then asked through DemandRequest itself.
    horizon: Whole = Field(ge=1, le=520, description="Periods ahead, for every series")
    quantiles: list[Annotated[Real, Field(gt=0, lt=1)]] = Field(
        default=[0.1, 0.5, 0.9],
        min_length=1,
        max_length=19,
        description="Quantile levels, each strictly between 0 and 1, for every series",
    )


class MissingSeries(BaseModel):
    series: dict[str, str] = Field(description="The series as asked for")
    message: str = Field(description="Why there is no forecast, e.g. the unknown SKU")


class DemandBatchResponse(BaseModel):
    model_version: str = Field(description="Registry version of ordercast-demand that answered")
    count: int = Field(description="Number of series forecast")
    forecasts: list[DemandResponse] = Field(
        description="One entry per series found, in the order asked (or listed), each the "
        "body POST /v1/forecasts/demand gives for it"
    )
    missing: list[MissingSeries] = Field(
        description="Series asked for by keys that the model does not know (the call is "
        "404 only when none is known)"
    )


CSV_DESCRIPTION = (
    "With `?format=csv` or `Accept: text/csv`: one row per series and period, columns "
    "`series_id, level, sku, site, channel, ds, model, fallback, alive, mean`, a column per "
    "quantile (`q10`, `q50`, `q90` ...), then `statistical` (before planners' adjustments) and "
    "`adjustments` (their ids, space-separated); key columns a roll-up lacks are empty. Header "
    "`X-Model-Version` names the version, `X-Missing-Series` counts series not found."
)


@router.post(
    "/demand/batch",
    response_model=DemandBatchResponse,
    summary="Demand forecasts with intervals for many series (JSON or CSV)",
    description="Name up to "
    f"{MAX_BATCH_SERIES:,} series in `series` (each as in POST /v1/forecasts/demand) or "
    'select them, e.g. `{"select": {"site": "SITE-1"}}` for every SKU of SITE-1 at the '
    '\'sku,site\' level, or `{"select": {"level": "sku"}}`; one horizon and quantile '
    "levels for all. Each series gets the numbers the single endpoint gives. Series asked "
    "for by keys that the model lacks are listed in `missing`; 404 when none is found "
    f"(or a selector matches none). Over {MAX_BATCH_SERIES:,} series, or over "
    f"{MAX_BATCH_POINTS:,} series x horizon points, is 422 with the limit in the message. "
    + CSV_DESCRIPTION,
    responses={
        **ERRORS,
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "Forecasts (JSON, or CSV on request)",
        },
    },
)
def demand_batch(
    request: DemandBatchRequest,
    _: ReadRole,
    loaded: DemandModel,
    adjustments: AdjustmentsDep,
    format_: Literal["json", "csv"] | None = Query(
        None,
        alias="format",
        description="'csv' for CSV rows; default JSON unless Accept asks for text/csv",
    ),
    accept: str | None = Header(None, include_in_schema=False),
) -> Response:
    # A plain def: a thousand series is a second of work, kept off the event loop.
    asked = _series_asked(loaded.core, request)
    if len(asked) * request.horizon > MAX_BATCH_POINTS:
        raise ConfigError(
            f"{len(asked):,} series x horizon {request.horizon} = "
            f"{len(asked) * request.horizon:,} points; the limit is {MAX_BATCH_POINTS:,} per "
            "call: ask for fewer series or a shorter horizon"
        )
    found: list[bytes] = []
    missing: list[dict[str, Any]] = []
    adjusted = adjustments.current(loaded)  # one view of the adjustments for the whole call
    for position, keys in enumerate(asked):
        try:
            single = _single_request(keys, request, position)
            found.append(demand_body(loaded, single, adjusted))
        except UnknownSeriesError as exc:
            missing.append({"series": keys.named(), "message": str(exc)})
    if not found:
        first = missing[0]["message"] if missing else "nothing asked"
        raise UnknownSeriesError(
            f"none of the {len(asked):,} series asked for is known to the demand model "
            f"(first: {first})"
        )
    headers = {"X-Model-Version": loaded.version, "X-Missing-Series": str(len(missing))}
    if wants_csv(format_, accept):
        return Response(csv_rows(found), media_type="text/csv", headers=headers)
    body = b"".join(
        (
            b'{"model_version":',
            json.dumps(loaded.version).encode(),
            b',"count":',
            str(len(found)).encode(),
            b',"forecasts":[',
            b",".join(found),
            b'],"missing":',
            json.dumps(missing, separators=(",", ":")).encode(),
            b"}",
        )
    )
    return Response(body, media_type="application/json", headers=headers)


# ------------------------------------------------------------------ which series


@dataclass(frozen=True)
class Asked:
    """One series to answer: the single endpoint's selection fields."""

    sku: str | None = None
    site: str | None = None
    channel: str | None = None
    level: str | None = None

    def named(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v is not None}


@runtime_checkable
class ListsSeries(Protocol):
    """A demand core that can list its series (the serving model: level -> id -> path)."""

    levels: Sequence[Sequence[str]]
    paths: Mapping[str, Mapping[str, Any]]


def _series_asked(core: DemandCore, request: DemandBatchRequest) -> list[Asked]:
    if (request.series is None) == (request.select is None):
        raise ConfigError(
            "give either `series` (a list of series by keys) or `select` (e.g. "
            '{"site": "SITE-1"}), not both and not neither'
        )
    if request.series is not None:
        asked = (Asked(s.sku, s.site, s.channel, s.level) for s in request.series)
        return list(dict.fromkeys(asked))  # a series named twice is answered once
    assert request.select is not None
    found = list(selected(core, request.select))
    if not found:
        raise UnknownSeriesError(f"no series matches the selector {_shown(request.select)}")
    if len(found) > MAX_BATCH_SERIES:
        raise ConfigError(
            f"the selector {_shown(request.select)} matches {len(found):,} series; the limit "
            f"is {MAX_BATCH_SERIES:,} per call: narrow it (e.g. by site) or name the series"
        )
    return found


def selected(core: DemandCore, select: SeriesSelector) -> Iterator[Asked]:
    """The series of the selector's level whose keys match its values, in model order."""
    if not isinstance(core, ListsSeries):
        raise ConfigError("this demand model cannot list its series: name them in `series` instead")
    given = {k: getattr(select, k) for k in KEY_FIELDS if getattr(select, k) is not None}
    keys = _level_keys(core, select.level, given)
    name = level_name(keys)
    for series_id in core.paths.get(name, {}):
        parts = [TOTAL_ID] if not keys else str(series_id).split(KEY_SEPARATOR)
        values = dict(zip(keys, parts, strict=False))
        if len(parts) != max(len(keys), 1) or any(values.get(k) != v for k, v in given.items()):
            continue
        if keys:
            yield Asked(**values)
        else:
            yield Asked(level=name)


def _level_keys(core: ListsSeries, level: str | None, given: Mapping[str, str]) -> tuple[str, ...]:
    if level is not None:  # the model's own look-up: its errors, as the single endpoint's
        assert isinstance(core, DemandCore)
        _, found = core.level_for(None, None, None, level)
        keys = tuple(found)
        absent = [k for k in given if k not in keys]
        if absent:
            raise ConfigError(
                f"level '{level}' is keyed by {', '.join(keys) or 'nothing'}; drop "
                f"{', '.join(absent)} from the selector or choose a level that has it"
            )
        return keys
    # The most detailed level holding every key given: the site's SKUs, not the site total.
    levels = [tuple(keys) for keys in core.levels]
    fits = [keys for keys in levels if set(given) <= set(keys)]
    if not fits:
        known = ", ".join(f"'{level_name(k)}'" for k in levels)
        raise ConfigError(
            f"no level of this demand model is keyed by {', '.join(given)}: its levels are "
            f"{known}; drop {', '.join(given)} from the selector"
        )
    return max(fits, key=len)


def _shown(select: SeriesSelector) -> str:
    return json.dumps(select.model_dump(exclude_none=True))


def _single_request(keys: Asked, request: DemandBatchRequest, position: int) -> DemandRequest:
    """The single endpoint's request for one series of the batch."""
    fields = {**keys.named(), "horizon": request.horizon, "quantiles": request.quantiles}
    try:
        return DemandRequest.model_validate(fields)
    except ValidationError as exc:
        # Reported at the series' place in the batch, as the body's own validation would.
        where = ("body", "series", position) if request.series is not None else ("body",)
        raise RequestValidationError(
            [{**error, "loc": (*where, *error["loc"])} for error in exc.errors()]
        ) from exc


# ------------------------------------------------------------------------- CSV


def wants_csv(format_: str | None, accept: str | None) -> bool:
    """``?format=`` decides; without it, an Accept header naming text/csv does."""
    if format_ is not None:
        return format_ == "csv"
    return accept is not None and "text/csv" in accept.lower()


def csv_rows(bodies: Sequence[bytes]) -> bytes:
    """The single-endpoint bodies as CSV: one row per series and period."""
    answers = [json.loads(body) for body in bodies]
    labels = list(answers[0]["points"][0]["quantiles"]) if answers[0]["points"] else []
    header = [
        "series_id",
        "level",
        *KEY_FIELDS,
        "ds",
        "model",
        "fallback",
        "alive",
        "mean",
        *(quantile_column(float(label)) for label in labels),
        "statistical",
        "adjustments",
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for answer in answers:
        keys = [answer["keys"].get(k, "") for k in KEY_FIELDS]
        for point in answer["points"]:
            writer.writerow(
                [
                    answer["series_id"],
                    answer["level"],
                    *keys,
                    point["ds"],
                    answer["model"],
                    answer.get("fallback") or "",
                    "" if answer.get("alive") is None else repr(answer["alive"]),
                    repr(point["mean"]),
                    *(repr(point["quantiles"][label]) for label in labels),
                    repr(point["statistical"]),
                    " ".join(point["adjustments"]),
                ]
            )
    return out.getvalue().encode()
