"""Features of an order line at a moment, using only what was known at that moment.

A *snapshot* is (line, moment). Training takes up to three snapshots of every line whose
label was known at the training date: when it was ordered, at a point between ordering
and its delivery (or the training date), and (``lookahead_days``) from a moment before
it was ordered; scoring takes the open lines at the scoring date.
Features: the line's own attributes (quoted lead time, time left, days until it is
ordered, quantity, value, weight, calendar), the track record of every categorical
attribute's value (vendor, site, lane, country, carrier, product ...) over the year, the
90 days and all the history before the moment (a late line counts from the day its
promise passed undelivered; only ``site`` also enters as a raw category), and the load
on its site then (open units, overdue lines, days of recent shipping the open work
represents, arrivals against capacity, the backlog projected to the promised date).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Callable

import numpy as np
import pandas as pd

from forecasting.risk.history import joined, on_time_records, open_work
from forecasting.risk.labels import labels_as_of
from forecasting.risk.memory import HistoryMemory
from forecasting.risk.site_load import projected_load, site_load

# Groups whose on-time record matters, by the columns that define them (used when present).
RECORD_GROUPS: dict[str, tuple[str, ...]] = {
    "vendor": ("vendor",),
    "site": ("site",),
    "lane": ("site", "region"),
    "mode": ("shipment_mode",),
    # The site's record by shipment mode: how a site ships decides how late, and neither
    # the site's record nor the mode's shows it (SCMS: Fulfill Via x Shipment Mode, the
    # walk's lane baseline).
    "route": ("site", "shipment_mode"),
    "carrier": ("carrier",),
    "customer": ("customer",),
    "product": ("product_group",),
}
# How each group's late-rate columns end (over 365 days, 90 days, all time): the names
# FeatureSpace.frame gives them (from the history, or from the memory in _remembered).
RATE_SUFFIXES = ("_late_rate", "_late_rate_90d", "_late_rate_all")
# Never features: identifiers, outcomes, and dates recorded after the fact.
EXCLUDED = {
    "order_id",
    "line_id",
    "late",
    "delivered_date",
    "ship_date",
    "delivery_recorded_date",
    "promised_date",
    "order_date",
    "sku",
    "asn_dn",
    "pq",
    "po_so",
    "project_code",
    "item_description",
    "quoted_lead_days",
    "dosage",
    "pq_first_sent_to_client_date",
    "po_sent_to_vendor_date",
    "scheduled_delivery_date",
    "delivered_to_client_date",
}
MAX_CATEGORIES = 250
MIN_SEASONAL_DAYS = 730
# Categorical attributes the booster sees as categories. Every other one is encoded by
# its own on-time record as of the moment (a time-aware target encoding that cannot
# leak): a raw category lets the booster memorise how late a vendor or country was in
# the years it trained on, which on SCMS is what a regime change breaks.
NATIVE_CATEGORIES = ("site",)


def line_fraction(line_ids: pd.Series, salt: str = "snapshot") -> np.ndarray:
    """A stable pseudo-random number in [0, 1) per line id (no shared RNG state)."""
    return np.array(
        [
            int(hashlib.blake2b(f"{salt}:{v}".encode(), digest_size=4).hexdigest(), 16) / 2**32
            for v in line_ids.astype(str)
        ]
    )


def training_snapshots(
    orders: pd.DataFrame,
    as_of: pd.Timestamp,
    tolerance_days: int = 0,
    complete_cohorts: bool = False,
    lookahead_days: int = 0,
) -> pd.DataFrame:
    """Snapshots (``row``, ``moment``, ``label``) of the lines labelled as of ``as_of``.

    With ``lookahead_days`` each line also gets a snapshot from up to that many days
    *before* it was ordered: the site and its records as they stood then, the line's own
    attributes as ordered. That is how an evaluation scores lines ordered after its
    split date; without such snapshots the model never sees a projection that far ahead
    and takes a passing backlog for a permanent one.
    """
    as_of = pd.Timestamp(as_of)
    labels = labels_as_of(orders, as_of, tolerance_days)
    known = labels.notna() & (orders["order_date"] < as_of)
    if complete_cohorts:
        # Only lines promised before as_of: every one of them has a known label, whereas
        # of the lines promised later only the early deliveries are known, a sample that
        # would teach the model that recent lines are seldom late.
        known &= orders["promised_date"] < as_of
    lines = orders[known]
    at_order = pd.DataFrame(
        {
            "row": lines.index,
            "moment": lines["order_date"].to_numpy(),
            "label": labels[known].to_numpy(),
        }
    )
    delivered = lines["delivered_date"].fillna(as_of).to_numpy("datetime64[ns]")
    end = np.minimum(
        np.minimum(delivered, as_of.to_datetime64()),
        lines["promised_date"].to_numpy("datetime64[ns]"),
    )
    start = lines["order_date"].to_numpy("datetime64[ns]")
    span = (end - start).astype("timedelta64[D]").astype(np.int64)
    offset = np.floor(line_fraction(lines["line_id"]) * np.maximum(span, 0)).astype(np.int64)
    later = pd.DataFrame(
        {
            "row": lines.index,
            "moment": start + offset.astype("timedelta64[D]"),
            "label": labels[known].to_numpy(),
        }
    )[span > 1]
    parts = [at_order, later]
    if lookahead_days > 0:
        fraction = line_fraction(lines["line_id"], "lookahead")
        gap = np.ceil(fraction * lookahead_days).astype(np.int64)
        moment = start - np.maximum(gap, 1).astype("timedelta64[D]")
        ahead = pd.DataFrame(
            {"row": lines.index, "moment": moment, "label": labels[known].to_numpy()}
        )
        # Before the first order nothing is known about any site: no snapshot to learn from.
        parts.append(ahead[moment > orders["order_date"].min().to_datetime64()])
    return pd.concat(parts, ignore_index=True)


def open_book_snapshots(
    orders: pd.DataFrame,
    as_of: pd.Timestamp,
    start: pd.Timestamp,
    tolerance_days: int = 0,
    complete_cohorts: bool = False,
    every_days: int = 7,
) -> pd.DataFrame:
    """Snapshots (``row``, ``moment``, ``label``) of the open book every ``every_days`` from
    ``start`` to ``as_of``: each day, every line open then and not yet past its promise
    (plus tolerance), whose outcome is known at ``as_of``.

    What the service scores is the open book on a day, and a line stays in it as long as
    it is open: late lines, open longer, weigh more there than among snapshots taken once
    per line. Calibrated on these, p_late means what it says of the book a planner sees.
    """
    as_of = pd.Timestamp(as_of)
    labels = labels_as_of(orders, as_of, tolerance_days)
    usable = labels.notna()
    if complete_cohorts:
        usable &= orders["promised_date"] < as_of
    due = orders["promised_date"] + pd.Timedelta(days=tolerance_days)
    parts = []
    for day in pd.date_range(
        pd.Timestamp(start).normalize(), as_of - pd.Timedelta(days=1), freq=f"{every_days}D"
    ):
        rows = open_at(orders, day) & ~(due < day) & usable
        parts.append(
            pd.DataFrame(
                {"row": orders.index[rows], "moment": day, "label": labels[rows].to_numpy()}
            )
        )
    if not parts:
        return pd.DataFrame({"row": [], "moment": pd.to_datetime([]), "label": []})
    return pd.concat(parts, ignore_index=True)


def open_at(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """Which lines are open at ``as_of`` (a boolean per row): ordered by then, not
    delivered before it. The one rule for which lines get a score."""
    as_of = pd.Timestamp(as_of)
    return (orders["order_date"] <= as_of) & ~(orders["delivered_date"] < as_of)


def scoring_snapshots(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """One snapshot per line open at ``as_of`` (:func:`open_at`)."""
    as_of = pd.Timestamp(as_of)
    return pd.DataFrame({"row": orders.index[open_at(orders, as_of)], "moment": as_of})


def evaluation_snapshots(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Every line promised on or after ``as_of``, its records as known at ``as_of``.

    Lines ordered later keep their own attributes; nothing else after ``as_of`` is used.
    """
    as_of = pd.Timestamp(as_of)
    later = orders["promised_date"] >= as_of
    return pd.DataFrame({"row": orders.index[later], "moment": as_of})


class FeatureSpace:
    """Which columns are numeric and categorical, and the categories seen in training."""

    def __init__(self, orders: pd.DataFrame, tolerance_days: int = 0) -> None:
        # The records count a line late as the labels do: after its promise + tolerance.
        self.tolerance_days = tolerance_days
        self.numeric: list[str] = []
        self.categorical: dict[str, list[str]] = {}
        for column in orders.columns:
            if column in EXCLUDED or column.endswith("_date"):
                continue
            values = orders[column]
            if (
                pd.api.types.is_bool_dtype(values)
                or pd.api.types.is_numeric_dtype(values)
                or _numbers_as_text(values)
            ):
                self.numeric.append(column)
            else:
                counts = values.astype(str).value_counts()
                if 1 < len(counts) <= MAX_CATEGORIES:
                    self.categorical[column] = list(counts.index)
        self.groups = {
            name: cols
            for name, cols in RECORD_GROUPS.items()
            if all(c in orders.columns for c in cols)
        }
        named = {cols[0] for cols in self.groups.values() if len(cols) == 1}
        for column in self.categorical:
            if column not in named and column not in NATIVE_CATEGORIES:
                self.groups[column] = (column,)
        # Month of year only once two years of history can show a season twice: from
        # one year the booster takes that year's peak for the calendar's.
        span = orders["order_date"].max() - orders["order_date"].min()
        self.seasonal = bool(span >= pd.Timedelta(days=MIN_SEASONAL_DAYS))
        self.native = {c: v for c, v in self.categorical.items() if c in NATIVE_CATEGORIES}

    def frame(
        self,
        orders: pd.DataFrame,
        snapshots: pd.DataFrame,
        history: pd.DataFrame,
        memory: HistoryMemory | None = None,
        *,
        day_tables: bool = True,
    ) -> pd.DataFrame:
        """The feature matrix of ``snapshots`` (one row each), records from ``history``
        and, when given, from the lines a fitted model remembers (none of ``history``'s).

        ``day_tables``: scored from ``memory`` alone (``history`` empty), read each line's
        records and site load from the memory's per-day tables (:meth:`_remembered`);
        False counts the memory's events for the lines themselves, as with a history.
        The numbers are the same either way (tests/risk/test_fast_path.py)."""
        lines = orders.loc[snapshots["row"].to_numpy()].reset_index(drop=True)
        moment = pd.to_datetime(snapshots["moment"]).reset_index(drop=True)
        # Columns gathered first and framed once: inserting ~40 columns one by one into a
        # frame was a fifth of a small API batch's scoring time.
        out: dict[str, object] = {}
        out["lead_time_days"] = (lines["promised_date"] - lines["order_date"]).dt.days
        # The line's own clock starts when it is ordered: a line ordered after the moment
        # (evaluation) is seen as at its order; the records below stay as of the moment.
        own_moment = pd.Series(np.maximum(moment.to_numpy(), lines["order_date"].to_numpy()))
        out["time_left_days"] = (lines["promised_date"] - own_moment).dt.days
        out["age_days"] = (own_moment - lines["order_date"]).dt.days
        # How far ahead of its order the line is seen: 0 for an open line; in an
        # evaluation, how stale the records are for a line ordered after the split.
        out["days_until_ordered"] = (lines["order_date"] - moment).dt.days.clip(lower=0)
        if self.seasonal:
            out["promised_month"] = lines["promised_date"].dt.month
        out["promised_weekday"] = lines["promised_date"].dt.dayofweek
        out["order_weekday"] = lines["order_date"].dt.dayofweek
        # Attributes absent from a scoring batch (e.g. an API call with contract columns
        # only) are missing values, which the booster handles.
        for column in self.numeric:
            values = lines[column] if column in lines.columns else pd.Series(np.nan, lines.index)
            out[column] = _as_numbers(values)
        if "value" not in out:
            price = lines["unit_price"] if "unit_price" in lines.columns else np.nan
            out["value"] = lines["quantity"] * pd.to_numeric(price, errors="coerce")
        for column, categories in self.native.items():
            texts = (
                lines[column].astype(str).to_numpy()
                if column in lines.columns
                else np.full(len(lines), None, dtype=object)
            )
            out[column] = pd.Categorical(texts, categories=categories)
        if day_tables and memory is not None and history.empty and len(lines):
            # Scored from the memory alone (an API request): every record and site figure
            # is read from the memory's tables of the moment's day.
            out.update(self._remembered(lines, moment, memory))
            return pd.DataFrame(out, index=lines.index)
        queries = pd.DataFrame({"moment": moment})
        tolerance = self.tolerance_days
        for name, cols in self.groups.items():
            present = [c for c in cols if c in lines.columns and c in history.columns]
            if memory is not None and all(c in lines.columns for c in cols):
                # The batch may lack a column its lines have in the remembered history.
                history = history.reindex(columns=history.columns.union(list(cols), sort=False))
                present = list(cols)
            if len(present) < len(cols):  # unknown group: the prior rate, no history
                out[f"{name}_late_rate"] = np.nan
                out[f"{name}_lines_365d"] = 0.0
                out[f"{name}_late_rate_90d"] = np.nan
                out[f"{name}_late_rate_all"] = np.nan
                continue
            group = joined(history, cols)
            query_group = joined(lines, cols)
            records = on_time_records(
                history,
                group,
                queries,
                query_group,
                (365, 90, 36500),
                remembered=memory.outcomes(name) if memory is not None else (),
                tolerance_days=tolerance,
            )
            out[f"{name}_late_rate"] = records[365]["rate"].to_numpy()
            out[f"{name}_lines_365d"] = records[365]["lines"].to_numpy()
            out[f"{name}_late_rate_90d"] = records[90]["rate"].to_numpy()
            out[f"{name}_late_rate_all"] = records[36500]["rate"].to_numpy()
        load = open_work(
            history,
            history["site"].astype(str),
            queries,
            lines["site"].astype(str),
            remembered=memory.work() if memory is not None else (),
        )
        out["site_open_units"] = load["open_units"].to_numpy()
        out["site_overdue_lines"] = load["overdue_lines"].to_numpy()
        out["site_backlog_days"] = load["backlog_days"].to_numpy()
        # As of the snapshot's moment, like the records: in an evaluation, a line ordered
        # after the split must not see the site as it was on its order date.
        table = None
        if memory is not None and history.empty:
            # Scored against the memory alone: its per-day site table, kept between batches.
            known_at = pd.DatetimeIndex((moment.dt.normalize() - pd.Timedelta(days=1)).unique())
            table = memory.site_days(known_at)
        projected = site_load(
            history,
            lines["site"],
            moment,
            lines["promised_date"],
            load["open_units"].to_numpy(),
            remembered=memory.daily() if memory is not None else None,
            table=table,
        )
        out["site_utilization"] = projected["utilization"].to_numpy()
        out["site_backlog_days_at_promise"] = projected["backlog_days_at_promise"].to_numpy()
        return pd.DataFrame(out, index=lines.index)

    def _remembered(
        self, lines: pd.DataFrame, moment: pd.Series, memory: HistoryMemory
    ) -> dict[str, np.ndarray | float]:
        """:meth:`frame`'s record and site-load columns of ``lines`` scored at ``moment``
        against ``memory`` alone, the same numbers as its general path.

        Nothing but the memory is counted, so each figure depends only on the line's group
        and the moment's day (records count whole days): they are computed once per day for
        every group the memory knows, plus one row for a group it does not (the general
        path's own functions on those queries), and each line reads its group's row. A
        request of a few lines then costs a dictionary look-up per group instead of a
        search of every event table.
        """
        days = moment.dt.normalize().to_numpy("datetime64[ns]")
        texts: dict[str, np.ndarray] = {}

        def keys_of(cols: tuple[str, ...]) -> np.ndarray:
            for c in cols:
                if c not in texts:
                    texts[c] = lines[c].astype(str).to_numpy(object)
            if len(cols) == 1:
                return texts[cols[0]]
            # joined()'s text: the columns' strings with "|" between them.
            joined_texts = [
                "|".join(parts) for parts in zip(*(texts[c] for c in cols), strict=True)
            ]
            return np.array(joined_texts, dtype=object)

        out: dict[str, np.ndarray | float] = {}
        for name, cols in self.groups.items():
            if not all(c in lines.columns for c in cols):  # unknown group: the prior rate
                out[f"{name}_late_rate"] = np.nan
                out[f"{name}_lines_365d"] = 0.0
                out[f"{name}_late_rate_90d"] = np.nan
                out[f"{name}_late_rate_all"] = np.nan
                continue
            records = _per_day(
                memory,
                f"records:{name}",
                days,
                keys_of(cols),
                functools.partial(self._record_table, memory, name),
            )
            out[f"{name}_late_rate"] = records[:, 0]
            out[f"{name}_lines_365d"] = records[:, 1]
            out[f"{name}_late_rate_90d"] = records[:, 2]
            out[f"{name}_late_rate_all"] = records[:, 3]
        sites = keys_of(("site",))
        load = _per_day(memory, "work", days, sites, lambda day: _work_table(memory, day))
        out["site_open_units"] = load[:, 0]
        out["site_overdue_lines"] = load[:, 1]
        out["site_backlog_days"] = load[:, 2]
        # The site table as of the end of the day before the moment, as site_load reads it.
        at = _per_day(memory, "sites", days, sites, lambda day: _site_row_table(memory, day))
        promised = lines["promised_date"].to_numpy("datetime64[ns]")
        # Whole days, rounded down as pandas' .dt.days rounds them in site_load.
        dated = ~np.isnat(promised)
        ahead = np.full(len(promised), np.nan)
        ahead[dated] = (promised[dated] - days[dated]) // np.timedelta64(1, "D")
        projected = projected_load(at[:, 0], at[:, 1], at[:, 2], ahead, load[:, 0])
        out["site_utilization"] = projected["utilization"]
        out["site_backlog_days_at_promise"] = projected["backlog_days_at_promise"]
        return out

    def _record_table(self, memory: HistoryMemory, name: str, day: np.datetime64) -> DayTable:
        """Group ``name``'s records at ``day`` for every group the memory knows
        (:meth:`frame`'s windows and priors)."""
        tables = memory.outcomes(name)
        groups = _known_groups([table.categories for table in tables])
        queries = pd.DataFrame({"moment": np.full(len(groups), day, dtype="datetime64[ns]")})
        records = on_time_records(
            pd.DataFrame(),
            pd.Series([], dtype=object),
            queries,
            pd.Series(groups, dtype=object),
            (365, 90, 36500),
            remembered=tables,
            tolerance_days=self.tolerance_days,
        )
        values = np.column_stack(
            [
                records[365]["rate"].to_numpy(),
                records[365]["lines"].to_numpy(),
                records[90]["rate"].to_numpy(),
                records[36500]["rate"].to_numpy(),
            ]
        )
        return DayTable(groups, values)


class DayTable:
    """Per-day figures of every group a memory knows: ``values`` has one row per group of
    ``groups`` and a last row for any other group."""

    def __init__(self, groups: list[str], values: np.ndarray) -> None:
        self.row = {group: i for i, group in enumerate(groups[:-1])}
        self.values = values

    def rows(self, keys: np.ndarray) -> np.ndarray:
        """Each key's row (an unknown group's: the last)."""
        unknown = len(self.values) - 1
        return np.fromiter((self.row.get(k, unknown) for k in keys), np.int64, len(keys))


def _known_groups(categories: list[pd.Index]) -> list[str]:
    """Every group of these event tables, then one that none of them holds (its figures
    are those of a group never seen)."""
    groups = list(dict.fromkeys(str(g) for index in categories for g in index))
    unseen = "\x00unseen"
    while unseen in groups:
        unseen += "\x00"
    return [*groups, unseen]


def _per_day(
    memory: HistoryMemory,
    kind: str,
    days: np.ndarray,
    keys: np.ndarray,
    build: Callable[[np.datetime64], DayTable],
) -> np.ndarray:
    """Each line's row of its day's ``kind`` table (built by ``build`` once per day)."""
    unique = np.unique(days)
    if len(unique) == 1:  # a request: one day
        table = memory.day_table(kind, pd.Timestamp(unique[0]), functools.partial(build, unique[0]))
        return table.values[table.rows(keys)]
    out: np.ndarray | None = None
    for day in unique:
        table = memory.day_table(kind, pd.Timestamp(day), functools.partial(build, day))
        mine = days == day
        if out is None:
            out = np.full((len(keys), table.values.shape[1]), np.nan)
        out[mine] = table.values[table.rows(keys[mine])]
    return out if out is not None else np.empty((0, 0))


def _work_table(memory: HistoryMemory, day: np.datetime64) -> DayTable:
    """Every remembered site's open units, overdue lines and backlog days at ``day``
    (:func:`open_work` on the memory's order flows)."""
    flows = memory.work()
    groups = _known_groups(
        [
            getattr(flow, field.name).categories
            for flow in flows
            for field in dataclasses.fields(flow)
        ]
    )
    queries = pd.DataFrame({"moment": np.full(len(groups), day, dtype="datetime64[ns]")})
    load = open_work(
        pd.DataFrame(),
        pd.Series([], dtype=object),
        queries,
        pd.Series(groups, dtype=object),
        remembered=flows,
    )
    return DayTable(groups, load[["open_units", "overdue_lines", "backlog_days"]].to_numpy(float))


def _site_row_table(memory: HistoryMemory, day: np.datetime64) -> DayTable:
    """Every remembered site's capacity, arrival rate and year's rate known at the end of
    the day before ``day`` (the memory's site table)."""
    known_at = pd.Timestamp(day) - pd.Timedelta(days=1)
    table = memory.site_days(pd.DatetimeIndex([known_at]))
    table = table[table.index.get_level_values("date") == known_at]
    groups = _known_groups([pd.Index(table.index.get_level_values("site").astype(str))])
    values = np.vstack(
        [
            table[["capacity", "arrivals", "long_run"]].to_numpy(float).reshape(-1, 3),
            np.full((1, 3), np.nan),
        ]
    )
    return DayTable(groups, values)


def _numbers_as_text(values: pd.Series) -> bool:
    """True for a text column whose values are nearly all numbers (a CSV's weights read
    as strings): a quantity, not a category to keep a record of per distinct value."""
    present = values.dropna()
    if present.empty or not pd.api.types.is_object_dtype(values):
        return False
    return bool(_as_numbers(present).notna().mean() >= 0.95)


BOOLEAN_TEXT = {"true": 1.0, "false": 0.0}


def _as_numbers(values: pd.Series) -> pd.Series:
    """Numbers from a column however it arrived: numbers, booleans, or their text (a CSV
    gives "True"/"False" where a JSON request or a Parquet file gives true/false)."""
    if pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
        # Each distinct value once: a column of order lines repeats a few texts (a carrier,
        # a site), and pandas' string methods cost ~250 ms a call on 300,000 lines.
        codes, distinct = pd.factorize(values)  # missing values: code -1, the NaN appended
        numbers = np.append(_distinct_numbers(np.asarray(distinct, dtype=object)), np.nan)
        return pd.Series(numbers[codes], index=values.index, name=values.name)
    return pd.to_numeric(values, errors="coerce").astype(float)


def _distinct_numbers(values: np.ndarray) -> np.ndarray:
    """The numbers of distinct, present values. Numbers, booleans and "true"/"false" texts
    (what a JSON request's attributes hold) are read one by one, without pandas' string
    methods, which cost more than the rest of a small request's features; any other text
    sends them all to pandas (:func:`_text_numbers`), giving the same numbers."""
    out = np.empty(len(values))
    for i, value in enumerate(values):
        if isinstance(value, bool | np.bool_):
            out[i] = 1.0 if value else 0.0
        elif isinstance(value, int | float | np.integer | np.floating):
            out[i] = float(value)
        elif isinstance(value, str) and value.strip().lower() in BOOLEAN_TEXT:
            out[i] = BOOLEAN_TEXT[value.strip().lower()]
        else:
            return _text_numbers(pd.Series(values, dtype=object))
    return out


def _text_numbers(values: pd.Series) -> np.ndarray:
    """:func:`_as_numbers` of an object column, value by value with pandas."""
    flags = values.astype(str).str.strip().str.lower().map(BOOLEAN_TEXT)
    numbers = pd.to_numeric(values, errors="coerce")
    return (flags.fillna(numbers) if flags.notna().any() else numbers).to_numpy(float)
