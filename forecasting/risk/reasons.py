"""Reasons a line is at risk, in words a planner reads.

Attribution by occlusion, one *factor* at a time: a factor is one feature, or one
group's whole track record (its late rate over 365 and 90 days and all history, and its
volume, which carry the same information and would share the credit if occluded one by
one). The line's calibrated probability is recomputed with the factor set to its typical
value (training median, or most common category); the rise in risk the real value causes
is the factor's contribution. The three largest positive contributions become
``reason_1..3``, each stating a value and, for a track record, whose it is and the window
furthest above its typical rate (e.g. "shipment mode Truck late on 29% of lines in the
last year"). Features no tree splits on are skipped: they cannot move p_late.
Vectorised: one prediction for all occluded copies of the whole batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # the model imports this module to explain its scores
    from forecasting.risk.model import AtRiskModel

# How to say a feature and its value; {v} is the line's value, {s} a plural's "s".
PHRASES: dict[str, str] = {
    "site_backlog_days": "site's open work is {v:.1f} days of its recent shipping",
    "site_overdue_lines": "{v:,.0f} overdue line{s} open at the site",
    "site_open_units": "{v:,.0f} units open at the site",
    "site_utilization": "site receiving {v:.0%} of its capacity",
    "site_backlog_days_at_promise": "site projected to have {v:.1f} days of work queued "
    "on the promised date",
    "quantity": "quantity {v:,.0f}",
}
# Flags (0/1) of our own data: the demo generator's promotion, the SCMS mapping's imputed
# order date. How to say each value (a bare "promotion 1" does not read as words).
FLAG_PHRASES: dict[str, tuple[str, str]] = {
    "promotion": ("not on promotion", "on promotion"),
    "order_date_imputed": (
        "order date recorded",
        "order date not recorded (the export's estimate)",
    ),
}
RECORD_NAMES = {
    "vendor": "vendor",
    "site": "site",
    "lane": "lane (site x region)",
    "mode": "shipment mode",
    "route": "route (site x shipment mode)",
    "carrier": "carrier",
    "customer": "customer",
    "product": "product group",
}
MIN_CONTRIBUTION = 0.005
# Said when no factor moves p_late by MIN_CONTRIBUTION: the line is as risky as its
# factors together make it, none of them on its own.
NOTHING_STANDS_OUT = "no single factor stands out: each moves the risk by less than half a point"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# Track-record features: suffix -> how to say the record ({who} the group, {v} the value).
RECORD_PHRASES = {
    "_late_rate_90d": "{who} late on {v:.0%} of lines in the last 90 days",
    "_late_rate_all": "{who} late on {v:.0%} of all its lines so far",
    "_late_rate": "{who} late on {v:.0%} of lines in the last year",
    "_lines_365d": "{who} delivered {v:,.0f} lines in the last year",
}


def record_of(feature: str) -> tuple[str, str] | None:
    """(group name, phrase template) of a track-record feature, None for any other."""
    for suffix, template in RECORD_PHRASES.items():
        if feature.endswith(suffix):
            return feature.removesuffix(suffix), template
    return None


def phrase(feature: str, value: Any, group_value: str | None = None) -> str:
    """One reason in words; ``group_value`` names whose track record it is."""
    if isinstance(value, float) and np.isnan(value):
        return f"{feature.replace('_', ' ')} not recorded"
    record = record_of(feature)
    if record is not None:
        group, template = record
        who = RECORD_NAMES.get(group, group.replace("_", " "))
        if group_value:
            who = f"{who} {group_value}"
        return template.format(who=who, v=float(value))
    flag = FLAG_PHRASES.get(feature)
    if flag is not None and value in (0, 1):
        return flag[int(value)]
    if isinstance(value, int | float | np.floating | np.integer):
        calendar = _calendar_phrase(feature, float(value))
        if calendar is not None:
            return calendar
    said = PHRASES.get(feature)
    if said is not None:
        return said.format(v=float(value), s="" if round(float(value)) == 1 else "s")
    if isinstance(value, int | float | np.floating | np.integer):
        return f"{feature.replace('_', ' ')} {_number(float(value))}"
    return f"{feature.replace('_', ' ')} is {value}"


def days_in_words(count: float) -> str:
    """ "1 day", "3 days"."""
    return f"{count:.0f} day" if round(count) in (1, -1) else f"{count:.0f} days"


def _calendar_phrase(feature: str, value: float) -> str | None:
    """Dates and durations in words ("promised on a Saturday", "1 day left"); None for a
    feature that is not one."""
    if feature == "time_left_days":
        if value < 0:
            return f"promised date passed {days_in_words(abs(value))} ago, still not delivered"
        return "due today" if value == 0 else f"{days_in_words(value)} left until the promised date"
    if feature in ("promised_weekday", "order_weekday") and 0 <= value <= 6:
        day = WEEKDAYS[int(value)]
        return f"promised on a {day}" if feature == "promised_weekday" else f"ordered on a {day}"
    if feature == "promised_month" and 1 <= value <= 12:
        return f"promised in {MONTHS[int(value) - 1]}"
    if feature == "age_days":
        return "ordered today" if value == 0 else f"ordered {days_in_words(value)} ago"
    if feature == "lead_time_days":
        return f"quoted lead time {days_in_words(value)}"
    if feature == "days_until_ordered":
        return f"to be ordered {days_in_words(value)} after the scoring date"
    return None


def factors(columns: list[str]) -> list[list[str]]:
    """The features grouped as a planner reads them: a group's track-record windows (365
    and 90 days, all history, volume) are one factor, every other feature its own."""
    out: list[list[str]] = []
    where: dict[str, int] = {}
    for column in columns:
        record = record_of(column)
        if record is None:
            out.append([column])
            continue
        if record[0] not in where:
            where[record[0]] = len(out)
            out.append([])
        out[where[record[0]]].append(column)
    return out


def _number(value: float) -> str:
    """13,740 rather than 1.374e+04; 0.3125 rather than 0.31250000."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def explain(
    model: AtRiskModel,
    features: pd.DataFrame,
    top: int = 3,
    lines: pd.DataFrame | None = None,
    encoded: np.ndarray | None = None,
) -> tuple[np.ndarray, list[list[str]]]:
    """p_late of each line, and ``top`` lists (reason_1, reason_2, reason_3) of phrases,
    one entry per line.

    With ``lines`` (the scored order lines, in the rows of ``features``) a track record
    names its group: "country Zambia", not just "country". ``encoded``: the model's
    boosters' encoding of ``features``, when the caller has it.
    """
    # Features no tree splits on contribute nothing: leave them out of the occlusion,
    # which is most of the scoring time on API-sized batches.
    used = list(model.used_features_)
    blended = getattr(model, "record_column_", None)
    if blended is not None and blended not in used:
        used.append(blended)  # blended into p_late (record_weight) where no tree splits on it
    groups = factors(used)
    n = len(features)
    # One prediction over the lines as they are and all their occluded copies: the
    # booster's per-call overhead dominates on API-sized batches.
    p, by_one = model.occlusion_scores(features, [[], *groups], encoded)
    contributions = by_one[0][:, None] - by_one[1:].T
    order = np.argsort(-contributions, axis=1)[:, :top]
    given = order.shape[1]  # fewer factors than reasons asked for: the rest stay empty
    # Only the factors some line quotes are put in words (a request quotes a few of ~20).
    chosen = contributions[np.arange(n)[:, None], order]
    needed = sorted(set(order[~(chosen < MIN_CONTRIBUTION)].tolist()))
    quoted = {j: _quoted(features, groups[j], model.reference_) for j in needed}
    owners = dict(
        zip(needed, _record_owners(model, [groups[j][0] for j in needed], lines), strict=True)
    )
    out: list[list[str]] = [[] for _ in range(top)]
    # Many lines share a reason word for word (a weekday, a record of one site): each
    # distinct one is put in words once.
    said: dict[tuple[str, object, str | None], str] = {}
    for i in range(n):
        for rank in range(top):
            if rank >= given:
                out[rank].append(NOTHING_STANDS_OUT if rank == 0 else "")
                continue
            j = order[i, rank]
            if contributions[i, j] < MIN_CONTRIBUTION:
                out[rank].append(NOTHING_STANDS_OUT if rank == 0 else "")
                continue
            parts = owners[j]
            owner = " / ".join(str(part[i]) for part in parts) if parts is not None else None
            column, values = quoted[j]
            key = (column[i], values[i], owner)
            text = said.get(key)
            if text is None:
                text = said[key] = phrase(*key)
            out[rank].append(text)
    return p, out


def _quoted(
    features: pd.DataFrame, group: list[str], reference: dict[str, object]
) -> tuple[list[str], list[object]]:
    """Per line, which feature of a factor to quote and its value: of a track record, the
    window whose late rate is furthest above its typical value (the volume when no rate
    is above it); of any other factor, its one feature."""
    if len(group) == 1:
        return [group[0]] * len(features), features[group[0]].tolist()
    rates = [c for c in group if "_late_rate" in c]
    volume = [c for c in group if c not in rates]
    fallback = (volume or rates)[0]
    if not rates:
        return [fallback] * len(features), features[fallback].tolist()
    values = features[rates].to_numpy(dtype=float, na_value=np.nan)
    typical = np.array([reference.get(c, np.nan) for c in rates], dtype=float)
    excess = (values - typical) / np.maximum(np.abs(typical), 1e-9)
    excess = np.where(np.isnan(excess), -np.inf, excess)
    best = np.argmax(excess, axis=1)
    above = excess[np.arange(len(best)), best] > 0
    chosen = [rates[b] if up else fallback for b, up in zip(best, above, strict=True)]
    columns = {c: features[c].tolist() for c in group}
    return chosen, [columns[c][i] for i, c in enumerate(chosen)]


def _record_owners(
    model: AtRiskModel,
    columns: list[str],
    lines: pd.DataFrame | None,
) -> list[list[np.ndarray] | None]:
    """Per feature, the columns naming each line's group (site, region ...) for a track
    record; joined only for the reasons actually given."""
    groups = getattr(getattr(model, "space_", None), "groups", {})
    as_text: dict[str, np.ndarray] = {}
    owners: list[list[np.ndarray] | None] = []
    for column in columns:
        record = record_of(column)
        keys = groups.get(record[0]) if record else None
        if lines is None or not keys or not all(k in lines.columns for k in keys):
            owners.append(None)
            continue
        for key in keys:
            if key not in as_text:
                values = lines[key]
                as_text[key] = values.astype(str).where(values.notna(), "(not recorded)").to_numpy()
        owners.append([as_text[key] for key in keys])
    return owners


def occluded_batch(
    features: pd.DataFrame,
    columns: list[str],
    occlude: list[list[str]],
    reference: dict[str, object],
) -> pd.DataFrame:
    """``len(occlude)`` copies of ``features[columns]`` stacked; in copy ``j`` the features
    of ``occlude[j]`` are set to their typical values."""
    n, k = len(features), len(occlude)
    block_of = {column: j for j, group in enumerate(occlude) for column in group}
    data: dict[str, object] = {}
    for column in columns:
        values = features[column]
        j = block_of.get(column)
        typical = reference.get(column, np.nan)
        if isinstance(values.dtype, pd.CategoricalDtype):
            codes = np.tile(values.cat.codes.to_numpy(), k)
            categories = values.cat.categories
            if j is not None:
                at = int(categories.get_loc(typical)) if typical in categories else -1  # type: ignore[arg-type]  # unique categories: get_loc gives an int
                codes[j * n : (j + 1) * n] = at
            data[column] = pd.Categorical.from_codes(
                codes,  # type: ignore[arg-type]  # pandas-stubs want Sequence[int]; arrays work
                dtype=values.dtype,
            )
        else:
            tiled = np.tile(values.to_numpy(dtype=float, na_value=np.nan), k)
            if j is not None:
                tiled[j * n : (j + 1) * n] = typical
            data[column] = tiled
    return pd.DataFrame(data)
