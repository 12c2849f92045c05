"""At-risk orders: the open lines scored by the champion risk model, worst first, with
filters by site, band, customer and promised week, and a CSV of the current view."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

import numpy as np
import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import RiskModel
from api.model_store import LoadedModel
from api.web.figures import open_lines
from api.web.session import Reader, sessions_of
from api.web.state import WebState, WebStateDep
from api.web.templating import render
from forecasting.cores import RiskCore
from forecasting.queries import answer_risk

router = APIRouter(prefix="/web/at-risk", tags=["pages"])
SHOWN = 250  # rows in the page's table (worst first); the CSV has every line of the view
CUSTOMERS_LISTED = 300  # customers offered in the filter's list: those with the most risk
BANDS = ("high", "medium", "low")
COLUMNS = [
    "order_id",
    "line_id",
    "site",
    "customer",
    "sku",
    "quantity",
    "promised_date",
    "promised_week",
    "p_late",
    "risk_band",
    "expected_delay_days",
    "reason_1",
    "reason_2",
    "reason_3",
]
Text = Annotated[str, Query(max_length=200)]


@dataclass(frozen=True)
class Worklist:
    """The scored open book as of ``as_of`` (None: the store holds no lines), worst first."""

    as_of: pd.Timestamp | None
    model_version: str
    lines: pd.DataFrame  # COLUMNS and week_start, sorted by p_late descending
    unscored: int  # open lines the model gave no score (its reasons are in the JSON API)
    sites: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()  # the filter's suggestions (any customer may be typed)
    weeks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Filters:
    site: str = ""
    band: str = ""
    customer: str = ""
    week: str = ""

    def apply(self, lines: pd.DataFrame) -> pd.DataFrame:
        keep = np.ones(len(lines), dtype=bool)
        for column, value in (
            ("site", self.site),
            ("risk_band", self.band),
            ("customer", self.customer),
            ("promised_week", self.week),
        ):
            if value:
                keep &= (lines[column] == value).to_numpy(bool)
        return lines[keep]

    def query(self) -> str:
        fields = {"site": self.site, "band": self.band, "customer": self.customer}
        fields["week"] = self.week
        return urlencode({k: v for k, v in fields.items() if v})


def score_book(orders: pd.DataFrame, core: RiskCore, version: str) -> Worklist:
    """Every line open at the store's last order date, scored by ``core``: what the
    planning loop and the overview score (``open_lines``, then ``answer_risk``)."""
    if orders.empty:
        return Worklist(None, version, pd.DataFrame(columns=[*COLUMNS, "week_start"]), 0)
    as_of = pd.Timestamp(orders["order_date"].max()).normalize()
    lines = open_lines(orders, as_of)
    if lines.empty:
        return Worklist(as_of, version, pd.DataFrame(columns=[*COLUMNS, "week_start"]), 0)
    answer = answer_risk(core, lines, as_of)  # one row per line, in the lines' order
    scored = answer["scored"].to_numpy(bool)
    promised = pd.to_datetime(lines["promised_date"])
    customer = lines["customer"] if "customer" in lines else pd.Series("", index=lines.index)
    out = pd.DataFrame(
        {
            "order_id": lines["order_id"].astype(str),
            "line_id": lines["line_id"].astype(str),
            "site": lines["site"].astype(str),
            "customer": customer.fillna("").astype(str),
            "sku": lines["sku"].astype(str),
            "quantity": pd.to_numeric(lines["quantity"]).to_numpy(float),
            "promised_date": promised.dt.strftime("%Y-%m-%d"),
            # ISO week, e.g. 2024-W02: the week a scheduler chases in.
            "promised_week": promised.dt.strftime("%G-W%V"),
            # The week's Monday: where the chart puts the week's lines.
            "week_start": (promised - pd.to_timedelta(promised.dt.weekday, unit="D")).dt.strftime(
                "%Y-%m-%d"
            ),
            "p_late": answer["p_late"].to_numpy(float),
            "risk_band": answer["risk_band"].astype(str).to_numpy(),
            "expected_delay_days": answer["expected_delay_days"].to_numpy(float),
            "reason_1": answer["reason_1"].fillna("").astype(str).to_numpy(),
            "reason_2": answer["reason_2"].fillna("").astype(str).to_numpy(),
            "reason_3": answer["reason_3"].fillna("").astype(str).to_numpy(),
        }
    )[scored]
    ordered = out.sort_values(["p_late", "promised_date", "line_id"], ascending=[False, True, True])
    named = ordered[ordered["customer"] != ""]
    # The customers whose open lines add up to the most lateness risk, up to CUSTOMERS_LISTED.
    risk = named.groupby("customer")["p_late"].sum().sort_values(ascending=False)
    return Worklist(
        as_of,
        version,
        ordered.reset_index(drop=True),
        int((~scored).sum()),
        sites=tuple(sorted(ordered["site"].unique())),
        customers=tuple(sorted(risk.index[:CUSTOMERS_LISTED])),
        weeks=tuple(sorted(ordered["promised_week"].unique())),
    )


def worklist(web: WebState, loaded: LoadedModel[RiskCore]) -> Worklist:
    """The scored book, kept per risk model version and store state (the kept order lines
    and their last order date): scoring the demo's open book takes seconds."""
    orders = web.figures.orders()
    as_of = None if orders.empty else pd.Timestamp(orders["order_date"].max())
    key = ("at-risk", loaded.version, loaded.loaded_at, as_of, len(orders))
    return web.figures.kept(key, lambda: score_book(orders, loaded.core, loaded.version))


def _filters(site: str, band: str, customer: str, week: str) -> Filters:
    return Filters(site.strip(), band.strip().lower(), customer.strip(), week.strip())


@router.get("")
def at_risk_page(
    request: Request,
    user: Reader,
    web: WebStateDep,
    loaded: RiskModel,
    site: Text = "",
    band: Text = "",
    customer: Text = "",
    week: Text = "",
) -> Response:
    book = worklist(web, loaded)
    chosen = _filters(site, band, customer, week)
    view = chosen.apply(book.lines)
    context: dict[str, Any] = {
        "title": "At-risk orders",
        "user": user,
        "csrf": sessions_of(request).csrf_token(user),
        "book": book,
        "filters": chosen,
        "query": chosen.query(),
        "rows": view.head(SHOWN).to_dict("records"),
        "matching": len(view),
        "shown": min(SHOWN, len(view)),
        "counts": {b: int((view["risk_band"] == b).sum()) for b in BANDS},
        "sites": book.sites,
        "customers": book.customers,
        "weeks": book.weeks,
        "bands": BANDS,
        "chart": weekly(view),
    }
    return render(request, "at_risk.html", context)


@router.get("/data.csv")
def at_risk_csv(
    _: Reader,
    web: WebStateDep,
    loaded: RiskModel,
    site: Text = "",
    band: Text = "",
    customer: Text = "",
    week: Text = "",
) -> Response:
    """Every line of the page's current view (same filters, same order) as CSV."""
    view = _filters(site, band, customer, week).apply(worklist(web, loaded).lines)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in view[COLUMNS].itertuples(index=False):
        writer.writerow(
            [
                f"{v:.4f}" if isinstance(v, float) and name != "quantity" else v
                for name, v in zip(COLUMNS, row, strict=True)
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="at-risk.csv"'},
    )


def weekly(view: pd.DataFrame) -> dict[str, Any]:
    """Lines of the view by promised week (the week's Monday) and band: the chart."""
    # numpy, not crosstab: a pivot of the demo's 2,600 open lines took ~80 ms a page.
    weeks, position = np.unique(view["week_start"].to_numpy(str), return_inverse=True)
    bands = view["risk_band"].to_numpy(str)
    return {
        "weeks": weeks.tolist(),
        **{b: np.bincount(position[bands == b], minlength=len(weeks)).tolist() for b in BANDS},
    }
