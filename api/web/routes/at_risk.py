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
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.deps import RiskModel
from api.model_store import LoadedModel
from api.web.figures import COLUMNS, Worklist
from api.web.session import Reader, sessions_of
from api.web.state import WebState, WebStateDep, pending_page
from api.web.templating import render
from forecasting.cores import RiskCore

router = APIRouter(prefix="/web/at-risk", tags=["pages"])
SHOWN = 250  # rows in the page's table (worst first); the CSV has every line of the view
# Overdue: past the promise and undelivered, late for certain (p_late 1).
BANDS = ("overdue", "high", "medium", "low")
Text = Annotated[str, Query(max_length=200)]


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


def worklist(web: WebState, loaded: LoadedModel[RiskCore]) -> Worklist:
    """The scored book, shared with the overview (``OverviewFigures.worklist``), waiting
    for it when it is not computed yet: the CSV's answer."""
    book = web.figures.worklist(loaded)
    assert book is not None  # without a wait, the figures wait for it
    return book


def _filters(site: Text = "", band: Text = "", customer: Text = "", week: Text = "") -> Filters:
    """The view's filters from the query (``site``, ``band``, ``customer``, ``week``),
    trimmed, the band in lower case: the page and its CSV read the same ones."""
    return Filters(site.strip(), band.strip().lower(), customer.strip(), week.strip())


Chosen = Annotated[Filters, Depends(_filters)]


@router.get("")
def at_risk_page(
    request: Request,
    user: Reader,
    web: WebStateDep,
    loaded: RiskModel,
    chosen: Chosen,
) -> Response:
    book = web.figures.worklist(loaded, wait=web.grace)
    if book is None:  # the start-up warm-up (or a new model or ingest) is still scoring it
        csrf = sessions_of(request).csrf_token(user)
        waiting = {"title": "At-risk orders", "user": user, "csrf": csrf, "pending": True}
        return pending_page(render(request, "at_risk.html", waiting))
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
    chosen: Chosen,
) -> Response:
    """Every line of the page's current view (same filters, same order) as CSV."""
    view = chosen.apply(worklist(web, loaded).lines)
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
