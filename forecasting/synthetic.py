"""A synthetic order history realistic enough to exercise every feature of ordercast.

What it simulates, all vectorised and deterministic by seed:

- SKUs of the four Syntetos–Boylan demand classes (smooth, erratic, intermittent,
  lumpy), sold at several sites through three channels (web, retail, b2b) to many
  customers in four regions;
- weekly and yearly seasonality, per-SKU trends, public holidays (US calendar: demand
  drops and sites close) and promotions (demand lifts for a few days);
- quoted lead times by channel and region giving promised dates;
- sites with a finite daily shipping capacity (weekday pattern, weekend and holiday
  closures, a capacity step for some sites, a temporary staff shortage): orders are
  released to their site on the order date and shipped first-in first-out, whole lines
  only, up to the day's capacity; when demand exceeds it a backlog builds and lines
  ship, and so arrive, late;
- transit times by carrier, so some lines are late even without a backlog;
- open orders at the end: lines not yet shipped or still in transit.

The true capacity calendar and the simulated site-day queue come back beside the
orders, so capacity estimates and backlog projections can be checked against the truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import holidays
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

DEMAND_CLASSES = ("smooth", "erratic", "intermittent", "lumpy")
CLASS_SHARES = (0.3, 0.2, 0.32, 0.18)
CHANNELS = ("web", "retail", "b2b")
REGIONS = ("north", "south", "east", "west")
CARRIERS = ("parcelco", "freightline", "expressair")
# Days from shipping to delivery that the promise assumes, per channel.
QUOTED_TRANSIT = {"web": 3, "retail": 4, "b2b": 6}
# How many units a line of each channel holds, relative to the SKU's base size: b2b lines
# of erratic and lumpy SKUs are much larger; steady SKUs sell similar sizes everywhere.
CHANNEL_SIZE = {"web": 1.0, "retail": 3.0, "b2b": 8.0}
STEADY_CHANNEL_SIZE = {"web": 1.0, "retail": 1.2, "b2b": 1.5}
# How long past the end the open lines' outcomes are simulated (SyntheticHistory.open_outcomes).
AFTER_END_DAYS = 120


@dataclass(frozen=True)
class SyntheticHistory:
    """The generated history and its ground truth.

    ``orders``: canonical order lines; ``capacity``: ``site, date, capacity_units`` (the
    true calendar); ``site_daily``: ``site, date, capacity_units, released_units,
    shipped_units, backlog_units`` (end-of-day backlog; ``backlog_t = backlog_{t-1} +
    released_t - shipped_t`` exactly); ``sku_classes``: ``sku, demand_class`` as intended;
    ``open_outcomes``: ``line_id, delivered_date`` of every line not delivered by the end,
    when it would be delivered (NaT if not within ``AFTER_END_DAYS``): the queue run on
    past the end with no new orders, which for a first-in first-out queue is exactly what
    happens to the open lines, so the open book's risk scores can be checked.
    """

    orders: pd.DataFrame
    capacity: pd.DataFrame
    site_daily: pd.DataFrame
    sku_classes: pd.DataFrame
    open_outcomes: pd.DataFrame


def capacity_path_for(out: str | Path) -> Path:
    """Where the capacity calendar of an order file goes: orders.csv.gz -> orders-capacity.csv."""
    path = Path(out)
    stem = path.name
    for suffix in (".csv.gz", ".parquet", ".csv", ".gz", ".pq"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return path.with_name(f"{stem}-capacity.csv")


def generate_orders(
    sites: int = 3,
    skus: int = 200,
    days: int = 730,
    start: str | date = "2024-01-01",
    seed: int = 7,
) -> SyntheticHistory:
    """Generate an order history; see the module docstring for what it contains.

    The default (3 sites, 200 SKUs, 730 days) gives about 250,000 order lines; lines
    scale with ``skus * days``: 8,000 SKUs over 730 days give about 10 million.
    """
    if sites < 1 or skus < 1 or days < 28:
        raise ValueError("need at least 1 site, 1 SKU and 28 days")
    rng = np.random.default_rng(seed)
    calendar = pd.date_range(pd.Timestamp(start), periods=days, freq="D")
    site_names = np.array([f"SITE-{i + 1}" for i in range(sites)])
    catalogue = _catalogue(rng, skus, sites)
    day_factor, holiday_mask = _calendar_factors(calendar)
    lines = _draw_lines(rng, catalogue, calendar, day_factor, holiday_mask)
    capacity = _capacity_calendar(rng, lines, calendar, sites, holiday_mask)
    # No line may be larger than a quarter of its site's weekday capacity, so every line
    # fits in any open day, even a Saturday during a staff shortage.
    line_limit = np.maximum(1.0, np.floor(0.25 * capacity.max(axis=1)))
    lines["quantity"] = np.minimum(lines["quantity"], line_limit[lines["site"]])
    ship_day = _ship_fifo(lines, capacity, days)
    # The same queue run on past the end: later orders never overtake (first in, first
    # out), so the open lines ship as they would have. Capacity repeats its last four
    # weeks; nothing is drawn from rng, so the history itself is unchanged.
    after = np.tile(capacity[:, -28:], (1, -(-AFTER_END_DAYS // 28)))[:, :AFTER_END_DAYS]
    ship_later = _ship_fifo(lines, np.concatenate([capacity, after], axis=1), days + AFTER_END_DAYS)
    orders, open_outcomes = _order_frame(
        rng, lines, catalogue, calendar, site_names, ship_day, ship_later
    )
    site_daily = _site_daily(lines, ship_day, capacity, calendar, site_names)
    capacity_frame = site_daily[["site", "date", "capacity_units"]].copy()
    classes = pd.DataFrame({"sku": catalogue["sku"], "demand_class": catalogue["demand_class"]})
    return SyntheticHistory(orders, capacity_frame, site_daily, classes, open_outcomes)


def _catalogue(rng: np.random.Generator, skus: int, sites: int) -> dict[str, np.ndarray]:
    """Per-SKU demand parameters, chosen so each class lands in its ADI/CV² quadrant."""
    klass = rng.choice(len(DEMAND_CLASSES), size=skus, p=CLASS_SHARES)
    # Expected order lines per site-day: frequent SKUs order most days, the others rarely.
    rate = np.select(
        [klass == 0, klass == 1],
        [rng.uniform(4.0, 7.0, skus), rng.uniform(1.6, 2.8, skus)],
        rng.uniform(0.12, 0.35, skus),
    )
    # Gamma shape of the line size: large = steady sizes, small = erratic sizes.
    steady = np.isin(klass, (0, 2))
    shape = np.where(steady, rng.uniform(6.0, 12.0, skus), rng.uniform(0.25, 0.5, skus))
    size = rng.lognormal(1.6, 0.5, skus)
    site_weight = rng.dirichlet(np.full(sites, 3.0), size=skus)
    return {
        "sku": np.array([f"SKU-{i + 1:05d}" for i in range(skus)]),
        "demand_class": np.array(DEMAND_CLASSES)[klass],
        "klass": klass,
        "rate": rate,
        "shape": shape,
        "size": size,
        "site_weight": site_weight,
        "steady": steady,
        "trend": rng.normal(0.0, 0.25, skus),  # relative change per year
        "season_amp": np.where(steady, rng.uniform(0.0, 0.15, skus), rng.uniform(0.1, 0.5, skus)),
        "season_phase": rng.uniform(0, 2 * np.pi, skus),
        "price": np.round(rng.lognormal(2.5, 0.8, skus), 2),
        "unit_weight": np.round(rng.lognormal(-0.5, 0.7, skus), 3),
        "family": rng.choice(["apparel", "home", "electronics", "garden", "toys"], size=skus),
        "promo_start": rng.integers(0, 10_000, size=(skus, 6)),
        "promo_len": rng.integers(4, 11, size=(skus, 6)),
        "promo_lift": rng.uniform(1.8, 3.0, size=(skus, 6)),
    }


def _calendar_factors(calendar: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Demand multiplier per day (weekly pattern, holidays) and the holiday mask."""
    weekday = np.array([1.15, 1.1, 1.05, 1.0, 1.05, 0.85, 0.8])[calendar.dayofweek]
    us = holidays.country_holidays("US", years=sorted(set(calendar.year)))
    holiday_mask = np.array([day in us for day in calendar.date])
    return weekday * np.where(holiday_mask, 0.35, 1.0), holiday_mask


def _draw_lines(
    rng: np.random.Generator,
    cat: dict[str, np.ndarray],
    calendar: pd.DatetimeIndex,
    day_factor: np.ndarray,
    holiday_mask: np.ndarray,
) -> dict[str, np.ndarray]:
    """Order lines per (SKU, site, day) cell, expanded to one row per line."""
    skus = cat["site_weight"].shape[0]
    days = len(calendar)
    t = np.arange(days)
    years = t / 365.25
    yearly = 1 + cat["season_amp"][:, None] * np.sin(
        2 * np.pi * calendar.dayofyear.to_numpy()[None, :] / 365.25 + cat["season_phase"][:, None]
    )
    # Demand peaks before the year-end holidays for every SKU.
    peak = 1 + 0.35 * np.exp(-(((calendar.dayofyear.to_numpy() - 335) / 18.0) ** 2))
    trend = np.clip(1 + cat["trend"][:, None] * years[None, :], 0.2, None)
    promo = np.ones((skus, days))
    promo_flag = np.zeros((skus, days), dtype=bool)
    for k in range(cat["promo_start"].shape[1]):
        begin = cat["promo_start"][:, k] % max(days, 1)
        inside = (t[None, :] >= begin[:, None]) & (
            t[None, :] < (begin + cat["promo_len"][:, k])[:, None]
        )
        promo = np.where(inside, promo * cat["promo_lift"][:, k][:, None], promo)
        promo_flag |= inside
    intensity = yearly * trend * promo * peak[None, :] * day_factor[None, :]  # (skus, days)
    # Lines per (sku, site, day).
    lam = cat["rate"][:, None, None] * cat["site_weight"][:, :, None] * intensity[:, None, :]
    counts = rng.poisson(lam)
    flat = counts.ravel()
    n = int(flat.sum())
    cell = np.repeat(np.arange(flat.size), flat)
    sku_idx, site_idx, day_idx = np.unravel_index(cell, counts.shape)
    channel = rng.choice(len(CHANNELS), size=n, p=(0.55, 0.3, 0.15))
    size_scale = np.where(
        cat["steady"][sku_idx],
        np.array([STEADY_CHANNEL_SIZE[c] for c in CHANNELS])[channel],
        np.array([CHANNEL_SIZE[c] for c in CHANNELS])[channel],
    )
    shape = cat["shape"][sku_idx]
    mean_size = cat["size"][sku_idx] * size_scale
    quantity = np.maximum(1.0, np.round(rng.gamma(shape, mean_size / shape)))
    return {
        "sku": sku_idx,
        "site": site_idx,
        "day": day_idx,
        "channel": channel,
        "quantity": quantity,
        "promotion": promo_flag[sku_idx, day_idx],
    }


def _capacity_calendar(
    rng: np.random.Generator,
    lines: dict[str, np.ndarray],
    calendar: pd.DatetimeIndex,
    sites: int,
    holiday_mask: np.ndarray,
) -> np.ndarray:
    """True shipping capacity (units per day), shape (sites, days).

    Weekday capacity sits a little above the average weekday need so the seasonal peak,
    promotions and a two-week staff shortage push each site into overload for a while.
    """
    days = len(calendar)
    released = np.zeros((sites, days))
    np.add.at(released, (lines["site"], lines["day"]), lines["quantity"])
    weekly_need = released.sum(axis=1) / days * 7
    headroom = rng.uniform(1.08, 1.2, sites)
    weekday_capacity = np.round(weekly_need * headroom / 5.5)  # Mon-Fri full, Sat half
    pattern = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.0])[calendar.dayofweek]
    capacity = weekday_capacity[:, None] * pattern[None, :]
    t = np.arange(days)
    for s in range(sites):
        if s % 2 == 1:  # every other site adds a shift part-way through the history
            step_day = int(rng.integers(days // 3, 2 * days // 3))
            capacity[s, t >= step_day] *= 1.15
        shortage = int(rng.integers(days // 6, max(days // 6 + 1, days - 21)))
        capacity[s, (t >= shortage) & (t < shortage + 14)] *= 0.6
    capacity[:, holiday_mask] = 0.0
    return np.round(capacity)


def _ship_fifo(lines: dict[str, np.ndarray], capacity: np.ndarray, days: int) -> np.ndarray:
    """Day index each line ships (-1: not shipped by the end), FIFO, whole lines only.

    Each site-day ships the longest run of the oldest released lines whose units fit in
    that day's capacity, so shipped units never exceed it.
    """
    n = len(lines["quantity"])
    ship_day = np.full(n, -1, dtype=np.int64)
    order = np.lexsort((np.arange(n), lines["day"], lines["site"]))
    site_sorted = lines["site"][order]
    bounds = np.searchsorted(site_sorted, np.arange(capacity.shape[0] + 1))
    for s in range(capacity.shape[0]):
        idx = order[bounds[s] : bounds[s + 1]]
        qty = lines["quantity"][idx]
        cum = np.concatenate(([0.0], np.cumsum(qty)))
        released_upto = np.searchsorted(lines["day"][idx], np.arange(days), side="right")
        next_line = 0
        for d in range(days):
            available = released_upto[d]
            if next_line >= available or capacity[s, d] <= 0:
                continue
            limit = cum[next_line] + capacity[s, d]
            last = int(np.searchsorted(cum, limit, side="right")) - 1
            last = min(last, available)
            ship_day[idx[next_line:last]] = d
            next_line = last
    return ship_day


def _order_frame(
    rng: np.random.Generator,
    lines: dict[str, np.ndarray],
    cat: dict[str, np.ndarray],
    calendar: pd.DatetimeIndex,
    site_names: np.ndarray,
    ship_day: np.ndarray,
    ship_later: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Assemble canonical order lines: customers, orders, promised and delivery dates;
    and the delivery dates, past the end, of the lines open at the end (``ship_later``:
    each line's ship day in a queue run on past the end).

    Everything is computed on integer codes and sorted once; text columns are built at the
    end, as categoricals (few distinct values) or Arrow strings (ids), which keeps 10
    million lines fast and small.
    """
    n = len(lines["quantity"])
    days = len(calendar)
    channel = lines["channel"]
    # Customer pools per channel: many web shoppers, some stores, a few b2b accounts.
    pool = np.array([5000, 60, 25])[channel]
    customer_no = (rng.random(n) * pool).astype(np.int64)
    region = (customer_no * 7 + channel) % len(REGIONS)
    carrier = np.where(channel == 2, 1, np.where(rng.random(n) < 0.2, 2, 0))
    # Actual transit: carrier speed, regional distance, a long tail of delays.
    base_transit = np.array([2.0, 4.0, 1.0])[carrier] + 0.5 * region
    transit = np.maximum(1, np.round(base_transit + rng.gamma(1.0, 0.8, n) - 0.5)).astype(int)
    # The promise: handling days plus the carrier's usual transit plus a channel buffer.
    handling = np.where(channel == 2, 3, 2)
    quoted_buffer = np.array([QUOTED_TRANSIT[c] for c in CHANNELS])[channel] - 2
    promised_day = lines["day"] + handling + np.ceil(base_transit).astype(int) + quoted_buffer
    shipped = ship_day >= 0
    delivered_day = np.where(shipped, ship_day + transit, -1)
    delivered = shipped & (delivered_day < days)

    # Lines of one customer, site, channel and day form one order; ids follow time.
    customer_code = channel * 10_000 + customer_no
    order_key = ((lines["day"] * 3 + channel) * 100_000 + customer_no) * 64 + lines["site"]
    order_codes = pd.factorize(order_key, sort=True)[0]
    order = np.argsort(order_codes, kind="stable")

    def take(values: np.ndarray) -> np.ndarray:
        return values[order]

    to_date = _day_to_date(calendar[0])
    sku_idx = take(lines["sku"])
    customers, customer_idx = np.unique(take(customer_code), return_inverse=True)
    customer_names = np.char.add(
        np.array(["W", "R", "B"])[customers // 10_000], (customers % 10_000).astype(str)
    )
    promotion = take(lines["promotion"])
    line_ids = _ids("L", np.arange(1, n + 1), 9)
    later = take(np.where(ship_later >= 0, ship_later + transit, -1))
    still_open = ~take(delivered)
    open_outcomes = pd.DataFrame(
        {
            "line_id": line_ids[still_open].reset_index(drop=True),
            "delivered_date": to_date(later[still_open]),
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": _ids("O", take(order_codes) + 1, 8),
            "line_id": line_ids,
            "sku": _categorical(sku_idx, cat["sku"]),
            "site": _categorical(take(lines["site"]), site_names),
            "channel": _categorical(take(channel), CHANNELS),
            "customer": _categorical(customer_idx, customer_names),
            "region": _categorical(take(region), REGIONS),
            "order_date": to_date(take(lines["day"])),
            "promised_date": to_date(take(promised_day)),
            "ship_date": to_date(take(np.where(shipped, ship_day, -1))),
            "delivered_date": to_date(take(np.where(delivered, delivered_day, -1))),
            "quantity": take(lines["quantity"]),
            "unit_price": np.round(cat["price"][sku_idx] * np.where(promotion, 0.8, 1.0), 2),
            "carrier": _categorical(take(carrier), CARRIERS),
            "product_family": pd.Categorical(cat["family"][sku_idx]),
            "weight_kg": np.round(take(lines["quantity"]) * cat["unit_weight"][sku_idx], 3),
            "promotion": promotion,
        }
    )
    return orders, open_outcomes


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pd.Series:
    """'O00000042'-style ids, built by Arrow's string kernels (fast for millions of rows)."""
    digits = pc.utf8_lpad(pa.array(numbers).cast(pa.string()), width, "0")
    text = pc.binary_join_element_wise(prefix, digits, "")
    return pd.Series(text.to_numpy(zero_copy_only=False), dtype=object)


def _day_to_date(epoch: pd.Timestamp):
    def convert(day: np.ndarray) -> np.ndarray:
        values = epoch.to_datetime64() + day.astype("timedelta64[D]")
        return np.where(day >= 0, values, np.datetime64("NaT")).astype("datetime64[ns]")

    return convert


def _site_daily(
    lines: dict[str, np.ndarray],
    ship_day: np.ndarray,
    capacity: np.ndarray,
    calendar: pd.DatetimeIndex,
    site_names: np.ndarray,
) -> pd.DataFrame:
    sites, days = capacity.shape
    released = np.zeros((sites, days))
    np.add.at(released, (lines["site"], lines["day"]), lines["quantity"])
    shipped = np.zeros((sites, days))
    done = ship_day >= 0
    np.add.at(shipped, (lines["site"][done], ship_day[done]), lines["quantity"][done])
    backlog = np.cumsum(released - shipped, axis=1)
    return pd.DataFrame(
        {
            "site": np.repeat(site_names, days),
            "date": np.tile(calendar.values, sites),
            "capacity_units": capacity.ravel(),
            "released_units": released.ravel(),
            "shipped_units": shipped.ravel(),
            "backlog_units": np.round(backlog.ravel(), 6),
        }
    )


def _categorical(codes: np.ndarray, categories: Sequence[str] | np.ndarray) -> pd.Categorical:
    """Categories by integer codes: cheap for the generator's hundreds of thousands of lines."""
    return pd.Categorical.from_codes(
        codes,  # type: ignore[arg-type]  # pandas-stubs want Sequence[int]; pandas takes arrays
        categories=pd.Index(categories),
    )
